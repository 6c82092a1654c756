"""Dashboard passes (signed, expiring) and the ``dashboard`` command: who gets a link, who is refused, what is audited."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import AuditEntry, ChangeRequest, Person
from handlers import dashboard_pass
from handlers.dashboard_pass import DashboardLinks
from handlers.reply import Action, Actor, Command
from handlers.services import Services
from tests.core import handle_command, refuse_unknown

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
KEY = dashboard_pass.derive_key("the-dashboard-token")
LATER = NOW + dt.timedelta(hours=12)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------- the pass


def test_a_pass_names_its_person_and_expiry() -> None:
    value = dashboard_pass.issue(42, key=KEY, expires_at=LATER)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    verified = dashboard_pass.verify(value, key=KEY, now=NOW)
    assert verified == dashboard_pass.Pass(person_id=42, expires_at=LATER)
    assert dashboard_pass.verify(value, key=KEY, now=LATER - dt.timedelta(seconds=1)).person_id == 42


@pytest.mark.parametrize("now", [LATER, LATER + dt.timedelta(seconds=1), LATER + dt.timedelta(days=30)])
def test_an_expired_pass_is_refused(now: dt.datetime) -> None:
    value = dashboard_pass.issue(42, key=KEY, expires_at=LATER)
    with pytest.raises(dashboard_pass.InvalidPass) as refused:
        dashboard_pass.verify(value, key=KEY, now=now)
    assert refused.value.reason == "expired"


def test_a_pass_signed_with_another_key_is_refused() -> None:
    other = dashboard_pass.derive_key("another-dashboard-token")
    assert other != KEY
    value = dashboard_pass.issue(42, key=other, expires_at=LATER)
    with pytest.raises(dashboard_pass.InvalidPass) as refused:
        dashboard_pass.verify(value, key=KEY, now=NOW)
    assert refused.value.reason == "bad signature"


@pytest.mark.parametrize("payload", [b"7:1749088800", b"42:9999999999", b"43:1749088800"])
def test_a_tampered_payload_is_refused(payload: bytes) -> None:
    """Someone else's id or a later expiry under the original signature."""
    value = dashboard_pass.issue(42, key=KEY, expires_at=LATER)
    _, signature = value.split(".")
    with pytest.raises(dashboard_pass.InvalidPass) as refused:
        dashboard_pass.verify(f"{_b64(payload)}.{signature}", key=KEY, now=NOW)
    assert refused.value.reason == "bad signature"


def test_a_tampered_signature_is_refused() -> None:
    value = dashboard_pass.issue(42, key=KEY, expires_at=LATER)
    payload, signature = value.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    with pytest.raises(dashboard_pass.InvalidPass):
        dashboard_pass.verify(f"{payload}.{_b64(bytes(raw))}", key=KEY, now=NOW)


def test_a_pass_forged_without_the_key_is_refused() -> None:
    """Signed with the token itself, or with the session cookie value a browser may have seen."""
    payload = b"42:9999999999"
    cookie = hmac.new(b"the-dashboard-token", b"govbot-dashboard-session", hashlib.sha256).hexdigest()
    for guess in (b"the-dashboard-token", cookie.encode(), b""):
        forged = f"{_b64(payload)}.{_b64(hmac.new(guess, payload, hashlib.sha256).digest())}"
        with pytest.raises(dashboard_pass.InvalidPass):
            dashboard_pass.verify(forged, key=KEY, now=NOW)


@pytest.mark.parametrize("value", ["", ".", "abc", "a.b.c", "NDI6MQ", "!!.!!", "NDI6MQ." + "A" * 43,
                                   _b64(b"0:9999999999") + "." + _b64(b"x" * 32), "x" * 500])
def test_malformed_passes_are_refused(value: str) -> None:
    with pytest.raises(dashboard_pass.InvalidPass):
        dashboard_pass.verify(value, key=KEY, now=NOW)


def test_links_without_a_token_are_the_plain_url() -> None:
    links = DashboardLinks.configure("http://127.0.0.1:8080", token=None)
    assert links.link(42, now=NOW) == ("http://127.0.0.1:8080/", None)
    signed = DashboardLinks.configure("https://govbot.plant.example/", token="t0ken",
                                      lifetime=dt.timedelta(hours=2))
    url, expires = signed.link(42, now=NOW)
    assert expires == NOW + dt.timedelta(hours=2)
    assert url.startswith("https://govbot.plant.example/?pass=")
    [value] = parse_qs(urlsplit(url).query)["pass"]
    assert dashboard_pass.verify(value, key=dashboard_pass.derive_key("t0ken"), now=NOW).person_id == 42
    assert "t0ken" not in repr(signed) and repr(KEY) not in repr(signed)


# --------------------------------------------------------------------------- the command


TOKEN = "a-dashboard-token-for-tests"
LINKS = DashboardLinks.configure("https://govbot.plant.example", token=TOKEN)


