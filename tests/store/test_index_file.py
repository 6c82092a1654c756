"""The system index shared through one file per store and state (``governance_store.index_file``), on
SQLite and PostgreSQL: other processes map it instead of building it, an import replaces it without a
restart, a damaged or foreign file is rebuilt and never used, and builders at the same time build once."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from governance_store import index_file
from governance_store.importers import import_paths
from governance_store.index_file import IndexFileError
from governance_store.lookup import SystemIndex, SystemRecord
from governance_store.models import ImportRun
from handlers import phrasebook
from handlers.catalog import Catalog
from tests.conftest import CORVANE, ROOT, SAMPLE_EXPORT_TIMEZONE

QUERIES = ["PLC-FIL-L3-07", "the filler PLC on line 3 in Findlay", "10.41.13.7", "historian", "PLC-FIL-L1-92"]

# A child process: its own Catalog on the same store and directory; reports what it answered, how many
# times it built an index, and which index files it has mapped.
CHILD = """
import json, sys, time
from pathlib import Path
from governance_store import db
from governance_store.lookup import SystemIndex
from handlers.catalog import Catalog

url, schema, directory, queries, slow = json.loads(sys.argv[1])
built = []
original = SystemIndex.from_session.__func__

def counting(cls, session, **kw):
    built.append(1)
    time.sleep(slow)
    return original(cls, session, **kw)

SystemIndex.from_session = classmethod(counting)
engine = db.make_engine(url, schema=schema)
with db.make_session_factory(engine)() as session:
    index = Catalog(directory=Path(directory)).index_for(session)
    answers = [[m.name for m in index.resolve(q).matches] for q in queries]
try:
    maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if line.rstrip().endswith(".idx")})
except OSError:
    maps = None
print(json.dumps({"built": len(built), "answers": answers, "maps": maps}))
"""


def _target(factory: sessionmaker[Session]) -> tuple[str, str | None]:
    with factory() as session:
        url = session.get_bind().engine.url
        schema = session.execute(text("select current_schema()")).scalar() if url.get_backend_name() == "postgresql" \
            else None
    return url.render_as_string(hide_password=False), schema


def _child(factory: sessionmaker[Session], directory: Path, *, slow: float = 0.0) -> subprocess.Popen[str]:
    url, schema = _target(factory)
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps([url, schema, str(directory), QUERIES, slow])],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _result(child: subprocess.Popen[str]) -> dict[str, object]:
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _answers(index: SystemIndex) -> list[list[str]]:
    return [[m.name for m in index.resolve(q).matches] for q in QUERIES]


class Builds:
    """Counts the indexes built from the store in this process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = SystemIndex.from_session.__func__  # type: ignore[attr-defined]

        def counting(cls: type[SystemIndex], session: Session, **kw: object) -> SystemIndex:
            self.count += 1
            return original(cls, session, **kw)  # type: ignore[no-any-return]

        monkeypatch.setattr(SystemIndex, "from_session", classmethod(counting))


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    return Builds(monkeypatch)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "index"


def _index_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.idx"))


def test_a_second_process_maps_the_file_the_first_wrote(corvane_factory: sessionmaker[Session], files: Path,
                                                        builds: Builds) -> None:
    with corvane_factory() as session:
        index = Catalog(directory=files).index_for(session)
    assert builds.count == 1
    [written] = _index_files(files)
    assert oct(written.stat().st_mode & 0o777) == oct(0o600) and oct(files.stat().st_mode & 0o777) == oct(0o700)
    expected = _answers(index)
    assert expected[0] == ["PLC-FIL-L3-07"]

    other = _result(_child(corvane_factory, files))
    assert other["built"] == 0, "the second process built its own index instead of mapping the file"
    assert other["answers"] == expected
    if other["maps"] is not None:
        assert other["maps"] == [str(written)]


def test_an_import_replaces_the_index_without_a_restart(org: sessionmaker[Session], files: Path, tmp_path: Path,
                                                        builds: Builds) -> None:
    catalog = Catalog(directory=files)
    with org() as session:
        before = catalog.index_for(session)
    assert before.resolve("PLC-FIL-L1-92").status != "exact"
    [old_file] = _index_files(files)

    # Rename a system by importing the CMDB export again (the system keeps its id), as `govbot import` does.
    renamed = tmp_path / "cmdb_ci.csv"
    with (CORVANE / "cmdb_ci.csv").open(newline="", encoding="utf-8") as src:
        rows = list(csv.DictReader(src))
    for row in rows:
        if row["name"] == "PLC-FIL-L1-02":
            row["name"] = "PLC-FIL-L1-92"
    with renamed.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
    with org() as session, session.begin():
        import_paths([renamed], session=session, export_timezone=SAMPLE_EXPORT_TIMEZONE)
        now = dt.datetime.now(dt.UTC)
        session.add(ImportRun(started_at=now, finished_at=now, files=[str(renamed)], summary={}))

    with org() as session:
        after = catalog.index_for(session)  # the same catalog: no restart
    assert after.resolve("PLC-FIL-L1-92").best is not None
    assert after.resolve("PLC-FIL-L1-92").best.name == "PLC-FIL-L1-92"  # type: ignore[union-attr]
    assert builds.count == 2
    [new_file] = _index_files(files)
    assert new_file != old_file, "the earlier state's file is removed once the new one is in place"

    other = _result(_child(org, files))
    assert other["built"] == 0 and other["answers"] == _answers(after)


