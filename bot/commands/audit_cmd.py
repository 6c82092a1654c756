"""``govbot audit``: verify the keyed hash chain (against anchors), anchor its head, export for auditors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli import CliState, pass_state
from governance_store import audit
from governance_store.audit_keys import AuditKeyMissing

SHOWN_PROBLEMS = 50


def register(main: click.Group) -> None:
    main.add_command(audit_group)


def require_audit_key(container) -> None:  # type: ignore[no-untyped-def]
    """Stop a command that writes or checks the audit trail when no audit key is configured (production)."""
    try:
        container.audit_keyring  # noqa: B018 - resolving it is the check
    except AuditKeyMissing as exc:
        raise click.ClickException(str(exc)) from None


@click.group("audit")
def audit_group() -> None:
    """The append-only, keyed audit trail."""


def _read_anchors(paths: tuple[Path, ...]) -> list[audit.Anchor]:
    anchors: list[audit.Anchor] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                found = audit.parse_anchors(fh, source=str(path))
        except OSError as exc:
            raise click.ClickException(f"cannot read anchors from {path}: {exc.strerror or exc}") from None
        if not found:
            raise click.ClickException(f"{path}: no audit anchor line in it ({audit.ANCHOR_TAG} …)")
        anchors.extend(found)
    return anchors


@audit_group.command("verify")
@click.option("--anchor", "anchor_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A file with anchor lines (anchor file, log, digest); repeatable.  "
                   "Default: GOVBOT_AUDIT_ANCHOR_FILE when it exists.")
@pass_state
def verify(state: CliState, anchor_files: tuple[Path, ...]) -> None:
    """Recompute the keyed chain and compare it with the anchors; exit 1 naming the first bad entry or the
    missing range when anything was edited, deleted or rewritten."""
    container = state.store
    require_audit_key(container)
    configured = container.settings.audit_anchor_file
    if not anchor_files and configured is not None and configured.exists():
        anchor_files = (configured,)
    anchors = _read_anchors(anchor_files)
    with container.unit_of_work() as session:
        result = audit.check(session, anchors=anchors)
    checked = f"; {result.anchors_checked} anchor(s) checked" if anchors else "; no anchor checked (--anchor FILE)"
    if result.problems:
        click.echo(f"first problem: {result.problems[0]}", err=True)
        for p in result.problems[:SHOWN_PROBLEMS]:
            click.echo(str(p), err=True)
        if len(result.problems) > SHOWN_PROBLEMS:
            click.echo(f"… and {len(result.problems) - SHOWN_PROBLEMS} more", err=True)
        click.echo(f"audit trail is NOT intact: {len(result.problems)} problem(s) in {result.entries} entries"
                   f"{checked}", err=True)
        sys.exit(1)
    unkeyed = f" ({result.unkeyed} from before entries were keyed)" if result.unkeyed else ""
    click.echo(f"audit trail intact: {result.entries} entries{unkeyed}, head #{result.head_seq} "
               f"{result.head_hash[:16]}…{checked}")


@audit_group.command("anchor")
@click.option("--append", "append_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also append the anchor to this file (default: GOVBOT_AUDIT_ANCHOR_FILE when set).")
@pass_state
def anchor(state: CliState, append_to: Path | None) -> None:
    """Print a signed anchor of the chain head (keep it outside the database), log it, and append it to the
    anchor file."""
    import logging

    from notifications.audit_anchor import append_anchor

    container = state.store
    require_audit_key(container)
    with container.unit_of_work() as session:
        taken = audit.anchor(session, now=container.clock())
    logging.getLogger("govbot.audit.anchor").info("%s", taken.line())
    target = append_to or container.settings.audit_anchor_file
    if target is not None:
        append_anchor(target, taken)
    click.echo(taken.line())


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@pass_state
def export(state: CliState, fmt: str, output: str | None) -> None:
    """Write every audit entry with its hashes (CSV cells that could start a formula are neutralised)."""
    with state.store.unit_of_work() as session:
        text = audit.export(session, fmt=fmt)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)
