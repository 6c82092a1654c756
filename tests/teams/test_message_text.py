"""What a Teams message says, without the bot's mention: other people's names stay, markup goes."""

from __future__ import annotations

import pytest
from botbuilder.schema import Activity

from bot.teams.translate import message_text

BOT = {"type": "mention", "text": "<at>govbot</at>", "mentioned": {"id": "28:bot", "name": "govbot"}}


def _activity(text: str, *, entities: list[dict[str, object]] | None = None) -> Activity:
    return Activity().deserialize({"type": "message", "text": text, "recipient": {"id": "28:bot"},
                                   "entities": [BOT] if entities is None else entities})


@pytest.mark.parametrize(("text", "expected"), [
    ("<at>govbot</at> who owns PLC-FIL-L3-07", "who owns PLC-FIL-L3-07"),
    ("<at>govbot</at> who owns govbot-gateway", "who owns govbot-gateway"),  # the bot's name elsewhere stays
    ("<at>govbot</at> delegate approvals to <at>Luis Ortega</at> until 2025-07-01",
     "delegate approvals to Luis Ortega until 2025-07-01"),
    ("<p>who owns&nbsp;<b>SCADA-FDL-01</b></p>", "who owns SCADA-FDL-01"),
    ("raci a <> b", "raci a <> b"),
])
def test_the_bots_mention_goes_and_other_names_stay(text: str, expected: str) -> None:
    assert message_text(_activity(text)) == expected


def test_without_a_mention_entity_a_leading_mention_is_taken_for_the_bots() -> None:
    assert message_text(_activity("<at>govbot</at> who owns SIS-NH3-01", entities=[])) == "who owns SIS-NH3-01"
    assert message_text(_activity("ask <at>Luis Ortega</at>", entities=[])) == "ask Luis Ortega"


@pytest.mark.parametrize(("text", "expected"), [
    ("<at>" * 7_000, ""), ("<at" * 9_000, "<at" * 9_000), ("<at>x" * 5_000, "x" * 5_000), ("<at>x</at>" * 3_000, "x" * 2_999),
])
def test_huge_or_unclosed_markup_is_read_like_any_other(text: str, expected: str) -> None:
    assert message_text(_activity(text, entities=[])).replace(" ", "") == expected.replace(" ", "")
