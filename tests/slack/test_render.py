"""Reply -> Block Kit: Slack's limits hold for any reply, and nothing is cut inside a word."""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack import render
from bot.slack.render import render_home, render_reply, split_text
from bot.slack.translate import decode_action_id
from handlers.reply import Button, Choice, Field, Reply, Section


def _all_blocks(messages: list[render.SlackMessage]) -> list[dict]:
    return [b for m in messages for b in m.blocks]


def _check_limits(messages: list[render.SlackMessage]) -> None:
    for m in messages:
        assert m.text.strip()
        assert 0 < len(m.blocks) <= render.MAX_BLOCKS
        action_ids = []
        for block in m.blocks:
            if block["type"] == "section":
                if "text" in block:
                    assert len(block["text"]["text"]) <= 3000
                assert len(block.get("fields", [])) <= 10
                for f in block.get("fields", []):
                    assert len(f["text"]) <= 2000
                if "accessory" in block:
                    action_ids.append(block["accessory"]["action_id"])
            if block["type"] == "actions":
                assert len(block["elements"]) <= 25
                for e in block["elements"]:
                    assert len(e["action_id"]) <= 255 and len(e["value"]) <= 2000 and len(e["text"]["text"]) <= 75
                    action_ids.append(e["action_id"])
            if block["type"] == "context":
                assert len(block["elements"]) <= 10
        assert len(action_ids) == len(set(action_ids)), "action ids must be unique within a message"


def test_split_prefers_lines_then_words_and_never_cuts_a_word() -> None:
    text = "alpha beta gamma\ndelta epsilon zeta eta theta"
    assert split_text(text, 20) == ["alpha beta gamma", "delta epsilon zeta", "eta theta"]
    assert split_text("", 10) == []
    assert split_text("short", 10) == ["short"]


def test_a_word_longer_than_the_limit_is_the_only_thing_cut_and_never_inside_an_escape() -> None:
    pieces = split_text("x" * 8 + "&amp;" + "y" * 8, 10)
    assert "".join(pieces) == "x" * 8 + "&amp;" + "y" * 8
    assert all(len(p) <= 10 for p in pieces)
    assert not any(p.endswith("&") or p.endswith("&am") for p in pieces)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=string.ascii_letters + "&<>", min_size=1, max_size=30), min_size=1, max_size=400),
       st.integers(min_value=40, max_value=400))
def test_split_keeps_every_word_whole_and_in_order(words: list[str], limit: int) -> None:
    text = " ".join(render.escape(w) for w in words)
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    if all(len(render.escape(w)) <= limit for w in words):
        assert " ".join(pieces).split() == text.split()


def test_choices_are_buttons_that_carry_the_command_to_ask_again() -> None:
    reply = Reply(
        text="Which one?",
        choices=(Choice("PLC-FIL-L3-07", "US-FDL · PLC", "who #1"), Choice("PLC-FIL-L03-07", "US-FDL", "who #2")),
    )
    [message] = render_reply(reply)
    _check_limits([message])
    accessories = [b["accessory"] for b in message.blocks if "accessory" in b]
    assert [a["value"] for a in accessories] == ["who #1", "who #2"]
    assert {decode_action_id(a["action_id"]) for a in accessories} == {"govbot.choose"}


def test_warnings_are_context_blocks_with_a_warning_sign() -> None:
    [message] = render_reply(Reply(text="ok", warnings=("Owner left", "Duplicate asset")))
    contexts = [b for b in message.blocks if b["type"] == "context"]
    assert [e["text"] for c in contexts for e in c["elements"]] == ["⚠️ Owner left", "⚠️ Duplicate asset"]


def test_control_characters_are_escaped() -> None:
    [message] = render_reply(Reply(text="a <b> & c", sections=(Section(title="T<1>", text="x & y"),)))
    dumped = json.dumps(message.blocks)
    assert "a &lt;b&gt; &amp; c" in dumped and "*T&lt;1&gt;*" in dumped
    assert message.text == "a &lt;b&gt; &amp; c"


