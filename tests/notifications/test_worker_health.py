"""The worker's health: failures back off (doubling, capped) and are reported on /healthz, never fatal."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from types import SimpleNamespace

from sqlalchemy.exc import OperationalError

from bot.health_server import HealthServer
from notifications.health import WorkerHealth, guarded

T0 = dt.datetime(2025, 6, 4, 12, 0, tzinfo=dt.UTC)


def _outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_failures_back_off_doubling_up_to_the_cap_and_recover() -> None:
    health = WorkerHealth(cap=4.0, clock=lambda: T0)

    def down() -> None:
        raise _outage()

    pauses = [guarded(health, down)[1] for _ in range(6)]
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    report = health.report()
    assert report["state"] == "degraded" and report["database"] == "unreachable" and report["failed_cycles"] == 6
    assert report["failing_since"] == T0.isoformat() and "OperationalError" in report["problem"]
    assert guarded(health, lambda: 42) == (42, 0.0)
    assert health.report() == {"state": "ok", "last_ok_cycle": T0.isoformat()}


def _get(port: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_govbot_worker_answers_healthz_with_its_state() -> None:
    worker = SimpleNamespace(health=WorkerHealth(clock=lambda: T0), heartbeat=SimpleNamespace(last_cycle=T0))
    server = HealthServer(worker, port=0).start()
    try:
        worker.health.ok()
        status, body = _get(server.port)
        assert status == 200 and body["status"] == "ok" and body["last_sweep"] == T0.isoformat()
        worker.health.failed(_outage())
        status, body = _get(server.port)
        assert status == 503 and body["status"] == "degraded" and body["worker"]["database"] == "unreachable"
    finally:
        server.stop()
