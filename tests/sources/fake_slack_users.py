"""A fake Slack Web API ``users.list`` serving the sample organisation's Slack members.

As Slack documents it: the bot token in ``Authorization: Bearer`` (or a ``token`` parameter), ``limit``
and ``cursor``; members come back with ``response_metadata.next_cursor`` (empty on the last page).
A bad token gets ``{"ok": false, "error": "invalid_auth"}``, a cursor it did not issue ``invalid_cursor``,
and a scheduled failure HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
"""

from __future__ import annotations

import base64
import csv
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.sources.serve import ThreadedApp


def member(row: dict[str, str]) -> dict[str, Any]:
    """A users.list member from the flattened export row."""
    out: dict[str, Any] = {"profile": {}}
    for key, value in row.items():
        if key.startswith("profile."):
            out["profile"][key.split(".", 1)[1]] = value
        elif value in ("true", "false"):
            out[key] = value == "true"
        elif key == "tz_offset" and value.lstrip("-").isdigit():
            out[key] = int(value)
        else:
            out[key] = value
    out["profile"].setdefault("real_name", out.get("real_name", ""))
    return out


class FakeSlackUsers(ThreadedApp):
    def __init__(self, folder: Path, *, token: str) -> None:
        super().__init__()
        self.token = token
        with open(folder / "slack_users.csv", encoding="utf-8-sig", newline="") as fh:
            self.members = [member(r) for r in csv.DictReader(fh)]

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_route("*", "/api/users.list", self.users_list)
        return application

    async def users_list(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else params.get("token", "")
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        try:
            limit = max(1, min(1000, int(params.get("limit", "0") or 0) or 1000))
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_arguments"})
        offset = 0
        if params.get("cursor"):
            try:
                decoded = base64.b64decode(params["cursor"]).decode()
                assert decoded.startswith("user:")
                offset = int(decoded[5:])
            except Exception:  # noqa: BLE001 - any cursor we did not issue
                return web.json_response({"ok": False, "error": "invalid_cursor"})
        with self.lock:
            page = self.members[offset:offset + limit]
            more = offset + limit < len(self.members)
        cursor = base64.b64encode(f"user:{offset + limit}".encode()).decode() if more else ""
        return web.json_response({"ok": True, "members": page, "cache_ts": 1717000000,
                                  "response_metadata": {"next_cursor": cursor}})
