"""Settings from the environment (prefix ``GOVBOT_``) or a ``.env`` file.

Secrets are ``SecretStr`` so they never print; outside development mode a
placeholder secret is refused at start-up instead of failing later in a chat.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from governance_store.audit_keys import MIN_KEY_LENGTH as MIN_AUDIT_KEY_LENGTH
from governance_store.audit_keys import AuditKeyMissing, AuditKeyring

PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xoxb-your-token", "xapp-your-token", "todo", "placeholder"}


def default_database_url() -> str:
    local = Path.cwd() / "govbot.db"
    if local.exists():
        return f"sqlite:///{local}"
    data = Path(user_data_dir("govbot", appauthor=False))
    return f"sqlite:///{data / 'govbot.db'}"


def default_index_dir() -> Path:
    return Path(user_data_dir("govbot", appauthor=False)) / "index"


class Settings(BaseSettings):
    # Secrets may also be files named like the variables (lower case) in GOVBOT_SECRETS_DIR,
    # e.g. Docker or Kubernetes secrets mounted at /run/secrets.
    model_config = SettingsConfigDict(
        env_prefix="GOVBOT_", env_file=".env", extra="ignore", secrets_dir=os.environ.get("GOVBOT_SECRETS_DIR") or None
    )

    database_url: str = Field(default_factory=default_database_url)
    database_schema: str | None = None
    dev_mode: bool = False

    host: str = "127.0.0.1"
    port: int = 3000

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    teams_tenant_id: str | None = None
    # Serve /api/messages without an app id (Bot Framework Emulator); honoured only with dev_mode.
    teams_allow_unauthenticated: bool = False
    # Proactive installation: govbot's app id in the organisation's Teams app catalog (not the manifest id, not
    # the bot id); with it (and GOVBOT_TEAMS_TENANT_ID) govbot installs itself for people who never opened it.
    teams_catalog_app_id: str | None = None
    teams_graph_url: str = "https://graph.microsoft.com/v1.0"
    teams_login_url: str = "https://login.microsoftonline.com"
    # The Bot Connector address for people govbot has never heard from (a stored one of the tenant wins).
    teams_service_url: str = "https://smba.trafficmanager.net/teams/"

    # Where people are reached, in this order unless they chose otherwise (``notify me on teams``) or last used
    # govbot elsewhere: slack, teams, email.
    notify_order: str = "slack,teams,email"
    # E-mail: people without a chat account get e-mail at once; others after their message waited this long.
    email_fallback_minutes: float = Field(default=30.0, ge=0)
    smtp_host: str | None = None
    smtp_port: int = 587
    # starttls (port 587), tls (implicit TLS, port 465) or none (development only, never with a password).
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    # A CA bundle to trust for the SMTP server (a private CA); default: the system's.
    smtp_ca_file: Path | None = None
    # Signs the Approve / Reject links in e-mails (HMAC-SHA256); rotate it to revoke every link sent.
    email_link_key: SecretStr | None = None
    email_link_hours: float = Field(default=72.0, gt=0)

    dashboard_token: SecretStr | None = None
    # The key that signs the audit trail (HMAC), kept outside the database; required outside dev mode.
    # Rotation: the old key moves to GOVBOT_AUDIT_PREVIOUS_KEYS (comma-separated) and stays there as long as
    # entries it signed must verify.
    audit_key: SecretStr | None = None
    audit_previous_keys: SecretStr | None = None
    # Where the worker (and `govbot audit anchor --append`) appends signed anchors of the audit chain's head,
    # and how often the worker writes one (to the log, and to this file when it is set).
    audit_anchor_file: Path | None = None
    audit_anchor_minutes: float = Field(default=60.0, gt=0)
    # Reverse proxies (IP addresses or networks, comma-separated) whose X-Forwarded-Proto / -Host / -For
    # headers are believed; from anyone else those headers are ignored.
    trusted_proxies: str = ""
    # Host names the web pages answer to (comma-separated; "*" for any).  Default: loopback names, the
    # public URL's host and the bound address.
    allowed_hosts: str = ""
    # Where people reach the web host (behind a proxy: its public https URL); chat links to the dashboard
    # start here.  Default: http://HOST:PORT (127.0.0.1 when HOST is a wildcard address).
    public_url: str | None = None
    # How long a personal dashboard link from the chat ``dashboard`` command signs its holder in.
    dashboard_link_hours: float = Field(default=12.0, gt=0)

    sweep_interval_seconds: float = 15.0
    # ``govbot worker`` answers /healthz on this port when set (127.0.0.1 unless GOVBOT_WORKER_HEALTH_HOST).
    worker_health_port: int | None = None
    worker_health_host: str = "127.0.0.1"
    # Quorum rules for change requests (JSON): see governance_store.changes.ChangePolicies.from_config.
    change_policy: dict[str, Any] = Field(default_factory=dict)
    # Slack allows about one message per second per channel; the outbox paces each channel/DM to this.
    outbox_channel_interval_seconds: float = 1.0
    # How long a claimed outbox message may be in flight before another dispatcher checks on it
    # (keep it above the chat client's HTTP timeout).
    outbox_send_lease_seconds: float = 120.0
    # Delivered messages are deleted this many days after they were queued, once nothing will update them
    # again (the audit trail keeps the record); 0 keeps them for ever.
    outbox_retention_days: float = Field(default=90.0, ge=0)
    # Who gets which weekly digest (TOML or JSON, see notifications.digest_scopes); without it the scopes
    # are derived from the role assignments.
    digest_scopes_file: Path | None = None
    # Ownership attestation: intervals per site / class / criticality, SLAs, who fixes which gap (TOML or
    # JSON; see deploy/attestation-policy.example.toml).  Without it the default policy applies.
    attestation_policy_file: Path | None = None
    # How often the worker turns governance lint findings into tracked gaps (and closes fixed ones).
    gap_sync_minutes: float = Field(default=10.0, gt=0)
    # Write-back to ServiceNow (``govbot export changes --push``): the import set table it inserts into, on
    # the instance of the live source (servicenow_instance, _user, _password, _ca_bundle below).
    servicenow_import_table: str = "u_govbot_ownership_import"
    # Development only (ignored unless dev_mode): run the clock from this instant, or shifted by an offset.
    fake_now: dt.datetime | None = None
    clock_offset_seconds: float = 0.0
    default_timezone: str = "UTC"
    # Where the system index of each store is kept, one file per store and state, shared by every process
    # of the host (see governance_store.index_file).  Empty: each process builds its own in memory.
    index_dir: Path | None = Field(default_factory=default_index_dir)

    # Live sources (see docs/sources.md).  A source syncs when its address and credentials are set.
    netbox_url: str | None = None
    netbox_token: SecretStr | None = None
    netbox_ca_bundle: str | None = None
    netbox_sync_minutes: float = Field(default=15.0, gt=0)
    servicenow_instance: str | None = None  # https://example.service-now.com (or the instance name)
    servicenow_user: str | None = None
    servicenow_password: SecretStr | None = None
    servicenow_ca_bundle: str | None = None
    # The CMDB tables to read: cmdb_ci holds every class; name class tables to read only those.
    servicenow_cmdb_tables: list[str] = Field(default_factory=lambda: ["cmdb_ci"])
    servicenow_sync_minutes: float = Field(default=15.0, gt=0)
    entra_tenant_id: str | None = None
    entra_client_id: str | None = None
    entra_client_secret: SecretStr | None = None
    entra_graph_url: str = "https://graph.microsoft.com/v1.0"
    entra_login_url: str = "https://login.microsoftonline.com"
    entra_ca_bundle: str | None = None
    # Only these groups' members (object ids); empty: every group named like a govbot team.
    entra_group_ids: list[str] = Field(default_factory=list)
    entra_sync_minutes: float = Field(default=30.0, gt=0)
    # Slack's member directory, read with GOVBOT_SLACK_BOT_TOKEN (scopes users:read, users:read.email).
    slack_sync_users: bool = False
    slack_sync_minutes: float = Field(default=60.0, gt=0)
    # How long one sync run may hold its source before another runner may take over.
    sync_lease_seconds: float = Field(default=1800.0, gt=0)
    sync_http_timeout_seconds: float = Field(default=60.0, gt=0)
    # The longest a source's Retry-After is waited out before the run goes on (or fails).
    sync_max_retry_after_seconds: float = Field(default=300.0, ge=0)

    @field_validator("smtp_security")
    @classmethod
    def _check_smtp_security(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("starttls", "tls", "none"):
            raise ValueError("GOVBOT_SMTP_SECURITY must be starttls, tls or none")
        return value

    @field_validator("smtp_ca_file", mode="before")
    @classmethod
    def _blank_ca_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def outbox_send_timeout(self, lease: float | None = None) -> float:
        """A sender's HTTP timeout: at most 30 s, and a third of the outbox lease, so a send always ends
        well inside the lease of the message it delivers."""
        return min(30.0, max(0.2, (lease if lease is not None else self.outbox_send_lease_seconds) / 3))

    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://") :]
        if value.startswith("postgres://"):
            return "postgresql+psycopg://" + value[len("postgres://") :]
        return value

    @field_validator("digest_scopes_file", "audit_anchor_file", "attestation_policy_file", "index_dir",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        import ipaddress

        for item in (p.strip() for p in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("GOVBOT_PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/")

    def dashboard_url(self) -> str:
        """The dashboard's address as people reach it: ``public_url``, else this host's own URL."""
        if self.public_url:
            return self.public_url + "/"
        host = self.host.strip().strip("[]") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.dev_mode:
            return self
        for name in ("slack_bot_token", "slack_signing_secret", "slack_app_token", "teams_app_password", "dashboard_token",
                     "netbox_token", "servicenow_password", "entra_client_secret", "smtp_password",
                     "email_link_key", "audit_key"):
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDERS:
                raise ValueError(
                    f"GOVBOT_{name.upper()} is a placeholder; set the real value or GOVBOT_DEV_MODE=true"
                )
        if self.smtp_security == "none" and self.smtp_host:
            raise ValueError("GOVBOT_SMTP_SECURITY=none sends e-mail unencrypted; use starttls or tls "
                             "(or GOVBOT_DEV_MODE=true for a local test server)")
        if self.email_link_key is not None and len(self.email_link_key.get_secret_value()) < 32:
            raise ValueError("GOVBOT_EMAIL_LINK_KEY must be at least 32 characters (e.g. openssl rand -hex 32)")
        if self.audit_key is not None and len(self.audit_key.get_secret_value().strip()) < MIN_AUDIT_KEY_LENGTH:
            raise ValueError(f"GOVBOT_AUDIT_KEY is too short: use at least {MIN_AUDIT_KEY_LENGTH} random characters "
                             "(e.g. `openssl rand -hex 32`)")
        return self

    def audit_keyring(self) -> AuditKeyring:
        """The keys that sign and verify the audit trail.  Development mode without a key uses the
        well-known development key; production without one raises :class:`AuditKeyMissing`."""
        if self.audit_key is None or not self.audit_key.get_secret_value().strip():
            if self.dev_mode:
                return AuditKeyring.development()
            raise AuditKeyMissing(
                "GOVBOT_AUDIT_KEY is not set: the audit trail must be signed with a key kept outside the database "
                "(e.g. `openssl rand -hex 32` into GOVBOT_AUDIT_KEY or the file audit_key in GOVBOT_SECRETS_DIR), "
                "or set GOVBOT_DEV_MODE=true for development")
        previous = self.audit_previous_keys.get_secret_value() if self.audit_previous_keys is not None else ""
        return AuditKeyring.from_secrets(self.audit_key.get_secret_value().strip(),
                                         [p.strip() for p in previous.split(",") if p.strip()])

    def public_host(self) -> str | None:
        """The host name of ``public_url`` (lower case), ``None`` without one."""
        if not self.public_url:
            return None
        from urllib.parse import urlsplit

        return (urlsplit(self.public_url).hostname or "").lower() or None

    def ensure_sqlite_dir(self) -> None:
        if self.database_url.startswith("sqlite:///"):
            path = Path(self.database_url[len("sqlite:///") :])
            path.parent.mkdir(parents=True, exist_ok=True)
