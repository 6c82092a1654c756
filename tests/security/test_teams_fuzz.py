"""Fuzzing the Teams adapter over real HTTP: odd clicks, tampered values and odd activities.

Every activity goes through the real web host, botbuilder's ``CloudAdapter`` and the fake Bot Connector of
``tests/teams`` in the production configuration: an app id, so botbuilder validates the Bot Framework token
that the rig signs for every request (for the activity's ``serviceUrl``, or the connector's own when an
activity has none).  What is fuzzed is therefore what gets past that check: odd content under a genuine
token.  What must hold, whatever arrives:

* never an HTTP 500, never a traceback, an exception name or an error id in the invoke response or in what
  the bot posted to the connector;
* an ``adaptiveCard/action`` invoke is always answered as a Universal Action: HTTP 200 with
  ``{"statusCode": 200, "type": <card or message>, "value": ...}`` (the conventions of ``bot/teams/app.py``);
* a click whose value was edited is refused with a message for the clicker only, changes nothing, and is
  audited (``change.<verb>.refused``) wherever the core audits such a refusal: when the change exists.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.teams import render, texts
from bot.teams.app import MESSAGE_RESPONSE
from bot.teams.render import CONTENT_TYPE
from governance_store.identity import DISPLAY_NAME_MAX
from governance_store.models import (
    Approval,
    AuditEntry,
    ChangeRequest,
    ChatIdentity,
    ConversationReference,
    Person,
)
from handlers.changes import change_form
from handlers.reply import Reply
from tests.teams import conftest as teams_rig
from tests.teams.conftest import BOT_ID, BOT_NAME, JESSICA, LUIS, MIKE, TeamsHost

# The Teams rig's fixtures (sample org with Entra ids, fake connector, real host), used here.
connector = teams_rig.connector
make_teams_host = teams_rig.make_teams_host
teams_container = teams_rig.teams_container
teams_host = teams_rig.teams_host
teams_payload = teams_rig.teams_payload

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MAX_TEAMS_MESSAGE_BYTES = 28 * 1024
DELETE = object()  # an invoke without ``value`` at all
IMPORTED = "CHG0031201"

# --------------------------------------------------------------------------- what must never be seen

LEAKS = re.compile(
    r"Traceback|most recent call last|File \"|site-packages|\.py\"?, line \d|"
    r"\b[A-Z]\w*(?:Error|Exception)\b|sqlalchemy|psycopg|botbuilder|msrest|"
    r"Something went wrong|error id",
    re.IGNORECASE,
)


def _leaks(out: str, sent: str) -> list[str]:
    """Markers of an internal failure in ``out`` that were not simply echoed from what was sent."""
    return sorted({m.group(0) for m in LEAKS.finditer(out) if m.group(0).lower() not in sent.lower()})


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def _post(host: TeamsHost, activity: dict[str, Any]) -> tuple[int, Any, list[Any]]:
    """Post one activity; its HTTP status and body, and every call the bot made to the connector meanwhile."""
    before = len(host.fake.records)
    status, body = await host.post(activity)
    return status, body, host.fake.records[before:]


def assert_clean(host: TeamsHost, activity: dict[str, Any], status: int, body: Any, calls: list[Any]) -> None:
    """No 500, nothing that tells of an internal failure, no card too large for Teams."""
    sent = _dump(activity)
    assert status != 500, (status, body)
    assert status < 500 or (status == 501 and activity.get("type") == "invoke"), (status, body)
    problems = {"response": _leaks(_dump(body), sent)}
    for call in calls:
        if call.kind in ("send", "reply", "update", "create"):
            problems[f"{call.kind} {call.path}"] = _leaks(_dump(call.body), sent)
            for card in call.cards():
                assert len(_dump(card).encode()) <= MAX_TEAMS_MESSAGE_BYTES, "a card Teams would refuse"
    assert not any(problems.values()), problems


def assert_universal_action_response(status: int, body: Any) -> None:
    """HTTP 200 and a well-formed ``adaptiveCard/action`` response: a refreshed card or a message."""
    assert status == 200, (status, body)
    assert isinstance(body, dict) and body.get("statusCode") == 200, body
    if body.get("type") == MESSAGE_RESPONSE:
        assert isinstance(body.get("value"), str) and body["value"].strip(), body
        return
    assert body.get("type") == CONTENT_TYPE, body
    card = body.get("value")
    assert isinstance(card, dict) and card.get("type") == "AdaptiveCard" and card.get("version") == "1.5", card
    assert isinstance(card.get("body"), list) and card["body"], card
    assert len(_dump(card).encode()) <= MAX_TEAMS_MESSAGE_BYTES, "a card Teams would refuse"
    for action in _executes(card):
        assert isinstance(action.get("verb"), str) and action["verb"], action
        assert isinstance(action.get("data"), dict), action


def _executes(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for value in node.values():
            found += _executes(value)
    elif isinstance(node, list):
        for item in node:
            found += _executes(item)
    return found


# --------------------------------------------------------------------------- strategies

ACTION_IDS = ["cr.preview", "cr.submit", "cr.discard", "cr.approve", "cr.reject", "cr.consult_ok",
              "cr.consult_concern", "cr.ask", "cr.answer", "cr.schedule", "cr.implement", "cr.close", "cr.withdraw",
              "cr.cancel", "esc.ack", "govbot.run", "govbot.choose"]
ODD_VERBS = ["", " ", "cr.", "cr", "govbot.", "CR.APPROVE", "cr.approve ", " cr.approve", "cr.approve\x00",
             "cr.approve;cr.reject", "__init__", "../cr.approve", "personalDetailsFormSubmit", "cr.\u0430pprove"]
FORM_FIELDS = ["system", "title", "description", "change_type", "risk", "window", "rollback_plan", "process_safety",
               "moc_reference", "reason", "concern", "text"]
ODD_VALUES = ["", "0", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1", "01", "1:2", "1:2:3", ":", "new", "null", "None",
              "1 OR 1=1", "1; DROP TABLE change_requests; --", "${jndi:ldap://x}", "{{7*7}}", "%s%s%s", "\x00",
              "\u202e1", "<at>govbot</at>", "<script>alert(1)</script>", "Traceback"]
HUGE = ["x" * 100_000, "é" * 30_000, "9" * 5_000, "<at>" * 4_000, "\u202e" * 2_000, "a\n" * 10_000]

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
verbs = st.one_of(st.sampled_from(ACTION_IDS), st.sampled_from(ODD_VERBS), st.text(max_size=30), json_values)
values = st.one_of(st.integers(-5, 60).map(str), st.sampled_from(ODD_VALUES), st.sampled_from(HUGE),
                   st.text(max_size=40), json_values)
card_data = st.one_of(
    st.fixed_dictionaries({"value": values, "action_id": verbs},
                          optional={**{name: values for name in FORM_FIELDS}, "verb": verbs, "msteams": json_values}),
    st.dictionaries(st.text(max_size=12), values, max_size=5),
    json_values,
)
action_objects = st.one_of(
    st.fixed_dictionaries({"type": st.just("Action.Execute")},
                          optional={"verb": verbs, "data": card_data, "title": json_values, "id": json_values}),
    json_values,
)
invoke_values = st.one_of(
    st.fixed_dictionaries({}, optional={"action": action_objects, "trigger": st.sampled_from(["manual", "automatic"])}),
    json_values,
)
actors = st.sampled_from([LUIS, JESSICA, MIKE, "stranger@elsewhere.example"])


def _invoke(host: TeamsHost, email: str, value: Any) -> dict[str, Any]:
    activity = host.invoke("cr.approve", "1", email=email)
    if value is DELETE:
        del activity["value"]
    else:
        activity["value"] = value
    return activity


# --------------------------------------------------------------------------- 1. arbitrary adaptiveCard/action invokes


@given(email=actors, value=st.one_of(invoke_values, st.just(DELETE)))
@FUZZ
async def test_arbitrary_card_actions_get_a_universal_action_response_never_an_error(
        teams_host: TeamsHost, email: str, value: Any) -> None:
    activity = _invoke(teams_host, email, value)
    status, body, calls = await _post(teams_host, activity)
    assert_clean(teams_host, activity, status, body, calls)
    assert_universal_action_response(status, body)


@given(email=actors, verb=verbs, value=values,
       inputs=st.dictionaries(st.sampled_from(FORM_FIELDS), values, max_size=4))
@FUZZ
async def test_known_verbs_with_tampered_data_are_answered_cleanly(
        teams_host: TeamsHost, email: str, verb: Any, value: Any, inputs: dict[str, Any]) -> None:
    """Closer to a real click: govbot's own ``Action.Execute`` shape, with the verb and data edited."""
    activity = teams_host.invoke("cr.approve", "1", email=email)
    activity["value"]["action"] = {"type": "Action.Execute", "verb": verb,
                                   "data": {"value": value, "action_id": verb, **inputs}}
    status, body, calls = await _post(teams_host, activity)
    assert_clean(teams_host, activity, status, body, calls)
    assert_universal_action_response(status, body)


