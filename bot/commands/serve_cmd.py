"""``govbot serve``: the web host (Slack HTTP mode, health check), or Slack Socket Mode."""

from __future__ import annotations

import asyncio
import logging

import click


def register(main: click.Group) -> None:
    @main.command("serve")
    @click.option("--host", default=None, help="Interface to listen on (default GOVBOT_HOST, 127.0.0.1).")
    @click.option("--port", type=int, default=None, help="Port to listen on (default GOVBOT_PORT, 3000).")
    @click.option("--core-processes", type=click.IntRange(0, 64), default=None,
                  help="Worker processes answering questions (default: one per CPU, at most 4; 0: threads).")
    @click.option("--core-threads", type=click.IntRange(1, 64), default=None,
                  help="Threads answering questions when --core-processes is 0 (default 1).")
    @click.option("--worker/--no-worker", default=True, show_default=True,
                  help="Run the notification worker (SLA sweep, digests, outbox delivery) in this process.")
    @click.option("--dashboard/--no-dashboard", default=None,
                  help="Serve the dashboard and /metrics (default: on loopback, or when "
                       "GOVBOT_DASHBOARD_TOKEN is set).")
    @click.option("--log-level", default="INFO", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
    @click.pass_obj
    def serve_cmd(state, host: str | None, port: int | None, core_processes: int | None,  # type: ignore[no-untyped-def]
                  core_threads: int | None, worker: bool, dashboard: bool | None, log_level: str) -> None:
        """Serve Slack (HTTP at /slack/events, or Socket Mode when GOVBOT_SLACK_APP_TOKEN is set), Teams at /api/messages and /healthz."""
        from bot import bootstrap
        from bot.commands.audit_cmd import require_audit_key
        from bot.core_runner import default_processes
        from bot.dashboard.auth import DashboardAuthError
        from bot.web import serve

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        container = state.store
        require_audit_key(container)  # production refuses to start without the audit key
        # One pool of worker processes answers for Slack and Teams alike.
        runner = bootstrap.build_core_runner(container, threads=core_threads or 1,
                                             processes=default_processes() if core_processes is None else core_processes)
        try:
            mounts = bootstrap.build_mounts(container, host=host, dashboard=dashboard, runner=runner)
        except DashboardAuthError as exc:
            raise click.ClickException(str(exc)) from None
        if worker:
            from bot.commands.digest_cmd import configured_scopes

            configured_scopes(container)  # a bad GOVBOT_DIGEST_SCOPES_FILE stops here, with file and entry
        slack = bootstrap.build_slack(container, runner=runner)
        try:
            asyncio.run(serve(container, slack=slack, mounts=mounts,
                              worker=bootstrap.build_worker(container) if worker else None, host=host, port=port))
        finally:
            runner.close()