def _ask(factory: sessionmaker[Session], actor: Actor, *, public: bool = False) -> tuple[str, str, list[AuditEntry]]:
    with factory() as s, s.begin():
        before = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
        reply = handle_command(Command(text="dashboard", actor=actor, public=public), session=s, now=NOW,
                               services=Services(links=LINKS))
    with factory() as s:
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > before)).all())
    return reply.status, reply.text, entries


def _actor(factory: sessionmaker[Session], email: str) -> Actor:
    with factory() as s:
        p = s.scalars(sa.select(Person).where(Person.email == email)).one()
        return Actor(p.id, p.display_name, "slack", p.email)


def test_an_active_person_gets_a_personal_link_and_it_is_audited(org: sessionmaker[Session]) -> None:
    luis = _actor(org, "luis.ortega@corvane.example")
    status, text, entries = _ask(org, luis)
    assert status == "link"
    url = next(w for w in text.split() if w.startswith("https://"))
    [value] = parse_qs(urlsplit(url).query)["pass"]
    issued = dashboard_pass.verify(value, key=dashboard_pass.derive_key(TOKEN), now=NOW)
    assert issued.person_id == luis.person_id and issued.expires_at == NOW + dt.timedelta(hours=12)
    [entry] = entries
    assert entry.action == "dashboard.link_issued" and entry.actor_id == luis.person_id
    assert entry.object_key == "luis.ortega@corvane.example"
    dumped = json.dumps(entry.data) + entry.actor + entry.object_key
    assert value not in dumped and value.split(".")[1] not in dumped, "the pass never goes into the audit trail"
    assert entry.data["dashboard"] == "https://govbot.plant.example/"


def test_a_person_who_left_is_refused_and_it_is_audited(org: sessionmaker[Session]) -> None:
    gregory = _actor(org, "gregory.maddox@corvane.example")
    status, text, entries = _ask(org, gregory)
    assert status == "refused" and "inactive" in text and "https://" not in text
    assert [(e.action, e.actor_id, e.data["reason"]) for e in entries] == [
        ("dashboard.view.refused", gregory.person_id, "inactive")]


def test_someone_outside_the_directory_is_refused_and_it_is_audited(org: sessionmaker[Session]) -> None:
    status, text, entries = _ask(org, Actor(None, "Pat Stranger (U0STRANGER9)", "slack", "pat@elsewhere.example"))
    assert status == "unknown_person" and "not in govbot's directory" in text and "https://" not in text
    [entry] = entries
    assert (entry.action, entry.actor_id, entry.object_key) == ("dashboard.view.refused", None, "pat@elsewhere.example")
    assert entry.actor == "Pat Stranger (U0STRANGER9) (not in the directory)"
    assert entry.data["reason"] == "not in the directory"


def test_no_link_where_everyone_would_see_it(org: sessionmaker[Session]) -> None:
    status, text, entries = _ask(org, _actor(org, "luis.ortega@corvane.example"), public=True)
    assert status == "usage" and "https://" not in text and "personal chat" in text
    assert entries == []


def test_without_a_token_the_link_is_the_plain_dashboard_url(org: sessionmaker[Session]) -> None:
    luis = _actor(org, "luis.ortega@corvane.example")
    with org() as s, s.begin():  # no links on the unit of work: the local default
        reply = handle_command(Command(text="dashboard", actor=luis), session=s, now=NOW)
    assert reply.status == "link" and "http://127.0.0.1:3000/" in reply.text and "pass=" not in reply.text


# --------------------------------------------------------------------------- people outside the directory


def test_what_an_unknown_chat_user_tries_is_refused_and_audited_by_the_core(org: sessionmaker[Session]) -> None:
    stranger = Actor(None, "Pat Stranger (U0STRANGER9)", "slack", "pat@elsewhere.example")
    jessica = _actor(org, "jessica.park@corvane.example")
    with org() as s, s.begin():
        preview = handle_command(Command('change PLC-FIL-L3-07 "Firmware"', jessica), session=s, now=NOW)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
    with org() as s, s.begin():
        before = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
        refused = [refuse_unknown(request, session=s, now=NOW) for request in (
            Command("dashboard", stranger), Action("cr.submit", cid, stranger), Action("cr.reject", cid, stranger),
            Action("govbot.run", "dashboard", stranger))]
        # A question changes nothing: the stranger is told who they are not, and nothing is audited.
        asked = refuse_unknown(Command("who owns PLC-FIL-L3-07", stranger), session=s, now=NOW)
    assert [r.status for r in refused] == ["unknown_person"] * 4
    assert asked.status == "unknown_person" and "PLC-FIL-L3-07" not in asked.text
    with org() as s:
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.id > before)))
        state = s.get(ChangeRequest, int(cid)).state
    assert [e.action for e in entries] == ["dashboard.view.refused", "change.submit.refused", "change.reject.refused",
                                           "dashboard.view.refused"]
    assert [e.object_key for e in entries[1:3]] == [preview.data["change"]] * 2
    assert state == "draft"
