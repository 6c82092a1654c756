"""Many due SLA timers, quickly: one change request submitted through the core, then cloned.

Used by the reliability tests and the sweep benchmark.  The first change is
submitted like a person would (preview, submit) so its approvals, timer and
escalation chain are real; the clones copy its rows with new numbers, which
takes a second for thousands of timers where submitting each would take
minutes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import db
from governance_store.models import Approval, ChangeRequest, ChatIdentity, OutboxMessage, Person, Timer
from handlers.reply import Action, Actor, Command
from notifications import sla
from tests.conftest import CORVANE, PG_URL
from tests.core import handle_action, handle_command

SUBMIT = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 EDT in Findlay
REQUESTER = "jessica.park@corvane.example"
CHANGE = 'change PLC-FIL-L3-07 "Firmware"'


def at_edt(hour: int, minute: int = 0, day: int = 4) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=dt.UTC) + dt.timedelta(hours=4)


@contextmanager
def pg_schema_with_org() -> Iterator[str]:
    """A fresh, migrated PostgreSQL schema holding the sample organisation; dropped afterwards."""
    from governance_store.importers import import_paths

    schema = f"govbot_rel_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        db.upgrade(PG_URL, schema=schema)
        engine = db.make_engine(PG_URL, schema=schema)
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            import_paths([CORVANE], session=session)
        engine.dispose()
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


def link_everyone_to_slack(factory: sessionmaker[Session]) -> dict[int, str]:
    """Give every person without a Slack account one (``U`` + id), so no send needs an e-mail look-up.

    Returns person id -> Slack user id for everybody.
    """
    with factory() as s, s.begin():
        linked = dict(s.execute(sa.select(ChatIdentity.person_id, ChatIdentity.external_id).where(
            ChatIdentity.platform == "slack", ChatIdentity.deleted.is_(False),
            ChatIdentity.person_id.is_not(None))).all())
        for pid, email, name in s.execute(sa.select(Person.id, Person.email, Person.display_name)).all():
            if pid not in linked:
                linked[pid] = f"UGB{pid:08d}"
                s.add(ChatIdentity(platform="slack", external_id=linked[pid], person_id=pid, email=email,
                                   display_name=name))
    return linked


def submit_one(factory: sessionmaker[Session], at: dt.datetime = SUBMIT) -> int:
    with factory() as s, s.begin():
        p = s.scalar(sa.select(Person).where(Person.email == REQUESTER))
        who = Actor(p.id, p.display_name, "test", p.email)
        preview = handle_command(Command(text=CHANGE, actor=who), session=s, now=at)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, who), session=s, now=at)
    return int(cid)


def make_due_timers(factory: sessionmaker[Session], count: int, *, start_at: str | None = None,
                    at: dt.datetime = SUBMIT) -> list[int]:
    """``count`` submitted changes, each with its approval timer (consult timers are left out).

    ``start_at`` (an event key such as ``"escalate:L2"``) moves every timer to
    that step, as if the earlier ones had been handled, so each timer then
    fires exactly that event.  The messages of the submission are marked sent.
    Returns the timer ids.
    """
    first = submit_one(factory, at)
    with factory() as s, s.begin():
        s.execute(sa.update(OutboxMessage).values(status="sent", sent_at=at))
        s.execute(sa.delete(Timer).where(Timer.change_id == first, Timer.kind != sla.APPROVAL))
        timer = s.scalar(sa.select(Timer).where(Timer.change_id == first))
        cr = s.get(ChangeRequest, first)
        if start_at is not None:
            evs = sla.events(timer, cr, session=s)
            step = next(i for i, e in enumerate(evs) if e.key == start_at)
            timer.step, timer.due_at = step, evs[step].at
        s.flush()
        cr_cols = [c.key for c in ChangeRequest.__table__.columns if c.key not in ("id", "number", "external_id")]
        ap_cols = [c.key for c in Approval.__table__.columns if c.key not in ("id", "change_id", "external_id")]
        tm_cols = [c.key for c in Timer.__table__.columns if c.key not in ("id", "change_id", "subject_key", "approval_id")]
        cr_row = {k: getattr(cr, k) for k in cr_cols}
        approvals = [{k: getattr(a, k) for k in ap_cols} for a in s.scalars(
            sa.select(Approval).where(Approval.change_id == first)).all()]
        tm_row = {k: getattr(timer, k) for k in tm_cols}
        ids = [timer.id]
        batch = 500
        for offset in range(1, count, batch):
            n = min(batch, count - offset)
            new_ids = s.scalars(sa.insert(ChangeRequest).returning(ChangeRequest.id), [
                {**cr_row, "number": f"{cr.number}-{offset + i:05d}"} for i in range(n)]).all()
            s.execute(sa.insert(Approval), [{**a, "change_id": c} for c in new_ids for a in approvals])
            ids += s.scalars(sa.insert(Timer).returning(Timer.id), [
                {**tm_row, "change_id": c, "subject_key": f"cr:{c}"} for c in new_ids]).all()
    return ids


def fall_due(factory: sessionmaker[Session], timer_ids: list[int], instants: list[dt.datetime], *,
             event: str = "escalate:L2") -> dict[int, dt.datetime]:
    """Move timers made by ``make_due_timers`` so that ``event`` is their next step and falls due at
    ``instants`` on a 24x7 clock, in one transaction (as a rescheduling would).  Returns change id -> instant."""
    with factory() as s, s.begin():
        first = s.get(Timer, timer_ids[0])
        data = {**first.data, "schedule": "24x7"}
        first.data = data
        evs = sla.events(first, s.get(ChangeRequest, first.change_id), session=s)
        step = next(i for i, e in enumerate(evs) if e.key == event)
        offset = evs[step].at - first.started_at
        table = Timer.__table__
        s.connection().execute(
            sa.update(table).where(table.c.id == sa.bindparam("tid")).values(
                due_at=sa.bindparam("due"), started_at=sa.bindparam("started"), step=step, state="pending",
                data=data),
            [{"tid": tid, "due": at, "started": at - offset} for tid, at in zip(timer_ids, instants, strict=True)])
        changes = dict(s.execute(sa.select(Timer.id, Timer.change_id).where(Timer.id.in_(timer_ids))).all())
    return {changes[tid]: at for tid, at in zip(timer_ids, instants, strict=True)}
