"""Each bottleneck rule on a made-up plant that is not the sample: other names, another board day, the
other side slow, another time zone.  Nothing in the rules may depend on the sample's people or weekdays."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from governance_store.analytics.bottlenecks import find
from governance_store.analytics.facts import ApprovalFact, ChangeFact, Era, Side

TZ = ZoneInfo("Asia/Tokyo")
ids = itertools.count(1)


def approval(change_id: int, number: str, person: str, role: str, requested: dt.datetime, days: float | None, *,
             side: Side | None = None, state: str = "approved", left_on: dt.date | None = None,
             rerouted_to: int | None = None, rerouted_from: int | None = None, aid: int | None = None) -> ApprovalFact:
    ended = requested + dt.timedelta(days=days) if days is not None else None
    return ApprovalFact(
        id=aid or next(ids), change_id=change_id, number=number, person_id=hash(person) % 1000, person=person,
        left_on=left_on, role=role, side=side, change_manager=role == "Change Board", state=state,
        requested_at=requested, ended_at=ended, hours=days * 24 if days is not None else None,
        business_days=days, ended_weekday=ended.astimezone(TZ).weekday() if ended else None,
        requested_weekday=requested.astimezone(TZ).weekday(), rerouted_to=rerouted_to, rerouted_from=rerouted_from,
    )


def change(approvals: list[ApprovalFact], cid: int, number: str, requested: dt.datetime, *, site: str = "JP-OSA",
           change_type: str = "normal") -> ChangeFact:
    decided = max((a.ended_at for a in approvals if a.decided and a.ended_at), default=None)
    hours = (decided - requested).total_seconds() / 3600 if decided else None
    return ChangeFact(
        id=cid, number=number, title="t", era=Era.HISTORY, site=site, change_type=change_type, purdue="2",
        risk="low", state="closed", system_id=1, system_name="PUMP-7", requested_at=requested, decided_at=decided,
        hours=hours, business_days=hours / 24 if hours else None, sla_target=None, approvals=tuple(approvals),
    )


def monday(week: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.UTC) + dt.timedelta(weeks=week)  # 10:00 Monday in Tokyo


def test_a_board_that_meets_on_thursdays() -> None:
    changes = []
    for week in range(12):
        cid, number = 100 + week, f"RFC{week:03d}"
        start = monday(week)
        changes.append(change([
            approval(cid, number, "Kenji Sato", "Line Engineer", start, 0.5, side=Side.OT),
            approval(cid, number, "Aiko Tanaka", "Change Board", start, 3.2),  # Thursday afternoon, Tokyo time
        ], cid, number, start))
    findings = find(changes, tz=TZ)
    (board,) = [f for f in findings if f.code == "decision_day"]
    assert board.title == "Change Board decides on Thursdays: changes wait for that day"
    assert board.figures["weekday"] == "Thu" and board.figures["decisions"] == 12
    assert len(board.changes) == 12
    assert findings[0] is board


def test_the_ot_side_can_be_the_slow_one() -> None:
    changes = []
    for n in range(6):
        cid, number = 200 + n, f"RFC2{n:02d}"
        start = monday(n) + dt.timedelta(days=1)
        changes.append(change([
            approval(cid, number, "Ops Lead", "OT Lead", start, 4.0, side=Side.OT),
            approval(cid, number, "Net Admin", "IT Network", start, 0.5, side=Side.IT),
        ], cid, number, start))
    (split,) = [f for f in find(changes, tz=TZ) if f.code == "it_ot_split"]
    assert "wait on the OT side" in split.title and split.people == ("Ops Lead",)
    assert split.evidence[0].startswith("JP-OSA: 6 changes; IT side median 0.5 bd")


@pytest.mark.parametrize("state", ["cancelled", "rerouted"])  # withdrawn in the source tool, or re-routed by govbot
def test_rerouting_away_from_someone_who_is_still_here(state: str) -> None:
    changes = []
    for n in range(3):
        cid, number = 300 + n, f"RFC3{n:02d}"
        start = monday(n) + dt.timedelta(days=2)
        new_id = 9000 + n
        first = approval(cid, number, "Busy Person", "Area Owner", start, 6.0, state=state, rerouted_to=new_id,
                         side=Side.OT)
        second = approval(cid, number, "Deputy", "Area Owner", first.ended_at, 1.0, rerouted_from=first.id,  # type: ignore[arg-type]
                          side=Side.OT, aid=new_id)
        changes.append(change([first, second], cid, number, start))
    (stalled,) = [f for f in find(changes, tz=TZ) if f.code == "stalled_until_rerouted"]
    assert stalled.title == "Approvals routed to Busy Person stalled until re-routed"
    assert "left" not in " ".join(stalled.evidence)
    assert stalled.figures["median_stall_cd"] == 6.0 and stalled.figures["median_total_cd"] == 7.0


def test_nothing_to_find_in_an_even_flow() -> None:
    changes = []
    for n in range(20):
        cid, number = 400 + n, f"RFC4{n:02d}"
        start = monday(n) + dt.timedelta(days=n % 5)
        changes.append(change([approval(cid, number, f"Approver {n % 4}", "Owner", start, 1.0 + (n % 3) / 10)],
                              cid, number, start))
    assert find(changes, tz=TZ) == []


def test_emergencies_do_not_make_a_cadence() -> None:
    changes = []
    for week in range(12):
        cid, number = 500 + week, f"EMG{week:03d}"
        start = monday(week)
        changes.append(change([approval(cid, number, "Night Manager", "Plant Manager", start, 0.04)], cid, number,
                              start, change_type="emergency"))
    assert find(changes, tz=TZ) == []
