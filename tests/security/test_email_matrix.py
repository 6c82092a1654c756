"""The authorisation matrix for the e-mail surface: Approve and Reject from an e-mail's signed link.

Same scenario, same actor classes and the same expectations as ``tests/security/test_matrix.py`` (the chat
surfaces): each actor opens the link govbot would have sent them (for someone nobody imported, a link that
names a person who does not exist) and confirms it on ``/email/act`` over HTTP.  The decision goes through
the turn pipeline, so the outcome and the audit entry are those of chat, from platform ``email``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container
from bot.email.links import LinkSigner
from bot.email.pages import EmailLinkMount
from bot.web import create_app
from governance_store.models import AuditEntry, ChangeRequest, Person
from tests.dashboard.conftest import FakeClock
from tests.security import test_matrix as matrix

fake_slack = matrix.fake_slack
seeded_pg_schema = matrix.seeded_pg_schema
seeded_sqlite = matrix.seeded_sqlite
seeded_target = matrix.seeded_target
slack_payload = matrix.slack_payload
clock = matrix.clock
container = matrix.container
box = matrix.box

KEY = "the-e-mail-link-key-of-this-test-0123456789"
NOBODY = 987_654  # a person id that names nobody


@pytest.fixture
async def email_host(box: Container) -> AsyncIterator[str]:
    signer = LinkSigner(KEY, lifetime=dt.timedelta(hours=72))
    runner = web.AppRunner(create_app(box, mounts=[EmailLinkMount(box, signer)]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.mark.parametrize("action", ["approve", "reject"])
async def test_every_actor_approves_and_rejects_from_email(action: str, box: Container, clock: FakeClock,
                                                          email_host: str) -> None:
    scenario = matrix._scenario(box, clock)
    signer = LinkSigner(KEY, lifetime=dt.timedelta(hours=72))
    with box.session_factory() as s:
        numbers = {c.id: c.number for c in s.scalars(sa.select(ChangeRequest))}
        ids = {p.email: p.id for p in s.scalars(sa.select(Person))}
    problems: list[str] = []
    async with aiohttp.ClientSession() as http:
        for who, email in matrix.ACTORS.items():
            case = f"email: {who} {action}"
            cid = scenario.changes[(action, who)]
            token = signer.sign(person_id=ids[email] if email else NOBODY, change_id=cid, action=action, now=clock())
            form: dict[str, Any] = {"t": token}
            if action == "reject":
                form["reason"] = "The rollback plan is missing"
            with box.session_factory() as s:
                last = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
            async with http.get(f"{email_host}/email/act", params={"t": token}) as resp:
                assert resp.status == 200, case
            with box.session_factory() as s:
                assert (s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0) == last, f"{case}: the GET changed something"
            async with http.post(f"{email_host}/email/act", data=form) as resp:
                page = await resp.text()
                status = resp.status
            with box.session_factory() as s:
                entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id)))
            allowed = who in matrix.ALLOWED[action]
            done = matrix._effect(box, action, who, scenario, {})
            if status != 200 or "went wrong" in page:
                problems.append(f"{case}: answered {status}")
                continue
            if done != allowed:
                problems.append(f"{case}: expected {'done' if allowed else 'refused'}")
                continue
            if allowed:
                if matrix.DONE[action] not in [e.action for e in entries] or any(e.platform != "email" for e in entries):
                    problems.append(f"{case}: audit {[(e.action, e.platform) for e in entries]}")
                continue
            if [e.action for e in entries] != [matrix.REFUSED[action]]:
                problems.append(f"{case}: audit {[e.action for e in entries]} instead of one {matrix.REFUSED[action]}")
                continue
            [entry] = entries
            if entry.platform != "email" or entry.actor_id != (ids[email] if email else None):
                problems.append(f"{case}: audited as {entry.actor_id} from {entry.platform}")
            if entry.object_key != numbers[cid]:
                problems.append(f"{case}: audited about {entry.object_key!r}, not {numbers[cid]!r}")
            if who in matrix.WHY and entry.data.get("reason") != matrix.WHY[who]:
                problems.append(f"{case}: audited reason {entry.data.get('reason')!r}, not {matrix.WHY[who]!r}")
    assert problems == [], "\n".join(problems)
