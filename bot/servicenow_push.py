"""Pushing govbot's changes into a ServiceNow import set through the Table API, with ``pysnc``.

Each row is one record inserted into the import set table (``POST /api/now/table/<table>``); the
instance's transform map applies it to the CMDB.  Before inserting, the table is asked whether a record
with the row's ``u_source_key`` is already there (``GET`` with ``sysparm_query``), so pushing the same
changes again inserts nothing twice.  A row the instance refuses is reported with the instance's
message and the rest go on; nothing is retried blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from governance_store.writeback import Row

TIMEOUT_SECONDS = 30.0


@dataclass
class PushResult:
    sent: int = 0
    already_there: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source key, why)


class PushError(Exception):
    """The instance could not be reached or refused the credentials: nothing was pushed."""


def push(rows: list[Row], *, instance: str, user: str, password: str, table: str,
         ca_file: Path | None = None) -> PushResult:
    from pysnc import ServiceNowClient
    from pysnc.exceptions import AuthenticationException, InstanceException, RoleException
    from requests.exceptions import RequestException as HttpError

    try:
        client = ServiceNowClient(instance, _session(user, password, ca_file), auto_retry=False)
    except InstanceException as exc:
        raise PushError(f"{instance}: {exc}") from None
    result = PushResult()
    for row in rows:
        try:
            existing = client.GlideRecord(table, batch_size=1)
            existing.add_query("u_source_key", row.key)
            existing.fields = ["sys_id"]
            existing.limit = 1
            existing.query()
            if existing.next():
                result.already_there += 1
                continue
            record = client.GlideRecord(table)
            record.initialize()
            for name, value in row.values.items():
                record.set_value(name, value)
            if record.insert() is None:
                result.failed.append((row.key, "the instance created no record"))
                continue
            result.sent += 1
        except (AuthenticationException, RoleException) as exc:
            raise PushError(f"{instance} refused {user}: {_message(exc)}") from None
        except HttpError as exc:
            raise PushError(f"{instance} cannot be reached: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - pysnc raises several kinds for a refused record
            result.failed.append((row.key, _message(exc)))
    return result


def _session(user: str, password: str, ca_file: Path | None) -> object:
    """A requests session with a timeout on every call (an instance that hangs must not hang the export),
    verifying the instance with ``ca_file`` when given, even when the environment names another bundle
    (``REQUESTS_CA_BUNDLE`` would otherwise win over a session's own setting)."""
    import requests
    from requests.auth import HTTPBasicAuth

    class Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if ca_file is not None:
                settings["verify"] = str(ca_file)
            return settings

        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.setdefault("timeout", TIMEOUT_SECONDS)
            return super().send(request, **kwargs)

    session = Session()
    session.auth = HTTPBasicAuth(user, password)
    return session


def _message(exc: Exception) -> str:
    text = str(exc)
    return text[:300] if text else type(exc).__name__
