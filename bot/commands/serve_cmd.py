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
        from bot.slack.app import DEFAULT_CORE_THREADS
        from bot.teams.app import teams_mount_from_settings
        from bot.web import serve

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        teams = teams_mount_from_settings(state.store)
        from bot.dashboard.app import dashboard_mounts
        from bot.dashboard.auth import DashboardAuthError

        try:
            web_mounts = dashboard_mounts(state.store, host=host, wanted=dashboard)
        except DashboardAuthError as exc:
            raise click.ClickException(str(exc)) from None
        if worker:
            from bot.commands.digest_cmd import configured_scopes

            configured_scopes(state.store)  # a bad GOVBOT_DIGEST_SCOPES_FILE stops here, with file and entry
        asyncio.run(serve(state.store, host=host, port=port, core_processes=core_processes,
                          core_threads=core_threads or DEFAULT_CORE_THREADS, run_worker=worker,
                          mounts=([teams] if teams is not None else []) + web_mounts))
