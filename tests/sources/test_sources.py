"""ServiceNow, Entra ID (Graph) and Slack connectors against fakes that follow the published APIs:
incremental fetches, deletions, paging, rate limits, all-or-nothing runs, crash and lease safety,
held facts, /metrics, the dashboard and the CLI."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from bot.slack.directory import SlackDirectoryConnector
from bot.sources import runner
from bot.sources.registry import Configured, configured_sources
from bot.sources.servicenow import ServiceNowConnector
from governance_store.importers import import_paths
from governance_store.importers.holds import Hold
from governance_store.lint import run_lint
from governance_store.models import Person, SourceRecord, SourceSync, System, Team, TeamMember
from governance_store.sources import state as sync_state
from governance_store.sources.sync import SyncStatus, sync_source
from handlers.reply import Actor, Command
from tests.core import handle_command
from tests.sources.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    SLACK_TOKEN,
    SN_PASSWORD,
    SN_USER,
    TENANT,
    Fakes,
    Rig,
    governance_files,
    place_files,
)

ME = Actor(person_id=None, display_name="test", platform="test")


def sources(rig: Rig, *names: str) -> list[Configured]:
    found = configured_sources(rig.container.settings, sleep=rig.slept.append)
    return [s for s in found if not names or s.connector.name in names]


def one(rig: Rig, name: str) -> Configured:
    [source] = sources(rig, name)
    return source


def org(rig: Rig) -> None:
    """The sample org built from the fakes (no NetBox) and the spreadsheets."""
    with rig.container.unit_of_work() as session:
        import_paths(place_files(), session=session)
    reports = runner.run_all(rig.container, sources(rig), owner="setup")
    assert [r.status for r in reports] == [SyncStatus.SYNCED] * 3, [r.error for r in reports]
    with rig.container.unit_of_work() as session:
        import_paths(governance_files(), session=session)


def ask(rig: Rig, text: str) -> dict[str, Any]:
    with rig.container.unit_of_work() as session:
        return handle_command(Command(text=text, actor=ME), session=session, now=NOW).data


def state(rig: Rig, source: str) -> SourceSync:
    with rig.container.session_factory() as session:
        return session.scalars(sa.select(SourceSync).where(SourceSync.source == source)).one()


def with_page(rig: Rig, configured: Configured, page: int) -> Configured:
    """The same source, read in small pages (the sample is small)."""
    s = rig.container.settings
    conn = configured.connector
    if isinstance(conn, ServiceNowConnector):
        conn = ServiceNowConnector(s.servicenow_instance or "", SN_USER, SN_PASSWORD, ca_bundle=s.servicenow_ca_bundle,
                                   sleep=rig.slept.append, page=page)
    elif isinstance(conn, SlackDirectoryConnector):
        conn = SlackDirectoryConnector(SLACK_TOKEN, base_url=s.slack_api_url, sleep=rig.slept.append, page=page)
    return Configured(conn, configured.interval_seconds)


# --------------------------------------------------------------------------- ServiceNow


def test_servicenow_fetches_only_what_changed_and_drops_what_was_deleted(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    org(rig)
    sn = fakes.servicenow
    assert ask(rig, "who PLC-CIP-01")["owner"]["name"] == "Brian Caldwell"
    # Reassign the CI's owner and delete a CI, as people do in the instance.
    plc = sn.by("cmdb_ci", "name", "PLC-CIP-01")
    luis = sn.by("sys_user", "name", "Luis Ortega")
    sn.set("cmdb_ci", plc, owned_by=(luis, "Luis Ortega"))
    sn.delete("cmdb_ci", sn.by("cmdb_ci", "name", "Nozomi Vantage"))
    before = len(sn.seen)
    report = runner.run(rig.container, with_page(rig, one(rig, "servicenow"), 5), owner="t")
    assert report.status is SyncStatus.SYNCED, report.error
    assert report.records["cmdb_ci"] == {"added": 0, "changed": 1, "removed": 1}
    calls = sn.seen[before:]
    changed = [c for c in calls if c.path.endswith("/cmdb_ci") and "sys_updated_on>=" in c.query.get("sysparm_query", "")]
    assert changed and all(c.query["sysparm_display_value"] == "all" for c in changed)
    listing = [c for c in calls if c.path.endswith("/cmdb_ci") and c.query.get("sysparm_fields") == "sys_id"]
    assert listing and int(listing[-1].query["sysparm_limit"]) > 5
    # The whole user table in pages of 5, following X-Total-Count.
    offsets = sorted(int(c.query["sysparm_offset"]) for c in calls if c.path.endswith("/sys_user")
                     and c.query.get("sysparm_fields") != "sys_id")
    assert len(offsets) > 1 and offsets == list(range(0, 5 * len(offsets), 5))  # pages of 5
    assert ask(rig, "who PLC-CIP-01")["owner"]["name"] == "Luis Ortega"
    assert ask(rig, "who Nozomi Vantage")["status"] != "answered"


def test_a_record_that_does_not_validate_fails_the_whole_run_and_names_the_record(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    org(rig)
    sn = fakes.servicenow
    with rig.container.session_factory() as session:
        records = session.scalar(sa.select(sa.func.count(SourceRecord.id)))
    cursors = state(rig, "servicenow").cursors
    plc = sn.by("cmdb_ci", "name", "PLC-CIP-01")
    level = ask(rig, "who PLC-CIP-01")["system"]["purdue_level"]
    sn.set("cmdb_ci", plc, u_purdue_level=("7", "7"))
    sn.set("cmdb_ci", sn.by("cmdb_ci", "name", "SIS-NH3-01"), owned_by=("0" * 32, ""))
    report = runner.run(rig.container, one(rig, "servicenow"), owner="t")
    assert report.status is SyncStatus.FAILED
    assert f"ServiceNow cmdb_ci sys_id={plc} (PLC-CIP-01): u_purdue_level: invalid Purdue level '7'" in (report.error or "")
    assert "(SIS-NH3-01): owned_by: no ServiceNow user with sys_id 000" in (report.error or "")
    with rig.container.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count(SourceRecord.id))) == records
    after = state(rig, "servicenow")
    assert after.cursors == cursors and after.failures == 1 and after.last_error == report.error
    assert ask(rig, "who PLC-CIP-01")["system"]["purdue_level"] == level


# --------------------------------------------------------------------------- Entra ID


def test_entra_delta_rounds_bring_only_changes(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    org(rig)
    graph = fakes.graph
    first = [s for s in graph.seen if s.path.endswith("/users/delta")]
    assert len(first) >= 5 and "$skiptoken" in first[1].query  # the sample in pages of 7
    jessica = graph.user_id("jessica.park@corvane.example")
    tom = graph.user_id("tom.brennan@corvane.example")
    ray = next(uid for uid, u in graph.users.items() if "#EXT#" in u["userPrincipalName"])
    graph.change_user(jessica, department="OT Engineering Regensburg", preferredLanguage="de-DE")
    graph.change_user(tom, accountEnabled=False)
    graph.remove_user(ray)
    group = graph.group_id("OT Security")
    graph.add_member(group, jessica)
    before = len(graph.seen)
    report = runner.run(rig.container, one(rig, "entra"), owner="t")
    assert report.status is SyncStatus.SYNCED, report.error
    assert report.records["users"] == {"added": 0, "changed": 3, "removed": 0}
    assert report.records["groups"] == {"added": 0, "changed": 1, "removed": 0}
    delta_calls = [s for s in graph.seen[before:] if s.path.endswith("/delta")]
    assert all("$deltatoken" in s.query for s in delta_calls) and len(delta_calls) == 2
    with rig.container.session_factory() as session:
        def person(email: str) -> Person:
            return session.scalars(sa.select(Person).where(Person.email == email)).one()

        assert person("jessica.park@corvane.example").department == "OT Engineering Regensburg"
        assert person("jessica.park@corvane.example").sources["entra"]["preferred_language"] == "de-DE"
        assert person("tom.brennan@corvane.example").active is False
        assert session.scalars(sa.select(Person).where(Person.aad_object_id == ray)).one().active is False
        team = session.scalars(sa.select(Team).where(Team.name == "OT Security")).one()
        members = set(session.scalars(sa.select(TeamMember.person_id).where(TeamMember.team_id == team.id)))
        assert person("jessica.park@corvane.example").id in members


def test_an_expired_delta_link_starts_a_full_round(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    org(rig)
    with rig.container.unit_of_work() as session:
        row = sync_state.row(session, "entra")
        row.cursors = {k: {"delta_link": f"{fakes.graph.base}/v1.0/{k}/delta?$deltatoken=expired"}
                       for k in ("users", "groups")}
    before = len(fakes.graph.seen)
    report = runner.run(rig.container, one(rig, "entra"), owner="t")
    assert report.status is SyncStatus.UNCHANGED, report.error
    statuses = [s.status for s in fakes.graph.seen[before:] if s.path.endswith("/delta")]
    assert statuses[0] == 410 and statuses[-1] == 200
    assert "expired" not in str(state(rig, "entra").cursors)


# --------------------------------------------------------------------------- rate limits, outages, /metrics


@pytest.mark.parametrize("which", ["servicenow", "entra", "slack"])
def test_rate_limits_are_waited_out_for_the_time_the_source_names(make_rig, fakes: Fakes, which: str) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    with rig.container.unit_of_work() as session:
        import_paths(place_files(), session=session)
    runner.run_all(rig.container, [s for s in sources(rig) if s.connector.name != which], owner="t")
    fake = {"servicenow": fakes.servicenow, "entra": fakes.graph, "slack": fakes.slack}[which]
    body = {"ok": False, "error": "ratelimited"} if which == "slack" else None
    fake.fail_next(2, status=429, retry_after="7", body=body)
    rig.slept.clear()
    report = runner.run(rig.container, one(rig, which), owner="t")
    assert report.status is SyncStatus.SYNCED, report.error
    assert [round(s) for s in rig.slept[:2]] == [7, 7]
    assert [s.status for s in fake.seen if not s.path.endswith("/token")][:2] == [429, 429]


def test_a_retry_after_is_capped(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes, sync_max_retry_after_seconds=30)
    fakes.slack.fail_next(1, status=429, retry_after="86400", body={"ok": False, "error": "ratelimited"})
    report = runner.run(rig.container, one(rig, "slack"), owner="t")
    assert report.status is SyncStatus.SYNCED and rig.slept == [30]


def test_an_outage_keeps_answers_and_shows_on_metrics_and_in_the_lint(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from bot.dashboard.app import DashboardMount
    from bot.dashboard.metrics import MetricsMount
    from bot.web import create_app

    rig = make_rig(fakes, servicenow_sync_minutes=60)
    org(rig)
    before = ask(rig, "who PLC-FIL-L3-07")
    fakes.servicenow.down = True
    rig.clock.advance(hours=26)
    for other in sources(rig, "entra", "slack"):  # the other sources are up and keep syncing
        assert runner.run(rig.container, other, owner="t").status is SyncStatus.UNCHANGED
    report = runner.run(rig.container, one(rig, "servicenow"), owner="t")
    assert report.status is SyncStatus.FAILED and "HTTP 503" in (report.error or "")
    assert ask(rig, "who PLC-FIL-L3-07") == before
    with rig.container.session_factory() as session:
        stale = [f for f in run_lint(session=session, now=rig.clock.now).findings if f.code == "SOURCE_NOT_SYNCED"]
    assert [f.subject for f in stale] == ["ServiceNow"]
    assert stale[0].evidence[0].startswith("ServiceNow not synced for 26 h")
    assert "HTTP 503" in stale[0].evidence[1]

    async def scrape() -> tuple[str, str]:
        app = create_app(rig.container, slack=None, mounts=[MetricsMount(rig.container), DashboardMount(rig.container)])
        async with TestClient(TestServer(app)) as client:
            metrics = await (await client.get("/metrics")).text()
            page = await (await client.get("/sources")).text()
        return metrics, page

    metrics, page = asyncio.run(scrape())
    assert 'govbot_source_up{source="servicenow"} 0' in metrics
    assert 'govbot_source_up{source="entra"} 1' in metrics
    assert f'govbot_source_lag_seconds{{source="servicenow"}} {26 * 3600}' in metrics
    assert 'govbot_source_overdue{source="servicenow"} 1' in metrics
    assert 'govbot_source_consecutive_failures{source="servicenow"} 1' in metrics
    assert "ServiceNow" in page and "overdue" in page and "HTTP 503" in page and "26 h ago" in page


# --------------------------------------------------------------------------- crashes, leases, holds


def test_a_crash_after_fetching_writes_nothing_and_the_rerun_doubles_nothing(make_rig, fakes: Fakes,  # type: ignore[no-untyped-def]
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(fakes)
    with rig.container.unit_of_work() as session:
        import_paths(place_files(), session=session)
    entra = one(rig, "entra")

    def crash(records: Any) -> Any:
        raise RuntimeError("process killed while applying")

    monkeypatch.setattr(entra.connector, "files", crash)
    report = runner.run(rig.container, entra, owner="t")
    assert report.status is SyncStatus.FAILED and "process killed" in (report.error or "")
    with rig.container.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count(SourceRecord.id))) == 0
        assert session.scalar(sa.select(sa.func.count(Person.id))) == 0
    assert state(rig, "entra").cursors == {} and state(rig, "entra").lease_owner is None
    monkeypatch.undo()
    for _ in range(2):
        assert runner.run(rig.container, one(rig, "entra"), owner="t").status in (SyncStatus.SYNCED,
                                                                                   SyncStatus.UNCHANGED)
    with rig.container.session_factory() as session:
        users = len(fakes.graph.users)
        assert session.scalar(sa.select(sa.func.count(SourceRecord.id)).where(SourceRecord.collection == "users")) == users
        assert session.scalar(sa.select(sa.func.count(Person.id))) == users


def test_one_runner_per_source_and_a_dead_runners_lease_runs_out(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    slack = one(rig, "slack")
    with rig.container.unit_of_work() as session:
        assert sync_state.acquire(session, "slack", owner="replica-a", now=rig.clock.now, seconds=600)
    report = runner.run(rig.container, slack, owner="replica-b")
    assert report.status is SyncStatus.BUSY and not fakes.slack.requests("users.list")
    rig.clock.advance(seconds=601)  # replica-a died holding the lease
    assert runner.run(rig.container, slack, owner="replica-b").status is SyncStatus.SYNCED

    # Two runners at once: exactly one syncs.
    rig.clock.advance(hours=1)
    barrier = threading.Barrier(2)
    results: list[SyncStatus] = []

    def go(owner: str) -> None:
        barrier.wait()
        results.append(runner.run(rig.container, one(rig, "slack"), owner=owner).status)

    threads = [threading.Thread(target=go, args=(f"r{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted([SyncStatus.BUSY, SyncStatus.UNCHANGED]) or \
        results.count(SyncStatus.UNCHANGED) == 2  # the second may start after the first finished


def test_facts_confirmed_in_govbot_are_held(make_rig, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    org(rig)
    sn = fakes.servicenow
    with rig.container.session_factory() as session:
        plc = session.scalars(sa.select(System).where(System.name == "PLC-CIP-01")).one()
    import governance_store.sources.sync as sync_module

    monkeypatch.setattr(sync_module, "confirmed_facts", lambda *, session, source: [
        Hold("systems", plc.id, frozenset({"owner_id"}), "owner attested in govbot")])
    sn.set("cmdb_ci", sn.by("cmdb_ci", "name", "PLC-CIP-01"), owned_by=(sn.by("sys_user", "name", "Luis Ortega"),
                                                                         "Luis Ortega"),
           u_alias=("CIP skid PLC (attested)", "CIP skid PLC (attested)"))
    report = runner.run(rig.container, one(rig, "servicenow"), owner="t")
    assert report.status is SyncStatus.SYNCED and report.held == {"systems": 1} and report.totals()["held"] == 1
    data = ask(rig, "who PLC-CIP-01")
    assert data["owner"]["name"] == "Brian Caldwell"  # held: the CMDB's new owner is not taken


# --------------------------------------------------------------------------- secrets, fakes, CLI


def test_credentials_are_never_logged_nor_recorded(make_rig, fakes: Fakes, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    rig = make_rig(fakes)
    org(rig)
    wrong = make_rig(fakes, servicenow_password="wrong-pass-also-secret", entra_client_secret="wrong-entra-secret",
                     slack_bot_token="xoxb-wrong-token-secret")
    reports = runner.run_all(wrong.container, sources(wrong), owner="t")
    assert [r.status for r in reports] == [SyncStatus.FAILED] * 3
    assert "invalid_client" in (reports[0].error or "") and "User Not Authenticated" in (reports[1].error or "")
    assert "invalid_auth" in (reports[2].error or "")
    with rig.container.session_factory() as session:
        recorded = " ".join(str(s.last_error) + str(s.last_report) + str(s.cursors)
                            for s in session.scalars(sa.select(SourceSync)))
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in (SN_PASSWORD, CLIENT_SECRET, SLACK_TOKEN, "wrong-pass-also-secret", "wrong-entra-secret",
                   "xoxb-wrong-token-secret"):
        assert secret not in logged and secret not in recorded
        assert secret not in repr(rig.container.settings) + repr(wrong.container.settings)


def test_source_credentials_come_from_secret_files(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import Settings

    (tmp_path / "govbot_netbox_token").write_text("nbt_key.from-a-file")
    (tmp_path / "govbot_servicenow_password").write_text("sn-from-a-file")
    (tmp_path / "govbot_entra_client_secret").write_text("entra-from-a-file")
    settings = Settings(_env_file=None, _secrets_dir=str(tmp_path))  # type: ignore[call-arg]
    assert settings.netbox_token is not None and settings.netbox_token.get_secret_value() == "nbt_key.from-a-file"
    assert settings.servicenow_password is not None and settings.entra_client_secret is not None
    assert "from-a-file" not in repr(settings) and "from-a-file" not in str(settings.model_dump())
    monkeypatch.setenv("GOVBOT_NETBOX_TOKEN", "changeme")
    with pytest.raises(ValueError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_fakes_refuse_malformed_calls_as_the_real_apis_do(fakes: Fakes) -> None:
    sn = f"{fakes.servicenow.base}/api/now/table"
    get = requests.get
    ca = fakes.ca_bundle
    assert get(f"{sn}/cmdb_ci", verify=ca).status_code == 401
    assert get(f"{sn}/cmdb_ci", auth=(SN_USER, "nope"), verify=ca).json()["error"]["message"] == "User Not Authenticated"
    bad_table = get(f"{sn}/cmdb_nothing", auth=(SN_USER, SN_PASSWORD), verify=ca)
    assert bad_table.status_code == 400 and bad_table.json()["status"] == "failure"
    assert get(f"{sn}/cmdb_ci", params={"sysparm_limit": "ten"}, auth=(SN_USER, SN_PASSWORD), verify=ca).status_code == 400
    assert get(f"{sn}/cmdb_ci", params={"sysparm_query": "u_nothing=1"}, auth=(SN_USER, SN_PASSWORD),
               verify=ca).status_code == 400
    paged = get(f"{sn}/sys_user", params={"sysparm_limit": "10", "sysparm_offset": "10"}, auth=(SN_USER, SN_PASSWORD),
                verify=ca)
    assert paged.headers["X-Total-Count"] == "30" and 'rel="next"' in paged.headers["Link"]
    with pytest.raises(requests.exceptions.SSLError):
        get(f"{sn}/sys_user", auth=(SN_USER, SN_PASSWORD))  # a certificate nobody trusts is refused

    graph = fakes.graph.base
    assert get(f"{graph}/v1.0/users/delta").json()["error"]["code"] == "InvalidAuthenticationToken"
    token = requests.post(f"{graph}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    bad = get(f"{graph}/v1.0/users/delta", params={"$select": "id,shoeSize"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_BadRequest"
    assert get(f"{graph}/v1.0/users/delta", params={"$deltatoken": "made-up"}, headers=auth).status_code == 410
    assert requests.post(f"{graph}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x",
        "scope": "https://graph.microsoft.com/.default"}).json()["error"] == "invalid_client"

    slack = f"{fakes.slack.base}/api/users.list"
    assert get(slack, headers={"Authorization": "Bearer xoxb-wrong"}).json() == {"ok": False, "error": "invalid_auth"}
    assert get(slack, params={"cursor": "bogus"}, headers={"Authorization": f"Bearer {SLACK_TOKEN}"}).json()["error"] \
        == "invalid_cursor"


def test_slack_users_are_read_page_by_page(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    report = runner.run(rig.container, with_page(rig, one(rig, "slack"), 10), owner="t")
    assert report.status is SyncStatus.SYNCED and report.records["users"]["added"] == len(fakes.slack.members)
    calls = fakes.slack.requests("users.list")
    params = [{**c.query, **c.body} for c in calls]
    assert len(calls) == 4 and "cursor" not in params[0] and all("cursor" in p for p in params[1:])
    assert all(p["limit"] == "10" for p in params)


def test_govbot_sync_by_hand(make_rig, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    settings = rig.container.settings
    env = {"GOVBOT_DATABASE_URL": settings.database_url, "GOVBOT_DEV_MODE": "true",
           "GOVBOT_SLACK_BOT_TOKEN": SLACK_TOKEN, "GOVBOT_SLACK_API_URL": settings.slack_api_url,
           "GOVBOT_SLACK_SYNC_USERS": "true"}
    if settings.database_schema:
        env["GOVBOT_DATABASE_SCHEMA"] = settings.database_schema
    cli = CliRunner()
    dry = cli.invoke(main, ["sync", "slack", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.output and "chat_identities" in dry.output
    done = cli.invoke(main, ["sync", "all", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert '"status": "synced"' in done.output
    status = cli.invoke(main, ["sources"], env=env)
    assert status.exit_code == 0 and "Slack" in status.output and "configured" in status.output
    missing = cli.invoke(main, ["sync", "netbox"], env=env)
    assert missing.exit_code == 1 and "NetBox is not configured: set GOVBOT_NETBOX_URL, GOVBOT_NETBOX_TOKEN" in missing.output
    unknown = cli.invoke(main, ["sync", "jira"], env=env)
    assert unknown.exit_code == 2 and "netbox" in unknown.output
    env["GOVBOT_SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    failed = cli.invoke(main, ["sync", "slack"], env=env)
    assert failed.exit_code == 1 and "FAILED" in failed.output and SLACK_TOKEN not in failed.output


def test_sync_source_reports_busy_without_touching_the_source(make_rig, fakes: Fakes) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(fakes)
    slack = one(rig, "slack")
    with rig.container.unit_of_work() as session:
        sync_state.acquire(session, "slack", owner="other", now=rig.clock.now, seconds=60)
    report = sync_source(slack.connector, factory=rig.container.session_factory, clock=rig.clock, owner="me")
    assert report.status is SyncStatus.BUSY and report.notes == ["Slack is being synced by another runner"]