# --------------------------------------------------------------------------- 2. tampered values on a real change


async def _submit_change(host: TeamsHost, email: str, text: str) -> int:
    """A change request typed by ``email`` and submitted with the button of its preview card."""
    await host.post(host.personal(f'change PLC-FIL-L3-07 "{text}"', email=email))
    preview = host.fake.posted()[-1]
    submit = next(a for a in _executes(preview.cards()[0]) if a["verb"] == "cr.submit")
    status, body = await host.post(host.invoke("cr.submit", submit["data"]["value"], email=email))
    assert status == 200 and body["type"] == CONTENT_TYPE and "submitted" in _dump(body["value"]), body
    return int(submit["data"]["value"])


def _snapshot(host: TeamsHost) -> dict[int, tuple[Any, ...]]:
    with host.container.session_factory() as s:
        changes = s.scalars(sa.select(ChangeRequest).order_by(ChangeRequest.id)).all()
        return {cr.id: (cr.state, cr.decided_at, sorted(
            ((a.person_id, a.kind, a.state, a.decided_at) for a in s.scalars(
                sa.select(Approval).where(Approval.change_id == cr.id)).all()), key=repr))
            for cr in changes}


def _refusals(host: TeamsHost) -> list[AuditEntry]:
    with host.container.session_factory() as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("%.refused"))
                              .order_by(AuditEntry.id)).all())


