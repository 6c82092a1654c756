"""Real Teams activities through the real host, botbuilder's CloudAdapter and a fake Bot Connector."""

from __future__ import annotations

import sqlalchemy as sa

from governance_store.models import AuditEntry, ChangeRequest, ConversationReference, Person
from tests.teams.conftest import AAD, JESSICA, LUIS, MIKE, TeamsHost, personal_conversation


async def test_personal_question_gets_a_card_naming_owner_and_acting(teams_host: TeamsHost) -> None:
    status, _ = await teams_host.post(teams_host.personal("who owns PLC-FIL-L3-07"))
    assert status in (200, 201)
    [call] = teams_host.fake.calls("reply") or teams_host.fake.calls("send")
    assert call.conversation_id == personal_conversation(LUIS)
    card = call.cards()[0]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    text = call.all_text()
    assert "Gregory Maddox" in text and "Luis Ortega" in text


def _actions(card: dict) -> list[dict]:
    found: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def test_channel_mention_is_stripped_and_answered_in_the_thread(teams_host: TeamsHost) -> None:
    activity = teams_host.channel("who owns PLC-FIL-L3-07")
    status, _ = await teams_host.post(activity)
    assert status in (200, 201)
    [call] = teams_host.fake.calls("reply")
    assert call.conversation_id == activity["conversation"]["id"]
    assert call.activity_id == activity["id"]
    assert "Gregory Maddox" in call.all_text()
    with teams_host.container.session_factory() as s:
        row = s.scalars(sa.select(ConversationReference)).one()
        assert row.conversation_type == "channel"
        assert row.conversation_id == "19:6848757105754c8981c67612732d9aa7@thread.tacv2", "the channel, not the thread"
        assert row.person_id == s.scalars(sa.select(Person.id).where(Person.email == LUIS)).one()


async def test_bot_added_stores_a_reference_in_the_database(teams_host: TeamsHost) -> None:
    activity = teams_host._base("conversation_update_bot_added_team.json", email=LUIS)
    activity["membersAdded"] = [{"id": activity["recipient"]["id"]}]
    status, _ = await teams_host.post(activity)
    assert status in (200, 201)
    assert teams_host.fake.posted() == []
    with teams_host.container.session_factory() as s:
        row = s.scalars(sa.select(ConversationReference)).one()
    assert row.platform == "teams" and row.channel_name == "2021 Test Channel"
    assert row.tenant_id == "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
    assert row.reference["serviceUrl"] == teams_host.fake.url
    assert row.reference["bot"]["id"] == activity["recipient"]["id"]


async def test_installation_update_stores_a_reference(teams_host: TeamsHost) -> None:
    activity = teams_host._base("installation_update_add_team.json", email=LUIS)
    status, _ = await teams_host.post(activity)
    assert status in (200, 201)
    with teams_host.container.session_factory() as s:
        assert s.scalars(sa.select(ConversationReference.channel_name)).one() == "2021 Test Channel"


async def test_unknown_person_is_told_they_are_not_in_the_directory(teams_host: TeamsHost) -> None:
    await teams_host.post(teams_host.personal("who owns PLC-FIL-L3-07", email="pat@elsewhere.example"))
    [call] = teams_host.fake.posted()
    assert "not in govbot's directory" in call.all_text()
    assert "Gregory Maddox" not in call.all_text()
    assert teams_host.fake.calls("get"), "the roster was asked for the member's e-mail"


async def test_email_from_the_roster_maps_a_person_without_an_aad_id(teams_host: TeamsHost) -> None:
    other = "0a1b2c3d-0000-4000-8000-0000000000ee"
    activity = teams_host.personal("who owns PLC-FIL-L3-07", email=JESSICA, aad=other)
    teams_host.fake.members[activity["from"]["id"]] = {
        "id": activity["from"]["id"], "name": "Jessica Park", "aadObjectId": other,
        "email": "Jessica.Park@corvane.example", "userPrincipalName": "jessica.park@corvane.example"}
    await teams_host.post(activity)
    [call] = teams_host.fake.posted()
    assert "Gregory Maddox" in call.all_text()
    with teams_host.container.session_factory() as s:
        jessica = s.scalars(sa.select(Person.id).where(Person.email == JESSICA)).one()
        assert s.scalars(sa.select(ConversationReference.person_id)).one() == jessica