def test_thirty_buttons_need_two_action_blocks_and_repeated_ids_stay_unique() -> None:
    buttons = tuple(Button(f"Button {i}", "govbot.run", f"raci #{i}") for i in range(30))
    [message] = render_reply(Reply(text="many", buttons=buttons))
    _check_limits([message])
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    ids = [e["action_id"] for a in actions for e in a["elements"]]
    assert {decode_action_id(i) for i in ids} == {"govbot.run"}


def test_over_long_ids_and_values_are_left_out_rather_than_sent() -> None:
    reply = Reply(text="x", buttons=(Button("ok", "a", "v"), Button("bad", "a" * 300, "v"), Button("bad", "b", "v" * 2001)))
    [message] = render_reply(reply)
    assert [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]] == ["a"]


def test_long_button_labels_are_shortened_between_words() -> None:
    label = "Approve the firmware upgrade of the line three filler PLC during the weekend window now"
    [message] = render_reply(Reply(text="x", buttons=(Button(label, "cr.approve", "1"),)))
    text = next(b for b in message.blocks if b["type"] == "actions")["elements"][0]["text"]["text"]
    assert len(text) <= 75 and text.endswith("…")
    assert label.startswith(text[:-1])


def test_many_fields_and_a_huge_field() -> None:
    fields = tuple(Field(f"Label {i}", f"value {i}") for i in range(23)) + (Field("Big", "word " * 900),)
    messages = render_reply(Reply(text="fields", sections=(Section(title="S", fields=fields),)))
    _check_limits(messages)
    sections = [b for b in _all_blocks(messages) if b["type"] == "section"]
    assert [len(b.get("fields", [])) for b in sections if "fields" in b] == [10, 10, 3]


def test_an_answer_over_fifty_blocks_becomes_several_messages_with_fallback_text() -> None:
    sections = tuple(Section(title=f"Part {i}", text=f"text {i}") for i in range(120))
    messages = render_reply(Reply(text="Big answer", sections=sections), share_command="who X")
    assert len(messages) == 3
    _check_limits(messages)
    assert messages[0].text == "Big answer"
    assert all("(continued)" in m.text for m in messages[1:])
    # The share button comes once, at the very end.
    assert [m.blocks[-1]["type"] for m in messages][-1] == "actions"
    assert sum("govbot.share" in json.dumps(m.blocks) for m in messages) == 1


def test_share_button_is_left_out_when_the_command_is_too_long_to_carry() -> None:
    [message] = render_reply(Reply(text="x"), share_command="who " + "x" * 2001)
    assert "govbot.share" not in json.dumps(message.blocks)


def test_home_view_has_a_header_per_section_and_stays_under_one_hundred_blocks() -> None:
    sections = tuple(Section(title=f"Section {i}", text="line\n" * 3) for i in range(80))
    view = render_home(Reply(text="home", sections=sections))
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    assert view["blocks"][-1]["type"] == "context"


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=0, max_size=7000),
    n_sections=st.integers(0, 70),
    n_buttons=st.integers(0, 60),
    n_choices=st.integers(0, 8),
    n_warnings=st.integers(0, 15),
)
def test_any_reply_respects_slack_limits(text: str, n_sections: int, n_buttons: int, n_choices: int,
                                         n_warnings: int) -> None:
    reply = Reply(
        text=text,
        sections=tuple(Section(title=f"T{i}", text=text[: i * 97], fields=(Field("a", "b"),)) for i in range(n_sections)),
        buttons=tuple(Button(f"B{i}", "govbot.run", f"v{i}") for i in range(n_buttons)),
        choices=tuple(Choice(f"C{i}", "detail", f"who #{i}") for i in range(n_choices)),
        warnings=tuple(f"warning {i} " + text[:100] for i in range(n_warnings)),
    )
    _check_limits(render_reply(reply, share_command="who X"))
