"""Whether the holder of a personal dashboard pass may still view the dashboard."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.dashboard.auth import StillAllowed
from governance_store.models import Person

if TYPE_CHECKING:
    from bot.bootstrap import Container


def still_allowed(container: Container) -> StillAllowed:
    """A pass holder may view while they are an active person in the directory (asked on every request)."""

    async def allowed(person_id: int) -> bool:
        def check() -> bool:
            with container.unit_of_work() as session:
                person = session.get(Person, person_id)
                return person is not None and bool(person.active)

        return await asyncio.to_thread(check)

    return allowed
