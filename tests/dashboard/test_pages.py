"""Every dashboard page, the web chat API, authentication and /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from bot.dashboard import ChatMount, DashboardAuthError, DashboardMount, MetricsMount, WebInbox
from bot.dashboard.auth import is_loopback
from bot.turn import Ask, ChatUser
from bot.web import create_app
from governance_store.models import ChangeRequest, Person, System
from handlers.reply import Action, Actor, Command
from notifications import sweep
from tests.core import handle_action, handle_command
from tests.dashboard.conftest import JESSICA, LUIS, FakeClock, container_on, person_id


def system_id(factory: sessionmaker[Session], name: str) -> int:
    with factory() as s:
        return int(s.scalar(sa.select(System.id).where(System.name == name)))


def submit_change(factory: sessionmaker[Session], clock: FakeClock, text: str) -> str:
    """Open and submit a change as Jessica; returns its number."""
    with factory() as s, s.begin():
        jessica = Actor(person_id(factory, JESSICA), "Jessica Park", "test")
        preview = handle_command(Command(text=text, actor=jessica), session=s, now=clock())
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, jessica), session=s, now=clock())
        return str(s.get(ChangeRequest, int(cid)).number)


async def text_of(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path, allow_redirects=False)
    body = await response.text()
    assert response.status == status, body[:500]
    return body


# --------------------------------------------------------------------------- pages


async def test_overview(client: TestClient) -> None:
    html = await text_of(client, "/")
    assert "Governance overview" in html
    assert "US-FDL" in html and "DE-RGB" in html
    assert 'href="/raci?site=US-FDL"' in html


async def test_systems_list_and_gap_filter(client: TestClient) -> None:
    html = await text_of(client, "/systems")
    assert "PLC-FIL-L3-07" in html and "SIS-NH3-01" in html
    assert "<th>Purdue level</th>" in html and "<th>Zone</th>" in html and "<th>Gaps</th>" in html
    all_rows = html.count('href="/systems/')
    gaps = await text_of(client, "/systems?gaps=1")
    gap_rows = gaps.count('href="/systems/')
    assert 0 < gap_rows < all_rows
    assert "SIS-NH3-01" in gaps  # its owner left the company


async def test_search_redirects_on_exact_and_lists_candidates_otherwise(client: TestClient,
                                                                        org: sessionmaker[Session]) -> None:
    response = await client.get("/systems", params={"q": "ammonia safety controller"}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/systems/{system_id(org, 'SIS-NH3-01')}"
    ambiguous = await text_of(client, "/systems?q=plc")
    assert "Several systems match" in ambiguous or "closest candidates" in ambiguous
    assert ambiguous.count('href="/systems/') >= 2
    nothing = await text_of(client, "/systems?q=zzqqxxyy")
    assert "No system matches" in nothing or "closest candidates" in nothing


async def test_system_page(client: TestClient, org: sessionmaker[Session]) -> None:
    sid = system_id(org, "SIS-NH3-01")
    html = await text_of(client, f"/systems/{sid}")
    assert "Luis Ortega (acting for Gregory Maddox, who left 2025-02-28)" in html  # owner
    assert "Luis Ortega" in html  # technical manager and acting holder
    assert "OT Engineering - Findlay" in html  # support group
    assert "Level 1 · FDL-Z5 Safety (SIS), SL-T 3" in html  # Purdue level and zone
    assert "(change activity)" in html and 'name="activity"' in html
    assert 'class="letter lA"' in html
    assert "Escalation chain: ESC-OT-FDL" in html
    assert "left the company" in html  # gaps and chain problems
    assert "Depends on" in html and "Used by" in html
    other = await text_of(client, f"/systems/{sid}?activity=ACT-02")
    assert "RACI: ACT-02" in other
    await text_of(client, "/systems/999999", status=404)


async def test_system_dependencies_both_ways(client: TestClient, org: sessionmaker[Session]) -> None:
    with org() as s:
        row = s.execute(sa.text("select system_id, depends_on_id from system_relations limit 1")).first()
        assert row is not None
        a_name = s.get(System, row[0]).name
        b_name = s.get(System, row[1]).name
    assert b_name in await text_of(client, f"/systems/{row[0]}")
    assert a_name in await text_of(client, f"/systems/{row[1]}")


async def test_raci_matrix_per_site(client: TestClient) -> None:
    html = await text_of(client, "/raci?site=US-FDL")
    assert "RACI matrix · US-FDL" in html
    assert "ACT-01" in html
    assert 'class="letter lA"' in html and 'class="letter lR"' in html
    assert "Luis Ortega" in html  # holds the OT Engineering Lead role in Findlay
    rgb = await text_of(client, "/raci?site=DE-RGB")
    assert "RACI matrix · DE-RGB" in rgb


async def test_changes_sla_state_and_detail(client: TestClient, org: sessionmaker[Session], clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    html = await text_of(client, "/changes")
    assert number in html and "Firmware v33" in html
    # Times in the organisation's main time zone (New York), labelled; never UTC beside local.
    assert "America/New_York (EDT)" in html and " UTC" not in html
    assert "2025-06-04 12:00 EDT" in html  # first reminder at 50 % of 240 business minutes
    assert "2025-06-04 14:00 EDT" in html  # response target
    assert "breached" not in html
    start = clock.now
    for minutes in (120, 180, 240, 255):  # reminders, breach and level 1, level 2
        clock.now = start + dt.timedelta(minutes=minutes)
        sweep.sweep(org, now=clock())
    html = await text_of(client, "/changes")
    assert "breached" in html and "L2" in html
    detail = await text_of(client, f"/changes/{number}")
    assert "change.submitted" in detail and "change.escalated" in detail
    assert "escalated to level 2: Luis Ortega (acting for Gregory Maddox)" in detail
    system = await text_of(client, f"/systems/{system_id(org, 'PLC-FIL-L3-07')}")
    assert number in system and "change.escalated" in system  # history with its audit trail
    await text_of(client, "/changes/GCR999999", status=404)


async def test_metrics_page_trend_and_compliance(client: TestClient, org: sessionmaker[Session],
                                                 clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    clock.advance(minutes=90)
    with org() as s, s.begin():
        cr = s.scalar(sa.select(ChangeRequest).where(ChangeRequest.number == number))
        luis = Actor(person_id(org, LUIS), "Luis Ortega", "test")
        handle_action(Action("cr.approve", str(cr.id), luis), session=s, now=clock())
    html = await text_of(client, "/metrics-page")
    assert 'src="data:image/svg+xml;base64,' in html and "2025-W23" in html and "1.5 h" in html
    assert re.search(r"in govbot \d+ % \(1 of 1\)", html)


async def test_gaps_page(client: TestClient) -> None:
    html = await text_of(client, "/gaps")
    assert "Governance gaps" in html
    assert "sev-high" in html
    assert "Gregory Maddox" in html


# --------------------------------------------------------------------------- web chat


async def test_chat_page_lists_people(client: TestClient) -> None:
    html = await text_of(client, "/chat")
    assert '<select id="person"' in html and "Luis Ortega" in html and "Jessica Park" in html
    assert "/dashboard-static/chat.js" in html
    assert (await client.get("/dashboard-static/chat.js")).status == 200


async def test_chat_answers_and_buttons_post_actions(client: TestClient, org: sessionmaker[Session]) -> None:
    luis = person_id(org, LUIS)
    r = await client.post("/chat/api/say", json={"person_id": luis, "text": "who owns the ammonia safety controller?"})
    assert r.status == 200
    data = await r.json()
    assert data["reply"]["text"].startswith("SIS-NH3-01 is owned by Luis Ortega (acting for Gregory Maddox")
    assert 'data-action-id="govbot.run"' in data["html"] or 'class="act' in data["html"]
    button = data["reply"]["buttons"][0]
    r = await client.post("/chat/api/click", json={"person_id": luis, "action_id": button["action_id"],
                                                   "value": button["value"], "inputs": {}})
    assert r.status == 200 and (await r.json())["reply"]["text"]
    form = await (await client.post("/chat/api/say", json={"person_id": luis, "text": "change"})).json()
    assert '<form class="reply-form" data-action-id="cr.preview"' in form["html"]
    assert '<select name="risk">' in form["html"]
    assert (await client.post("/chat/api/say", json={"text": "hi"})).status == 400
    assert (await client.post("/chat/api/click", json={"person_id": luis})).status == 400


async def test_change_flow_through_chat_and_inbox(client: TestClient, org: sessionmaker[Session],
                                                  inbox: WebInbox) -> None:
    jessica, luis = person_id(org, JESSICA), person_id(org, LUIS)
    preview = await (await client.post("/chat/api/click", json={
        "person_id": jessica, "action_id": "cr.preview", "value": "new",
        "inputs": {"system": "PLC-FIL-L3-07", "title": "Firmware v33", "change_type": "normal", "risk": "moderate"},
    })).json()
    submit = next(b for b in preview["reply"]["buttons"] if b["action_id"] == "cr.submit")
    submitted = await (await client.post("/chat/api/click", json={
        "person_id": jessica, "action_id": "cr.submit", "value": submit["value"]})).json()
    assert "submitted" in submitted["reply"]["text"]
    box = await (await client.get("/chat/api/inbox", params={"person_id": str(luis)})).json()
    request = next(m for m in box["messages"] if m["reply"]["text"].startswith("Your approval is requested"))
    assert 'data-action-id="cr.approve"' in request["html"] and not request["updated"]
    approve = next(b for b in request["reply"]["buttons"] if b["action_id"] == "cr.approve")
    decided = await (await client.post("/chat/api/click", json={
        "person_id": luis, "action_id": "cr.approve", "value": approve["value"]})).json()
    assert "approved" in decided["reply"]["text"].lower()
    box = await (await client.get("/chat/api/inbox", params={"person_id": str(luis)})).json()
    same = next(m for m in box["messages"] if m["id"] == request["id"])
    assert same["updated"] and 'data-action-id="cr.approve"' not in same["html"]
    assert (await client.get("/chat/api/inbox")).status == 400


# --------------------------------------------------------------------------- /metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


async def test_metrics_exposition(client: TestClient, org: sessionmaker[Session], clock: FakeClock) -> None:
    submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    await client.get("/systems")
    await client.post("/chat/api/say", json={"person_id": person_id(org, LUIS), "text": "who owns SIS-NH3-01"})
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = await response.text()
    typed: dict[str, str] = {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            typed[name] = kind
        elif line and not line.startswith("#"):
            assert SAMPLE.match(line), line
    assert typed["govbot_http_requests_total"] == "counter"
    assert typed["govbot_http_request_duration_seconds"] == "histogram"
    assert typed["govbot_answer_duration_seconds"] == "histogram"
    for name in ("govbot_pending_approvals", "govbot_outbox_pending", "govbot_escalations_fired_total",
                 "govbot_digest_runs_total", "govbot_scheduler_alive"):
        assert name in typed
    assert 'govbot_http_requests_total{method="GET",route="/systems",status="200"} 1' in body
    with org() as s:
        pending = s.scalar(sa.text("select count(*) from approvals where kind = 'approver' and state = 'requested'"))
    assert pending >= 1 and f"govbot_pending_approvals {pending}" in body
    assert 'govbot_answer_duration_seconds_count{kind="command"} 1' in body
    assert 'govbot_escalations_fired_total{source="audit_log"} 0' in body
    assert "govbot_scheduler_alive 0" in body
    buckets = [int(v) for v in re.findall(r'govbot_http_request_duration_seconds_bucket\{route="/systems",le="[^"]+"\} (\d+)', body)]
    assert buckets == sorted(buckets) and buckets[-1] == 1


# --------------------------------------------------------------------------- authentication


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("::")
    assert not is_loopback("")


def test_refuses_to_start_on_a_network_address_without_a_token(org: sessionmaker[Session], clock: FakeClock) -> None:
    container = container_on(org, clock, host="0.0.0.0")
    for build in (DashboardMount, ChatMount, MetricsMount):
        with pytest.raises(DashboardAuthError):
            build(container)
    with pytest.raises(DashboardAuthError):
        DashboardMount(container_on(org, clock), host="10.1.2.3")


async def test_token_required_when_bound_elsewhere(org: sessionmaker[Session], clock: FakeClock) -> None:
    token = "s3cret-dashboard-token"
    container: Container = container_on(org, clock, host="0.0.0.0", dashboard_token=token)
    app = create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container),
                                                    ChatMount(container, WebInbox())])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        for path in ("/", "/systems", "/raci", "/changes", "/metrics-page", "/gaps", "/chat", "/metrics",
                     "/dashboard-static/style.css", "/chat/api/inbox?person_id=1"):
            r = await c.get(path, allow_redirects=False)
            assert r.status == 401, path
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        assert (await c.post("/chat/api/say", json={"person_id": 1, "text": "help"})).status == 401
        assert (await c.get("/healthz")).status == 200  # the health check stays open
        assert (await c.get("/", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await c.get("/", headers={"Authorization": f"Bearer {token}"})).status == 200
        basic = base64.b64encode(f"anyone:{token}".encode()).decode()
        assert (await c.get("/systems", headers={"Authorization": f"Basic {basic}"})).status == 200
        bad = base64.b64encode(b"anyone:nope").decode()
        assert (await c.get("/systems", headers={"Authorization": f"Basic {bad}"})).status == 401
        assert (await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status == 200
        r = await c.get("/systems?gaps=1&token=wrong", allow_redirects=False)
        assert r.status == 401
        r = await c.get(f"/systems?gaps=1&token={token}", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/systems?gaps=1"
        assert "HttpOnly" in r.headers["Set-Cookie"] and token not in r.headers["Set-Cookie"]
        r = await c.get("/systems?gaps=1")  # the cookie jar now carries the session cookie
        assert r.status == 200


def _dashboard_link(container: Container, email: str) -> str:
    """The link the chat ``dashboard`` command gives ``email``, issued by the core as in any chat turn."""
    reply = container.pipeline.answer(ChatUser(platform="test", email=email), Ask("dashboard"))
    assert reply.status == "link", reply.text
    return next(word for word in reply.text.split() if word.startswith("http"))


async def test_a_personal_link_signs_its_holder_in_until_it_expires(org: sessionmaker[Session],
                                                                   clock: FakeClock) -> None:
    token = "s3cret-dashboard-token"
    # A plain-http public URL: this test client keeps no Secure cookie (an https one makes them Secure).
    container = container_on(org, clock, host="0.0.0.0", dashboard_token=token,
                             public_url="http://govbot.plant.example")
    link = _dashboard_link(container, LUIS)
    assert link.startswith("http://govbot.plant.example/?pass=")
    path = link.removeprefix("http://govbot.plant.example")
    app = create_app(container, slack=None, mounts=[MetricsMount(container), DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        assert (await c.get("/", allow_redirects=False)).status == 401
        r = await c.get(path, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/"
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=43200" in cookie
        assert token not in cookie
        assert (await c.get("/changes")).status == 200  # the cookie jar carries the session
        r = await c.get(f"/systems?gaps=1&{path.removeprefix('/?')}", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/systems?gaps=1"
        r = await c.get(path)  # followed as a browser would
        assert r.status == 200 and "Overview" in await r.text()
        clock.advance(hours=12)  # the pass, and the session it opened, end together
        assert (await c.get("/changes", allow_redirects=False)).status == 401
        assert (await c.get(path, allow_redirects=False)).status == 401
        # The token still works alongside.
        assert (await c.get("/", headers={"Authorization": f"Bearer {token}"})).status == 200


async def test_a_forged_or_tampered_link_does_not_open_the_dashboard(org: sessionmaker[Session],
                                                                    clock: FakeClock) -> None:
    from handlers import dashboard_pass

    token = "s3cret-dashboard-token"
    container = container_on(org, clock, host="0.0.0.0", dashboard_token=token)
    value = _dashboard_link(container, LUIS).split("?pass=", 1)[1]
    payload, signature = value.split(".")
    someone_else = base64.urlsafe_b64encode(f"{person_id(org, JESSICA)}:9999999999".encode()).rstrip(b"=").decode()
    other_key = dashboard_pass.derive_key("not-the-dashboard-token")
    forged = dashboard_pass.issue(person_id(org, LUIS), key=other_key, expires_at=clock() + dt.timedelta(hours=1))
    app = create_app(container, slack=None, mounts=[DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        for bad in (forged, f"{someone_else}.{signature}", f"{payload}.{signature[:-2]}AA", value[:-1], "",
                    token, "x" * 300):
            r = await c.get(f"/?pass={bad}", allow_redirects=False)
            assert r.status == 401, bad
            assert "Set-Cookie" not in r.headers
            assert "expired or is not valid" in await r.text()
        c.session.cookie_jar.update_cookies({"govbot_dashboard": forged})
        assert (await c.get("/", allow_redirects=False)).status == 401  # nor as a cookie
        c.session.cookie_jar.update_cookies({"govbot_dashboard": value})
        assert (await c.get("/", allow_redirects=False)).status == 200  # (where the real one works)


async def test_without_a_token_the_link_is_the_plain_local_url(client: TestClient, container: Container) -> None:
    link = _dashboard_link(container, LUIS)
    assert link == "http://127.0.0.1:3000/"
    assert (await client.get("/")).status == 200


async def test_loopback_needs_no_token(client: TestClient) -> None:
    assert (await client.get("/")).status == 200
    assert (await client.get("/metrics")).status == 200


def test_serve_mounts_the_dashboard_only_when_it_is_safe(org: sessionmaker[Session], clock: FakeClock) -> None:
    from bot.dashboard.app import dashboard_mounts

    local = container_on(org, clock)
    assert [type(m).__name__ for m in dashboard_mounts(local)] == ["MetricsMount", "DashboardMount"]
    assert dashboard_mounts(local, wanted=False) == []
    network = container_on(org, clock, host="0.0.0.0")
    assert dashboard_mounts(network) == []  # left out with a warning, never served open
    with pytest.raises(DashboardAuthError):
        dashboard_mounts(network, wanted=True)
    with_token = container_on(org, clock, host="0.0.0.0", dashboard_token="s3cret-dashboard-token")
    assert len(dashboard_mounts(with_token)) == 2


async def test_chat_api_accepts_json_only(client: TestClient, org: sessionmaker[Session]) -> None:
    body = json.dumps({"person_id": person_id(org, LUIS), "text": "help"})
    r = await client.post("/chat/api/say", data=body, headers={"Content-Type": "text/plain"})
    assert r.status == 415


async def test_a_holder_who_leaves_loses_the_dashboard_at_once(org: sessionmaker[Session], clock: FakeClock) -> None:
    container = container_on(org, clock, host="0.0.0.0", dashboard_token="s3cret-dashboard-token")
    path = "/" + _dashboard_link(container, LUIS).split("/", 3)[3]
    app = create_app(container, slack=None, mounts=[DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        assert (await c.get(path)).status == 200
        assert (await c.get("/changes")).status == 200
        with org() as s, s.begin():
            s.scalar(sa.select(Person).where(Person.email == LUIS)).active = False  # the directory import says so
        r = await c.get("/changes", allow_redirects=False)
        assert r.status == 401 and "no longer active" in await r.text()
        assert 'govbot_dashboard=""' in r.headers.get("Set-Cookie", "")  # the session cookie is cleared
        r = await c.get(path, allow_redirects=False)  # nor does the link open it again
        assert r.status == 401 and "may no longer view" in await r.text()


async def test_without_credentials_the_dashboard_says_how_to_sign_in(org: sessionmaker[Session],
                                                                    clock: FakeClock) -> None:
    container = container_on(org, clock, host="0.0.0.0", dashboard_token="s3cret-dashboard-token")
    app = create_app(container, slack=None, mounts=[DashboardMount(container)])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        r = await c.get("/gaps")
        assert r.status == 401 and "/govbot dashboard" in await r.text()


async def test_a_personal_link_talks_in_the_web_chat_only_as_its_holder(org: sessionmaker[Session],
                                                                       clock: FakeClock) -> None:
    token = "s3cret-dashboard-token"
    container = container_on(org, clock, host="0.0.0.0", dashboard_token=token)
    luis, jessica = person_id(org, LUIS), person_id(org, JESSICA)
    path = "/" + _dashboard_link(container, LUIS).split("/", 3)[3]
    app = create_app(container, slack=None, mounts=[DashboardMount(container), ChatMount(container, WebInbox())])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        assert (await c.get(path)).status == 200
        page_html = await (await c.get("/chat")).text()
        assert f'value="{luis}"' in page_html and f'value="{jessica}"' not in page_html
        as_self = await c.post("/chat/api/say", json={"person_id": luis, "text": "who owns PLC-FIL-L3-07"})
        assert as_self.status == 200
        for call in (c.post("/chat/api/say", json={"person_id": jessica, "text": "approvals"}),
                     c.post("/chat/api/click", json={"person_id": jessica, "action_id": "cr.approve", "value": "1"}),
                     c.get(f"/chat/api/inbox?person_id={jessica}")):
            r = await call
            assert r.status == 403 and "only talk to govbot as yourself" in await r.text()
    # A token holder (the operator) may still pick anyone.
    app = create_app(container, slack=None, mounts=[DashboardMount(container), ChatMount(container, WebInbox())])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        r = await c.post("/chat/api/say", json={"person_id": jessica, "text": "help"},
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200


async def test_change_pages_show_every_time_in_one_named_zone(client: TestClient, org: sessionmaker[Session],
                                                              clock: FakeClock) -> None:
    """A change's page and its audit trail in one zone, named once, whichever zone the page is shown in: the
    escalation lines of the trail are told in the page's zone, not in the site's zone they were written in."""
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    start = clock.now
    for minutes in (240, 255):  # breach and level 1, then level 2: escalation lines in the trail
        clock.now = start + dt.timedelta(minutes=minutes)
        sweep.sweep(org, now=clock())
    for query, label in (("", "EDT"), ("?tz=Europe/Berlin", "CEST")):
        html = await text_of(client, f"/changes/{number}{query}")
        named = re.search(r'id="zone">[^<]*<strong>([^<]+)</strong>', html)
        assert named is not None and named.group(1).endswith(f"({label})"), named
        stamps = re.findall(r"\d{2}:\d{2} ([A-Z]{3,5})\b", html)
        assert stamps and set(stamps) == {label}, (query, set(stamps))
        trail = re.findall(r"<li>([^<]*change\.escalated[^<]*)</li>", html)
        assert trail and all(line.count(label) == 2 for line in trail), trail
