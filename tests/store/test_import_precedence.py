"""Facts confirmed in govbot outrank a later import that disagrees.

People attest, take over, transfer, retire, pick an Accountable and link a chat account; then the original
files are imported again.  The import keeps every confirmed fact, says so in its summary (a dry run too,
which writes nothing), and the lint raises each disagreement as a gap for the owner, who keeps govbot's
value or takes the import's from chat.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import facts
from governance_store.importers import import_paths
from governance_store.lint import run_lint
from governance_store.models import (
    Activity,
    ChatIdentity,
    ConfirmedFact,
    OwnershipRequest,
    Person,
    System,
    TrackedGap,
)
from governance_store.ownership_policy import DEFAULT_POLICY
from governance_store.raci import resolve_activity
from handlers.reply import Action, Actor, Command
from notifications.ownership import start_campaign, sync_and_announce
from tests.conftest import CORVANE, SAMPLE_EXPORT_TIMEZONE
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)


def who(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def system(s: Session, name: str) -> System:
    return s.scalars(sa.select(System).where(System.name == name)).one()


def _confirm_facts(org: sessionmaker[Session]) -> None:
    """What people settle in govbot on the first day."""
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=NOW, policy=DEFAULT_POLICY, started_by="test")
        sync_and_announce(session=s, now=NOW, policy=DEFAULT_POLICY)
        assert campaign is not None
        luis, brian = who(s, "luis.ortega@corvane.example"), who(s, "brian.caldwell@corvane.example")
        from governance_store.models import Attestation

        def att(name: str) -> str:
            return str(s.scalars(sa.select(Attestation.id).join(System).where(System.name == name)).one())

        assert handle_action(Action("att.mine", att("PLC-FIL-L3-07"), luis), session=s, now=NOW).status == "attested_mine"
        assert handle_action(Action("att.retired", att("HMI-FIL-L1-04"), brian), session=s, now=NOW).status == \
            "attested_retired"
        handle_command(Command("transfer FS-FDL-01 to Tom Brennan", who(s, "marcus.lee@corvane.example")), session=s,
                       now=NOW)
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert handle_action(Action("own.accept", str(req.id), who(s, "tom.brennan@corvane.example")), session=s,
                             now=NOW).status == "completed"
        gaps = {g.subject: g for g in s.scalars(sa.select(TrackedGap))}
        olivia = who(s, "olivia.grant@corvane.example")
        assert handle_action(Action("gap.fix", f"{gaps['ACT-07'].id}:pick:OT Engineering Lead", olivia), session=s,
                             now=NOW).status == "gap_fixed"
        link = next(b for b in handle_command(Command("gaps", who(s, "stefan.huber@corvane.example")), session=s,
                                              now=NOW).buttons if b.label.startswith("Link"))
        assert handle_action(Action("gap.fix", link.value, who(s, "stefan.huber@corvane.example")), session=s,
                             now=NOW).status == "gap_fixed"


def _state(s: Session) -> dict[str, object]:
    johanna = s.scalars(sa.select(ChatIdentity).where(ChatIdentity.external_id == "U0F97113F78")).one()
    return {
        "PLC-FIL-L3-07": system(s, "PLC-FIL-L3-07").owner.email,
        "HMI-FIL-L1-04": system(s, "HMI-FIL-L1-04").install_status,
        "FS-FDL-01": system(s, "FS-FDL-01").owner.email,
        "johanna": johanna.person.email if johanna.person else None,
    }


CONFIRMED = {"PLC-FIL-L3-07": "luis.ortega@corvane.example", "HMI-FIL-L1-04": "Retired",
             "FS-FDL-01": "tom.brennan@corvane.example", "johanna": "johanna.weber@corvane.example"}
KEPT = {
    "PLC-FIL-L3-07 owner": "Gregory Maddox", "HMI-FIL-L1-04 install status": "Installed",
    "FS-FDL-01 owner": "Marcus Lee", "slack account johanna.weber": "nobody",
    "ACT-07 Accountable": "A: OT Engineering Lead, OT Security Lead",
}


def test_a_reimport_keeps_confirmed_facts_and_reports_each_disagreement(org: sessionmaker[Session]) -> None:
    _confirm_facts(org)
    with org() as s:
        assert _state(s) == CONFIRMED

    # A dry run says what it would hold, and writes nothing.
    with org() as s, s.begin():
        report = import_paths([CORVANE], session=s, dry_run=True, now=LATER)
        assert {k.subject: k.imported for k in report.kept} == KEPT
        assert "PLC-FIL-L3-07 owner: the import says Gregory Maddox; govbot keeps Luis Ortega (took_over 2025-06-04)" in \
            {str(k) for k in report.kept}
    with org() as s:
        assert _state(s) == CONFIRMED and facts.disagreements(s) == []

    # The import itself: the facts stay, the disagreements are recorded and raised for the owners.
    with org() as s, s.begin():
        report = import_paths([CORVANE], session=s, now=LATER)
        assert {k.subject: k.imported for k in report.kept} == KEPT
    with org() as s:
        assert _state(s) == CONFIRMED
        activity = s.scalars(sa.select(Activity).where(Activity.activity_id == "ACT-07")).one()
        act07 = resolve_activity(activity, system(s, "PLC-FIL-L3-07"), session=s)
        assert [h.role for h in act07.holders["A"]] == ["OT Engineering Lead"]
        findings = {f.subject: f for f in run_lint(session=s).by_code("IMPORT_DISAGREES")}
        assert set(findings) == set(KEPT)
        assert findings["FS-FDL-01 owner"].evidence[1] == "the import of 2025-06-05 says: Marcus Lee"
    with org() as s, s.begin():
        sync_and_announce(session=s, now=LATER, policy=DEFAULT_POLICY)
        gaps = {g.subject: g for g in s.scalars(sa.select(TrackedGap).where(TrackedGap.code == "IMPORT_DISAGREES"))}
        assert gaps["FS-FDL-01 owner"].assignee.email == "tom.brennan@corvane.example"
        assert gaps["PLC-FIL-L3-07 owner"].assignee.email == "luis.ortega@corvane.example"
        # Tom says the CMDB is right after all; Luis keeps govbot's value.
        tom, luis = who(s, "tom.brennan@corvane.example"), who(s, "luis.ortega@corvane.example")
        r = handle_action(Action("gap.fix", f"{gaps['FS-FDL-01 owner'].id}:take_import:", tom), session=s, now=LATER)
        assert r.status == "gap_fixed" and system(s, "FS-FDL-01").owner.email == "marcus.lee@corvane.example"
        r = handle_action(Action("gap.fix", f"{gaps['PLC-FIL-L3-07 owner'].id}:keep:", luis), session=s, now=LATER)
        assert r.status == "gap_fixed"

    # The same files once more: Luis's fact is still kept but not raised again; FS-FDL-01 follows the CMDB.
    with org() as s, s.begin():
        report = import_paths([CORVANE], session=s, now=LATER + dt.timedelta(days=1))
        kept = {k.subject for k in report.kept}
        assert "PLC-FIL-L3-07 owner" in kept and "FS-FDL-01 owner" not in kept
    with org() as s:
        assert system(s, "PLC-FIL-L3-07").owner.email == "luis.ortega@corvane.example"
        raised = {f.subject for f in run_lint(session=s).by_code("IMPORT_DISAGREES")}
        assert "PLC-FIL-L3-07 owner" not in raised and "FS-FDL-01 owner" not in raised


def test_an_import_that_agrees_settles_the_disagreement(org: sessionmaker[Session], tmp_path) -> None:  # type: ignore[no-untyped-def]
    _confirm_facts(org)
    with org() as s, s.begin():
        import_paths([CORVANE], session=s, now=LATER)
    # The CMDB is corrected: FS-FDL-01 now owned by Tom Brennan in the export.
    fixed = tmp_path / "cmdb_ci.csv"
    text = (CORVANE / "cmdb_ci.csv").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if '"FS-FDL-01"' in line)
    fixed.write_text(text.replace(row, row.replace('"Marcus Lee"', '"Tom Brennan"', 1)), encoding="utf-8")
    with org() as s, s.begin():
        report = import_paths([fixed], session=s, now=LATER + dt.timedelta(days=1),
                              export_timezone=SAMPLE_EXPORT_TIMEZONE)
        assert "FS-FDL-01 owner" not in {k.subject for k in report.kept}
    with org() as s:
        fact = s.scalars(sa.select(ConfirmedFact).where(ConfirmedFact.label == "FS-FDL-01 owner: Tom Brennan")).one()
        assert fact.disagreed_at is None and fact.import_value is None
        assert system(s, "FS-FDL-01").owner.email == "tom.brennan@corvane.example"


def test_files_that_do_not_carry_a_column_neither_overwrite_nor_settle_it(org: sessionmaker[Session]) -> None:
    _confirm_facts(org)
    with org() as s, s.begin():
        import_paths([CORVANE], session=s, now=LATER)
    with org() as s, s.begin():
        report = import_paths([CORVANE / "ot_inventory_nozomi.csv", CORVANE / "sites.csv"], session=s,
                              now=LATER + dt.timedelta(days=1))
        assert report.kept == []
    with org() as s:
        assert len(facts.disagreements(s)) == len(KEPT)  # silence is not agreement