def _damage(kind: str, path: Path) -> None:
    data = bytearray(path.read_bytes())
    if kind == "cut short":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "flipped bit in an array":
        data[-100] ^= 0x10
        path.write_bytes(data)
    elif kind == "flipped bit in the header":
        data[40] ^= 0x01
        path.write_bytes(data)
    elif kind == "padded":
        path.write_bytes(data + b"\0" * 64)
    elif kind == "not an index":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 4096)
    elif kind == "writable by others":
        path.chmod(0o666)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["cut short", "empty", "flipped bit in an array", "flipped bit in the header",
                                  "padded", "not an index", "writable by others"])
def test_a_damaged_file_is_rebuilt_never_used(corvane_factory: sessionmaker[Session], files: Path, builds: Builds,
                                              kind: str) -> None:
    with corvane_factory() as session:
        expected = _answers(Catalog(directory=files).index_for(session))
    [path] = _index_files(files)
    _damage(kind, path)
    with pytest.raises(IndexFileError):
        index_file.read(path, vocabulary=phrasebook.vocabulary())

    with corvane_factory() as session:
        rebuilt = Catalog(directory=files).index_for(session)
    assert builds.count == 2, "the damaged file was used"
    assert _answers(rebuilt) == expected
    [path] = _index_files(files)  # replaced by a sound one
    assert _answers(index_file.read(path, vocabulary=phrasebook.vocabulary())) == expected


def test_the_file_of_another_store_or_state_is_never_used(corvane_factory: sessionmaker[Session], files: Path,
                                                          builds: Builds) -> None:
    with corvane_factory() as session:
        expected = _answers(Catalog(directory=files).index_for(session))
    [path] = _index_files(files)
    # Another store's index, under this store's name: it reads, but describes another store.
    other = SystemIndex.build([SystemRecord(1, "PLC-FIL-L3-07"), SystemRecord(2, "Somewhere else")],
                              vocabulary=phrasebook.vocabulary())
    index_file.write(path, other, meta={"store": "elsewhere", "vocabulary": phrasebook.vocabulary().digest()})
    with corvane_factory() as session:
        assert _answers(Catalog(directory=files).index_for(session)) == expected
    assert builds.count == 2


def test_a_store_changed_without_an_import_is_not_answered_from_the_old_file(
        org: sessionmaker[Session], files: Path, builds: Builds) -> None:
    """The fingerprint only sees imports and new systems; a file holding another number of systems than the
    store is refused when a process loads it."""
    with org() as session:
        Catalog(directory=files).index_for(session)
    [path] = _index_files(files)
    with org() as session:
        index = SystemIndex.from_session(session, vocabulary=phrasebook.vocabulary())
    sections = index.sections()
    smaller = SystemIndex.build([SystemRecord(1, "PLC-FIL-L3-07")], vocabulary=phrasebook.vocabulary())
    assert len(smaller) != len(index) and sections
    meta = json.loads(path.read_bytes()[24 : 24 + int.from_bytes(path.read_bytes()[8:16], "little")])["meta"]
    index_file.write(path, smaller, meta=meta)  # a sound file of this state's name, with other contents
    builds.count = 0
    with org() as session:
        answered = Catalog(directory=files).index_for(session)
    assert builds.count == 1 and len(answered) == len(index)


def test_builders_at_the_same_time_build_once(corvane_factory: sessionmaker[Session], files: Path) -> None:
    children = [_child(corvane_factory, files, slow=0.5) for _ in range(4)]
    results = [_result(child) for child in children]
    assert sum(r["built"] for r in results) == 1  # type: ignore[misc]
    assert len({json.dumps(r["answers"]) for r in results}) == 1
    assert results[0]["answers"][0] == ["PLC-FIL-L3-07"]  # type: ignore[index]
    [path] = _index_files(files)
    assert not list(files.glob("*.tmp"))
    index_file.read(path, vocabulary=phrasebook.vocabulary())


def test_concurrent_writers_leave_one_whole_file(tmp_path: Path) -> None:
    """Writers that do not take the lock still never leave a mixed or partial file: each renames its own."""
    vocabulary = phrasebook.vocabulary()
    meta = {"vocabulary": vocabulary.digest()}
    indexes = [SystemIndex.build([SystemRecord(i, f"SYS-{w}-{i:05d}") for i in range(1, 3000)], vocabulary=vocabulary)
               for w in range(4)]
    path = tmp_path / "shared.idx"
    errors: list[BaseException] = []

    def writer(index: SystemIndex) -> None:
        try:
            for _ in range(5):
                index_file.write(path, index, meta=meta)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(index,)) for index in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = index_file.read(path, vocabulary=vocabulary, meta=meta)
    winners = [w for w in range(4) if final.resolve(f"SYS-{w}-00001").status == "exact"]
    assert len(winners) == 1 and len(final) == 2999
    assert all(final.resolve(f"SYS-{winners[0]}-{i:05d}").status == "exact" for i in (7, 1500, 2999))
    assert not list(tmp_path.glob("*.tmp"))


def test_without_a_writable_directory_each_process_builds_its_own(corvane_factory: sessionmaker[Session],
                                                                  tmp_path: Path, builds: Builds) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the directory should be")
    with corvane_factory() as session:
        index = Catalog(directory=blocked / "index").index_for(session)
    assert builds.count == 1 and _answers(index)[0] == ["PLC-FIL-L3-07"]



def test_govbot_import_writes_the_index_the_next_question_maps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    files = tmp_path / "index"
    env = {"GOVBOT_INDEX_DIR": str(files)}
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(main, ["--database-url", url, "import", str(CORVANE)], env=env)
    assert result.exit_code == 0, result.output
    [path] = _index_files(files)  # written by the import, before anyone asked

    builds = Builds(monkeypatch)
    answer = runner.invoke(main, ["--database-url", url, "ask", "who owns PLC-FIL-L3-07", "--json"], env=env)
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["system"]["name"] == "PLC-FIL-L3-07"
    assert builds.count == 0 and _index_files(files) == [path]
