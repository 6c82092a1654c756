"""What a connector hands the sync: the records one run fetched, per collection, and where to go on.

A *collection* is one kind of record of a source (NetBox ``devices``, ServiceNow ``cmdb_ci``, Graph
``users``).  A run reports the records it saw (``upserts``), the ones the source says are gone
(``removed``), and, when it listed every id of the collection, that list (``present``): stored records
missing from it were deleted at the source.  ``replace`` says the run fetched the whole collection
(first run, or an API without change tracking).  ``merge`` combines a stored record with a partial one
(Graph delta responses carry only what changed).  ``cursor`` is where the next run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from governance_store.importers.records import RecordFile

Payload = dict[str, Any]


@dataclass
class Collection:
    upserts: dict[str, Payload] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    present: set[str] | None = None
    replace: bool = False
    merge: Callable[[Payload | None, Payload], Payload] | None = None
    cursor: dict[str, Any] | None = None


@dataclass
class Fetched:
    collections: dict[str, Collection] = field(default_factory=dict)
    requests: int = 0
    # Restart every collection from scratch: the source refused the stored cursors (e.g. an expired
    # Graph delta token), so what is stored is replaced by what this run fetched.
    full: bool = False


class SourceError(Exception):
    """A source could not be read (unreachable, refused, malformed answer); the message says which
    and never carries a credential."""


class Connector(Protocol):
    """One live source: fetches what changed, and maps its stored records to import rows."""

    name: str   # "netbox"
    label: str  # "NetBox"

    def fetch(self, cursors: Mapping[str, dict[str, Any]]) -> Fetched:
        """What changed since ``cursors`` (empty: everything).  Raises :class:`SourceError`."""

    def files(self, records: Mapping[str, Sequence[Payload]]) -> list[RecordFile]:
        """Every stored record of the source as rows of the matching export kinds."""

    def secrets(self) -> list[str]:
        """Credential values to keep out of every message and log line."""
