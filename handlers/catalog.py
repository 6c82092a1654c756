"""The system catalog a process answers from: the fuzzy index of the store's current state.

Every question checks the store's fingerprint (one small query); when systems were added or re-imported
the index is replaced.  With an index directory (``GOVBOT_INDEX_DIR``, see
:mod:`governance_store.index_file`) the index of each state is built once per host and mapped by every
process, so a new worker process answers at once and all of them share one copy in memory."""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from governance_store.index_file import IndexDirectory
from governance_store.lookup import Match, Resolution, SystemIndex
from governance_store.models import ImportRun, System
from handlers import phrasebook
from handlers.reply import Choice, row_id

log = logging.getLogger(__name__)

# One round trip: the newest system, and the newest import with when it started (a store emptied and
# imported again has another start time, even when its ids come out the same).
_FINGERPRINT = select(
    select(func.max(System.id)).scalar_subquery(),
    select(ImportRun.id).order_by(ImportRun.id.desc()).limit(1).scalar_subquery(),
    select(ImportRun.started_at).order_by(ImportRun.id.desc()).limit(1).scalar_subquery(),
)


# What nearly every answer about a system reads: loaded with the system in one query, not one query each.
_ANSWER_LOADS = (joinedload(System.owner), joinedload(System.technical_manager), joinedload(System.support_team))


def _fingerprint(session: Session) -> tuple[object, ...]:
    """Cheap change marker: systems are only removed or renamed by an import, which leaves an ImportRun."""
    max_id, last_import, started = session.execute(_FINGERPRINT).one()
    return (max_id, last_import, started.isoformat() if started is not None else None)


def store_identity(session: Session) -> str | None:
    """Which store ``session`` reads, the same in every process of the host; ``None`` for an in-memory one."""
    bind = session.get_bind()
    url = bind.engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file::memory:") or "mode=memory" in database:
            return None
        return f"sqlite:{os.path.realpath(database)}"
    schema = ""
    if url.get_backend_name() == "postgresql":
        schema = session.execute(text("select current_schema()")).scalar() or ""
    return f"{url.render_as_string(hide_password=True)}|{schema}"


class Catalog:
    """The fuzzy index of one process, per database, replaced only when systems were added, removed or
    re-imported.  The composition root makes one and hands it to every use case that resolves systems.

    ``directory``: keep each index in a file there, shared by every process of the host; without it
    each process builds its own."""

    def __init__(self, directory: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[object, ...], SystemIndex]] = {}
        self._files = IndexDirectory(directory) if directory is not None else None

    def index_for(self, session: Session) -> SystemIndex:
        bind = session.get_bind()
        key = f"{bind.engine.url!r}|{session.info.get('schema', '')}|{id(bind)}"
        fp = _fingerprint(session)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == fp:
                return hit[1]
        index = self._load(session, fp)
        with self._lock:
            self._cache[key] = (fp, index)
        return index

    def _load(self, session: Session, fp: tuple[object, ...]) -> SystemIndex:
        vocabulary = phrasebook.vocabulary()

        def build() -> SystemIndex:
            index = SystemIndex.from_session(session, vocabulary=vocabulary)
            # A large index is long-lived: keep the garbage collector from walking what building it left.
            gc.freeze()
            return index

        store = store_identity(session) if self._files is not None else None
        if self._files is None or store is None:
            return build()

        def check(index: SystemIndex) -> str | None:
            # A store changed without an import (the fingerprint cannot see that) must not be answered
            # from the index of another state: the number of systems is checked once per load.
            systems = session.scalar(select(func.count()).select_from(System))
            return None if systems == len(index) else f"it holds {len(index)} systems, the store {systems}"

        return self._files.load_or_build(store=store, meta={"fingerprint": list(fp)}, vocabulary=vocabulary,
                                         build=build, check=check)

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def resolve(self, query: str, *, session: Session) -> Resolved:
        """Resolve free text to one system.  ``#ID`` (what choice buttons carry) picks a system directly."""
        ref = query.strip()
        system_id = row_id(ref[1:]) if ref.startswith("#") else None
        if system_id is not None:
            system = session.get(System, system_id)
            if system is not None:
                match = Match(system.id, system.name, system.site_code, system.location, system.class_name, 100.0,
                              "id")
                return Resolved(system, Resolution("exact", (match,)))
        resolution = self.index_for(session).resolve(query)
        if resolution.status in ("exact", "confident") and len(resolution.matches) == 1:
            return Resolved(session.get(System, resolution.matches[0].system_id, options=_ANSWER_LOADS), resolution)
        return Resolved(None, resolution)


@dataclass(frozen=True)
class Resolved:
    """Either one system, or the reason there is none (with candidates to offer)."""

    system: System | None
    resolution: Resolution


def choices_for(resolution: Resolution, verb: str) -> tuple[Choice, ...]:
    """Candidates as choices that re-ask the same question about each system."""
    out = []
    for m in resolution.matches[:5]:
        detail = " · ".join(x for x in (m.site_code, m.location, m.class_name) if x)
        out.append(Choice(label=m.name, detail=detail, value=f"{verb} #{m.system_id}", score=round(m.score, 1)))
    return tuple(out)


def candidates_json(resolution: Resolution) -> list[dict[str, object]]:
    return [{"name": m.name, "site": m.site_code, "score": round(m.score, 1)} for m in resolution.matches[:5]]
