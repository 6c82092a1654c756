"""``govbot export changes``: what changed in govbot as a ServiceNow import set, written as CSV and pushed
with pysnc into a fake instance that checks every request the way the Table API does."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.servicenow_push import PushError, push
from governance_store import writeback
from governance_store.models import Attestation, OwnershipRequest, Person, System, TrackedGap
from governance_store.ownership_policy import DEFAULT_POLICY
from handlers.reply import Action, Actor, Command
from notifications.ownership import start_campaign, sync_and_announce
from tests.core import handle_action, handle_command
from tests.writeback.fake_table_api import FakeInstance

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
TABLE = "u_govbot_ownership_import"
USER, PASSWORD = "govbot.integration", "s3cret-for-the-fake"


def who(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def _changes_in_govbot(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=NOW, policy=DEFAULT_POLICY, started_by="test")
        sync_and_announce(session=s, now=NOW, policy=DEFAULT_POLICY)

        def att(name: str) -> str:
            return str(s.scalars(sa.select(Attestation.id).join(System).where(System.name == name)).one())

        luis = who(s, "luis.ortega@corvane.example")
        handle_action(Action("att.mine", att("PLC-FIL-L3-07"), luis), session=s, now=NOW + dt.timedelta(hours=1))
        handle_action(Action("att.retired", att("HMI-FIL-L1-04"), who(s, "brian.caldwell@corvane.example")), session=s,
                      now=NOW + dt.timedelta(hours=2))
        handle_command(Command("transfer FS-FDL-01 to Tom Brennan", who(s, "marcus.lee@corvane.example")), session=s,
                       now=NOW + dt.timedelta(hours=3))
        req = s.scalars(sa.select(OwnershipRequest)).one()
        handle_action(Action("own.accept", str(req.id), who(s, "tom.brennan@corvane.example")), session=s,
                      now=NOW + dt.timedelta(hours=4))
        ewon = s.scalars(sa.select(TrackedGap).where(TrackedGap.code == "NOT_IN_CMDB")).one()
        handle_action(Action("gap.fix", f"{ewon.id}:known:", who(s, "lukas.brandl@corvane.example")), session=s,
                      now=NOW + dt.timedelta(hours=5))
        team = s.scalars(sa.select(TrackedGap).where(TrackedGap.code == "UNKNOWN_TEAM")).one()
        button = next(o for o in handle_command(Command("gaps", luis), session=s, now=NOW).buttons
                      if o.value.startswith(f"{team.id}:use_team:") and o.label == "Use OT Engineering - Findlay")
        handle_action(Action("gap.fix", button.value, luis), session=s, now=NOW + dt.timedelta(hours=6))


def test_the_changes_since_a_date_as_an_import_set(org: sessionmaker[Session]) -> None:
    _changes_in_govbot(org)
    with org() as s:
        rows = {r.values["u_name"]: r.values for r in writeback.changes_since(session=s, since=NOW)}
        later = writeback.changes_since(session=s, since=NOW + dt.timedelta(hours=2, minutes=30))
    assert set(rows) == {"PLC-FIL-L3-07", "HMI-FIL-L1-04", "FS-FDL-01", "10.42.11.250", "PLC-CIP-01", "EWS-FDL-01"}
    plc = rows["PLC-FIL-L3-07"]
    assert (plc["u_sys_id"], plc["u_operation"], plc["u_owned_by"]) == (
        "6f24307cd2c57f3d3030aa1d4c3a63f5", "update", "luis.ortega@corvane.example")
    assert plc["u_changed_by"] == "luis.ortega@corvane.example" and plc["u_changed_at"] == "2025-06-04 15:00:00"
    assert rows["HMI-FIL-L1-04"]["u_install_status"] == "Retired"
    assert rows["FS-FDL-01"]["u_owned_by"] == "tom.brennan@corvane.example"
    ewon = rows["10.42.11.250"]
    assert (ewon["u_sys_id"], ewon["u_operation"], ewon["u_ip_address"]) == ("", "insert", "10.42.11.250")
    assert rows["PLC-CIP-01"]["u_support_group"] == rows["PLC-CIP-01"]["u_assignment_group"] == "OT Engineering - Findlay"
    assert {r.values["u_name"] for r in later} == {"FS-FDL-01", "10.42.11.250", "PLC-CIP-01", "EWS-FDL-01"}


def test_the_csv_neutralises_cells_a_spreadsheet_would_run(org: sessionmaker[Session]) -> None:
    _changes_in_govbot(org)
    with org() as s, s.begin():
        s.scalars(sa.select(System).where(System.name == "FS-FDL-01")).one().name = '=HYPERLINK("http://x","y")'
    with org() as s:
        out = io.StringIO()
        writeback.write(out, writeback.changes_since(session=s, since=NOW))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(writeback.COLUMNS)
    assert "'=HYPERLINK(\"http://x\",\"y\")" in {r["u_name"] for r in rows}


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[tuple[FakeInstance, Path]]:
    fake = FakeInstance(USER, PASSWORD)
    fake.table(TABLE)
    cert = await fake.start(tmp_path)
    yield fake, cert
    await fake.stop()


async def test_a_push_inserts_each_change_once_through_the_table_api(
        org: sessionmaker[Session], instance: tuple[FakeInstance, Path]) -> None:
    import asyncio

    fake, cert = instance
    _changes_in_govbot(org)
    with org() as s:
        rows = writeback.changes_since(session=s, since=NOW)
    result = await asyncio.to_thread(push, rows, instance=fake.url, user=USER, password=PASSWORD, table=TABLE,
                                     ca_file=cert)
    assert (result.sent, result.already_there, result.failed) == (len(rows), 0, [])
    stored = {r["u_source_key"]: r for r in fake.tables[TABLE].values()}
    assert set(stored) == {r.key for r in rows}
    assert stored[next(r.key for r in rows if r.values["u_name"] == "FS-FDL-01")]["u_owned_by"] == \
        "tom.brennan@corvane.example"
    # Every request was one the Table API accepts: the table's path, known parameters, JSON bodies.
    assert {r.status for r in fake.requests} <= {200, 201}
    assert all(r.path == f"/api/now/table/{TABLE}" for r in fake.requests)
    assert all(isinstance(r.body, dict) and r.body["u_source_key"] for r in fake.requests if r.method == "POST")
    # Pushing again sends nothing twice.
    again = await asyncio.to_thread(push, rows, instance=fake.url, user=USER, password=PASSWORD, table=TABLE,
                                    ca_file=cert)
    assert (again.sent, again.already_there) == (0, len(rows)) and len(fake.tables[TABLE]) == len(rows)


async def test_a_refused_push_says_why_and_inserts_nothing(
        org: sessionmaker[Session], instance: tuple[FakeInstance, Path]) -> None:
    import asyncio

    fake, cert = instance
    _changes_in_govbot(org)
    with org() as s:
        rows = writeback.changes_since(session=s, since=NOW)
    with pytest.raises(PushError, match="refused govbot.integration"):
        await asyncio.to_thread(push, rows, instance=fake.url, user=USER, password="wrong", table=TABLE, ca_file=cert)
    result = await asyncio.to_thread(push, rows, instance=fake.url, user=USER, password=PASSWORD,
                                     table="u_no_such_table", ca_file=cert)
    assert result.sent == 0 and len(result.failed) == len(rows) and "Invalid table" in result.failed[0][1]
    with pytest.raises(PushError, match="https"):
        await asyncio.to_thread(push, rows, instance=fake.url.replace("https", "http"), user=USER, password=PASSWORD,
                                table=TABLE)
    assert fake.tables[TABLE] == {}
    # Requests the Table API would refuse are refused by the fake too.
    import requests

    base = f"{fake.url}/api/now/table/{TABLE}"

    def status(method: str, url: str, **kw: object) -> int:
        return requests.request(method, url, auth=(USER, PASSWORD), verify=str(cert), timeout=10, **kw).status_code  # type: ignore[arg-type]

    # (in a thread: the fake answers on this test's event loop)
    assert await asyncio.to_thread(status, "GET", base, params={"sysparm_bogus": "1"}) == 400
    assert await asyncio.to_thread(status, "GET", base, params={"sysparm_display_value": "maybe"}) == 400
    assert await asyncio.to_thread(status, "POST", base, data="not json",
                                   headers={"Content-Type": "application/json"}) == 400
    assert await asyncio.to_thread(status, "POST", base, json=["a list"]) == 400
    assert await asyncio.to_thread(status, "GET", f"{fake.url}/api/now/v2/other") == 400
    assert await asyncio.to_thread(status, "GET", base, params={"sysparm_limit": "ten"}) == 400


async def test_govbot_export_changes_writes_the_file_and_pushes(
        org: sessionmaker[Session], db_target: tuple[str, str | None], instance: tuple[FakeInstance, Path],
        tmp_path: Path) -> None:
    import asyncio

    fake, cert = instance
    _changes_in_govbot(org)
    url, schema = db_target
    env = {"GOVBOT_DATABASE_URL": url, "GOVBOT_DATABASE_SCHEMA": schema or "", "GOVBOT_SERVICENOW_INSTANCE": fake.url,
           "GOVBOT_SERVICENOW_USER": USER, "GOVBOT_SERVICENOW_PASSWORD": PASSWORD,
           "GOVBOT_SERVICENOW_CA_BUNDLE": str(cert)}
    out = tmp_path / "changes.csv"
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, main, ["export", "changes", "--since", "2025-06-04", "--out",
                                                           str(out), "--push"], env=env)
    assert result.exit_code == 0, result.output
    assert "6 changed system(s)" in result.output and "pushed 6 row(s)" in result.output
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 6 and len(fake.tables[TABLE]) == 6
    bad = await asyncio.to_thread(runner.invoke, main, ["export", "changes", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "is not a date" in bad.output
    missing = await asyncio.to_thread(runner.invoke, main, ["export", "changes", "--since", "2025-06-04", "--push"],
                                      env={**env, "GOVBOT_SERVICENOW_USER": ""})
    assert missing.exit_code == 1 and "GOVBOT_SERVICENOW_USER" in missing.output
