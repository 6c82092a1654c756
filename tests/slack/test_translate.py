"""Slack payloads in: slash text, message markup, which events are questions, where clicks came from."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack import translate


@pytest.mark.parametrize(
    ("text", "sub", "known"),
    [
        ("who PLC-FIL-L3-07", "who", True),
        ("  RACI   SIS-NH3-01   firmware ", "raci", True),
        ("approvals", "approvals", True),
        ("", "", False),
        ("frobnicate", "frobnicate", False),
    ],
)
def test_slash_subcommand(text: str, sub: str, known: bool) -> None:
    parsed = translate.parse_slash(text)
    assert (parsed.subcommand, parsed.known) == (sub, known)
    assert parsed.text == " ".join(text.split())


def test_message_text_strips_our_mention_and_unwraps_markup() -> None:
    raw = ("<@UBOT> who owns the historian in <#C024BE7LR|regensburg-ot> &amp; what does <@U999> own? "
           "see <https://wiki.example/x|the wiki> <mailto:a@b.example|a@b.example> <!here>")
    text = translate.message_text(raw, bot_user_id="UBOT", names={"U999": "Luis Ortega"})
    assert text == ("who owns the historian in #regensburg-ot & what does Luis Ortega own? "
                    "see the wiki a@b.example @here")
    assert translate.mentioned_users(raw) == ["UBOT", "U999"]


def test_unknown_mentions_stay_as_markup_for_the_core_to_ignore() -> None:
    assert translate.message_text("owns <@U777>", bot_user_id="UBOT") == "owns <@U777>"


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        ({}, True),
        ({"subtype": "message_changed"}, False),
        ({"subtype": "message_deleted"}, False),
        ({"bot_id": "B1"}, False),
        ({"bot_profile": {"id": "B1"}}, False),
        ({"channel_type": "channel"}, False),
        ({"text": ""}, False),
        ({"user": None}, False),
    ],
)
def test_which_direct_messages_are_questions(change: dict[str, Any], answer: bool) -> None:
    event = {"type": "message", "channel_type": "im", "user": "U1", "text": "who owns x", "ts": "1.1"}
    event.update(change)
    assert translate.is_question_message(event) is answer


def test_answers_go_to_the_parent_thread() -> None:
    assert translate.thread_of({"ts": "2.0"}) == "2.0"
    assert translate.thread_of({"ts": "2.0", "thread_ts": "1.0"}) == "1.0"


def test_action_ids_round_trip() -> None:
    assert translate.decode_action_id(translate.encode_action_id("govbot.run", 0)) == "govbot.run"
    assert translate.decode_action_id(translate.encode_action_id("govbot.run", 7)) == "govbot.run"
    assert translate.decode_action_id("cr~~approve") == "cr~~approve"


def test_click_origin_of_message_view_and_ephemeral(slack_payload: Any) -> None:
    message = translate.click_origin(slack_payload("block_actions_message_button.json"))
    assert (message.surface, message.channel_id, message.message_ts, message.is_ephemeral) == (
        "message", "C111", "1605853634.000400", False)
    assert message.response_url == "https://hooks.slack.com/actions/T111/111/xxx"
    home = translate.click_origin(slack_payload("block_actions_app_home_button.json"))
    assert (home.surface, home.view_type, home.response_url) == ("view", "home", None)


def test_inputs_on_the_same_surface_are_flattened(slack_payload: Any) -> None:
    body = slack_payload("block_actions_modal.json")
    assert translate.block_action_inputs(body) == {"a": "a" * 75}
    assert translate.block_action_inputs(slack_payload("block_actions_message_button_bolt_python_variant.json")) == {}
