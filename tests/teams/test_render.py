"""Reply → Adaptive Card 1.5."""

from __future__ import annotations

import json

from botbuilder.schema import Activity

from bot.teams import render
from bot.teams.translate import invoke_click, message_text, submit_click
from handlers.changes import change_form
from handlers.reply import Button, Choice, Field, Reply, Section


def test_reply_becomes_textblocks_factset_warnings_and_execute_actions() -> None:
    reply = Reply(text="PLC-FIL-L3-07 is owned by Gregory Maddox", warnings=("Gregory Maddox left the company",),
                  sections=(Section("Ownership", fields=(Field("Owner", "Gregory Maddox"),
                                                         Field("Acting", "Luis Ortega"))),),
                  choices=(Choice("Historian Plant 2", "DE-RGB", "who owns Historian Plant 2"),),
                  buttons=(Button("Approve", "cr.approve", "7", "primary"),))
    [card] = render.render_reply(reply)
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"].startswith("PLC-FIL-L3-07")
    assert card["body"][1]["color"] == "Attention"
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "Acting", "value": "Luis Ortega"} in facts
    choose, approve = card["actions"]
    assert choose == {"type": "Action.Execute", "title": "Historian Plant 2 · DE-RGB", "verb": "govbot.choose",
                      "data": {"value": "who owns Historian Plant 2", "action_id": "govbot.choose"}}
    assert approve["verb"] == "cr.approve" and approve["data"]["value"] == "7" and approve["style"] == "positive"


def test_form_inputs_use_field_names_and_show_errors_next_to_the_field() -> None:
    form = change_form(values={"system": "PLC-9", "process_safety": "yes"}, errors={"system": "No system called PLC-9"})
    [card] = render.render_reply(Reply(text="Please correct the highlighted fields.", form=form))
    body = card["body"]
    ids = [e["id"] for e in body if e["type"].startswith("Input.")]
    assert ids == [f.name for f in form.fields]
    system = next(i for i, e in enumerate(body) if e.get("id") == "system")
    assert body[system + 1]["color"] == "Attention" and "PLC-9" in body[system + 1]["text"]
    kinds = {e["id"]: e["type"] for e in body if "id" in e}
    assert kinds["risk"] == "Input.ChoiceSet" and kinds["process_safety"] == "Input.Toggle"
    assert next(e for e in body if e.get("id") == "process_safety")["value"] == "true"
    assert card["actions"] == [render.action("Preview routing", "cr.preview", "new", "primary")]


def test_long_answers_are_split_under_the_card_size_limit() -> None:
    sections = tuple(Section(f"S{i}", text="x" * 3000) for i in range(30))
    cards = render.render_reply(Reply(text="big", sections=sections, buttons=(Button("Ok", "govbot.run", "help"),)))
    assert len(cards) > 1
    assert all(len(json.dumps(c).encode()) <= render.MAX_CARD_BYTES for c in cards)
    assert "actions" in cards[-1] and all("actions" not in c for c in cards[:-1])
    assert render.clip("y" * 10_000) == "y" * (render.MAX_TEXT - 1) + "…"


def test_translate_mentions_and_clicks() -> None:
    activity = Activity().deserialize({
        "type": "message", "text": "<at>govbot</at> who owns&nbsp;PLC-FIL-L3-07", "recipient": {"id": "28:bot"},
        "entities": [{"type": "mention", "text": "<at>govbot</at>", "mentioned": {"id": "28:bot", "name": "govbot"}}]})
    assert message_text(activity) == "who owns PLC-FIL-L3-07"
    invoke = Activity().deserialize({"type": "invoke", "name": "adaptiveCard/action", "value": {"action": {
        "type": "Action.Execute", "verb": "cr.reject", "data": {"value": "4", "reason": "no", "ok": True}}}})
    click = invoke_click(invoke)
    assert click is not None and (click.action_id, click.value) == ("cr.reject", "4")
    assert click.inputs == {"reason": "no", "ok": "true"}
    legacy = Activity().deserialize({"type": "message", "value": {"action_id": "cr.approve", "value": "4"}})
    assert submit_click(legacy) is not None
    assert submit_click(Activity().deserialize({"type": "message", "value": {"action": "approve"}})) is None
