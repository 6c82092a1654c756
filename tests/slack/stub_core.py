"""A predictable core for adapter tests: the Slack adapter's contract, independent of answer wording.

``who boom`` raises, ``who ambiguous`` offers two choices, ``who long`` is an
answer longer than one Slack message; anything else is echoed back with the
asker's name, a "see also" button and a warning.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from handlers.home import home_for
from handlers.reply import Action, Actor, Button, Choice, Command, Form, FormField, Reply, Section

LONG_WORDS = [f"word{i:05d}" for i in range(4000)]


def change_form(errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> Form:
    e, v = errors or {}, values or {}
    return Form(
        title="New change request", submit_action_id="cr.preview", value="new", submit_label="Preview routing",
        fields=(
            FormField("system", "System", "system", True, initial=v.get("system", ""), error=e.get("system", "")),
            FormField("title", "Title", "text", True, initial=v.get("title", ""), error=e.get("title", "")),
            FormField("risk", "Risk", "select", True, ("low", "moderate", "high"), v.get("risk", "moderate")),
            FormField("process_safety", "Process-safety relevant", "checkbox"),
            FormField("description", "Description", "textarea"),
        ),
    )


@dataclass
class StubCore:
    """Stands in for the router (``Container.use_router``): the pipeline still resolves the person."""

    commands: list[Command] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    def command(self, command: Command, *, session: Session, now: dt.datetime) -> Reply:
        self.commands.append(command)
        text = command.text
        if "boom" in text:
            raise RuntimeError("the core fell over")
        if text.startswith("change"):
            return Reply(text="Fill in the change request.", form=change_form(), data={"status": "form"})
        if "ambiguous" in text:
            return Reply(
                text="Several systems match; which one did you mean?",
                choices=(
                    Choice("PLC-FIL-L3-07", "US-FDL · Filling Hall · PLC", "who #1", 91.0),
                    Choice("PLC-FIL-L03-07", "US-FDL · PLC", "who #2", 88.0),
                ),
                data={"status": "ambiguous"},
            )
        if "long" in text:
            lines = [" ".join(LONG_WORDS[i : i + 10]) for i in range(0, len(LONG_WORDS), 10)]
            return Reply(text="A long answer follows.", sections=(Section(title="All of it", text="\n".join(lines)),))
        return Reply(
            text=f"Answer to “{text}” for {command.actor.display_name}",
            sections=(Section(title="Details", text=f"slash={command.slash}"),),
            buttons=(Button("RACI", "govbot.run", f"raci {text}"), Button("SLA", "govbot.run", f"sla {text}")),
            warnings=("Owner has left the company",),
        )

    def action(self, action: Action, *, session: Session, now: dt.datetime) -> Reply:
        self.actions.append(action)
        if action.value == "boom":
            raise RuntimeError("the click fell over")
        inputs = action.inputs
        if action.action_id == "cr.preview":
            if action.value == "slow":
                time.sleep(0.5)
            if not inputs.get("title"):
                return Reply(text="Please correct the highlighted fields.", data={"status": "invalid"},
                             form=change_form({"title": "A title is required"}, inputs))
            return Reply(
                text=f"Draft for {inputs['system']}: {inputs['title']} (risk {inputs['risk']}, "
                f"safety {inputs['process_safety'] or 'no'}). Nothing has been sent yet.",
                buttons=(Button("Submit", "cr.submit", "1", "primary"), Button("Discard", "cr.discard", "1", "danger")),
            )
        if action.action_id == "cr.reject" and not inputs.get("reason"):
            return Reply(text=f"Why do you reject {action.value}?", data={"status": "form"}, form=Form(
                title=f"Reject {action.value}", submit_action_id="cr.reject", value=action.value,
                submit_label="Reject", fields=(FormField("reason", "Reason", "textarea", True),)))
        if action.action_id == "cr.reject":
            return Reply(text=f"{action.value} rejected by {action.actor.display_name}: {inputs['reason']}")
        return Reply(text=f"Clicked {action.action_id} with {action.value} as {action.actor.display_name}")

    def home(self, actor: Actor, *, session: Session, now: dt.datetime) -> Reply:
        return home_for(actor, session=session, now=now)

    def refuse_unknown(self, request: Command | Action, *, session: Session, now: dt.datetime) -> Reply:
        return Reply(text="not in the directory", data={"status": "unknown_person", "email": request.actor.email})

    def core(self) -> StubCore:
        return self
