"""Forms the core asks for become Slack modals; their submissions go back to the core as actions."""

from __future__ import annotations

import json

import pytest

from bot.slack import app as slack_app
from tests.slack import seed
from tests.slack.conftest import SlackHost, submission
from tests.slack.stub_core import StubCore


@pytest.fixture
async def stub_host(host: SlackHost) -> SlackHost:
    host.adapter.container.use_router(StubCore())
    return host


async def test_change_opens_a_modal_and_its_answer_comes_back_privately(stub_host: SlackHost) -> None:
    host = stub_host
    status, _, url = await host.slash("change")
    assert status == 200
    [opened] = await host.fake.wait_for("views.open")
    assert opened.body["trigger_id"] == "111.222.xxx"
    view = opened.view()
    assert view["type"] == "modal" and view["title"]["text"] == "New change request"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["system", "title", "risk", "process_safety", "description"]
    assert inputs["risk"]["element"]["initial_option"]["value"] == "moderate"
    assert inputs["description"]["optional"] is True and inputs["system"]["optional"] is False
    assert host.fake.calls("response_url") == []

    status, body = await host.click(submission(host, opened, {"system": seed.PLC, "title": "Firmware v33",
                                                              "risk": "high", "process_safety": True}))
    assert status == 200 and body == ""
    [answer] = await host.fake.wait_for("response_url")
    assert url.endswith(answer.path.split("/hooks/", 1)[1])
    assert answer.body["response_type"] == "ephemeral"
    text = answer.all_text()
    assert f"Draft for {seed.PLC}: Firmware v33 (risk high, safety yes)" in text
    assert [b["action_id"] for b in answer.buttons()] == ["cr.submit", "cr.discard"]


async def test_field_errors_are_shown_in_the_modal(stub_host: SlackHost) -> None:
    host = stub_host
    await host.slash("change")
    [opened] = await host.fake.wait_for("views.open")
    status, body = await host.click(submission(host, opened, {"system": seed.PLC, "title": ""}))
    assert status == 200
    assert json.loads(body) == {"response_action": "errors", "errors": {"title": "A title is required"}}
    await host.fake.settle()
    assert host.fake.posted() == []


async def test_reject_asks_for_a_reason_and_the_answer_replaces_the_card(stub_host: SlackHost) -> None:
    host = stub_host
    click = host.button_click(action_id="cr.reject", value="CHG0031201")
    await host.click(click)
    [opened] = await host.fake.wait_for("views.open")
    assert opened.body["trigger_id"] == click["trigger_id"]
    assert opened.view()["submit"]["text"] == "Reject"
    await host.click(submission(host, opened, {"reason": "No rollback plan"}))
    [update] = await host.fake.wait_for("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (click["channel"]["id"], click["container"]["message_ts"])
    assert "CHG0031201 rejected by Luis Ortega: No rollback plan" in update.all_text()


async def test_an_expired_trigger_gets_a_button_that_opens_the_form_again(stub_host: SlackHost) -> None:
    host = stub_host
    host.fake.refuse_next("views.open", "expired_trigger_id")
    await host.slash("change")
    [offer] = await host.fake.wait_for("response_url")
    [button] = offer.buttons()
    assert (button["action_id"], button["value"]) == ("govbot.run", "change")
    await host.click(host.button_click(action_id=button["action_id"], value=button["value"], ephemeral=True))
    opened = (await host.fake.wait_for("views.open", count=2))[-1]
    assert opened.view()["title"]["text"] == "New change request"


async def test_a_form_asked_for_in_a_dm_comes_with_a_button(stub_host: SlackHost) -> None:
    host = stub_host
    payload = host.direct_message("change")
    await host.event(payload)
    [post] = await host.fake.wait_for("chat.postMessage")
    assert post.body["thread_ts"] == payload["event"]["ts"]
    assert [(b["action_id"], b["value"]) for b in post.buttons()] == [("govbot.run", "change")]


async def test_a_slow_answer_closes_the_modal_and_arrives_later(stub_host: SlackHost,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    host = stub_host
    monkeypatch.setattr(slack_app, "FORM_ANSWER_SECONDS", 0.05)
    click = host.button_click(action_id="govbot.run", value="change", ephemeral=True)
    await host.click(click)
    [opened] = await host.fake.wait_for("views.open")
    view = opened.view()
    meta = json.loads(view["private_metadata"])
    meta["v"] = "slow"
    sub = submission(host, opened, {"system": seed.PLC, "title": "Late", "risk": "low"})
    sub["view"]["private_metadata"] = json.dumps(meta)
    status, body = await host.click(sub)
    assert status == 200 and body == ""
    [answer] = await host.fake.wait_for("response_url")
    assert answer.body["replace_original"] is True
    assert "Draft for PLC-FIL-L3-07: Late" in answer.all_text()


async def test_the_real_change_command_opens_the_change_form(host: SlackHost) -> None:
    await host.slash("change")
    [opened] = await host.fake.wait_for("views.open")
    view = opened.view()
    names = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert "system" in names and "title" in names
    assert len(view["title"]["text"]) <= 24
