"""A real NetBox for the tests: installed from PyPI, migrated once, started per test session on 127.0.0.1.

NetBox 4.x is published on PyPI as ``netbox`` (wheel with a ``netbox`` console script) and needs
Python >= 3.12, PostgreSQL and Redis.  The test suite runs on Python 3.11, so NetBox gets its own
virtual environment, made with the first Python >= 3.12 found, under ``.netbox/`` in the checkout
(``GOVBOT_TEST_NETBOX_HOME`` moves it).  Its migrations take minutes, so they run once into a template
database (``govbot_netbox_tpl_<version>``); every test session copies the template
(``CREATE DATABASE ... TEMPLATE``, seconds), starts NetBox's WSGI application on port 0 and drops its
copy at the end.  A file lock keeps two sessions from installing or migrating at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
VERSION = os.environ.get("GOVBOT_TEST_NETBOX_VERSION", "4.7.3")
HOME = Path(os.environ.get("GOVBOT_TEST_NETBOX_HOME") or ROOT / ".netbox")
LAUNCHER = Path(__file__).with_name("netbox_launch.py")
PG = os.environ.get("GOVBOT_TEST_NETBOX_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_DB = int(os.environ.get("GOVBOT_TEST_NETBOX_REDIS_DB", "13"))
TEMPLATE = "govbot_netbox_tpl_" + VERSION.replace(".", "_")


class NetBoxUnavailable(RuntimeError):
    """NetBox cannot be installed or started here; the message says exactly why."""


@dataclass
class NetBox:
    url: str
    token: str
    database: str
    process: subprocess.Popen[str]


def find_python() -> str:
    """The first Python >= 3.12 on this machine (``GOVBOT_TEST_NETBOX_PYTHON`` wins)."""
    given = os.environ.get("GOVBOT_TEST_NETBOX_PYTHON")
    candidates = [given] if given else []
    candidates += [shutil.which(n) or "" for n in ("python3.13", "python3.12", "python3.14")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[234]*/bin/python3")), reverse=True)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return candidate
    raise NetBoxUnavailable("NetBox 4 needs Python >= 3.12 and none was found (set GOVBOT_TEST_NETBOX_PYTHON)")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    HOME.mkdir(parents=True, exist_ok=True)
    with open(HOME / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def venv_python() -> Path:
    return HOME / f"venv-{VERSION}" / "bin" / "python"


def _run(cmd: list[str], *, env: dict[str, str] | None = None, what: str, timeout: float = 1800) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise NetBoxUnavailable(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{tail}")


def ensure_installed() -> Path:
    """NetBox in its own virtual environment under HOME (installed once; about a minute)."""
    python = venv_python()
    stamp = python.parent.parent / ".installed"
    if stamp.exists():
        return python
    shutil.rmtree(python.parent.parent, ignore_errors=True)
    _run([find_python(), "-m", "venv", str(python.parent.parent)], what="creating NetBox's virtual environment")
    _run([str(python), "-m", "pip", "install", "--quiet", f"netbox=={VERSION}"], what=f"pip install netbox=={VERSION}")
    stamp.write_text(VERSION)
    return python


def _configure(root: Path, database: str) -> None:
    url = sa.make_url(PG)
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "__init__.py").write_text("")
    secret = uuid.uuid4().hex * 2
    (conf / "configuration.py").write_text(
        "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': {database!r}, "
        f"'USER': {url.username or 'postgres'!r}, 'PASSWORD': {url.password or ''!r}, "
        f"'HOST': {url.host or '127.0.0.1'!r}, 'PORT': {str(url.port or 5432)!r}, 'CONN_MAX_AGE': 0}}}}\n"
        f"REDIS = {{'tasks': {{'HOST': '127.0.0.1', 'PORT': 6379, 'DATABASE': {REDIS_DB}, 'SSL': False}}, "
        f"'caching': {{'HOST': '127.0.0.1', 'PORT': 6379, 'DATABASE': {REDIS_DB + 1}, 'SSL': False}}}}\n"
        f"SECRET_KEY = {secret!r}\n"
        f"API_TOKEN_PEPPERS = {{1: {secret!r}}}\n"
        "CENSUS_REPORTING_ENABLED = False\n"
        "TIME_ZONE = 'UTC'\n"
    )


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "GOVBOT_"))}
    env["NETBOX_ROOT"] = str(root)
    return env


def _admin() -> sa.Engine:
    return sa.create_engine(PG, isolation_level="AUTOCOMMIT")


def _database_exists(conn: sa.Connection, name: str) -> bool:
    return conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": name}).first() is not None


def ensure_template(python: Path) -> None:
    """A migrated NetBox database to copy (built once; NetBox's migrations take a few minutes)."""
    admin = _admin()
    try:
        with admin.connect() as conn:
            if _database_exists(conn, TEMPLATE):
                return
            build = f"{TEMPLATE}_build"
            if _database_exists(conn, build):
                conn.execute(sa.text(f'drop database "{build}"'))
            conn.execute(sa.text(f'create database "{build}"'))
        root = HOME / "template"
        _configure(root, build)
        _run([str(python), str(LAUNCHER), "migrate"], env=_env(root), what="NetBox migrations")
        with admin.connect() as conn:
            conn.execute(sa.text(f'alter database "{build}" rename to "{TEMPLATE}"'))
    finally:
        admin.dispose()


def prepare() -> Path:
    """Install NetBox and build its template database, once per machine (under a lock)."""
    try:
        with _locked():
            python = ensure_installed()
            ensure_template(python)
            return python
    except (OSError, sa.exc.SQLAlchemyError, subprocess.TimeoutExpired) as exc:
        raise NetBoxUnavailable(f"{type(exc).__name__}: {exc}") from exc


def start(python: Path, *, timeout: float = 120.0) -> NetBox:
    """A fresh copy of the template database, served on 127.0.0.1 (port 0)."""
    database = f"govbot_netbox_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{database}" template "{TEMPLATE}"'))
    finally:
        admin.dispose()
    root = HOME / f"run-{database}"
    _configure(root, database)
    process = subprocess.Popen([str(python), str(LAUNCHER), "serve"], env=_env(root), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.strip().startswith("{") or process.poll() is not None:
            break
    if not line.strip().startswith("{"):
        process.kill()
        err = process.stderr.read() if process.stderr is not None else ""
        _drop(database)
        raise NetBoxUnavailable("NetBox did not start: " + "\n".join(err.strip().splitlines()[-15:]))
    info = json.loads(line)
    return NetBox(url=f"http://127.0.0.1:{info['port']}", token=info["token"], database=database, process=process)


def _drop(database: str) -> None:
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{database}" with (force)'))
    finally:
        admin.dispose()


def stop(server: NetBox) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    _drop(server.database)
    shutil.rmtree(HOME / f"run-{server.database}", ignore_errors=True)


if __name__ == "__main__":
    # `python -m tests.sources.netbox_server`: install and migrate ahead of the test run.
    started = time.monotonic()
    prepare()
    print(f"NetBox {VERSION} ready under {HOME} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