@pytest.fixture
async def two_changes(teams_host: TeamsHost) -> tuple[TeamsHost, int, int]:
    """Jessica's and Mike's change requests on PLC-FIL-L3-07, submitted; neither may decide the other's."""
    mine = await _submit_change(teams_host, JESSICA, "Firmware v33.011")
    theirs = await _submit_change(teams_host, MIKE, "Replace the HMI panel")
    return teams_host, mine, theirs


def _imported(host: TeamsHost) -> int:
    """CHG0031201 of the sample org: Jessica's, submitted, approved by others than Luis, Jessica and Mike."""
    with host.container.session_factory() as s:
        return s.scalars(sa.select(ChangeRequest.id).where(ChangeRequest.number == IMPORTED)).one()


@pytest.mark.parametrize(("actor", "target", "verb", "says"), [
    pytest.param(JESSICA, "theirs", "cr.approve", "not an approver", id="approve-another-change"),
    pytest.param(JESSICA, "theirs", "cr.reject", "not an approver", id="reject-another-change"),
    pytest.param(JESSICA, "mine", "cr.approve", "your own change", id="approve-own-change"),
    pytest.param(MIKE, "mine", "cr.approve", "not an approver", id="approve-someone-elses"),
    pytest.param(MIKE, "mine", "cr.withdraw", "Only the requester", id="withdraw-someone-elses"),
    pytest.param(LUIS, "imported", "cr.approve", "read-only", id="approve-a-change-managed-elsewhere"),
    pytest.param(MIKE, "imported", "cr.cancel", "read-only", id="cancel-a-change-managed-elsewhere"),
])
async def test_click_edited_to_a_change_the_actor_may_not_decide_is_refused_and_audited(
        two_changes: tuple[TeamsHost, int, int], actor: str, target: str, verb: str, says: str) -> None:
    host, mine, theirs = two_changes
    cid = {"mine": mine, "theirs": theirs, "imported": _imported(host)}[target]
    before, refusals = _snapshot(host), len(_refusals(host))
    activity = host.invoke(verb, str(cid), email=actor, inputs={"reason": "tampered"})
    status, body, calls = await _post(host, activity)
    assert_clean(host, activity, status, body, calls)
    assert_universal_action_response(status, body)
    assert body["type"] == MESSAGE_RESPONSE, "a refusal is for the clicker only; the shared card stays"
    assert says in body["value"], body
    assert not [c for c in calls if c.kind in ("send", "reply", "update", "create")], "nothing was posted"
    assert _snapshot(host) == before, "no change request moved"
    new = _refusals(host)[refusals:]
    with host.container.session_factory() as s:
        number = s.scalars(sa.select(ChangeRequest.number).where(ChangeRequest.id == cid)).one()
    assert [(e.action, e.object_key, e.platform) for e in new] == [(f"change.{verb[3:]}.refused", number, "teams")]
    assert new[0].actor_id is not None and new[0].data.get("reason"), new[0].data


