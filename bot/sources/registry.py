"""Which live sources are configured, built from settings (credentials come from nowhere else)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.settings import Settings
from bot.sources import http
from governance_store.sources.fetched import Connector
from governance_store.sources.names import ORDER, SourceName


@dataclass(frozen=True)
class Configured:
    connector: Connector
    interval_seconds: float


def configured_intervals(settings: Settings) -> dict[str, float]:
    """Each configured source's sync interval in seconds (nothing is built or contacted)."""
    out: dict[str, float] = {}
    if settings.entra_tenant_id and settings.entra_client_id and settings.entra_client_secret is not None:
        out[SourceName.ENTRA.value] = settings.entra_sync_minutes * 60
    if settings.servicenow_instance and settings.servicenow_user and settings.servicenow_password is not None:
        out[SourceName.SERVICENOW.value] = settings.servicenow_sync_minutes * 60
    if settings.slack_sync_users and settings.slack_bot_token is not None:
        out[SourceName.SLACK.value] = settings.slack_sync_minutes * 60
    if settings.netbox_url and settings.netbox_token is not None:
        out[SourceName.NETBOX.value] = settings.netbox_sync_minutes * 60
    return out


def configured_sources(settings: Settings, *, sleep: http.Sleep = time.sleep) -> list[Configured]:
    """The sources whose address and credentials are set, in sync order."""
    out: dict[SourceName, Configured] = {}
    timeout = settings.sync_http_timeout_seconds
    wait = settings.sync_max_retry_after_seconds
    if settings.entra_tenant_id and settings.entra_client_id and settings.entra_client_secret is not None:
        from bot.sources.entra import EntraConnector

        out[SourceName.ENTRA] = Configured(EntraConnector(
            settings.entra_tenant_id, settings.entra_client_id, settings.entra_client_secret.get_secret_value(),
            graph_url=settings.entra_graph_url, login_url=settings.entra_login_url, group_ids=settings.entra_group_ids,
            ca_bundle=settings.entra_ca_bundle, timeout=timeout, max_wait=wait, sleep=sleep,
        ), settings.entra_sync_minutes * 60)
    if settings.servicenow_instance and settings.servicenow_user and settings.servicenow_password is not None:
        from bot.sources.servicenow import ServiceNowConnector

        out[SourceName.SERVICENOW] = Configured(ServiceNowConnector(
            settings.servicenow_instance, settings.servicenow_user, settings.servicenow_password.get_secret_value(),
            cmdb_tables=settings.servicenow_cmdb_tables, ca_bundle=settings.servicenow_ca_bundle, timeout=timeout,
            max_wait=wait, sleep=sleep,
        ), settings.servicenow_sync_minutes * 60)
    if settings.slack_sync_users and settings.slack_bot_token is not None:
        from bot.slack.directory import SlackDirectoryConnector

        out[SourceName.SLACK] = Configured(SlackDirectoryConnector(
            settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=timeout,
            max_wait=wait, sleep=sleep,
        ), settings.slack_sync_minutes * 60)
    if settings.netbox_url and settings.netbox_token is not None:
        from bot.sources.netbox import NetBoxConnector

        out[SourceName.NETBOX] = Configured(NetBoxConnector(
            settings.netbox_url, settings.netbox_token.get_secret_value(), ca_bundle=settings.netbox_ca_bundle,
            timeout=timeout, max_wait=wait, sleep=sleep,
        ), settings.netbox_sync_minutes * 60)
    return [out[name] for name in ORDER if name in out]


def missing_settings(settings: Settings, source: SourceName) -> list[str]:
    """The settings a source still needs, for a clear message."""
    needs: dict[SourceName, list[tuple[str, object]]] = {
        SourceName.NETBOX: [("netbox_url", settings.netbox_url), ("netbox_token", settings.netbox_token)],
        SourceName.SERVICENOW: [("servicenow_instance", settings.servicenow_instance),
                                ("servicenow_user", settings.servicenow_user),
                                ("servicenow_password", settings.servicenow_password)],
        SourceName.ENTRA: [("entra_tenant_id", settings.entra_tenant_id), ("entra_client_id", settings.entra_client_id),
                           ("entra_client_secret", settings.entra_client_secret)],
        SourceName.SLACK: [("slack_bot_token", settings.slack_bot_token),
                           ("slack_sync_users", settings.slack_sync_users or None)],
    }
    need = needs[source]
    return [f"GOVBOT_{name.upper()}" for name, value in need if value is None]
