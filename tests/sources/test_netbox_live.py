"""A change made in NetBox reaches chat answers after the worker's next scheduled sync, without a
restart; only what changed is fetched; a deleted object disappears; an outage keeps the last good
data and shows on /metrics."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from bot.bootstrap import build_worker
from bot.sources import runner
from bot.sources.registry import configured_sources
from bot.sources.schedule import job_id
from governance_store.importers import import_paths
from governance_store.lint import run_lint
from governance_store.models import SourceSync, System, SystemContact
from governance_store.sources.sync import SyncStatus
from handlers.reply import Actor, Command, Reply
from tests.conftest import CORVANE
from tests.core import handle_command
from tests.sources.conftest import NOW, LiveNetBox, Rig
from tests.sources.netbox_seed import Seeder

ME = Actor(person_id=None, display_name="test", platform="test")


def ask(rig: Rig, text: str) -> Reply:
    with rig.container.unit_of_work() as session:
        return handle_command(Command(text=text, actor=ME), session=session, now=NOW)


def contacts(reply: Reply) -> list[str]:
    return [f"{f.label}: {f.value.split(' · ')[0]}" for s in reply.sections for f in s.fields
            if f.label.startswith("NetBox")]


def wake(scheduler: object, source: str) -> None:
    """Bring the source's scheduled job forward to now (APScheduler runs on the wall clock; the job
    itself on the injected one)."""
    scheduler.modify_job(job_id(source), next_run_time=dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]


def wait_for_run(rig: Rig, source: str, after: object, timeout: float = 60.0) -> SourceSync:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rig.container.session_factory() as session:
            state = session.scalars(sa.select(SourceSync).where(SourceSync.source == source)).one_or_none()
            if state is not None and state.lease_owner is None and state.last_attempt_at != after:
                return state
        time.sleep(0.1)
    raise AssertionError(f"the {source} job did not run")


def test_a_netbox_change_shows_up_in_answers_after_the_next_scheduled_sync(make_rig, netbox: LiveNetBox) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(None, netbox)
    with rig.container.unit_of_work() as session:
        import_paths([CORVANE], session=session)  # the rest of the org, as exported by hand
    worker = build_worker(rig.container, senders=[])
    assert any(kwargs.get("id") == job_id("netbox") for _job, kwargs in worker.extra_jobs)
    worker.start(sweep=False)
    scheduler = worker.scheduler
    assert scheduler is not None
    try:
        # First scheduled run: the whole of NetBox (its devices join the CMDB items already imported).
        wake(scheduler, "netbox")
        first = wait_for_run(rig, "netbox", None)
        assert first.last_error is None and first.last_success_at == rig.clock.now
        assert contacts(ask(rig, "call fw-cell2-fdl-01")) == [
            "NetBox Operational contact (primary): Tom Brennan", "NetBox Security contact (primary): Hannah Kowalski",
            "NetBox Vendor Support contact (secondary): Fortinet TAC"]
        assert ask(rig, "who fw-cell3-fdl-01").data["status"] != "answered"

        # In NetBox: a new firewall for cell 3, and cell 2's operational contact handed to Sabine Vogel.
        api = netbox.api
        seeder = Seeder(api)
        old = api.dcim.devices.get(name="fw-cell2-fdl-01")
        new = api.dcim.devices.create(name="fw-cell3-fdl-01", device_type=old.device_type.id, role=old.role.id,
                                      site=old.site.id, location=old.location.id, status="active",
                                      serial="FGR60FTK23001234", description="OT Firewall Cell 3")
        seeder.address(new, "10.41.13.1/24", primary=True)
        tom = api.tenancy.contacts.get(name="Tom Brennan")
        sabine = api.tenancy.contacts.get(name="Sabine Vogel")
        assignment = api.tenancy.contact_assignments.get(object_id=old.id, contact_id=tom.id)
        assignment.contact = sabine.id
        assignment.save()

        # The next scheduled run, an hour later on the injected clock: no restart, only the changes fetched.
        rig.clock.advance(hours=1)
        wake(scheduler, "netbox")
        second = wait_for_run(rig, "netbox", first.last_attempt_at)
        assert second.last_error is None and second.last_change_at == rig.clock.now
        records = second.last_report["records"]
        assert records["devices"]["added"] == 1 and records["ip_addresses"]["added"] == 1
        assert records["contact_assignments"] == {"added": 0, "changed": 1, "removed": 0}
        assert "contacts" not in records or not any(records["contacts"].values())

        assert contacts(ask(rig, "call fw-cell2-fdl-01"))[0] == "NetBox Operational contact (primary): Sabine Vogel"
        reply = ask(rig, "who fw-cell3-fdl-01")
        assert reply.data["status"] == "answered" and reply.data["system"]["name"] == "fw-cell3-fdl-01"
        assert ask(rig, "who 10.41.13.1").data["system"]["name"] == "fw-cell3-fdl-01"
        with rig.container.unit_of_work() as session:
            lint = run_lint(session=session, now=rig.clock.now)
        assert any(f.code == "NOT_IN_CMDB" and f.subject == "10.41.13.1" for f in lint.findings)

        # Deleted in NetBox: gone after the next run (the id listing shows it is missing).
        new.delete()
        rig.clock.advance(hours=1)
        wake(scheduler, "netbox")
        third = wait_for_run(rig, "netbox", second.last_attempt_at)
        assert third.last_report["records"]["devices"]["removed"] == 1
        assert ask(rig, "who fw-cell3-fdl-01").data["status"] != "answered"
    finally:
        worker.stop()
        restore(netbox.api)


def restore(api: object) -> None:
    """Put NetBox back as the sample has it (the server is shared by this module's tests)."""
    for ip in api.ipam.ip_addresses.filter(address="10.41.13.1/24"):  # type: ignore[attr-defined]
        ip.delete()
    device = api.dcim.devices.get(name="fw-cell3-fdl-01")  # type: ignore[attr-defined]
    if device is not None:
        device.delete()
    cell2 = api.dcim.devices.get(name="fw-cell2-fdl-01")  # type: ignore[attr-defined]
    tom = api.tenancy.contacts.get(name="Tom Brennan")  # type: ignore[attr-defined]
    sabine = api.tenancy.contacts.get(name="Sabine Vogel")  # type: ignore[attr-defined]
    moved = api.tenancy.contact_assignments.get(object_id=cell2.id, contact_id=sabine.id)  # type: ignore[attr-defined]
    if moved is not None:
        moved.contact = tom.id
        moved.save()


def test_a_netbox_outage_keeps_the_last_good_data_and_is_reported(make_rig, netbox: LiveNetBox) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(None, netbox)
    with rig.container.unit_of_work() as session:
        import_paths([CORVANE], session=session)
    [source] = configured_sources(rig.container.settings, sleep=rig.slept.append)
    assert runner.run(rig.container, source, owner="t").status in (SyncStatus.SYNCED, SyncStatus.UNCHANGED)
    before = contacts(ask(rig, "call fw-idmz-fdl-01"))

    broken = make_rig(None, None, netbox_url="http://127.0.0.1:9", netbox_token="nbt_abc.def")
    [down] = configured_sources(broken.container.settings, sleep=broken.slept.append)
    broken.clock.advance(hours=26)
    report = runner.run(broken.container, down, owner="t")
    assert report.status is SyncStatus.FAILED and "unreachable" in (report.error or "")
    assert contacts(ask(rig, "call fw-idmz-fdl-01")) == before
    with rig.container.unit_of_work() as session:
        netbox_findings = [f for f in run_lint(session=session, now=broken.clock.now).findings
                           if f.code == "SOURCE_NOT_SYNCED"]
        assert session.scalar(sa.select(sa.func.count(SystemContact.id))) > 0
    assert [f.subject for f in netbox_findings] == ["NetBox"]
    assert "NetBox not synced for 26 h" in netbox_findings[0].evidence[0]


@pytest.mark.parametrize("dry_run", [True])
def test_a_dry_run_reports_and_writes_nothing(make_rig, netbox: LiveNetBox, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(None, netbox)
    with rig.container.unit_of_work() as session:
        import_paths([CORVANE], session=session)
        systems = session.scalar(sa.select(sa.func.count(System.id)))
    [source] = configured_sources(rig.container.settings, sleep=rig.slept.append)
    report = runner.run(rig.container, source, owner="t", dry_run=dry_run)
    assert report.status is SyncStatus.DRY_RUN and report.records["devices"]["added"] >= 6
    assert report.counts["system_sources"]["unchanged"] >= 6
    with rig.container.unit_of_work() as session:
        assert session.scalar(sa.select(sa.func.count(System.id))) == systems
        state = session.scalars(sa.select(SourceSync)).one()
        assert state.cursors == {} and state.last_success_at is None and state.lease_owner is None
