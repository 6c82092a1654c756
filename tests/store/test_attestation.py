"""Attestation campaigns on the sample organisation: who is asked about what, every answer's effect, the
rules on who may answer, and the coverage that follows."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import attestation
from governance_store import ownership_metrics as metrics
from governance_store.models import (
    Attestation,
    AuditEntry,
    ConfirmedFact,
    OutboxMessage,
    OwnershipRequest,
    Person,
    System,
    Timer,
)
from governance_store.ownership_policy import DEFAULT_POLICY, Rule, parse_policy
from handlers.reply import Action, Actor, Command
from notifications.ownership import ATTESTATION, start_campaign
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LUIS, BRIAN = "luis.ortega@corvane.example", "brian.caldwell@corvane.example"


def who(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def system(s: Session, name: str) -> System:
    return s.scalars(sa.select(System).where(System.name == name)).one()


def att(s: Session, name: str) -> Attestation:
    return s.scalars(sa.select(Attestation).join(System).where(System.name == name)
                     .order_by(Attestation.id.desc())).first()


def _start(org: sessionmaker[Session], now: dt.datetime = NOW, **kw: object) -> int:
    with org() as s, s.begin():
        campaign, _plan = start_campaign(session=s, now=now, policy=kw.pop("policy", DEFAULT_POLICY),  # type: ignore[arg-type]
                                         started_by="test", **kw)  # type: ignore[arg-type]
        assert campaign is not None
        return campaign.id


def test_a_campaign_asks_each_owner_once_and_acting_holders_for_owners_who_left(org: sessionmaker[Session]) -> None:
    with org() as s:
        plan = attestation.plan(session=s, now=NOW, policy=DEFAULT_POLICY)
        asked = {plan.people[p].email: sorted(x.name for x in systems) for p, systems in plan.asked.items()}
        assert asked[LUIS] == ["EWS-FDL-01", "HMI-FIL-L3-02", "PLC-FIL-L03-07", "PLC-FIL-L3-07", "SIS-NH3-01"]
        assert "gregory.maddox@corvane.example" not in asked
        assert [x.name for x in plan.without_owner] == ["Edge Gateway Line 1 Findlay"]
        assert plan.systems == 45 and "HMI-FIL-L1-01" not in asked[BRIAN]  # retired: not attested
    campaign_id = _start(org)
    with org() as s:
        people = {p for p, in s.execute(sa.select(Attestation.owner_id).where(Attestation.campaign_id == campaign_id))}
        cards = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"att:{campaign_id}:%:card"))).all()
        assert len(cards) == len(people) == 10
        luis = who(s, LUIS)
        card = next(c for c in cards if c.person_id == luis.person_id).payload
        assert "5 system(s)" in card["text"] and "EDT" in card["text"]
        assert any(sec["fields"][-1]["value"] == "acting for Gregory Maddox, who left" for sec in card["sections"])
        labels = [b["label"] for b in card["buttons"]]
        assert labels[0] == "All 5 still mine" and "PLC-FIL-L3-07: transfer to…" in labels
        timers = s.scalars(sa.select(Timer).where(Timer.kind == ATTESTATION)).all()
        assert len(timers) == 10 and {t.state for t in timers} == {"pending"}
    # Nothing is asked twice while the campaign runs.
    with org() as s:
        assert attestation.plan(session=s, now=NOW, policy=DEFAULT_POLICY).systems == 0


def test_every_answer_changes_the_store_as_said_and_is_a_confirmed_fact(org: sessionmaker[Session]) -> None:
    _start(org)
    with org() as s, s.begin():
        luis, brian = who(s, LUIS), who(s, BRIAN)
        # Still mine, by the acting holder: Luis owns it now.
        r = handle_action(Action("att.mine", str(att(s, "PLC-FIL-L3-07").id), luis), session=s, now=NOW)
        assert r.status == "attested_mine" and "took it over" in r.text
        assert handle_command(Command("who owns PLC-FIL-L3-07", luis), session=s, now=NOW).text == \
            "PLC-FIL-L3-07 is owned by Luis Ortega."
        # Not mine: nobody owns it.
        r = handle_action(Action("att.not_mine", str(att(s, "PLC-CIP-01").id), brian), session=s, now=NOW)
        assert r.status == "attested_not_mine" and system(s, "PLC-CIP-01").owner_id is None
        # Retired.
        r = handle_action(Action("att.retired", str(att(s, "HMI-FIL-L1-04").id), brian), session=s, now=NOW)
        assert r.status == "attested_retired" and system(s, "HMI-FIL-L1-04").retired
        # Transfer: a form first, then a request to the new owner (level 1: the Accountable approves too).
        a = att(s, "PLC-FIL-L1-02")
        form = handle_action(Action("att.transfer", str(a.id), brian), session=s, now=NOW)
        assert form.status == "form" and form.form is not None and form.form.submit_action_id == "att.transfer"
        wrong = handle_action(Action("att.transfer", str(a.id), brian, {"to": "Jesica Prak"}), session=s, now=NOW)
        assert wrong.status == "form" and "Did you mean: Jessica Park" in wrong.form.fields[0].error
        r = handle_action(Action("att.transfer", str(a.id), brian, {"to": "Jessica Park"}), session=s, now=NOW)
        assert r.status == "attested_transfer" and "Jessica Park is asked to accept" in r.text
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert (req.state, req.needs_approval, req.approver.email) == ("awaiting_acceptance", True, LUIS)
        # Answering again is refused with what was answered.
        again = handle_action(Action("att.mine", str(att(s, "PLC-CIP-01").id), brian), session=s, now=NOW)
        assert again.status == "invalid" and "already answered" in again.text
        # All at once: the rest of Brian's systems.
        r = handle_action(Action("att.all_mine", str(a.campaign_id), brian), session=s, now=NOW)
        assert r.status == "attested_mine" and r.data["status"] == "attested_mine"
        assert s.scalar(sa.select(sa.func.count(Attestation.id)).where(
            Attestation.owner_id == brian.person_id, Attestation.state == "pending")) == 0
        # The transfer goes on: Jessica accepts, Luis approves, Jessica owns it and the attestation says so.
        jessica = who(s, "jessica.park@corvane.example")
        assert handle_action(Action("own.accept", str(req.id), jessica), session=s, now=NOW).status == "awaiting_approval"
        assert handle_action(Action("own.approve", str(req.id), luis), session=s, now=NOW).status == "completed"
        assert system(s, "PLC-FIL-L1-02").owner.email == "jessica.park@corvane.example"
        assert att(s, "PLC-FIL-L1-02").state == "transferred"
        got = {f.label: f.how for f in s.scalars(sa.select(ConfirmedFact))}
        assert got["PLC-FIL-L3-07 owner: Luis Ortega"] == "took_over"
        assert got["PLC-CIP-01 owner: nobody (disowned by Brian Caldwell)"] == "disowned"
        assert got["HMI-FIL-L1-04 install status: Retired"] == "retired"
        assert got["PLC-FIL-L1-02 owner: Jessica Park"] == "transferred"
        assert got["PLC-MIX-01 owner: Brian Caldwell"] == "attested"
        actions = [e.action for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("attestation.%")))]
        assert actions.count("attestation.mine") == 1 + 7 and "attestation.not_mine" in actions
        # Brian answered everything: his reminders stop.
        timer = s.scalars(sa.select(Timer).where(Timer.kind == ATTESTATION,
                                                 Timer.subject_key.like(f"att:%:{brian.person_id}"))).one()
        assert timer.state == "stopped"


def test_only_the_person_asked_may_answer(org: sessionmaker[Session]) -> None:
    _start(org)
    with org() as s, s.begin():
        a = att(s, "PLC-CIP-01")
        for email in (LUIS, "jessica.park@corvane.example"):
            r = handle_action(Action("att.mine", str(a.id), who(s, email)), session=s, now=NOW)
            assert r.status == "refused" and "asked of Brian Caldwell" in r.text
        refused = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "attestation.answer.refused")).all()
        assert [e.object_key for e in refused] == ["PLC-CIP-01", "PLC-CIP-01"]
        assert a.state == "pending" and system(s, "PLC-CIP-01").owner.email == BRIAN
        # Another person's "transfer to…" is refused too, without a form.
        r = handle_action(Action("att.transfer", str(a.id), who(s, LUIS)), session=s, now=NOW)
        assert r.status == "refused"


def test_the_policy_decides_what_is_due_again(org: sessionmaker[Session]) -> None:
    _start(org, everything=True)
    with org() as s, s.begin():
        for email in (BRIAN, "stefan.huber@corvane.example"):
            actor = who(s, email)
            cid = s.scalars(sa.select(Attestation.campaign_id)).first()
            handle_action(Action("att.all_mine", str(cid), actor), session=s, now=NOW)
        from governance_store.attestation import close

        close(cid, session=s, now=NOW, closed_by="test")
    # After 100 days criticality-1 systems (quarterly) are due again, the others (yearly) are not.
    later = NOW + dt.timedelta(days=100)
    with org() as s:
        plan = attestation.plan(session=s, now=later, policy=DEFAULT_POLICY)
        brians = sorted(x.name for p, xs in plan.asked.items() for x in xs if plan.people[p].email == BRIAN)
        assert brians == ["MES Plant 1 Findlay", "PLC-FIL-L1-02", "PLC-FIL-L2-05", "PLC-MIX-01", "SCADA-FDL-01"]
        # A site-specific rule: Regensburg every 30 days.
        policy = parse_policy({"rule": [{"site": "DE-RGB", "every_days": 30}, {"every_days": 365}]})
        assert policy.rules[0] == Rule(every_days=30, sites=("DE-RGB",))
        plan = attestation.plan(session=s, now=NOW + dt.timedelta(days=31), policy=policy, sites=("DE-RGB",))
        stefans = [x.name for p, xs in plan.asked.items() for x in xs if plan.people[p].email == "stefan.huber@corvane.example"]
        assert len(stefans) == 8


def test_coverage_counts_active_confirmed_owners_per_site(org: sessionmaker[Session]) -> None:
    with org() as s:
        before = {r.site: r for r in metrics.coverage(session=s, now=NOW, policy=DEFAULT_POLICY)}
        assert (before["US-FDL"].systems, before["US-FDL"].owned, before["US-FDL"].attested) == (25, 19, 0)
    cid = _start(org)
    with org() as s, s.begin():
        handle_action(Action("att.all_mine", str(cid), who(s, BRIAN)), session=s, now=NOW + dt.timedelta(hours=2))
    with org() as s:
        after = {r.site: r for r in metrics.coverage(session=s, now=NOW, policy=DEFAULT_POLICY)}
        assert after["US-FDL"].attested == 10 and after["all"].attested == 10
        [status] = metrics.campaigns(session=s, now=NOW + dt.timedelta(days=30))
        assert (status.asked, status.answered, status.median_hours) == (45, 10, 2.0)
        assert status.overdue == 35 and status.response_rate == 22.2
        weeks = metrics.weekly(session=s, since=NOW - dt.timedelta(days=7), until=NOW + dt.timedelta(days=7))
        fdl = next(w for w in weeks if w.site == "US-FDL")
        assert (fdl.week, fdl.asked, fdl.answered, fdl.median_response_hours) == ("2025-W23", 24, 10, 2.0)
