"""Live sources under test: a real NetBox (installed from PyPI, see netbox_server.py) loaded with the
sample organisation through its REST API, and fakes of ServiceNow (over TLS), Microsoft Graph and
Slack's users.list, all on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynetbox
import pytest
import trustme

from bot.bootstrap import Container, build
from bot.settings import Settings
from tests.conftest import CORVANE, IN_CI
from tests.sources import netbox_server
from tests.sources.fake_graph import FakeGraph
from tests.sources.fake_servicenow import FakeServiceNow
from tests.sources.fake_slack_users import FakeSlackUsers
from tests.sources.netbox_seed import load_corvane

SN_USER, SN_PASSWORD = "govbot.integration", "sn-pass-7Qx2-never-logged"
TENANT, CLIENT_ID, CLIENT_SECRET = "corvane.example", "3b1e2c40-client", "entra-secret-K9v-never-logged"
SLACK_TOKEN = "xoxb-sync-token-never-logged"
# Files the live sources replace: the rest of the sample is imported as spreadsheets.
SOURCE_FILES = {
    "entra_users.csv", "slack_users.csv", "servicenow_sys_user.csv", "servicenow_sys_user_group.csv",
    "servicenow_sys_user_grmember.csv", "cmdb_ci.csv", "cmdb_ci_raw.csv", "cmdb_rel_ci.csv", "change_request.csv",
    "sysapproval_approver.csv", "netbox_devices.csv", "netbox_contacts.csv", "netbox_contact_roles.csv",
    "netbox_contact_assignments.csv",
}
PLACES = ["sites.csv", "isa95_hierarchy.csv", "zones.csv"]


def governance_files() -> list[Path]:
    """The sample's files that no live source holds, after the places (imported first)."""
    return sorted(p for p in CORVANE.glob("*.csv") if p.name not in SOURCE_FILES and p.name not in PLACES)


def place_files() -> list[Path]:
    return [CORVANE / name for name in PLACES]


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, str(bundle)


@dataclass
class Fakes:
    servicenow: FakeServiceNow
    graph: FakeGraph
    slack: FakeSlackUsers
    ca_bundle: str


@pytest.fixture
def fakes(tls_ca: tuple[ssl.SSLContext, str]) -> Iterator[Fakes]:
    context, bundle = tls_ca
    sn = FakeServiceNow(CORVANE, user=SN_USER, password=SN_PASSWORD, tls=context).start()
    graph = FakeGraph(CORVANE, tenant=TENANT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET).start()
    slack = FakeSlackUsers(CORVANE, token=SLACK_TOKEN).start()
    yield Fakes(sn, graph, slack, bundle)  # type: ignore[arg-type]
    for fake in (sn, graph, slack):
        fake.stop()


@dataclass
class LiveNetBox:
    url: str
    token: str
    api: pynetbox.api


def _netbox() -> Iterator[LiveNetBox]:
    try:
        python = netbox_server.prepare()
        server = netbox_server.start(python)
    except netbox_server.NetBoxUnavailable as exc:
        if IN_CI:
            pytest.fail(f"NetBox could not be started: {exc}", pytrace=False)
        pytest.skip(f"NetBox could not be started: {exc}")
    try:
        api = pynetbox.api(server.url, token=server.token)
        load_corvane(api, CORVANE)
        yield LiveNetBox(server.url, server.token, api)
    finally:
        netbox_server.stop(server)


@pytest.fixture(scope="module")
def netbox() -> Iterator[LiveNetBox]:
    """A real NetBox with the sample organisation's data, one per test module."""
    yield from _netbox()


class Clock:
    """An injected clock: starts at a fixed instant, moves only when told."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@dataclass
class Rig:
    """A govbot container wired to the live sources, with an injected clock and no real sleeping."""

    container: Container
    clock: Clock
    slept: list[float] = field(default_factory=list)


def source_settings(db_target: tuple[str, str | None], fakes: Fakes | None, netbox: LiveNetBox | None,
                    **extra: Any) -> Settings:
    url, schema = db_target
    values: dict[str, Any] = {"database_url": url, "database_schema": schema, "dev_mode": True}
    if fakes is not None:
        values.update(
            servicenow_instance=fakes.servicenow.base, servicenow_user=SN_USER, servicenow_password=SN_PASSWORD,
            servicenow_ca_bundle=fakes.ca_bundle, entra_tenant_id=TENANT, entra_client_id=CLIENT_ID,
            entra_client_secret=CLIENT_SECRET, entra_graph_url=f"{fakes.graph.base}/v1.0",
            entra_login_url=fakes.graph.base, slack_bot_token=SLACK_TOKEN, slack_api_url=f"{fakes.slack.base}/api/",
            slack_sync_users=True,
        )
    if netbox is not None:
        values.update(netbox_url=netbox.url, netbox_token=netbox.token)
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def make_rig(db_target: tuple[str, str | None], clock: Clock) -> Callable[..., Rig]:
    def make(fakes: Fakes | None = None, netbox: LiveNetBox | None = None, **extra: Any) -> Rig:
        container = build(source_settings(db_target, fakes, netbox, **extra), clock=clock)
        return Rig(container, clock)

    return make