GARBAGE_IDS = ["999999", "0", "-1", "", "abc", " 1", "1.0", "1e3", "0x1", "1 OR 1=1", "1:2", "new", "null",
               "${jndi:ldap://x}", "\x00", "x" * 5_000]
# Values that look like ids to a careless reader: a superscript digit, and numbers too large for an id column.
MISREADS = ["\u00b2", "99999999999999999999", "9" * 5_000]


@pytest.mark.parametrize("value", [*GARBAGE_IDS, *MISREADS])
async def test_click_edited_to_a_missing_or_garbage_id_is_refused_and_changes_nothing(
        two_changes: tuple[TeamsHost, int, int], value: str) -> None:
    host, mine, _ = two_changes
    before, refusals = _snapshot(host), len(_refusals(host))
    activity = host.invoke("cr.approve", value, email=LUIS)
    status, body, calls = await _post(host, activity)
    assert_universal_action_response(status, body)
    assert_clean(host, activity, status, body, calls)
    assert body["type"] == MESSAGE_RESPONSE and "does not exist" in body["value"], body
    assert _snapshot(host) == before
    # No change to name, so the core has nothing to audit the refusal against (handlers/changes.py).
    assert _refusals(host)[refusals:] == []


async def test_data_carrying_another_changes_id_next_to_the_verb_decides_only_what_the_value_names(
        two_changes: tuple[TeamsHost, int, int]) -> None:
    """Extra keys naming another change (``change_id``, a second ``value`` in ``msteams``) are ignored."""
    host, mine, theirs = two_changes
    activity = host.invoke("cr.approve", str(mine), email=LUIS,
                           inputs={"change_id": str(theirs), "id": str(theirs), "reason": "fine"})
    activity["value"]["action"]["data"]["msteams"] = {"value": str(theirs)}
    before = _snapshot(host)
    status, body, calls = await _post(host, activity)
    assert_clean(host, activity, status, body, calls)
    assert_universal_action_response(status, body)
    after = _snapshot(host)
    assert after[theirs] == before[theirs], "the other change is untouched"
    assert after[mine][0] == "approved"


@given(value=st.one_of(st.text(max_size=30), st.integers(-(2**40), 2**40).map(str)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_tampered_approve_value_never_moves_a_change_the_actor_may_not_decide(
        two_changes: tuple[TeamsHost, int, int], value: str) -> None:
    host, mine, theirs = two_changes
    before = _snapshot(host)
    activity = host.invoke("cr.approve", value, email=JESSICA)
    status, body, calls = await _post(host, activity)
    assert_clean(host, activity, status, body, calls)
    assert_universal_action_response(status, body)
    assert _snapshot(host) == before, value


# --------------------------------------------------------------------------- 3. arbitrary messages and activity types

words = st.sampled_from([
    "who", "owns", "PLC-FIL-L3-07", "change", "approvals", "help", "delegate", "raci", "<at>govbot</at>",
    f"<at>{BOT_NAME}</at>", "<at>Luis Ortega</at>", "<at>", "</at>", "<at id=\"0\">govbot</at>", "<b>bold</b>",
    "<p>", "&nbsp;", "&amp;", "&#x0;", "&lt;at&gt;", "<img src=x onerror=alert(1)>", "<!--", "-->", "\x00", "\x07",
    "\x1b[31m", "\r\n", "\u200b", "\u202e", "\ufeff", "\U0001f600", '"', "`", "|", "*", "_", "~", "#", "%s",
])
message_texts = st.one_of(st.text(max_size=300), st.lists(words, max_size=15).map(" ".join),
                          st.sampled_from(["", " ", "\n\n", "<at>" * 3_000, "x" * 30_000]))
mention_entities = st.one_of(
    st.just([]),
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["mention", "Mention", "clientInfo"])}, optional={
        "text": st.one_of(st.sampled_from([f"<at>{BOT_NAME}</at>", "<at>(a+)+$</at>", "<at></at>", "<at>.*</at>"]),
                          st.text(max_size=20), json_values),
        "mentioned": st.one_of(st.fixed_dictionaries({"id": st.sampled_from([BOT_ID, "29:other", ""]) | json_values},
                                                      optional={"name": json_values}), json_values),
    }), max_size=3),
)


