"""The facts confirmed in govbot that a source sync must not overwrite.

People will confirm facts in govbot itself (an owner attesting that they own a system, a transfer of
ownership agreed in chat).  Such a fact outranks what a source says until the source agrees, so each
sync asks this module for the rows it holds and reports every row it left alone as *held*.  Nothing
is confirmed in govbot yet: the answer is empty until that exists.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from governance_store.importers.holds import Hold


def confirmed_facts(*, session: Session, source: str) -> list[Hold]:
    """Rows (and columns) of the store that ``source`` must leave as they are."""
    del session, source
    return []
