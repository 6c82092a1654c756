"""Store commands: import, lint, systems show."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:  # filled in by the importer and lint
    return None