@given(text=message_texts, entities=mention_entities, channel=st.booleans(), email=actors)
@FUZZ
async def test_arbitrary_message_text_gets_an_answer_never_an_error(
        teams_host: TeamsHost, text: str, entities: list[dict[str, Any]], channel: bool, email: str) -> None:
    activity = teams_host.channel("", email=email) if channel else teams_host.personal("", email=email)
    activity["text"] = text
    if entities or not channel:
        activity["entities"] = entities
    status, body, calls = await _post(teams_host, activity)
    assert status in (200, 201), (status, body)
    assert_clean(teams_host, activity, status, body, calls)
    posted = [c for c in calls if c.kind in ("send", "reply")]
    assert posted and all(c.cards() for c in posted), "every message gets an Adaptive Card answer"


MESSAGE_CORPUS = [
    "", " ", "\x00", "\x07\x08\x1b[2J", "\r\n\t", "\u202ewho owns PLC-FIL-L3-07", "\ufeffhelp", "\U0001f600" * 500,
    "<at>govbot</at>", "<at>govbot</at><at>govbot</at>", "<at>govbot", "govbot</at>", "<at></at>", "<at><at>x</at></at>",
    f"<at>{BOT_NAME}</at> who owns <at>Luis Ortega</at>", "<at id=\"0\">govbot</at>&nbsp;who owns PLC-FIL-L3-07",
    "<p>who owns <b>PLC-FIL-L3-07</b></p>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "&lt;at&gt;govbot&lt;/at&gt; help", "&#0; &#x110000; &bogus; &amp;&amp;", "<!-- who owns -->", "<" * 20_000,
    "<at>" * 5_000, "x" * 30_000, 'change PLC-FIL-L3-07 "' + "t" * 10_000 + '"', "delegate nobody until 9999-99-99",
    "who owns %s%s%s%n", "who owns {0.__class__}", "who owns ${jndi:ldap://x}", "Traceback (most recent call last):",
]


@pytest.mark.parametrize("text", MESSAGE_CORPUS, ids=[f"message-{i:02d}" for i in range(len(MESSAGE_CORPUS))])
async def test_fixed_corpus_of_nasty_messages(teams_host: TeamsHost, text: str) -> None:
    both = (teams_host.personal(""), teams_host.channel(""))
    for activity in both if len(text) < 1_000 else both[:1]:
        activity["text"] += text  # the channel message starts with the bot's mention
        status, body, calls = await _post(teams_host, activity)
        assert status in (200, 201), (status, body)
        assert_clean(teams_host, activity, status, body, calls)
        assert [c for c in calls if c.kind in ("send", "reply")], "answered"


@pytest.mark.parametrize("typed", ["delegate \x00 until 2025-07-01", 'change PLC-FIL-L3-07 "a\x00b"', "title=a\x00b"],
                         ids=["delegate", "change", "form-input"])
async def test_nul_in_what_was_typed_is_answered(teams_host: TeamsHost, typed: str) -> None:
    """PostgreSQL refuses a NUL in text: the core drops control characters from what was typed."""
    if typed.startswith("title="):
        activity = teams_host.invoke("cr.preview", "new", inputs={"system": "PLC-FIL-L3-07", "title": typed[6:]})
    else:
        activity = teams_host.personal(typed)
    status, body, calls = await _post(teams_host, activity)
    assert status in (200, 201), (status, body)
    said = _dump(body) + "".join(c.all_text() for c in calls if c.kind in ("send", "reply"))
    assert "Something went wrong" not in said, said


ODD_TYPES = ["messageReaction", "typing", "event", "conversationUpdate", "installationUpdate", "endOfConversation",
             "deleteUserData", "messageUpdate", "messageDelete", "handoff", "trace", "suggestion", "command",
             "commandResult", "contactRelationUpdate", "invokeResponse", "delay", "zzzUnknown", "invoke", "message"]
