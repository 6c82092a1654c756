"""A fake ServiceNow instance on 127.0.0.1: the Table API as a client sees it, strict about requests.

HTTPS only (a self-signed certificate for 127.0.0.1, made here; the client is given it to verify), basic
authentication (401 with ServiceNow's error body otherwise), ``/api/now/table/<table>`` and
``/api/now/table/<table>/<sys_id>`` only (400 "Invalid resource" or "Invalid table"), the ``sysparm_*``
parameters the Table API knows with values it accepts (400 for others), JSON object bodies on ``POST``,
``PATCH`` and ``PUT`` (400 otherwise), results in the requested ``sysparm_display_value`` form and the
``X-Total-Count`` header on lists.  Records are kept per table; ``sysparm_query`` understands ``field=value``
terms joined by ``^`` and ignores ``ORDERBY`` terms.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

KNOWN_PARAMS = {
    "sysparm_query", "sysparm_display_value", "sysparm_exclude_reference_link", "sysparm_suppress_pagination_header",
    "sysparm_fields", "sysparm_limit", "sysparm_offset", "sysparm_view", "sysparm_query_category",
    "sysparm_query_no_domain", "sysparm_no_count", "sysparm_input_display_value",
}
BOOLEAN_PARAMS = {"sysparm_exclude_reference_link", "sysparm_suppress_pagination_header", "sysparm_query_no_domain",
                  "sysparm_no_count", "sysparm_input_display_value"}


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-servicenow.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "instance.pem", directory / "instance.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _error(status: int, message: str, detail: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "detail": detail}, "status": "failure"}, status=status)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    status: int


@dataclass
class FakeInstance:
    user: str
    password: str
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # table -> sys_id -> record
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    def table(self, name: str) -> None:
        self.tables.setdefault(name, {})

    async def start(self, directory: Path) -> Path:
        """Serve on https://127.0.0.1:<port>; returns the certificate file to verify it with."""
        cert, key = make_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        app = web.Application(middlewares=[self._record])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.url = f"https://127.0.0.1:{self.runner.addresses[0][1]}"
        return cert

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        response = await handler(request)
        self.requests.append(Request(request.method, request.path, dict(request.query), body, response.status))
        return response

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.user, self.password)

    @staticmethod
    def _check_params(params: dict[str, str]) -> str | None:
        for name, value in params.items():
            if not name.startswith("sysparm_"):
                continue
            if name not in KNOWN_PARAMS:
                return f"Unknown parameter: {name}"
            if name == "sysparm_display_value" and value not in ("true", "false", "all"):
                return f"Invalid value for sysparm_display_value: {value}"
            if name in BOOLEAN_PARAMS and value not in ("true", "false"):
                return f"Invalid value for {name}: {value}"
            if name in ("sysparm_limit", "sysparm_offset") and not value.isdigit():
                return f"Invalid value for {name}: {value}"
        return None

    @staticmethod
    def _shape(record: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
        fields = [f for f in params.get("sysparm_fields", "").split(",") if f]
        chosen = {k: v for k, v in record.items() if not fields or k in fields}
        mode = params.get("sysparm_display_value", "false")
        if mode == "all":
            return {k: {"value": v, "display_value": v} for k, v in chosen.items()}
        return chosen

    @staticmethod
    def _matches(record: dict[str, str], query: str) -> bool:
        for term in query.split("^"):
            if not term or term.startswith("ORDERBY"):
                continue
            name, eq, value = term.partition("=")
            if not eq or record.get(name, "") != value:
                return False
        return True

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        parts = [p for p in request.path.split("/") if p]
        if len(parts) not in (4, 5) or parts[:3] != ["api", "now", "table"]:
            return _error(400, "Invalid resource", request.path)
        table = parts[3]
        if table not in self.tables:
            return _error(400, f"Invalid table {table}")
        params = dict(request.query)
        problem = self._check_params(params)
        if problem:
            return _error(400, problem)
        records = self.tables[table]
        sys_id = parts[4] if len(parts) == 5 else None
        if request.method == "GET":
            if sys_id is not None:
                record = records.get(sys_id)
                if record is None:
                    return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
                return web.json_response({"result": self._shape(record, params)})
            found = [r for r in records.values() if self._matches(r, params.get("sysparm_query", ""))]
            offset = int(params.get("sysparm_offset", "0"))
            limit = int(params.get("sysparm_limit", "10000"))
            page = found[offset:offset + limit]
            return web.json_response({"result": [self._shape(r, params) for r in page]},
                                     headers={"X-Total-Count": str(len(found))})
        if request.method in ("POST", "PATCH", "PUT"):
            if request.content_type != "application/json":
                return _error(415, "Unsupported Media Type", "send application/json")
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Exception while reading request", "The payload is not valid JSON.")
            if not isinstance(body, dict):
                return _error(400, "Exception while reading request", "The payload is not a JSON object.")
            if request.method == "POST":
                if sys_id is not None:
                    return _error(400, "Invalid resource", "POST takes no sys_id")
                new_id = uuid.uuid4().hex
                record = {k: "" if v is None else str(v) for k, v in body.items()}
                record.update({"sys_id": new_id, "sys_created_on": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")})
                records[new_id] = record
                return web.json_response({"result": self._shape(record, params)}, status=201)
            if sys_id is None or sys_id not in records:
                return _error(404, "No Record found")
            records[sys_id].update({k: "" if v is None else str(v) for k, v in body.items()})
            return web.json_response({"result": self._shape(records[sys_id], params)})
        if request.method == "DELETE":
            if sys_id is None or records.pop(sys_id, None) is None:
                return _error(404, "No Record found")
            return web.Response(status=204)
        return _error(405, "Method not Supported")
