"""Importing a year of ServiceNow change history: decision, closure and withdrawal times, all or nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.importers import ImportFailed, import_paths
from governance_store.importers.run import FOLDER_SETTINGS
from governance_store.models import Approval, ChangeRequest, Person
from tests.conftest import CORVANE, HISTORY

UTC = dt.UTC


@pytest.fixture
def loaded(session: Session) -> Session:
    import_paths([CORVANE, HISTORY], session=session)
    session.commit()
    return session


def change(session: Session, number: str) -> ChangeRequest:
    return session.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == number)).one()


def approvals_of(session: Session, number: str) -> dict[str, Approval]:
    rows = session.scalars(sa.select(Approval).join(ChangeRequest).where(ChangeRequest.number == number)
                           .order_by(Approval.requested_at)).all()
    return {f"{a.person.display_name}:{a.state}": a for a in rows}


def test_history_counts_and_no_ignored_columns(session: Session) -> None:
    report = import_paths([CORVANE, HISTORY], session=session)
    assert report.counts["change_requests"]["added"] == 451 + 5
    assert report.counts["approvals"]["added"] == 543 + 8
    assert not [n for n in report.notes if "ignored unknown column" in n], report.notes


def test_decision_and_closure_times_in_the_export_time_zone(loaded: Session) -> None:
    emergency = change(loaded, "CHG0030967")
    # Display values in America/New_York (EDT in May: UTC-4).
    assert emergency.decided_at == dt.datetime(2025, 5, 31, 23, 43, 13, tzinfo=UTC)
    assert emergency.closed_at == dt.datetime(2025, 6, 3, 12, 22, 52, tzinfo=UTC)
    assert emergency.close_code == "successful"
    # Submitted when its approval was requested, not when it was raised.
    assert emergency.created_at == dt.datetime(2025, 5, 31, 20, 34, 38, tzinfo=UTC)
    assert emergency.submitted_at == dt.datetime(2025, 5, 31, 20, 47, 1, tzinfo=UTC)
    winter = change(loaded, "CHG0030405")  # EST in February and March: UTC-5
    assert winter.submitted_at == dt.datetime(2025, 2, 21, 17, 2, 1, tzinfo=UTC)


def test_pre_approved_standard_change_is_submitted_when_raised(loaded: Session) -> None:
    standard = loaded.scalars(sa.select(ChangeRequest).where(
        ChangeRequest.change_type == "standard", ChangeRequest.origin == "servicenow",
        ChangeRequest.decided_at.is_not(None))).first()
    assert standard is not None and standard.submitted_at == standard.created_at
    assert dt.timedelta(0) < standard.decided_at - standard.created_at < dt.timedelta(hours=1)  # type: ignore[operator]


def test_rejected_changes_are_rejected_not_cancelled(loaded: Session) -> None:
    states = dict(loaded.execute(sa.select(ChangeRequest.close_code, sa.func.count()).where(
        ChangeRequest.state == "rejected").group_by(ChangeRequest.close_code)).all())
    assert states == {"rejected": 23}
    cancelled = loaded.scalar(sa.select(sa.func.count()).where(ChangeRequest.state == "cancelled"))
    assert cancelled == 14
    rejected = loaded.scalars(sa.select(ChangeRequest).where(ChangeRequest.state == "rejected")).first()
    assert rejected is not None and rejected.source_state == "Canceled" and rejected.decided_at is not None


def test_withdrawn_approval_keeps_when_it_was_withdrawn(loaded: Session) -> None:
    rows = approvals_of(loaded, "CHG0030405")
    withdrawn = rows["Gregory Maddox:cancelled"]
    assert withdrawn.decided_at == dt.datetime(2025, 3, 6, 12, 51, 47, tzinfo=UTC)
    assert withdrawn.requested_at == dt.datetime(2025, 2, 21, 17, 2, 1, tzinfo=UTC)
    assert rows["Luis Ortega:approved"].decided_at == dt.datetime(2025, 3, 7, 16, 26, 44, tzinfo=UTC)


def test_reimport_changes_nothing_even_one_file_at_a_time(loaded: Session) -> None:
    again = import_paths([CORVANE, HISTORY], session=loaded)
    assert again.totals()["changed"] == again.totals()["added"] == again.totals()["removed"] == 0
    only_changes = import_paths([HISTORY / "change_request.csv"], session=loaded)
    assert only_changes.totals()["changed"] == 0
    only_approvals = import_paths([HISTORY / "sysapproval_approver.csv"], session=loaded)
    assert only_approvals.totals()["changed"] == 0


def _history_copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / "history"
    folder.mkdir()
    for f in [*HISTORY.glob("*.csv"), HISTORY / FOLDER_SETTINGS]:
        shutil.copy(f, folder / f.name)
    if edit is not None:
        path = folder / "change_request.csv"
        text = path.read_text(encoding="utf-8")
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    return folder


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


@pytest.mark.parametrize(("old", "new", "reason"), [
    ('"2025-05-31 19:43:13","2025-06-03 08:22:52"', '"31/05/2025 19:43","2025-06-03 08:22:52"',
     "approval_set: not a date and time: '31/05/2025 19:43'"),
    ('"2025-05-31 19:43:13","2025-06-03 08:22:52"', '"2025-05-30 19:43:13","2025-06-03 08:22:52"',
     "approval_set '2025-05-30 19:43:13' is before sys_created_on '2025-05-31 16:34:38'"),
    ('"2025-06-03 08:22:54","Successful"', '"2025-06-03 08:22:54","=HYPERLINK(1)"',
     "close_code: not a close code: '=HYPERLINK(1)'"),
])
def test_bad_history_values_name_file_and_line_and_import_nothing(session: Session, tmp_path: Path, old: str,
                                                                   new: str, reason: str) -> None:
    import_paths([CORVANE], session=session)
    session.commit()
    folder = _history_copy(tmp_path, (old, new))
    path = folder / "change_request.csv"
    line = _line_of(path, "CHG0030967")
    with pytest.raises(ImportFailed) as failed:
        import_paths([folder], session=session)
    session.rollback()
    assert f"{path}:{line}: {reason}" in [str(e) for e in failed.value.errors]
    assert session.scalar(sa.select(sa.func.count()).select_from(ChangeRequest)) == 5


def test_custom_close_codes_are_kept_as_their_value(session: Session, tmp_path: Path) -> None:
    import_paths([CORVANE], session=session)
    folder = _history_copy(tmp_path, ('"2025-06-03 08:22:54","Successful"', '"2025-06-03 08:22:54","Rolled back"'))
    import_paths([folder], session=session)
    session.commit()
    assert change(session, "CHG0030967").close_code == "rolled_back"


def test_departed_approver_stays_linked(loaded: Session) -> None:
    greg = loaded.scalars(sa.select(Person).where(Person.display_name == "Gregory Maddox")).one()
    decided = loaded.scalar(sa.select(sa.func.count()).select_from(Approval).where(
        Approval.person_id == greg.id, Approval.state.in_(("approved", "rejected"))))
    assert decided == 79