INVOKE_NAMES = ["", "healthcheck", "signin/verifyState", "signin/tokenExchange", "composeExtension/query",
                "task/fetch", "task/submit", "fileConsent/invoke", "actionableMessage/executeAction",
                "adaptiveCard/action ", "AdaptiveCard/Action", "config/fetch", "application/search", "zzz"]
members: st.SearchStrategy[Any] = st.one_of(st.none(), st.just([]), st.lists(st.one_of(
    st.fixed_dictionaries({}, optional={"id": st.sampled_from([BOT_ID, "29:someone", ""]), "name": st.text(max_size=10),
                                        "aadObjectId": st.text(max_size=10)}),
    st.fixed_dictionaries({"id": st.none()})), max_size=3))
extras = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(INVOKE_NAMES) | st.text(max_size=20),
    "value": json_values,
    "membersAdded": members,
    "membersRemoved": members,
    "reactionsAdded": st.lists(st.fixed_dictionaries({"type": st.sampled_from(["like", "heart", ""])}), max_size=2),
    "reactionsRemoved": st.just([]),
    "action": st.sampled_from(["add", "remove", "add-upgrade", "remove-upgrade", ""]),
    "text": message_texts,
    "replyToId": st.text(max_size=20),
    "channelData": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "tenant": st.fixed_dictionaries({}, optional={"id": json_values}),
        "channel": st.fixed_dictionaries({}, optional={"id": json_values, "name": json_values}),
        "eventType": st.sampled_from(["teamMemberAdded", "channelCreated", "teamRenamed", "zzz"]),
    })),
})


@given(kind=st.sampled_from(ODD_TYPES), extra=extras, email=actors)
@FUZZ
async def test_odd_activity_types_never_fail(teams_host: TeamsHost, kind: str, extra: dict[str, Any],
                                             email: str) -> None:
    activity = teams_host.personal("", email=email)
    activity.pop("text", None)
    activity["type"] = kind
    activity.update(extra)
    status, body, calls = await _post(teams_host, activity)
    assert status in (200, 201, 400, 501) or (kind == "invoke" and status < 500), (status, body)
    assert_clean(teams_host, activity, status, body, calls)
    if kind == "invoke" and activity.get("name") == "adaptiveCard/action":
        assert_universal_action_response(status, body)


# --------------------------------------------------------------------------- 4. a fixed corpus that always runs