async def test_choice_click_refreshes_the_card_in_place(teams_host: TeamsHost) -> None:
    await teams_host.post(teams_host.personal("who owns the historian"))
    [call] = teams_host.fake.posted()
    choose = [a for a in _actions(call.cards()[0]) if a["verb"] == "govbot.choose"]
    assert len(choose) >= 2
    plant2 = next(a for a in choose if "Plant 2" in a["title"])
    status, body = await teams_host.post(teams_host.invoke("govbot.choose", plant2["data"]["value"]))
    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Elena Petrova" in json_text(body["value"])
    assert len(teams_host.fake.posted()) == 1, "the answer is the invoke response, nothing else is posted"


def json_text(card: dict) -> str:
    import json

    return json.dumps(card, ensure_ascii=False)


async def _open_change(host: TeamsHost) -> int:
    await host.post(host.personal('change PLC-FIL-L3-07 "Firmware v33.011"', email=JESSICA))
    [preview] = host.fake.posted()
    submit = next(a for a in _actions(preview.cards()[0]) if a["verb"] == "cr.submit")
    status, body = await host.post(host.invoke("cr.submit", submit["data"]["value"], email=JESSICA))
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
    assert "submitted" in json_text(body["value"])
    return int(submit["data"]["value"])


async def test_approve_by_the_approver_refreshes_the_card(teams_host: TeamsHost) -> None:
    cid = await _open_change(teams_host)
    status, body = await teams_host.post(teams_host.invoke("cr.approve", str(cid), email=LUIS))
    assert status == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "approved" in json_text(body["value"]).lower()
    with teams_host.container.session_factory() as s:
        assert s.get(ChangeRequest, cid).state == "approved"
        approved = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.approved")).one()
    assert approved.platform == "teams" and approved.actor_id is not None


async def test_non_approver_click_is_refused_for_them_only_and_audited(teams_host: TeamsHost) -> None:
    cid = await _open_change(teams_host)
    status, body = await teams_host.post(teams_host.invoke("cr.approve", str(cid), email=MIKE))
    assert status == 200
    assert body["type"] == "application/vnd.microsoft.activity.message", "the shared card is left alone"
    assert "not an approver" in body["value"]
    with teams_host.container.session_factory() as s:
        assert s.get(ChangeRequest, cid).state == "submitted"
        refused = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.approve.refused")).all()
    assert len(refused) == 1 and refused[0].platform == "teams"


async def test_reject_without_reason_returns_a_form_card(teams_host: TeamsHost) -> None:
    cid = await _open_change(teams_host)
    status, body = await teams_host.post(teams_host.invoke("cr.reject", str(cid), email=LUIS))
    card = body["value"]
    inputs = [e for e in card["body"] if e["type"].startswith("Input.")]
    assert [i["id"] for i in inputs] == ["reason"]
    assert [a["verb"] for a in _actions(card)] == ["cr.reject"]
    status, body = await teams_host.post(teams_host.invoke("cr.reject", str(cid), email=LUIS,
                                                            inputs={"reason": "no rollback tested"}))
    assert "rejected" in json_text(body["value"]).lower()


async def test_legacy_submit_message_is_an_action(teams_host: TeamsHost) -> None:
    await teams_host.post(teams_host.submit("govbot.run", "who owns PLC-FIL-L3-07"))
    [call] = teams_host.fake.posted()
    assert "Gregory Maddox" in call.all_text()


async def test_submit_from_a_foreign_card_is_not_run(teams_host: TeamsHost) -> None:
    activity = teams_host._base("message_action_submit_plain_ADAPTED.json", email=LUIS)
    await teams_host.post(activity)
    [call] = teams_host.fake.posted()
    assert "no longer supported" in call.all_text()


async def test_seeded_ids(teams_host: TeamsHost) -> None:
    with teams_host.container.session_factory() as s:
        assert s.scalars(sa.select(Person.aad_object_id).where(Person.email == LUIS)).one() == AAD[LUIS]
