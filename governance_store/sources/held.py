"""The facts confirmed in govbot that a source sync must not overwrite.

Facts people confirm in govbot itself (an owner attesting a system, a transfer agreed in chat, a picked
Accountable) are kept by the import pipeline for every way into the store, a sync included:
:func:`governance_store.importers.precedence.keep_confirmed_facts` runs inside it, reports each
disagreement (``ImportReport.kept``, counted in ``held`` too) and raises it as a gap for the owner.  This
hook names any further rows one source must leave alone; there are none so far.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from governance_store.importers.holds import Hold


def confirmed_facts(*, session: Session, source: str) -> list[Hold]:
    """Rows (and columns) of the store that ``source`` must leave as they are."""
    del session, source
    return []