# Each entry changes a valid click (an ``adaptiveCard/action`` invoke from Luis approving "1", CHG0031201):
# each key replaces the activity's own, and ``None`` deletes it.
CORPUS: list[dict[str, Any]] = [
    {"value": None},
    {"value": {}},
    {"value": []},
    {"value": "cr.approve"},
    {"value": 7},
    {"value": {"action": None}},
    {"value": {"action": "cr.approve"}},
    {"value": {"action": []}},
    {"value": {"action": {"type": "Action.Execute"}}},
    {"value": {"action": {"verb": None, "data": None}}},
    {"value": {"action": {"verb": "", "data": {"action_id": ""}}}},
    {"value": {"action": {"verb": 0, "data": {"action_id": 0}}}},
    {"value": {"action": {"verb": True, "data": {"value": True}}}},
    {"value": {"action": {"verb": ["cr.approve"], "data": {"value": ["1"]}}}},
    {"value": {"action": {"verb": {"$ne": None}, "data": {"value": {"$gt": 0}}}}},
    {"value": {"action": {"verb": "cr.approve", "data": "1"}}},
    {"value": {"action": {"verb": "cr.approve", "data": ["1"]}}},
    {"value": {"action": {"verb": "cr.approve", "data": 1}}},
    {"value": {"action": {"verb": "cr.approve"}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": None}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": 1.5e308}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": -0.0}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1", "reason": {"nested": ["x"]}}}}},
    {"value": {"action": {"verb": "cr.reject", "data": {"value": "1", "reason": "x" * 200_000}}}},
    {"value": {"action": {"verb": "cr.preview", "data": {"value": "new", "title": "t" * 100_000,
                                                          "system": "PLC-FIL-L3-07", "description": "d" * 50_000}}}},
    {"value": {"action": {"verb": "cr.preview", "data": {"value": "new", "system": ["PLC-FIL-L3-07"],
                                                          "process_safety": True, "risk": 3}}}},
    {"value": {"action": {"verb": "cr.preview", "data": {"value": "new", "system": "PLC-FIL-L3-07", "title": "x",
                                                          "window": "9999-99-99T99:99/99:99"}}}},
    {"value": {"action": {"verb": "govbot.run", "data": {"value": "x" * 100_000}}}},
    {"value": {"action": {"verb": "govbot.run", "data": {"value": "<at>govbot</at> " * 2_000}}}},
    {"value": {"action": {"verb": "govbot.choose", "data": {"value": {"system": "PLC-FIL-L3-07"}}}}},
    {"value": {"action": {"verb": "esc.ack", "data": {"value": "1:"}}}},
    {"value": {"action": {"verb": "esc.ack", "data": {"value": ":1"}}}},
    {"value": {"action": {"verb": "esc.ack", "data": {"value": "1:2:3"}}}},
    {"value": {"action": {"verb": "cr.approve\u0000", "data": {"value": "1"}}}},
    {"value": {"action": {"verb": "x" * 100_000, "data": {"value": "1"}}}},
    {"value": {"action": {"verb": "\ud83d\ude00", "data": {"value": "\u202e1"}}}},
    {"value": {"action": {"verb": "__class__", "data": {"value": "1"}}}},
    {"value": {"action": {"data": {"action_id": "cr.approve", "value": "1"}}}},
    {"value": {"action": {"data": {"verb": "cr.approve", "value": "1"}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"action_id": "cr.withdraw", "value": "1"}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1", "msteams": {"type": "messageBack"}}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1", "": "", "\u0000": "\u0000"}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1", **{f"k{i}": "v" for i in range(2_000)}}}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}, "trigger": "automatic"}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "from": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "from": {"id": ""}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}},
     "from": {"id": "29:nobody", "name": "N" * 5_000, "aadObjectId": "not-a-guid"}},
    # Entra allows display names of 256 characters; this is Luis, with a Teams id not linked yet.
    {"value": {"action": {"verb": "govbot.run", "data": {"value": "who owns PLC-FIL-L3-07"}}},
     "from": {"id": "29:luis-second-account", "name": "L" * 256, "aadObjectId": teams_rig.AAD[LUIS]}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "conversation": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "conversation": {"id": ""}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "serviceUrl": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "channelData": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "channelData": "x"},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "channelData": {"tenant": "x"}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "channelData": {"tenant": {"id": 42}}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}},
     "channelData": {"tenant": {"id": [None]}, "channel": {"id": {}, "name": {"x": 1}}},
     "conversation": {"id": "19:fuzz@thread.tacv2", "conversationType": "channel"}},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "entities": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "recipient": None},
    {"value": {"action": {"verb": "cr.approve", "data": {"value": "1"}}}, "replyToId": None},
]


def _apply(activity: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(activity)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("patch", CORPUS, ids=[f"corpus-{i:02d}" for i in range(len(CORPUS))])
async def test_fixed_corpus_of_nasty_invokes(teams_host: TeamsHost, patch: dict[str, Any]) -> None:
    activity = _apply(teams_host.invoke("cr.approve", "1", email=LUIS), patch)
    status, body, calls = await _post(teams_host, activity)
    assert_clean(teams_host, activity, status, body, calls)
    assert_universal_action_response(status, body)


async def test_the_whole_corpus_moves_no_change_and_keeps_one_reference(teams_host: TeamsHost) -> None:
    """The corpus from one user in one conversation: every change request as it was, one conversation stored."""
    before = _snapshot(teams_host)
    for patch in CORPUS:
        if "conversation" in patch or "from" in patch:
            continue
        activity = _apply(teams_host.invoke("cr.approve", "1", email=LUIS), patch)
        status, body, _ = await _post(teams_host, activity)
        assert status == 200, (patch, body)
    assert _snapshot(teams_host) == before
    with teams_host.container.session_factory() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ConversationReference)) == 1


