"""Attacks on the chat endpoints over real HTTP: ``/slack/events`` (signed with the test's signing secret,
a fake Slack Web API records what govbot answers) and ``/api/messages`` (Bot Framework tokens checked by
botbuilder's own validation; ``tests/teams/tokens.py`` plays the Bot Connector's keys).

* nothing unauthenticated is parsed: unsigned garbage is a 401, never a 500, and its body is never logged;
* a signed body that cannot be read is a 400;
* a signed request captured and sent again is answered once, by any replica;
* an event retry is acknowledged and runs once, on whichever replica it lands;
* a Teams token without an expiry is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import pytest

from tests.slack import conftest as slack_rig
from tests.slack import seed
from tests.slack.conftest import SlackHost, sign
from tests.teams import conftest as teams_rig
from tests.teams.conftest import TeamsHost

fake_slack = slack_rig.fake_slack
make_host = slack_rig.make_host
host = slack_rig.host
container = slack_rig.container
seeded_pg_schema = slack_rig.seeded_pg_schema
seeded_sqlite = slack_rig.seeded_sqlite
seeded_target = slack_rig.seeded_target
slack_payload = slack_rig.slack_payload
connector = teams_rig.connector
make_teams_host = teams_rig.make_teams_host
teams_payload = teams_rig.teams_payload
teams_container = teams_rig.teams_container
teams_host = teams_rig.teams_host

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MARKER = "tell-nobody-7f3a9c"


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.levelname} {r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


# --------------------------------------------------------------------------- Slack: authenticate first


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "badly-signed"])
async def test_unauthenticated_garbage_is_401_not_500_and_nothing_is_logged_of_it(
        host: SlackHost, caplog: pytest.LogCaptureFixture, signed: bool) -> None:
    caplog.set_level(logging.DEBUG)
    body = '{x "' + MARKER
    status, answer = await host.post(body, content_type=JSON, signed=signed, secret="not-the-signing-secret")
    assert status == 401 and MARKER not in answer
    status, _ = await host.post(f"token={MARKER}&text=who", content_type=FORM, signed=signed,
                                secret="not-the-signing-secret")
    assert status == 401
    logged = _logged(caplog)
    assert MARKER not in logged
    assert "Traceback" not in logged and not any(r.levelno >= logging.ERROR for r in caplog.records)
    await host.fake.settle()
    assert host.fake.posted() == []


async def test_a_stale_signature_is_refused(host: SlackHost) -> None:
    body, _ = host.slash_body(f"who {seed.PLC}")
    status, _ = await host.post(body, content_type=FORM, timestamp=int(time.time()) - 6 * 60)
    assert status == 401


@pytest.mark.parametrize(("body", "content_type"), [
    ("{x", JSON),
    ("[1, 2, 3]", JSON),
    ("payload=%7Bnot-json", FORM),
])
async def test_a_signed_body_that_cannot_be_read_is_400(host: SlackHost, body: str, content_type: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, _ = await host.post(body, content_type=content_type)
    assert status == 400
    assert "Traceback" not in _logged(caplog)


async def test_a_signed_body_that_is_not_utf8_is_400(host: SlackHost) -> None:
    raw = b"text=\xff\xfe&user_id=U1"
    ts = str(int(time.time()))
    digest = hmac.new(slack_rig.SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    async with host.http.post(host.url + "/slack/events", data=raw, headers={
            "Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}) as resp:
        assert resp.status == 400


# --------------------------------------------------------------------------- Slack: replays


async def test_a_replayed_signed_slash_command_runs_once_on_any_replica(make_host: slack_rig.HostFactory) -> None:
    first, second = await make_host(), await make_host()  # two replicas on one database
    body, _ = first.slash_body(f"who {seed.PLC}")
    headers = sign(body)
    status, _ = await first.post(body, content_type=FORM, signed=False, headers=headers)
    assert status == 200
    await first.fake.wait_for("response_url")
    for replica in (first, second, second):
        status, answer = await replica.post(body, content_type=FORM, signed=False, headers=headers)
        assert status == 200 and answer == ""  # acknowledged, not run
    await first.fake.settle()
    assert len(first.fake.calls("response_url")) == 1


async def test_a_signed_request_sent_many_times_at_once_runs_once(make_host: slack_rig.HostFactory) -> None:
    """Copies arriving together (on one replica and on another) are claimed in the same moments: exactly one
    runs, whichever transaction each copy's claim lands in."""
    first, second = await make_host(), await make_host()
    others = [first.slash_body(f"who {seed.PLC}", response_url=first.fake.hook_url(f"distinct{n}"))[0]
              for n in range(6)]
    body, _ = first.slash_body(f"who {seed.PLC}")
    headers = sign(body)
    copies = [first.post(body, content_type=FORM, signed=False, headers=headers) for _ in range(8)]
    copies += [second.post(body, content_type=FORM, signed=False, headers=headers) for _ in range(4)]
    distinct = [first.post(other, content_type=FORM) for other in others]
    results = await asyncio.gather(*copies, *distinct)
    assert all(status == 200 for status, _ in results)
    await first.fake.settle()
    assert len(first.fake.calls("response_url")) == 1 + len(others)  # the copies once, each distinct one once


async def test_an_event_retry_is_acknowledged_and_answered_once_across_replicas(
        make_host: slack_rig.HostFactory) -> None:
    first, second = await make_host(), await make_host()
    event = first.direct_message(f"who owns {seed.PLC}")
    status, _ = await first.event(event)
    assert status == 200
    await first.fake.wait_for("chat.postMessage")
    # Slack did not see the acknowledgement in time and retries, signed anew, at the other replica.
    status, _ = await second.event(event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    await first.fake.settle()
    assert len(first.fake.posted()) == 1


async def test_a_retry_of_an_event_nobody_handled_runs(host: SlackHost) -> None:
    event = host.direct_message(f"who owns {seed.PLC}")
    event["event_id"] = "Ev0NEVERSEEN1"
    status, _ = await host.event(event, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert status == 200
    await host.fake.wait_for("chat.postMessage")
    assert len(host.fake.posted()) == 1


# --------------------------------------------------------------------------- Teams


async def test_a_teams_token_without_an_expiry_is_refused(teams_host: TeamsHost) -> None:
    activity = teams_host.personal("who owns PLC-FIL-L3-07")
    forever = teams_host.tokens.token(service_url=activity["serviceUrl"], lifetime=None)
    status, _ = await teams_host.post_unauthenticated(activity, authorization=f"Bearer {forever}")
    assert status == 401
    assert teams_host.fake.posted() == []


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
async def test_teams_authenticates_before_it_reads_the_body(teams_host: TeamsHost, authorization: str | None,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Content-Type": JSON, **({"Authorization": authorization} if authorization else {})}
    for body in ("{x " + MARKER, json.dumps({"type": "message", "text": MARKER})):
        async with teams_host.http.post(teams_host.url + "/api/messages", data=body, headers=headers) as resp:
            assert resp.status == 401
    assert MARKER not in _logged(caplog)


async def test_a_signed_teams_request_with_an_unreadable_body_is_400(teams_host: TeamsHost) -> None:
    activity = teams_host.personal("who owns PLC-FIL-L3-07")
    headers = {"Content-Type": JSON, **teams_host.bot_connector_headers(activity)}
    async with teams_host.http.post(teams_host.url + "/api/messages", data="{x", headers=headers) as resp:
        assert resp.status == 400

