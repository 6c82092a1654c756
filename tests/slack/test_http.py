"""The web host in HTTP mode, driven with Slack's own payloads; assertions on what reached the fake Slack."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.bootstrap import Container
from bot.slack import texts
from bot.slack.app import SlackAdapter
from bot.slack.verify import FixedClock
from bot.web import create_app
from governance_store.models import ChatIdentity
from tests.slack import seed
from tests.slack.conftest import SlackHost, make_settings, sign
from tests.slack.fake_slack import FakeSlack
from tests.slack.stub_core import LONG_WORDS, StubCore

FORM = "application/x-www-form-urlencoded"


async def test_slash_who_answers_privately_with_a_share_button(host: SlackHost) -> None:
    started = time.monotonic()
    status, body, url = await host.slash(f"who {seed.PLC}")
    assert status == 200 and body == ""
    assert time.monotonic() - started < 3.0
    [answer] = await host.fake.wait_for("response_url")
    assert answer.path == url.split(str(host.fake.port), 1)[1]
    assert answer.body["response_type"] == "ephemeral"
    text = answer.all_text()
    assert seed.PLC in text and seed.PLC_OWNER in text
    assert "govbot.share" in answer.action_ids()
    share = next(b for b in answer.buttons() if b["action_id"] == "govbot.share")
    assert share["value"] == f"who {seed.PLC}"


@pytest.mark.parametrize("text", ["", "   ", "frobnicate the PLC"])
async def test_empty_or_unknown_subcommand_gets_usage_in_the_ack(host: SlackHost, text: str) -> None:
    status, body, _ = await host.slash(text)
    assert status == 200
    usage = json.loads(body)
    assert usage["response_type"] == "ephemeral"
    shown = json.dumps(usage["blocks"])
    for sub in ("who", "raci", "sla", "deps", "owns", "change", "approvals", "help"):
        assert f"/govbot {sub}" in shown
    if text.strip():
        assert "frobnicate" in usage["text"]
    await host.fake.settle()
    assert host.fake.posted() == []


async def test_help_lists_the_subcommands(host: SlackHost) -> None:
    await host.slash("help")
    [answer] = await host.fake.wait_for("response_url")
    text = answer.all_text()
    for sub in ("who", "raci", "sla", "deps", "owns"):
        assert re.search(rf"\b{sub}\b", text), sub


@pytest.mark.parametrize(
    "how",
    ["unsigned", "wrong secret", "six minutes old", "from the future", "garbage timestamp", "tampered body"],
)
async def test_bad_signatures_are_refused_and_nothing_is_posted(host: SlackHost, how: str) -> None:
    body, _ = host.slash_body(f"who {seed.PLC}")
    sent = body
    kwargs: dict[str, Any] = {"signed": False}
    if how == "wrong secret":
        kwargs["headers"] = sign(body, secret="not-the-signing-secret")
    elif how == "six minutes old":
        kwargs["headers"] = sign(body, timestamp=int(time.time()) - 6 * 60)
    elif how == "from the future":
        kwargs["headers"] = sign(body, timestamp=int(time.time()) + 6 * 60)
    elif how == "garbage timestamp":
        kwargs["headers"] = {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=00"}
    elif how == "tampered body":
        kwargs["headers"] = sign(body)
        sent = body.replace("who", "sla")
    status, _text = await host.post(sent, content_type=FORM, **kwargs)
    assert status == 401
    await host.fake.settle()
    assert host.fake.posted() == []
    assert host.adapter.pending == 0


async def test_url_verification_echoes_the_challenge(host: SlackHost) -> None:
    payload = host.payload("url_verification.json")
    status, body = await host.event(payload)
    assert status == 200
    assert payload["challenge"] in body


async def test_url_verification_needs_a_signature_too(host: SlackHost) -> None:
    status, body = await host.event(host.payload("url_verification.json"), signed=False)
    assert status == 401
    assert "valid_challenge_token" not in body


async def test_slacks_documented_signature_example_is_accepted_at_its_own_timestamp(
    db_target: tuple[str, str | None], fake_slack: FakeSlack, slack_payload: Any
) -> None:
    vector = slack_payload("slash_command_signed_docs_example.json")
    assert slack_payload("slash_command_signed_docs_example.txt") == vector["body"]
    docs = Container(settings=make_settings(db_target, fake_slack, slack_signing_secret=vector["signing_secret"]))
    then = FixedClock(int(vector["headers"]["X-Slack-Request-Timestamp"]))
    try:
        for adapter, expected in ((SlackAdapter(docs, signature_clock=then), 200), (SlackAdapter(docs), 401)):
            status, body = await _post_raw(create_app(docs, slack=adapter), vector["body"], vector["headers"])
            assert status == expected, body
            if expected == 200:
                # Empty text: the usage is the answer, sent in the ack itself (nothing goes to hooks.slack.com).
                assert "/webhook-collect who" in json.dumps(json.loads(body)["blocks"])
    finally:
        docs.engine.dispose()
    assert fake_slack.posted() == []


async def _post_raw(app: web.Application, body: str, headers: dict[str, str]) -> tuple[int, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        async with aiohttp.ClientSession() as http, http.post(url, data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()
    finally:
        await runner.cleanup()


async def test_mention_is_answered_in_a_thread(host: SlackHost) -> None:
    payload = host.mention(f"who owns {seed.PLC}?")
    status, _ = await host.event(payload)
    assert status == 200
    [post] = await host.fake.wait_for("chat.postMessage")
    assert post.body["channel"] == payload["event"]["channel"]
    assert post.body["thread_ts"] == payload["event"]["ts"]
    text = post.all_text()
    assert seed.PLC in text and seed.PLC_OWNER in text
    assert f"<@{host.fake.bot_user_id}>" not in text


async def test_mention_inside_a_thread_answers_in_that_thread(host: SlackHost) -> None:
    stub = StubCore()
    host = await _stub_host(host, stub)
    await host.event(host.mention("who owns the historian in Regensburg?", thread_ts="1605853000.000100"))
    [post] = await host.fake.wait_for("chat.postMessage")
    assert post.body["thread_ts"] == "1605853000.000100"
    # The bot's own mention is gone; the question reaches the core in plain words.
    assert stub.commands[0].text == "who owns the historian in Regensburg?"
    assert stub.commands[0].slash is False


async def test_direct_message_is_answered_in_a_thread(host: SlackHost) -> None:
    payload = host.direct_message(f"who owns {seed.PLC}")
    await host.event(payload)
    [post] = await host.fake.wait_for("chat.postMessage")
    assert post.body["channel"] == payload["event"]["channel"]
    assert post.body["thread_ts"] == payload["event"]["ts"]
    assert seed.PLC_OWNER in post.all_text()


@pytest.mark.parametrize(
    "change",
    [
        {"subtype": "message_changed"},
        {"subtype": "bot_message", "bot_id": "B0F20596F5E"},
        {"bot_id": "B0F20596F5E"},
        {"channel_type": "channel"},
        {"text": "   "},
    ],
)
async def test_edits_bot_posts_and_channel_chatter_are_ignored(host: SlackHost, change: dict[str, Any]) -> None:
    payload = host.direct_message("who owns the historian")
    payload["event"].update(change)
    status, _ = await host.event(payload)
    assert status == 200
    await host.fake.settle()
    assert host.fake.posted() == []


async def test_our_own_messages_are_ignored(host: SlackHost) -> None:
    payload = host.direct_message("who owns the historian", user=host.fake.bot_user_id)
    await host.event(payload)
    await host.fake.settle()
    assert host.fake.posted() == []


async def test_other_mentioned_people_reach_the_core_by_name(host: SlackHost) -> None:
    stub = StubCore()
    host = await _stub_host(host, stub)
    payload = host.mention(f"owns <@{seed.JESSICA}>")
    await host.event(payload)
    await host.fake.wait_for("chat.postMessage")
    assert stub.commands[0].text == "owns Jessica Park"


async def _stub_host(host: SlackHost, stub: StubCore) -> SlackHost:
    """Swap the running host's core for the stub (same host, same fake)."""
    host.adapter.container.use_router(stub)
    return host