async def test_a_directory_user_with_a_long_teams_display_name_is_answered(teams_host: TeamsHost) -> None:
    """Entra allows 256 characters; the chat account keeps what fits instead of failing every turn."""
    activity = teams_host.personal("who owns PLC-FIL-L3-07", email=LUIS)
    activity["from"]["name"] = "L" * 256
    status, body, calls = await _post(teams_host, activity)
    assert_clean(teams_host, activity, status, body, calls)
    assert "Gregory Maddox" in "".join(c.all_text() for c in calls if c.kind in ("send", "reply"))
    with teams_host.container.session_factory() as s:
        account = s.scalars(sa.select(ChatIdentity).where(ChatIdentity.platform == "teams",
                                                          ChatIdentity.external_id == activity["from"]["id"])).one()
        assert account.display_name == "L" * DISPLAY_NAME_MAX
        assert account.person_id == s.scalars(sa.select(Person.id).where(Person.email == LUIS)).one()
    assert ChatIdentity.__table__.c.display_name.type.length == DISPLAY_NAME_MAX  # type: ignore[attr-defined]



@pytest.mark.parametrize("channel_data", [{"tenant": {"id": [None]}}, {"tenant": {"id": 7}, "channel": {"name": ["x"]}},
                                          {"channel": {"name": {"a": 1}}}, {"tenant": {"id": ""}}])
async def test_odd_channel_data_on_a_message_still_gets_the_answer(teams_host: TeamsHost,
                                                                   channel_data: dict[str, Any]) -> None:
    """The tenant and channel name stored with the conversation are strings or nothing."""
    activity = teams_host.channel("who owns PLC-FIL-L3-07")
    activity["channelData"] = channel_data
    status, body, calls = await _post(teams_host, activity)
    assert_clean(teams_host, activity, status, body, calls)
    assert "Gregory Maddox" in "".join(c.all_text() for c in calls if c.kind in ("send", "reply"))
    with teams_host.container.session_factory() as s:
        row = s.scalars(sa.select(ConversationReference)).one()
    assert row.tenant_id is None or isinstance(row.tenant_id, str)
    assert row.channel_name is None or isinstance(row.channel_name, str)

# --------------------------------------------------------------------------- forms sent back with what was typed


def _form_card(values: dict[str, str], errors: dict[str, str] | None = None) -> dict[str, Any]:
    [card] = render.render_reply(Reply(text="Please correct the highlighted fields.",
                                       form=change_form(values=values, errors=errors), data={"status": "invalid"}))
    return card


def _prefilled(card: dict[str, Any]) -> dict[str, str]:
    return {e["id"]: e["value"] for e in card["body"] if e["type"].startswith("Input.")}


def test_a_form_refilled_with_huge_values_still_fits_in_one_teams_message() -> None:
    typed = {"system": "PLC-FIL-L3-07", "title": "t" * 100_000, "description": "é" * 50_000,
             "rollback_plan": "\U0001f600" * 20_000, "risk": "r" * 30_000, "window": "w" * 10}
    card = _form_card(typed, {"title": "Keep the title under 300 characters"})
    assert render.size(card) <= render.MAX_CARD_BYTES
    assert texts.SHORTENED in _dump(card), "the user is told"
    shown = _prefilled(card)
    for name, value in typed.items():
        assert value.startswith(shown[name]), name
    assert shown["system"] == "PLC-FIL-L3-07" and shown["window"] == "w" * 10, "short values are kept whole"
    assert "Keep the title under 300 characters" in _dump(card), "the field errors survive"


def test_a_form_that_fits_is_sent_back_exactly_as_typed() -> None:
    typed = {"system": "PLC-FIL-L3-07", "title": "Firmware", "description": "d" * 10_000, "rollback_plan": "r" * 5_000}
    card = _form_card(typed)
    assert texts.SHORTENED not in _dump(card)
    shown = _prefilled(card)
    assert all(shown[name] == value for name, value in typed.items())


@given(typed=st.fixed_dictionaries({}, optional={name: st.one_of(st.text(max_size=50), st.sampled_from(HUGE))
                                                 for name in FORM_FIELDS[:9]}))
@settings(max_examples=60, deadline=None)
def test_any_refilled_form_fits_and_keeps_a_prefix_of_each_value(typed: dict[str, str]) -> None:
    card = _form_card(typed)
    assert render.size(card) <= render.MAX_CARD_BYTES
    shown = _prefilled(card)
    for name, value in typed.items():
        if name != "process_safety":
            assert value.startswith(shown[name]) or (not value and shown[name]), (name, shown[name][:40])
