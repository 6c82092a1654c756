"""A sync that changed the store writes the system index of the new state for every process of the host,
as ``govbot import`` does: the next question maps it instead of building it."""

from __future__ import annotations

from pathlib import Path

from bot.sources import runner
from bot.sources.registry import configured_sources
from governance_store.importers import import_paths
from governance_store.lookup import SystemIndex
from governance_store.sources.sync import SyncStatus
from handlers.catalog import Catalog
from tests.sources.conftest import Fakes, place_files


def test_a_changing_sync_writes_the_index_for_the_next_question(make_rig, fakes: Fakes, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                monkeypatch) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "index"
    rig = make_rig(fakes, index_dir=directory)
    with rig.container.unit_of_work() as session:
        import_paths(place_files(), session=session)
    [servicenow] = [s for s in configured_sources(rig.container.settings, sleep=rig.slept.append)
                    if s.connector.name == "servicenow"]
    assert runner.run(rig.container, servicenow, owner="t").status is SyncStatus.SYNCED
    [written] = directory.glob("*.idx")

    built: list[int] = []
    original = SystemIndex.from_session.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(SystemIndex, "from_session",
                        classmethod(lambda cls, session, **kw: built.append(1) or original(cls, session, **kw)))
    with rig.container.session_factory() as session:
        index = Catalog(directory=directory).index_for(session)  # another process's catalog
    assert not built and index.resolve("PLC-FIL-L3-07").best is not None
    assert list(directory.glob("*.idx")) == [written]

    assert runner.run(rig.container, servicenow, owner="t").status is SyncStatus.UNCHANGED
    assert list(directory.glob("*.idx")) == [written]  # nothing changed: nothing rebuilt
