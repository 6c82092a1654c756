"""E-mail, the third channel, against a real SMTP server on 127.0.0.1 (STARTTLS, a certificate made for
the test, a login), and its Approve / Reject links through the web host.

* Someone without a chat account (Ray Dawson, the vendor's engineer, has no Slack account) gets e-mail at
  once; someone who chose e-mail gets it first; the mail is encrypted before the login and carries signed
  single-use links.
* A link opens a confirmation page: a GET changes nothing; the POST decides through the turn pipeline (the
  audit trail says ``email``); a second use, an altered link, an expired one and the wrong action are refused.
* After the decision, the approval e-mail's links are stale: one short follow-up says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from bot.bootstrap import Container, build_senders, configure_delivery
from bot.email.links import LinkSigner
from bot.email.pages import EmailLinkMount
from bot.email.sender import EmailSender
from bot.web import create_app
from governance_store.models import Approval, AuditEntry, ChangeRequest, OutboxMessage, Person, UsedLink
from handlers.reply import Action, Actor, Command
from notifications import outbox
from tests.core import handle_action, handle_command
from tests.email.smtp_server import PASSWORD, USER, SmtpServer
from tests.slack import conftest as slack_rig
from tests.slack import seed
from tests.slack.conftest import make_settings

fake_slack = slack_rig.fake_slack
slack_payload = slack_rig.slack_payload
seeded_sqlite = slack_rig.seeded_sqlite
seeded_pg_schema = slack_rig.seeded_pg_schema
seeded_target = slack_rig.seeded_target

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
KEY = "a-link-signing-key-of-at-least-32-characters"
PUBLIC = "https://govbot.plant.example"
LUIS, JESSICA, RAY = "luis.ortega@corvane.example", "jessica.park@corvane.example", "ray.dawson@brightlinecontrols.example"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: Any, smtp: SmtpServer, clock: Clock) -> Iterator[Container]:
    settings = make_settings(seeded_target, fake_slack, smtp_host="127.0.0.1", smtp_port=smtp.port,
                             smtp_username=USER, smtp_password=PASSWORD, smtp_from="govbot@corvane.example",
                             smtp_ca_file=smtp.certificate, email_link_key=KEY, public_url=PUBLIC)
    box = Container(settings=settings, clock=clock)
    yield box
    box.engine.dispose()


@pytest.fixture
async def web_host(container: Container) -> AsyncIterator[str]:
    signer = LinkSigner(KEY, lifetime=dt.timedelta(hours=72))
    runner = web.AppRunner(create_app(container, mounts=[EmailLinkMount(container, signer)]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def _id(container: Container, email: str) -> int:
    with container.session_factory() as s:
        return s.scalars(sa.select(Person.id).where(Person.email == email)).one()


def _submit(container: Container) -> int:
    with container.unit_of_work() as s:
        p = s.scalars(sa.select(Person).where(Person.email == JESSICA)).one()
        who = Actor(p.id, p.display_name, "slack", p.email)
        preview = handle_command(Command('change PLC-FIL-L3-07 "Firmware v33"', who), session=s, now=NOW)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, who), session=s, now=NOW)
    return int(cid)


def _dispatch(container: Container) -> outbox.DispatchResult:
    d = outbox.Dispatcher(container.session_factory, build_senders(container), per_channel_interval=0)
    configure_delivery(d, container.settings)
    return d.run(now=container.clock(), limit=500)


def _links(mail: Any) -> dict[str, str]:
    html = mail.message.get_body(("html",)).get_content()
    return {label: url.replace("&amp;", "&") for url, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)}


async def test_email_reaches_people_without_chat_and_those_who_chose_it_over_starttls(
        container: Container, smtp: SmtpServer, fake_slack: Any) -> None:
    fake_slack.users.pop(seed.NEWCOMER, None)  # the vendor's engineer has no Slack account
    cid = _submit(container)  # Ray is consulted (the vendor team's member)
    luis, ray = _id(container, LUIS), _id(container, RAY)
    with container.unit_of_work() as s:
        s.get(Person, luis).notify_via = "email"  # Luis chose e-mail
    result = await asyncio.to_thread(_dispatch, container)
    assert result.failed == 0
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp.mails}
    assert set(by_rcpt) >= {LUIS, RAY}, "Ray has no Slack account: e-mail at once; Luis chose e-mail"
    assert JESSICA not in by_rcpt, "Jessica is on Slack and did not choose e-mail"
    assert all(m.tls and m.login == USER for m in smtp.mails), "encrypted before the login, then logged in"
    assert smtp.logins and all(ok for _, ok in smtp.logins)
    mail = by_rcpt[LUIS]
    assert mail.message["From"] == "govbot@corvane.example" and mail.message["Subject"].startswith("[govbot] ")
    assert mail.message.get_body(("plain",)) is not None and mail.message.get_body(("html",)) is not None
    links = _links(mail)
    assert set(links) == {"Approve", "Reject"} and all(u.startswith(f"{PUBLIC}/email/act?t=") for u in links.values())
    assert "Ask a question" in mail.message.get_body(("plain",)).get_content().lower() or \
        "ask a question" in mail.message.get_body(("plain",)).get_content().lower()
    assert "You are consulted" in by_rcpt[RAY].message["Subject"] or "consulted" in by_rcpt[RAY].message["Subject"]
    with container.session_factory() as s:
        assert s.scalars(sa.select(OutboxMessage.platform).where(
            OutboxMessage.key == f"cr:{cid}:consulted:{ray}")).one() == "email"
        row = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == f"cr:{cid}:approver:{luis}")).one()
        assert row.platform == "email" and row.platform_ref["message_id"] == mail.message["Message-ID"]
        assert KEY not in str(row.payload) and "t=" not in str(row.payload), "no link is stored"


async def test_a_link_shows_a_confirmation_then_decides_once_through_the_core(
        container: Container, smtp: SmtpServer, web_host: str) -> None:
    cid = _submit(container)
    luis = _id(container, LUIS)
    with container.unit_of_work() as s:
        s.get(Person, luis).notify_via = "email"
    await asyncio.to_thread(_dispatch, container)
    [mail] = [m for m in smtp.mails if m.rcpt_tos == [LUIS]]
    approve = urlparse(_links(mail)["Approve"])
    token = parse_qs(approve.query)["t"][0]
    with container.session_factory() as s:
        audits = s.scalar(sa.select(sa.func.count(AuditEntry.id)))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{web_host}/email/act", params={"t": token}) as resp:
            page = await resp.text()
            assert resp.status == 200 and "Approve" in page and "Luis Ortega" in page
            assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "no-referrer"
            assert resp.headers["X-Frame-Options"] == "DENY"
        with container.session_factory() as s:
            assert s.scalar(sa.select(sa.func.count(AuditEntry.id))) == audits, "a GET changes nothing"
            assert s.get(ChangeRequest, cid).state == "submitted" and s.get(UsedLink, _link_id(token)) is None
        async with http.post(f"{web_host}/email/act", data={"t": token}) as resp:
            assert resp.status == 200, await resp.text()
            assert "approved" in (await resp.text()).lower()
        with container.session_factory() as s:
            assert s.get(ChangeRequest, cid).state == "approved"
            entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.approved")).one()
            assert (entry.platform, entry.actor_id) == ("email", luis)
            assert s.get(UsedLink, _link_id(token)) is not None
        async with http.post(f"{web_host}/email/act", data={"t": token}) as resp:
            assert resp.status == 409 and "already used" in await resp.text()
        # An altered link (the change id edited) is refused before anything is read.
        body, mac = token.split(".")
        forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
        for bad in (forged, token + "x", "", "x" * 2000):
            async with http.post(f"{web_host}/email/act", data={"t": bad}) as resp:
                assert resp.status == 403, bad[:20]
    # Luis's approval e-mail is stale now: one follow-up in the same thread says so, no more after it.
    await asyncio.to_thread(_dispatch, container)
    followups = [m for m in smtp.mails if m.rcpt_tos == [LUIS] and m.message["In-Reply-To"]]
    assert len(followups) == 1 and followups[0].message["In-Reply-To"] == mail.message["Message-ID"]
    text = followups[0].message.get_body(("plain",)).get_content()
    assert "approved by Luis Ortega at 2025-06-04 10:00 EDT" in text and "no longer work" in text
    assert "Approve" not in _links(followups[0])


def _link_id(token: str) -> str:
    import base64
    import json

    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["l"]


async def test_links_are_bound_to_person_change_action_and_time(container: Container, web_host: str,
                                                                clock: Clock) -> None:
    cid = _submit(container)
    luis, mike = _id(container, LUIS), _id(container, "mike.sullivan@corvane.example")
    signer = LinkSigner(KEY, lifetime=dt.timedelta(hours=72))
    other_key = LinkSigner("another-key-another-key-another-key-123", lifetime=dt.timedelta(hours=72))
    async with aiohttp.ClientSession() as http:
        async def post(token: str, **form: str) -> tuple[int, str]:
            async with http.post(f"{web_host}/email/act", data={"t": token, **form}) as resp:
                return resp.status, await resp.text()

        assert (await post(other_key.sign(person_id=luis, change_id=cid, action="approve", now=NOW)))[0] == 403
        expired = signer.sign(person_id=luis, change_id=cid, action="approve", now=NOW - dt.timedelta(hours=73))
        status, page = await post(expired)
        assert status == 403 and "expired" in page
        # Mike is no approver: his link is only a way in; the core refuses him and audits it as from e-mail.
        status, page = await post(signer.sign(person_id=mike, change_id=cid, action="approve", now=NOW))
        assert status == 200 and "not an approver" in page
        # A rejection needs its reason on the confirmation page, as in chat.
        reject = signer.sign(person_id=luis, change_id=cid, action="reject", now=NOW)
        status, page = await post(reject)
        assert status == 400 and "reason" in page.lower()
        status, page = await post(reject, reason="The rollback plan is missing")
        assert status == 200 and "rejected" in page.lower()
    with container.session_factory() as s:
        refused = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.approve.refused")).one()
        assert (refused.platform, refused.actor_id) == ("email", mike)
        assert s.scalars(sa.select(Approval).where(Approval.change_id == cid, Approval.person_id == luis)).one().comment \
            == "The rollback plan is missing"


async def test_no_starttls_no_mail(container: Container, tmp_path: Path) -> None:
    """A server that does not offer STARTTLS gets nothing: not the password, not the message."""
    (tmp_path / "plain").mkdir()
    plain = SmtpServer(tmp_path / "plain", starttls=False).start()
    try:
        sender = EmailSender(host="127.0.0.1", port=plain.port, sender="govbot@corvane.example", username=USER,
                             password=PASSWORD)
        with pytest.raises(outbox.DeliveryError, match="does not offer STARTTLS"):
            await asyncio.to_thread(sender.send, outbox.Recipient(1, None, RAY, "Ray"), {"text": "hello"})
        assert plain.mails == [] and plain.logins == []
    finally:
        plain.stop()

