"""``govbot export changes --since DATE [--out FILE] [--push]``: what changed in govbot, for the CMDB."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.cli import CliState, pass_state


def register(main: click.Group) -> None:
    main.add_command(export_group)


@click.group("export")
def export_group() -> None:
    """Exports for other systems."""


def _since(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"“{value}” is not a date (write YYYY-MM-DD or an ISO 8601 time)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


@export_group.command("changes")
@click.option("--since", "since_text", required=True, help="Changes made in govbot since this date (UTC unless given).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the import-set CSV here (default: standard output).")
@click.option("--push", is_flag=True, help="Also insert the rows into the ServiceNow import set table "
              "(GOVBOT_SERVICENOW_INSTANCE, _USER, _PASSWORD, _IMPORT_TABLE).")
@pass_state
def export_changes(state: CliState, since_text: str, out: Path | None, push: bool) -> None:
    """Owner, managed-by and support groups, and status changed in govbot, as a ServiceNow import set."""
    from governance_store.writeback import changes_since, write

    since = _since(since_text)
    container = state.store
    with container.unit_of_work() as session:
        rows = changes_since(session=session, since=since)
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            write(fh, rows)
        click.echo(f"{len(rows)} changed system(s) since {since:%Y-%m-%d %H:%M} UTC written to {out}", err=True)
    elif not push:
        write(sys.stdout, rows)
    if not push:
        return
    settings = container.settings
    missing = [name for name, value in (("GOVBOT_SERVICENOW_INSTANCE", settings.servicenow_instance),
                                        ("GOVBOT_SERVICENOW_USER", settings.servicenow_user),
                                        ("GOVBOT_SERVICENOW_PASSWORD", settings.servicenow_password)) if not value]
    if missing:
        raise click.ClickException(f"to push, set {', '.join(missing)}")
    from bot.servicenow_push import PushError
    from bot.servicenow_push import push as push_rows

    assert settings.servicenow_instance and settings.servicenow_user and settings.servicenow_password
    try:
        result = push_rows(rows, instance=settings.servicenow_instance, user=settings.servicenow_user,
                           password=settings.servicenow_password.get_secret_value(),
                           table=settings.servicenow_import_table,
                           ca_file=Path(settings.servicenow_ca_bundle) if settings.servicenow_ca_bundle else None)
    except PushError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"pushed {result.sent} row(s) to {settings.servicenow_import_table}; {result.already_there} were "
               f"already there; {len(result.failed)} refused", err=True)
    for key, why in result.failed:
        click.echo(f"refused {key}: {why}", err=True)
    if result.failed:
        sys.exit(1)
