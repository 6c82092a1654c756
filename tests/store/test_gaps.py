"""Every planted gap of the sample organisation becomes work for the right person and closes from chat.

The gaps are those of ``examples/corvane/README.md`` (G1-G5, B1-B4).  Each is routed by the rules of
:mod:`governance_store.gaps`, gets a card with one-click fixes, and a click by its assignee (through the
router, as any surface sends it) fixes it; the next sync finds nothing left.  A gap found again reopens.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import facts, gaps
from governance_store.changes import reroute_departed
from governance_store.lint import run_lint
from governance_store.models import AuditEntry, OutboxMessage, Person, System, Timer, TrackedGap
from governance_store.ownership_policy import DEFAULT_POLICY
from handlers.reply import Action, Actor, Command
from notifications.ownership import GAP, sync_and_announce
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LUIS = "luis.ortega@corvane.example"

# (code, subject) -> who fixes it, for every planted gap (README: G1-G5, B1-B4).
EXPECTED = {
    ("NO_ACCOUNTABLE_OWNER", "Edge Gateway Line 1 Findlay"): LUIS,  # G1: OT Engineering Lead, US-FDL (level 3)
    ("ACTIVITY_MULTIPLE_ACCOUNTABLE", "ACT-07"): "olivia.grant@corvane.example",  # G2: the RACI owner
    ("DEPARTED_OWNER", "PLC-FIL-L3-07 (owner)"): LUIS,  # G3: acting holder for Gregory Maddox
    ("DEPARTED_OWNER", "PLC-FIL-L03-07 (owner)"): LUIS,
    ("DEPARTED_OWNER", "HMI-FIL-L3-02 (owner)"): LUIS,
    ("DEPARTED_OWNER", "SIS-NH3-01 (owner)"): LUIS,
    ("DEPARTED_OWNER", "EWS-FDL-01 (owner)"): LUIS,
    ("DEPARTED_TEAM_MANAGER", "OT Engineering - Findlay"): LUIS,
    ("DEPARTED_ESCALATION_TARGET", "ESC-OT-FDL level 2"): LUIS,
    ("DUPLICATE_SYSTEM", "PLC-FIL-L3-07 / PLC-FIL-L03-07"): LUIS,  # G4: (acting) owner of the record kept
    ("NOT_IN_CMDB", "10.42.11.250"): "lukas.brandl@corvane.example",  # G5: OT Security Lead of DE-RGB
    ("RETIRED_BUT_SEEN", "HMI-FIL-L1-01"): "brian.caldwell@corvane.example",  # B1: the system's owner
    ("UNKNOWN_TEAM", "OT Support Findlay"): LUIS,  # B2: Accountable of the systems' area
    ("ACTIVITY_NO_ACCOUNTABLE", "ACT-18"): "olivia.grant@corvane.example",  # B3: the RACI owner
    ("UNMATCHED_CHAT_IDENTITY", "slack:U0F97113F78"): "stefan.huber@corvane.example",  # B4: her manager
    ("UNREACHABLE_IN_CHAT", "Johanna Weber"): "stefan.huber@corvane.example",
    ("UNREACHABLE_IN_CHAT", "Ray Dawson"): "nina.castillo@brightlinecontrols.example",  # his manager
}
# The fix each assignee clicks (the first option whose label starts so), per gap.
CLICK = {
    "NO_ACCOUNTABLE_OWNER": "I'll own it", "ACTIVITY_MULTIPLE_ACCOUNTABLE": "Accountable: OT Engineering Lead",
    "DEPARTED_OWNER": "I take it over", "DEPARTED_TEAM_MANAGER": "I manage the team now",
    "DEPARTED_ESCALATION_TARGET": "Reach me instead", "DUPLICATE_SYSTEM": "Retire PLC-FIL-L03-07",
    "NOT_IN_CMDB": "Known", "RETIRED_BUT_SEEN": "Still in service", "UNKNOWN_TEAM": "Use OT Engineering - Findlay",
    "ACTIVITY_NO_ACCOUNTABLE": "Accountable: OT Security Lead", "UNMATCHED_CHAT_IDENTITY": "Link",
    "UNREACHABLE_IN_CHAT": "Reach by e-mail only",
}


def actor(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def _sync(factory: sessionmaker[Session], now: dt.datetime = NOW) -> None:
    with factory() as s, s.begin():
        reroute_departed(session=s, now=now)  # what the worker does every minute
        sync_and_announce(session=s, now=now, policy=DEFAULT_POLICY)


def _open(s: Session) -> dict[tuple[str, str], TrackedGap]:
    return {(g.code, g.subject): g for g in s.scalars(sa.select(TrackedGap).where(TrackedGap.state == "open"))}


def test_every_planted_gap_is_routed_to_who_can_fix_it_and_closed_from_chat(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s:
        tracked = _open(s)
        assert {k: g.assignee.email for k, g in tracked.items() if g.assignee} == EXPECTED
        for gap in tracked.values():
            # Each assignee got the gap's card, with its fixes, and its SLA runs.
            card = s.scalars(sa.select(OutboxMessage).where(
                OutboxMessage.key == f"gap:{gap.id}:open:0:{gap.assignee_id}")).one()
            assert gap.subject in card.payload["text"], card.payload["text"]
            assert s.scalars(sa.select(Timer).where(Timer.kind == GAP, Timer.subject_key == f"gap:{gap.id}")).one().state \
                == "pending"

    # Someone else cannot fix a gap that is not theirs (refused, audited, nothing changed).
    with org() as s, s.begin():
        gap = _open(s)[("NO_ACCOUNTABLE_OWNER", "Edge Gateway Line 1 Findlay")]
        reply = handle_action(Action("gap.fix", f"{gap.id}:own:", actor(s, "kevin.tran@corvane.example")),
                              session=s, now=NOW)
        assert reply.status == "refused" and "assigned to Luis Ortega" in reply.text
        assert s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first().action == "gap.fix.refused"
        assert s.scalars(sa.select(System).where(System.name == "Edge Gateway Line 1 Findlay")).one().owner_id is None

    # Each assignee clicks the fix on their card (the buttons of the card they were sent).
    with org() as s:
        keys = sorted(_open(s))
    for key in keys:
        with org() as s, s.begin():
            gap = _open(s).get(key)
            if gap is None:
                continue  # closed by an earlier fix (the same chat account closes both of Johanna's gaps)
            sent = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"gap:{gap.id}:open:%"))).one()
            buttons = [b for b in sent.payload["buttons"] if b["label"].startswith(CLICK[gap.code])]
            assert buttons, (key, [b["label"] for b in sent.payload["buttons"]])
            reply = handle_action(Action(buttons[0]["action_id"], buttons[0]["value"], actor(s, gap.assignee.email)),
                                  session=s, now=NOW)
            if gap.code == "NO_ACCOUNTABLE_OWNER":
                # A claim: the Accountable for changes to a level-3 site system approves it, from their card.
                assert reply.status == "gap_noted" and "Elena Petrova is asked to approve" in reply.text, reply.text
                card = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("own:%:approve:%"))).one()
                approve = next(b for b in card.payload["buttons"] if b["action_id"] == "own.approve")
                done = handle_action(Action("own.approve", approve["value"], actor(s, "elena.petrova@corvane.example")),
                                     session=s, now=NOW)
                assert done.status == "completed", done.text
            else:
                assert reply.status == "gap_fixed", (key, reply.text)
            assert gap.state == "closed" and gap.fixed_by.email == gap.assignee.email

    # The next sync finds none of them any more: they stay closed.
    later = NOW + dt.timedelta(minutes=10)
    _sync(org, later)
    with org() as s:
        assert _open(s) == {}
        assert run_lint(session=s).findings == [], [f.key for f in run_lint(session=s).findings]
        timers = s.scalars(sa.select(Timer).where(Timer.kind == GAP)).all()
        assert {t.state for t in timers} == {"stopped"}
        # What the fixes did, as people see it.
        edge = s.scalars(sa.select(System).where(System.name == "Edge Gateway Line 1 Findlay")).one()
        assert edge.owner.email == LUIS
        plc = s.scalars(sa.select(System).where(System.name == "PLC-FIL-L3-07")).one()
        assert plc.owner.email == LUIS
        dup = s.scalars(sa.select(System).where(System.name == "PLC-FIL-L03-07")).one()
        assert dup.retired
        assert list(facts.decisions(s, facts.ASSET_DISPOSITION).values()) == ["known"]
    with org() as s, s.begin():
        answer = handle_command(Command("who owns PLC-FIL-L3-07", actor(s, LUIS)), session=s, now=later)
        assert answer.text == "PLC-FIL-L3-07 is owned by Luis Ortega."


def test_a_gap_found_again_reopens_for_its_assignee(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        gap = _open(s)[("RETIRED_BUT_SEEN", "HMI-FIL-L1-01")]
        reply = handle_action(Action("gap.fix", f"{gap.id}:in_service:", actor(s, "brian.caldwell@corvane.example")),
                              session=s, now=NOW)
        assert reply.status == "gap_fixed"
        gap_id = gap.id
    _sync(org, NOW + dt.timedelta(minutes=5))
    with org() as s, s.begin():
        assert s.get(TrackedGap, gap_id).state == "closed"
        # Someone retires it again (in the CMDB, say): the finding is back.
        hmi = s.scalars(sa.select(System).where(System.name == "HMI-FIL-L1-01")).one()
        hmi.install_status = "Retired"
        facts.forget(s, facts.get(s, table="systems", row_id=hmi.id, column="install_status"))
    _sync(org, NOW + dt.timedelta(hours=1))
    with org() as s:
        gap = s.get(TrackedGap, gap_id)
        assert (gap.state, gap.reopened, gap.closed_at) == ("open", 1, None)
        assert s.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.key == f"gap:{gap_id}:open:1:{gap.assignee_id}")).one()
        actions = [e.action for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.object_type == "gap",
                                                                            AuditEntry.object_key == "HMI-FIL-L1-01"))]
        assert actions == ["gap.opened", "gap.fixed", "gap.reopened"], actions


def test_a_fix_that_does_not_remove_the_finding_is_reopened_by_the_next_sync(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        gap = _open(s)[("DEPARTED_OWNER", "EWS-FDL-01 (owner)")]
        assert handle_action(Action("gap.fix", f"{gap.id}:take_over:", actor(s, LUIS)), session=s,
                             now=NOW).status == "gap_fixed"
        ews = s.scalars(sa.select(System).where(System.name == "EWS-FDL-01")).one()
        ews.owner_id = s.scalars(sa.select(Person.id).where(Person.email == "gregory.maddox@corvane.example")).one()
        gap_id = gap.id
    _sync(org, NOW + dt.timedelta(minutes=5))
    with org() as s:
        gap = s.get(TrackedGap, gap_id)
        assert gap.state == "open" and gap.reopened == 1 and gap.fix is None
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "gap.reopened")).one()
        assert entry.data["why"] == "the fix did not remove it"


def test_gaps_lists_what_is_assigned_to_me_with_the_fixes(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        reply = handle_command(Command("gaps", actor(s, "lukas.brandl@corvane.example")), session=s, now=NOW)
        assert reply.status == "answered" and "1 governance gap" in reply.text
        assert [b.label for b in reply.buttons] == ["Known: add to the CMDB", "Rogue: remove it"]
        assert handle_command(Command("gaps", actor(s, "kevin.tran@corvane.example")), session=s,
                              now=NOW).text == "No governance gap is assigned to you."


def test_a_gap_whose_assignee_left_goes_to_who_stands_in(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        brian = s.scalars(sa.select(Person).where(Person.email == "brian.caldwell@corvane.example")).one()
        brian.active = False
    _sync(org, NOW + dt.timedelta(minutes=5))
    with org() as s:
        gap = _open(s)[("RETIRED_BUT_SEEN", "HMI-FIL-L1-01")]
        assert gap.assignee.email != "brian.caldwell@corvane.example" and gap.assignee.active
        assert any(e.action == "gap.reassigned" for e in s.scalars(sa.select(AuditEntry)))


def test_options_match_the_gap_and_unknown_fixes_are_refused(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        gap = _open(s)[("NOT_IN_CMDB", "10.42.11.250")]
        lukas = actor(s, "lukas.brandl@corvane.example")
        for value in (f"{gap.id}:take_over:", f"{gap.id}:nonsense:", "x:known:", f"{gap.id}"):
            reply = handle_action(Action("gap.fix", value, lukas), session=s, now=NOW)
            assert reply.status in ("invalid", "refused"), (value, reply.text)
        assert gap.state == "open"
        assert [o.fix for o in gaps.options(gap, session=s)] == [gaps.Fix.KNOWN, gaps.Fix.ROGUE]


def test_a_rogue_asset_stays_a_gap_until_the_network_no_longer_sees_it(org: sessionmaker[Session]) -> None:
    _sync(org)
    with org() as s, s.begin():
        gap = _open(s)[("NOT_IN_CMDB", "10.42.11.250")]
        reply = handle_action(Action("gap.fix", f"{gap.id}:rogue:", actor(s, "lukas.brandl@corvane.example")),
                              session=s, now=NOW)
        assert reply.status == "gap_fixed" and "rogue" in reply.text
    _sync(org, NOW + dt.timedelta(minutes=5))
    with org() as s:
        rogue = _open(s)[("ROGUE_ASSET_SEEN", "10.42.11.250")]
        assert rogue.assignee.email == "lukas.brandl@corvane.example" and gaps.options(rogue, session=s) == []


def test_replicas_syncing_at_once_open_each_gap_once(org: sessionmaker[Session]) -> None:
    """Every replica's worker syncs the gaps on the same schedule: they take turns, nothing is opened twice."""
    import threading

    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with org() as s, s.begin():
                barrier.wait(10)
                gaps.sync(session=s, now=NOW, policy=DEFAULT_POLICY)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors and all("locked" in str(e) for e in errors):  # SQLite: one writer; the others may time out
        errors = []
    assert errors == []
    with org() as s:
        keys = s.scalars(sa.select(TrackedGap.key)).all()
        opened = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "gap.opened")).all()
    assert keys and len(keys) == len(set(keys)) == len(opened)