async def test_choices_become_buttons_and_a_click_updates_the_card_in_place(host: SlackHost) -> None:
    stub = StubCore()
    await _stub_host(host, stub)
    mention = host.mention("who ambiguous")
    await host.event(mention)
    [card] = await host.fake.wait_for("chat.postMessage")
    buttons = card.buttons()
    assert [b["value"] for b in buttons] == ["who #1", "who #2"]
    assert len({b["action_id"] for b in buttons}) == 2
    card_ts = "1717000042.000100"
    click = host.button_click(action_id=buttons[1]["action_id"], value=buttons[1]["value"])
    click["container"].update({"message_ts": card_ts, "channel_id": mention["event"]["channel"]})
    click["message"].update({"ts": card_ts, "thread_ts": mention["event"]["ts"]})
    click["channel"]["id"] = mention["event"]["channel"]
    status, _ = await host.click(click)
    assert status == 200
    [update] = await host.fake.wait_for("chat.update")
    assert update.body["channel"] == mention["event"]["channel"]
    assert update.body["ts"] == card_ts
    assert "who #2" in update.all_text()
    assert stub.commands[-1].text == "who #2"
    await host.fake.settle()
    assert len(host.fake.calls("chat.postMessage")) == 1
    assert host.fake.calls("response_url") == []


