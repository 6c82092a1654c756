"""Digest scopes from a file (``GOVBOT_DIGEST_SCOPES_FILE``): who gets which weekly digest, and when.

TOML (``*.toml``) or JSON (``*.json``), both read with the standard library::

    [[scopes]]
    name = "site:PLANT-A"                # site:CODE, ot, security or all
    recipients = ["plant.manager@example.com"]
    channel = "C0PLANTMGMT"              # optional: also posted there
    weekday = "mon"                      # optional, default mon
    time = "08:00"                       # optional, default 08:00 (24 h, local)
    timezone = "Area/City"               # optional, an IANA name: default the site's time zone, else UTC

JSON has the same shape: ``{"scopes": [{"name": "ot", "recipients": ["..."]}]}``.  Every entry is
checked when the file is read; a bad one is reported with the file and the entry, never half used.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from notifications.digest import FIXED_SCOPES, SCOPE_FORMS, WEEKDAYS, DigestScope

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SCOPE_NAME = re.compile(r"^(site:[A-Za-z0-9][A-Za-z0-9_.-]*|" + "|".join(FIXED_SCOPES) + r")$")
TIME = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # WEEKDAYS spelled out


class DigestScopesError(ValueError):
    """The scopes file cannot be used; the message names the file and the entry."""


class ScopeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str
    recipients: list[str] = Field(default_factory=list)
    channel: str | None = None
    weekday: str = "mon"
    time: str = "08:00"
    timezone: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SCOPE_NAME.match(value):
            raise ValueError(f"must be {SCOPE_FORMS}")
        return value

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not EMAIL.match(v.strip())]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(repr(b) for b in bad)}")
        return [v.strip() for v in value]

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.lower()
        if len(day) < 3 or day[:3] not in WEEKDAYS or not any(full.startswith(day) for full in FULL_DAYS):
            raise ValueError("must be a weekday: mon, tue, wed, thu, fri, sat or sun")
        return day[:3]

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not TIME.match(value):
            raise ValueError("must be HH:MM (24 h), e.g. 08:00")
        hh, mm = value.split(":")
        return f"{int(hh):02d}:{mm}"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _someone(self) -> ScopeEntry:
        if not self.recipients and not self.channel:
            raise ValueError("needs recipients or a channel")
        return self

    def scope(self) -> DigestScope:
        return DigestScope(self.name, tuple(self.recipients), self.channel, self.weekday, self.time, self.timezone)


class ScopesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[dict[str, Any]]


def _read(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise DigestScopesError(f"GOVBOT_DIGEST_SCOPES_FILE {path}: use a .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DigestScopesError(f"GOVBOT_DIGEST_SCOPES_FILE {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DigestScopesError(f"GOVBOT_DIGEST_SCOPES_FILE {path}: not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DigestScopesError(f"GOVBOT_DIGEST_SCOPES_FILE {path}: not valid JSON: {exc}") from None


def _problems(exc: ValidationError) -> str:
    def message(e: Any) -> str:
        if e["type"] == "extra_forbidden":
            return f"unknown key (an entry has {', '.join(ScopeEntry.model_fields)})"
        return str(e["msg"]).removeprefix("Value error, ")

    return "; ".join((f"{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "") + message(e) for e in exc.errors())


def load_scopes(path: str | Path) -> list[DigestScope]:
    """The scopes the file lists, in its order; ``DigestScopesError`` naming the file and entry when it is bad."""
    path = Path(path)
    raw = _read(path)
    try:
        entries = ScopesFile.model_validate(raw).scopes
    except ValidationError as exc:
        raise DigestScopesError(
            f"GOVBOT_DIGEST_SCOPES_FILE {path}: expected a list of scopes under 'scopes' ({_problems(exc)})"
        ) from None
    scopes: list[DigestScope] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        label = f"scope {i}" + (f" ({entry['name']})" if isinstance(entry.get("name"), str) else "")
        try:
            scope = ScopeEntry.model_validate(entry).scope()
        except ValidationError as exc:
            raise DigestScopesError(f"GOVBOT_DIGEST_SCOPES_FILE {path}, {label}: {_problems(exc)}") from None
        if scope.name in seen:
            raise DigestScopesError(
                f"GOVBOT_DIGEST_SCOPES_FILE {path}, {label}: scope {scope.name} is already listed as scope "
                f"{seen[scope.name]} (one entry per scope: list every recipient there)")
        seen[scope.name] = i
        scopes.append(scope)
    return scopes
