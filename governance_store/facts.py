"""Facts confirmed in govbot, which outrank what a later import says.

When an owner attests a system, a transfer or claim completes, someone picks an activity's Accountable
or links a chat account to a person, the value is written to the store *and* recorded here.  An import
that disagrees keeps the confirmed value and reports the disagreement
(:func:`governance_store.importers.precedence.keep_confirmed_facts`); the governance lint raises it as an
``IMPORT_DISAGREES`` finding for the owner, who keeps govbot's value or takes the import's from chat.

Some facts are decisions only govbot keeps (an asset marked known or rogue, two systems that are not
duplicates, a person reached by e-mail only, the Accountable picked for an activity): their
``column_name`` is not a column of the table, and the lint reads them through the helpers below.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store.models import ConfirmedFact, Person

# Decisions only govbot keeps (no column of their table).
ASSET_DISPOSITION = "asset_disposition"  # systems: "known" (belongs; register it) or "rogue"
NOT_DUPLICATE_OF = "not_duplicate_of"  # systems: ids of the systems it is not a duplicate of
CHAT_EXEMPT = "chat_exempt"  # people: reached by e-mail or through their team, never in chat
ACCOUNTABLE_ROLE = "accountable_role"  # activities: the one role that is Accountable
RETIREMENT_ACKNOWLEDGED = "retirement_acknowledged"  # systems: retired; being taken off the network


class How(StrEnum):
    ATTESTED = "attested"
    TRANSFERRED = "transferred"
    CLAIMED = "claimed"
    TOOK_OVER = "took_over"
    DISOWNED = "disowned"
    RETIRED = "retired"
    RESTORED = "restored"  # back in service
    PICKED = "picked"  # an Accountable, a team
    LINKED = "linked"  # a chat account to a person
    DECIDED = "decided"  # a decision only govbot keeps


def confirm(session: Session, *, table: str, row_id: int, column: str, value: Any, label: str, how: How,
            by: Person | None, now: dt.datetime, system_id: int | None = None) -> ConfirmedFact:
    """Record (or replace) the confirmed value of one column or decision; a new confirmation also settles
    any disagreement an earlier import reported."""
    fact = session.scalar(select(ConfirmedFact).where(
        ConfirmedFact.table_name == table, ConfirmedFact.row_id == row_id, ConfirmedFact.column_name == column))
    if fact is None:
        fact = ConfirmedFact(table_name=table, row_id=row_id, column_name=column)
        session.add(fact)
    fact.value = {"v": value}
    fact.label = label[:300]
    fact.how = how.value
    fact.system_id = system_id
    fact.confirmed_by_id = by.id if by is not None else None
    fact.confirmed_at = now
    fact.import_value = None
    fact.import_label = None
    fact.disagreed_at = None
    session.flush()
    return fact


def value_of(fact: ConfirmedFact) -> Any:
    return (fact.value or {}).get("v")


def get(session: Session, *, table: str, row_id: int, column: str) -> ConfirmedFact | None:
    return session.scalar(select(ConfirmedFact).where(
        ConfirmedFact.table_name == table, ConfirmedFact.row_id == row_id, ConfirmedFact.column_name == column))


def decisions(session: Session, column: str) -> dict[int, Any]:
    """Every decision of one kind, by row id (one query; the lint reads each kind once)."""
    return {row_id: (value or {}).get("v") for row_id, value in session.execute(
        select(ConfirmedFact.row_id, ConfirmedFact.value).where(ConfirmedFact.column_name == column))}


def disagreements(session: Session) -> list[ConfirmedFact]:
    """Facts a later import disagreed with, and nobody has settled yet."""
    return list(session.scalars(select(ConfirmedFact).where(ConfirmedFact.disagreed_at.is_not(None))
                                .order_by(ConfirmedFact.id)).all())


def forget(session: Session, fact: ConfirmedFact) -> None:
    """The source of record wins again for this value (the owner took the import's value)."""
    session.delete(fact)
    session.flush()