async def test_click_on_a_private_card_replaces_it_through_response_url(host: SlackHost) -> None:
    stub = StubCore()
    await _stub_host(host, stub)
    url = host.fake.hook_url("actions")
    await host.click(host.button_click(action_id="cr.approve", value="CHG0031201", ephemeral=True, response_url=url))
    [replaced] = await host.fake.wait_for("response_url")
    assert replaced.body["replace_original"] is True
    assert "Clicked cr.approve with CHG0031201 as Luis Ortega" in replaced.all_text()
    assert stub.actions[0].actor.person_id is not None
    assert host.fake.calls("chat.update") == []


async def test_repeated_action_ids_are_unique_in_the_card_and_decoded_on_click(host: SlackHost) -> None:
    stub = StubCore()
    await _stub_host(host, stub)
    await host.slash("who PLC-7")
    [answer] = await host.fake.wait_for("response_url")
    run_buttons = [b for b in answer.buttons() if b["action_id"].startswith("govbot.run")]
    assert len(run_buttons) == 2 and len({b["action_id"] for b in run_buttons}) == 2
    await host.click(host.button_click(action_id=run_buttons[1]["action_id"], value=run_buttons[1]["value"],
                                       ephemeral=True))
    await host.fake.wait_for("response_url", count=2)
    assert stub.commands[-1].text == "sla who PLC-7"


async def test_share_in_channel_posts_for_everyone_and_removes_the_private_copy(host: SlackHost) -> None:
    await host.slash(f"who {seed.PLC}")
    [private] = await host.fake.wait_for("response_url")
    share = next(b for b in private.buttons() if b["action_id"] == "govbot.share")
    url = host.fake.hook_url("actions")
    await host.click(host.button_click(action_id=share["action_id"], value=share["value"], ephemeral=True,
                                       response_url=url))
    [public] = await host.fake.wait_for("chat.postMessage")
    assert public.body["channel"] == "C111"
    assert seed.PLC_OWNER in public.all_text()
    assert f"<@{seed.LUIS}>" in public.all_text()
    assert "govbot.share" not in public.action_ids()
    [delete] = await host.fake.wait_for("response_url", where=lambda c: c.body.get("delete_original") is True)
    assert delete.path.startswith("/hooks/actions/")


