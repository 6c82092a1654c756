"""``govbot`` command line: database, imports, lint, questions, console chat."""

from __future__ import annotations

import click
from pydantic import ValidationError

from bot.bootstrap import Container, build
from bot.settings import Settings


class CliState:
    def __init__(self, database_url: str | None) -> None:
        self._url = database_url
        self._container: Container | None = None

    @property
    def container(self) -> Container:
        if self._container is None:
            try:
                settings = Settings(database_url=self._url) if self._url else Settings()
            except ValidationError as exc:
                problems = "; ".join(f"GOVBOT_{'_'.join(str(x) for x in e['loc']).upper()}: {e['msg']}"
                                     for e in exc.errors())
                raise click.ClickException(f"invalid settings: {problems}") from None
            from governance_store.ownership_policy import PolicyError

            try:
                self._container = build(settings)
            except PolicyError as exc:
                raise click.ClickException(f"invalid settings: GOVBOT_ATTESTATION_POLICY_FILE: {exc}") from None
        return self._container


    @property
    def store(self) -> Container:
        """The container, once its store has govbot's schema; otherwise a clear message and exit status 1."""
        from governance_store.db import schema_problem

        container = self.container
        problem = schema_problem(container.engine)
        if problem:
            raise click.ClickException(problem)
        return container


pass_state = click.make_pass_decorator(CliState)


class _Commands(click.Group):
    """The command group; a command that needs the audit key where none is configured ends with the
    message saying how to set one, never a traceback (commands that write check it before writing)."""

    def invoke(self, ctx: click.Context) -> object:
        from governance_store.audit_keys import AuditKeyMissing

        try:
            return super().invoke(ctx)
        except AuditKeyMissing as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar="GOVBOT_DATABASE_URL", help="SQLAlchemy URL of the governance store.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """govbot: who owns what, who decides, who must be told."""
    ctx.obj = CliState(database_url)


@main.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Create or migrate the governance store to the newest schema."""
    state.container.upgrade_database()
    click.echo(f"database at {state.container.engine.url.render_as_string(hide_password=True)} is up to date")


@db_group.command("current")
@pass_state
def db_current(state: CliState) -> None:
    """Print the schema revision of the store."""
    from governance_store.db import current_revision

    click.echo(current_revision(state.container.engine) or "empty (run: govbot db upgrade)")


def _register() -> None:
    # Each feature contributes its commands; importing registers them on ``main``.
    from bot.commands import register_all

    register_all(main)


_register()

