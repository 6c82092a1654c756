"""Acknowledging an escalation ("I'm on it"): who may stop a running escalation, and when.

An acknowledgement silences every later reminder, breach notice and escalation level, so it is
accepted only when all of these hold:

* the person is active in the directory;
* the request is still waiting for a decision (a decided, withdrawn or imported change has nothing
  left to escalate);
* the person did not raise the request (a requester must not be able to silence their own SLA);
* the level they acknowledge has fired (a level that has not fired yet reaches nobody), and the level
  reaches them (directly, through a team, or as acting holder for someone who left);
* nobody acknowledged it before.

Every refusal is recorded in the audit trail as ``escalation.ack.refused`` with its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import audit
from governance_store.chains import resolve_level
from governance_store.changes import already_decided, awaiting_decision
from governance_store.models import ChangeRequest, EscalationChain, Person, Timer


@dataclass(frozen=True)
class AckOutcome:
    accepted: bool
    message: str
    change: ChangeRequest | None = None


def acknowledge(timer_id: int, level: int, *, person: Person, session: Session, now: dt.datetime,
                platform: str) -> AckOutcome:
    timer = session.get(Timer, timer_id)
    cr = session.get(ChangeRequest, timer.change_id) if timer is not None and timer.change_id else None
    if timer is None or cr is None:
        return AckOutcome(False, "That escalation no longer exists.")

    def refuse(reason: str, message: str) -> AckOutcome:
        audit.record(session, at=now, actor=person, platform=platform, action="escalation.ack.refused",
                     object_type="change", object_key=cr.number, data={"level": level, "reason": reason})
        return AckOutcome(False, message, cr)

    if not person.active:
        return refuse("inactive", "Your directory entry is inactive, so you cannot acknowledge escalations.")
    if not awaiting_decision(cr):
        return refuse("decided", f"{already_decided(cr, session=session, viewer=person)}: there is no escalation left "
                                 "to acknowledge.")
    if cr.requester_id == person.id:
        return refuse("requester", f"You requested {cr.number}; only the people its escalation reaches can "
                                   "acknowledge it.")
    fired = timer.level or 0
    if level < 1 or level > fired:
        return refuse("not fired", f"Escalation level {level} of {cr.number} has not fired; nothing to acknowledge.")
    chain = session.scalar(select(EscalationChain).where(EscalationChain.chain_id == timer.data.get("chain")))
    lvl = next((x for x in chain.levels if x.level == level), None) if chain else None
    reached = {p.id for p in resolve_level(lvl, cr.system, session=session).people()} if lvl else set()
    if person.id not in reached:
        return refuse("not addressed", f"Escalation level {level} of {cr.number} is not addressed to you.")
    if timer.acknowledged_level is not None:
        return AckOutcome(False, f"{cr.number} was already acknowledged at level {timer.acknowledged_level}.", cr)
    timer.acknowledged_level = level
    timer.state = "acknowledged"
    timer.token += 1
    audit.record(session, at=now, actor=person, platform=platform, action="change.escalation_acknowledged",
                 object_type="change", object_key=cr.number, data={"level": level, "reached_level": fired})
    reached_text = f"level {fired}" if fired == level else f"level {fired} (you acknowledged level {level})"
    return AckOutcome(True, f"Thanks, {person.display_name}: the escalation of {cr.number} stops at {reached_text}.",
                      cr)