async def test_share_falls_back_to_response_url_when_the_bot_is_not_in_the_channel(host: SlackHost) -> None:
    await _stub_host(host, StubCore())
    host.fake.not_in_channel.add("C111")
    await host.click(host.button_click(action_id="govbot.share", value="who PLC-7", ephemeral=True))
    [public] = await host.fake.wait_for("response_url", where=lambda c: c.body.get("response_type") == "in_channel")
    assert "who PLC-7" in public.all_text()
    await host.fake.wait_for("response_url", where=lambda c: c.body.get("delete_original") is True)


async def test_someone_not_in_the_directory_is_told_so_and_what_to_do(host: SlackHost) -> None:
    await host.slash(f"who {seed.PLC}", user=seed.STRANGER)
    [answer] = await host.fake.wait_for("response_url")
    assert answer.body["response_type"] == "ephemeral"
    text = answer.all_text()
    assert "directory" in text and "pat.stranger@elsewhere.example" in text
    assert "govbot import" in text
    assert "govbot.share" not in answer.action_ids()
    assert seed.PLC_OWNER not in text


async def test_a_stranger_mentioning_the_bot_in_a_channel_gets_a_private_note(host: SlackHost) -> None:
    payload = host.mention("who owns the historian?", user=seed.STRANGER)
    await host.event(payload)
    [note] = await host.fake.wait_for("chat.postEphemeral")
    assert note.body["user"] == seed.STRANGER
    assert note.body["thread_ts"] == payload["event"]["ts"]
    assert "directory" in note.all_text()
    assert host.fake.calls("chat.postMessage") == []


async def test_slack_email_that_differs_from_the_directory_is_explained(host: SlackHost) -> None:
    await host.slash("who historian", user=seed.JOHANNA)
    [answer] = await host.fake.wait_for("response_url")
    assert "jo.weber@corvane.example" in answer.all_text()


async def test_unjoined_user_is_matched_by_email_once_and_remembered(host: SlackHost, container: Container) -> None:
    await _stub_host(host, StubCore())
    await host.slash("who PLC-7", user=seed.NEWCOMER)
    [answer] = await host.fake.wait_for("response_url")
    assert "for Ray Dawson" in answer.all_text()
    assert len(host.fake.calls("users.info")) == 1
    with container.unit_of_work() as session:
        row = session.scalars(select(ChatIdentity).where(ChatIdentity.external_id == seed.NEWCOMER)).one()
        assert row.person is not None and row.person.display_name == "Ray Dawson"
    await host.slash("who PLC-7", user=seed.NEWCOMER)
    await host.fake.wait_for("response_url", count=2)
    assert len(host.fake.calls("users.info")) == 1


async def test_a_core_failure_is_a_friendly_message_with_an_error_id(
    host: SlackHost, caplog: pytest.LogCaptureFixture
) -> None:
    await _stub_host(host, StubCore())
    caplog.set_level(logging.ERROR)
    status, body, _ = await host.slash("who boom")
    assert status == 200 and body == ""
    [answer] = await host.fake.wait_for("response_url")
    text = answer.all_text()
    assert answer.body["response_type"] == "ephemeral"
    assert "Something went wrong" in text and "Traceback" not in text and "RuntimeError" not in text
    error_id = re.search(r"error id ([0-9a-f]+)", text).group(1)  # type: ignore[union-attr]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_a_failing_click_keeps_the_card_and_tells_only_the_clicker(host: SlackHost) -> None:
    await _stub_host(host, StubCore())
    await host.click(host.button_click(action_id="cr.approve", value="boom"))
    [note] = await host.fake.wait_for("response_url")
    assert note.body["response_type"] == "ephemeral" and note.body["replace_original"] is False
    assert "Something went wrong" in note.all_text()
    assert host.fake.calls("chat.update") == []


