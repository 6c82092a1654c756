"""Feature command modules; each exposes ``register(main)``."""

from __future__ import annotations

import importlib

import click

MODULES = ["bot.commands.ask_cmds", "bot.commands.lint_cmd", "bot.commands.serve_cmd", "bot.commands.import_cmd", "bot.commands.audit_cmd", "bot.commands.digest_cmd", "bot.commands.worker_cmd", "bot.commands.demo_cmd", "bot.commands.blackout_cmd", "bot.commands.metrics_cmd", "bot.commands.sync_cmd", "bot.commands.attest_cmd", "bot.commands.export_cmd"]


def register_all(main: click.Group) -> None:
    for name in MODULES:
        importlib.import_module(name).register(main)
