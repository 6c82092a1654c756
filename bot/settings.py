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

    dashboard_token: SecretStr | None = None
    # Where people reach the web host (behind a proxy: its public https URL); chat links to the dashboard
    # start here.  Default: http://HOST:PORT (127.0.0.1 when HOST is a wildcard address).
    public_url: str | None = None
    # How long a personal dashboard link from the chat ``dashboard`` command signs its holder in.
    dashboard_link_hours: float = Field(default=12.0, gt=0)

    sweep_interval_seconds: float = 15.0
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

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://") :]
        if value.startswith("postgres://"):
            return "postgresql+psycopg://" + value[len("postgres://") :]
        return value

    @field_validator("digest_scopes_file", "index_dir", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
                     "netbox_token", "servicenow_password", "entra_client_secret"):
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDERS:
                raise ValueError(
                    f"GOVBOT_{name.upper()} is a placeholder; set the real value or GOVBOT_DEV_MODE=true"
                )
        return self

    def ensure_sqlite_dir(self) -> None:
        if self.database_url.startswith("sqlite:///"):
            path = Path(self.database_url[len("sqlite:///") :])
            path.parent.mkdir(parents=True, exist_ok=True)
