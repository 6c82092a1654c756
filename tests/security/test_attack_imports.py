"""Attacks through the import folder, with the real ``govbot import`` on both backends.

Whoever can drop files into the folder an operator imports must not make govbot read files outside it (a
symbolic link to a secret file, whose first line an error message would echo), nor crash the import with
bytes the database refuses (a NUL in a row: a traceback on PostgreSQL).  Every such problem is a
``file:line: reason``, the command exits 1 and the store is unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from bot.cli import main
from governance_store import db
from governance_store.importers.run import FOLDER_SETTINGS
from governance_store.models import Site
from tests.conftest import CORVANE

SECRET_LINE = "root-password=Winter2025!secret"


def run_import(db_target: tuple[str, str | None], *paths: Path) -> Result:
    url, schema = db_target
    return CliRunner().invoke(main, ["--database-url", url, "import", *map(str, paths)],
                              env={"GOVBOT_DATABASE_SCHEMA": schema or ""})


def sites(db_target: tuple[str, str | None]) -> int:
    url, schema = db_target
    engine = db.make_engine(url, schema=schema)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(Site.__table__)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An import folder with one good export in it."""
    path = tmp_path / "exports"
    path.mkdir()
    shutil.copy(CORVANE / "sites.csv", path / "sites.csv")
    return path


@pytest.mark.parametrize("target_kind", ["file", "folder-escape"])
def test_a_symbolic_link_in_the_import_folder_is_not_followed(db_target: tuple[str, str | None], folder: Path,
                                                              tmp_path: Path, target_kind: str) -> None:
    secret = tmp_path / "outside" / "secrets.csv"
    secret.parent.mkdir()
    secret.write_text(SECRET_LINE + "\nsecond line\n", encoding="utf-8")
    link = folder / "zones.csv"
    if target_kind == "file":
        link.symlink_to(secret)
    else:
        link.symlink_to(Path("..") / "outside" / "secrets.csv")
    result = run_import(db_target, folder)
    assert result.exit_code == 1, result.output
    assert f"{link}:0: is a symbolic link: not followed" in result.output
    assert SECRET_LINE not in result.output and "second line" not in result.output
    assert "Traceback" not in result.output
    assert sites(db_target) == 0  # all or nothing: the good file is not imported either


def test_a_symbolic_link_named_on_the_command_line_is_not_followed(db_target: tuple[str, str | None],
                                                                   tmp_path: Path) -> None:
    secret = tmp_path / "secrets.csv"
    secret.write_text(SECRET_LINE + "\n", encoding="utf-8")
    link = tmp_path / "sites.csv"
    link.symlink_to(secret)
    result = run_import(db_target, link)
    assert result.exit_code == 1 and "is a symbolic link" in result.output
    assert SECRET_LINE not in result.output


def test_a_folder_settings_file_that_is_a_link_is_not_read(db_target: tuple[str, str | None], folder: Path,
                                                          tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secrets.toml"
    secret.parent.mkdir()
    secret.write_text(f'export_timezone = "{SECRET_LINE}"\n', encoding="utf-8")
    link = folder / FOLDER_SETTINGS
    link.symlink_to(secret)
    result = run_import(db_target, folder)
    assert result.exit_code == 1, result.output
    assert f"{link}:0: is not a regular file: not read" in result.output
    assert SECRET_LINE not in result.output and "Traceback" not in result.output
    assert sites(db_target) == 0


def test_a_folder_settings_file_cannot_write_to_the_terminal(db_target: tuple[str, str | None], folder: Path) -> None:
    (folder / FOLDER_SETTINGS).write_text('"\\u001b[2Jexport" = 1\nexport_timezone = "\\u001b[2J"\n', encoding="utf-8")
    result = run_import(db_target, folder)
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output
    assert "unknown setting(s) '\\x1b[2Jexport'" in result.output
    assert "unknown time zone '\\x1b[2J'" in result.output
    assert sites(db_target) == 0


@pytest.mark.parametrize(("bad", "reason"), [
    ("\x00", "a NUL byte in column 2"),
    ("\x1b[2J", "control character U+001B in column 2"),
    ("\x7f", "control character U+007F in column 2"),
])
def test_control_characters_in_a_row_are_a_file_line_error_on_both_backends(
        db_target: tuple[str, str | None], folder: Path, bad: str, reason: str) -> None:
    path = folder / "sites.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("Werk Regensburg", f"Werk{bad}Regensburg")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_import(db_target, folder)
    assert result.exit_code == 1, result.output
    assert f"{path}:3: {reason}" in result.output
    assert "Traceback" not in result.output
    assert sites(db_target) == 0


def test_a_control_character_in_the_header_is_reported(db_target: tuple[str, str | None], folder: Path) -> None:
    path = folder / "sites.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"name"', '"na\x00me"', 1), encoding="utf-8")
    result = run_import(db_target, folder)
    assert result.exit_code == 1
    assert f"{path}:1: malformed header: a NUL byte in column 2" in result.output


def test_tabs_and_line_breaks_inside_quoted_values_still_import(db_target: tuple[str, str | None],
                                                                 folder: Path) -> None:
    path = folder / "sites.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Werk Regensburg", "Werk\tRegensburg\r\nSüd"), encoding="utf-8")
    result = run_import(db_target, folder)
    assert result.exit_code == 0, result.output
    url, schema = db_target
    engine = db.make_engine(url, schema=schema)
    with engine.connect() as conn:
        name = conn.execute(sa.select(Site.__table__.c.name).where(Site.__table__.c.code == "DE-RGB")).scalar_one()
    engine.dispose()
    assert name == "Werk\tRegensburg\r\nSüd"
