"""The system catalog a process answers from: the fuzzy index, rebuilt when the store changes."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance_store.lookup import Match, Resolution, SystemIndex
from governance_store.models import ImportRun, System
from handlers import phrasebook
from handlers.reply import Choice, row_id


def _fingerprint(session: Session) -> tuple[object, ...]:
    """Cheap change marker: systems are only removed or renamed by an import, which leaves an ImportRun."""
    max_id = session.scalar(select(func.max(System.id)))
    last_import = session.scalar(select(func.max(ImportRun.id)))
    return (max_id, last_import)


class Catalog:
    """The fuzzy index of one process, per database, rebuilt only when systems were added, removed or
    re-imported.  The composition root makes one and hands it to every use case that resolves systems."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[object, ...], SystemIndex]] = {}

    def index_for(self, session: Session) -> SystemIndex:
        bind = session.get_bind()
        key = f"{bind.engine.url!r}|{session.info.get('schema', '')}|{id(bind)}"
        fp = _fingerprint(session)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == fp:
                return hit[1]
        index = SystemIndex.from_session(session, vocabulary=phrasebook.vocabulary())
        # A large index is long-lived: keep the garbage collector from walking it on every collection.
        gc.freeze()
        with self._lock:
            self._cache[key] = (fp, index)
        return index

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
            return Resolved(session.get(System, resolution.matches[0].system_id), resolution)
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