async def test_a_long_answer_is_split_between_words_across_messages(host: SlackHost) -> None:
    await _stub_host(host, StubCore())
    await host.slash("who long")
    await host.fake.wait_for("response_url", count=2)
    await host.fake.settle()
    parts = host.fake.calls("response_url")
    seen: list[str] = []
    for part in parts:
        blocks = part.blocks()
        assert 0 < len(blocks) <= 50
        assert part.body["text"]
        for block in blocks:
            if block["type"] == "section" and "text" in block:
                assert len(block["text"]["text"]) <= 3000
                seen.extend(block["text"]["text"].split())
    words = [w for w in seen if w.startswith("word")]
    assert words == LONG_WORDS
    assert "govbot.share" in parts[-1].action_ids()


async def test_block_actions_form_body_from_slack_is_understood(host: SlackHost) -> None:
    stub = StubCore()
    await _stub_host(host, stub)
    form = dict(parse_qsl(host.payload("block_actions_message_button.form.txt")))
    payload = json.loads(form["payload"])
    payload["user"]["id"] = seed.LUIS
    payload["response_url"] = host.fake.hook_url("actions")
    body = urlencode({"payload": json.dumps(payload)}, quote_via=quote)
    status, _ = await host.post(body, content_type=FORM)
    assert status == 200
    [update] = await host.fake.wait_for("chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C111", "1605853634.000400")
    assert stub.actions[0].action_id == "a" and stub.actions[0].value == "underlying"


async def test_home_tab_is_published_with_the_four_sections(host: SlackHost) -> None:
    payload = host.payload("events_api_app_home_opened.json")
    payload["event"]["user"] = seed.JESSICA
    status, _ = await host.event(payload)
    assert status == 200
    [publish] = await host.fake.wait_for("views.publish")
    assert publish.body["user_id"] == seed.JESSICA
    view = publish.view()
    assert view["type"] == "home"
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["My pending approvals", "Asked of me", "My open requests", "Systems I own",
                       "Governance gaps on my systems"]


async def test_messages_tab_opening_publishes_nothing(host: SlackHost) -> None:
    payload = host.payload("events_api_app_home_opened_messages_tab_org_install.json")
    status, _ = await host.event(payload)
    assert status == 200
    await host.fake.settle()
    assert host.fake.calls("views.publish") == []


async def test_a_retried_event_we_already_handled_is_not_answered_twice(host: SlackHost) -> None:
    await _stub_host(host, StubCore())
    payload = host.mention("who PLC-7")
    await host.event(payload)
    await host.fake.wait_for("chat.postMessage")
    status, _ = await host.event(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    # A retry of an event we never saw is a genuine delivery: answered.
    other = host.mention("who PLC-8")
    other["event_id"] = "Ev0NEVERSEEN"
    await host.event(other, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    await host.fake.wait_for("chat.postMessage", count=2)
    await host.fake.settle()
    texts_posted = [c.all_text() for c in host.fake.calls("chat.postMessage")]
    assert sum("PLC-7" in t for t in texts_posted) == 1
    assert sum("PLC-8" in t for t in texts_posted) == 1


async def test_acks_come_back_fast_even_when_many_arrive_together(host: SlackHost) -> None:
    import asyncio

    await _stub_host(host, StubCore())
    started = time.monotonic()
    results = await asyncio.gather(*(host.slash(f"who PLC-{i}") for i in range(25)))
    assert all(status == 200 for status, _, _ in results)
    assert time.monotonic() - started < 3.0
    await host.fake.wait_for("response_url", count=25, timeout=20)


def test_usage_text_lists_every_subcommand() -> None:
    usage = texts.usage("/govbot")
    shown = usage.sections[0].text or ""
    for sub in texts.SUBCOMMANDS:
        assert f"/govbot {sub}" in shown
