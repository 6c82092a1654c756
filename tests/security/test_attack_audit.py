"""Attacks on the audit trail by whoever holds the database, checked through the real CLI on both backends.

The attacker can run any SQL (edit, delete, recompute hashes) but does not have ``GOVBOT_AUDIT_KEY``, which
lives in the environment or a secrets file, never in the database.  ``govbot audit verify`` must name the
first bad entry or the missing range; deletions that leave a consistent shorter chain (the newest entries,
or all of them) are caught by anchors kept outside the database (the anchor file, the log, the digest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from governance_store import audit, db
from governance_store.audit_keys import KEYRING_INFO, AuditKeyring
from governance_store.models import AuditEntry, OutboxMessage, Person
from tests.conftest import TEST_AUDIT_KEY

T0 = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
OLD_KEY = "an-older-audit-key-rotated-out-0123456789abcdef"


def keyed(engine: Engine, key: str = TEST_AUDIT_KEY, previous: tuple[str, ...] = ()) -> sessionmaker[Session]:
    return db.make_session_factory(engine, info={KEYRING_INFO: AuditKeyring.from_secrets(key, previous)})


@pytest.fixture
def trail(engine: Engine) -> sessionmaker[Session]:
    """Ten entries by a person, signed with the deployment's key (the one the CLI reads from the environment)."""
    factory = keyed(engine)
    with db.unit_of_work(factory) as s:
        person = Person(email="luis.ortega@corvane.example", display_name="Luis Ortega")
        s.add(person)
        s.flush()
        for i in range(10):
            audit.record(s, at=T0 + dt.timedelta(minutes=i), actor=person, platform="slack", action="change.approved",
                         object_type="change", object_key=f"GCR{i + 1:06d}", data={"roles": ["OT Engineering Lead"]})
    return factory


def cli(db_target: tuple[str, str | None], *args: str, env: dict[str, Any] | None = None) -> Result:
    url, schema = db_target
    return CliRunner().invoke(main, ["--database-url", url, *args],
                              env={"GOVBOT_DATABASE_SCHEMA": schema or "", "GOVBOT_AUDIT_ANCHOR_FILE": "", **(env or {})})


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.seq))]


def first_problem(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "NOT intact" in result.output
    return next(line for line in result.output.splitlines() if line.startswith("first problem:"))


def test_an_untouched_trail_verifies(trail: sessionmaker[Session], db_target: tuple[str, str | None]) -> None:
    result = cli(db_target, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit trail intact: 10 entries" in result.output


def _legacy(prev: str, row: dict[str, Any]) -> str:
    """The unkeyed SHA-256 an attacker can compute (the algorithm is public)."""
    return audit._legacy_digest(prev, at=row["at"], actor=row["actor"], platform=row["platform"], action=row["action"],
                                object_type=row["object_type"], object_key=row["object_key"], data=row["data"])


def test_editing_an_entry_and_recomputing_the_hashes_without_the_key_is_named(
        trail: sessionmaker[Session], engine: Engine, db_target: tuple[str, str | None]) -> None:
    # Rewrite #4 to another approver, then recompute every hash from #4 on the only way possible without
    # the key (a plain hash; or an HMAC under a guessed key), relinking the chain.
    entries = rows(engine)
    entries[3]["actor"] = "Mallory <mallory@corvane.example>"
    prev = entries[2]["hash"]
    for i, row in enumerate(entries[3:], start=3):
        if i % 2:
            new = _legacy(prev, row)
        else:
            body = json.dumps({"prev": prev, **row}, default=str, sort_keys=True).encode()
            new = hmac.new(b"guessed-key", body, hashlib.sha256).hexdigest()
        sql(engine, "update audit_log set actor = :actor, prev_hash = :prev, hash = :hash where seq = :seq",
            actor=row["actor"], prev=prev, hash=new, seq=row["seq"])
        prev = new
    assert "audit entry #4:" in first_problem(cli(db_target, "audit", "verify"))


def test_the_actor_id_is_covered(trail: sessionmaker[Session], engine: Engine,
                                 db_target: tuple[str, str | None]) -> None:
    with engine.begin() as conn:
        other = conn.execute(sa.insert(Person.__table__).values(email="m@x.example", display_name="M", active=True,
                                                                 is_guest=False, sources={})
                             .returning(Person.__table__.c.id)).scalar_one()
    sql(engine, "update audit_log set actor_id = :other where seq = 7", other=other)
    assert "audit entry #7:" in first_problem(cli(db_target, "audit", "verify"))


def test_deleting_entries_in_the_middle_names_the_missing_range(
        trail: sessionmaker[Session], engine: Engine, db_target: tuple[str, str | None]) -> None:
    sql(engine, "delete from audit_log where seq in (4, 5, 6)")
    assert first_problem(cli(db_target, "audit", "verify")) == "first problem: audit entries #4–#6: missing: deleted from the database"


def test_renumbering_after_a_deletion_is_caught(trail: sessionmaker[Session], engine: Engine,
                                                db_target: tuple[str, str | None]) -> None:
    sql(engine, "delete from audit_log where seq = 5")
    for seq in range(6, 11):
        sql(engine, "update audit_log set seq = :new where seq = :old", new=seq - 1, old=seq)
    assert "audit entry #5:" in first_problem(cli(db_target, "audit", "verify"))


def test_truncating_the_tail_is_caught_by_the_anchor_file(trail: sessionmaker[Session], engine: Engine,
                                                           db_target: tuple[str, str | None], tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.txt"
    taken = cli(db_target, "audit", "anchor", "--append", str(anchors))
    assert taken.exit_code == 0, taken.output
    assert taken.output.startswith("govbot-audit-anchor v1 ") and "seq=10 " in taken.output
    sql(engine, "delete from audit_log where seq >= 8")
    assert cli(db_target, "audit", "verify").exit_code == 0  # the shorter chain is consistent in itself
    problem = first_problem(cli(db_target, "audit", "verify", "--anchor", str(anchors)))
    assert "audit entries #8–#10: missing: the newest entries were deleted" in problem
    # GOVBOT_AUDIT_ANCHOR_FILE is read by default.
    by_default = cli(db_target, "audit", "verify", env={"GOVBOT_AUDIT_ANCHOR_FILE": str(anchors)})
    assert "audit entries #8–#10" in first_problem(by_default)


def test_deleting_everything_is_caught_by_the_anchor(trail: sessionmaker[Session], engine: Engine,
                                                      db_target: tuple[str, str | None], tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.txt"
    assert cli(db_target, "audit", "anchor", "--append", str(anchors)).exit_code == 0
    sql(engine, "delete from audit_log")
    problem = first_problem(cli(db_target, "audit", "verify", "--anchor", str(anchors)))
    assert "audit entries #1–#10: missing: the audit trail is empty" in problem


def test_a_rewritten_tail_after_truncation_differs_from_the_anchor(
        trail: sessionmaker[Session], engine: Engine, db_target: tuple[str, str | None], tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.txt"
    assert cli(db_target, "audit", "anchor", "--append", str(anchors)).exit_code == 0
    sql(engine, "delete from audit_log where seq >= 9")
    with db.unit_of_work(trail) as s:  # govbot goes on writing: #9 and #10 exist again, with other content
        for i in range(2):
            audit.record(s, at=T0 + dt.timedelta(hours=1, minutes=i), action="blackout.added", object_type="blackout",
                         object_key=str(i))
    problem = first_problem(cli(db_target, "audit", "verify", "--anchor", str(anchors)))
    assert "audit entry #10: differs from the anchor of" in problem


def test_rewriting_the_whole_chain_as_unkeyed_entries_is_caught(
        trail: sessionmaker[Session], engine: Engine, db_target: tuple[str, str | None]) -> None:
    prev = audit.GENESIS
    for row in rows(engine):
        row["actor"] = "govbot"
        new = _legacy(prev, row)
        sql(engine, "update audit_log set key_id = null, actor = :actor, prev_hash = :prev, hash = :hash where seq = :seq",
            actor=row["actor"], prev=prev, hash=new, seq=row["seq"])
        prev = new
    problem = first_problem(cli(db_target, "audit", "verify"))
    assert "audit entries #1–#10: hashed without a key and sealed by no keyed entry" in problem


def test_a_forged_anchor_is_refused(trail: sessionmaker[Session], db_target: tuple[str, str | None],
                                    tmp_path: Path) -> None:
    line = cli(db_target, "audit", "anchor").output.strip()
    forged = line.replace("seq=10 ", "seq=11 ")
    (tmp_path / "forged.txt").write_text(forged + "\n", encoding="utf-8")
    problem = first_problem(cli(db_target, "audit", "verify", "--anchor", str(tmp_path / "forged.txt")))
    assert "does not match its signature" in problem


def test_key_rotation_old_entries_verify_with_the_previous_key(engine: Engine, db_target: tuple[str, str | None]) -> None:
    with db.unit_of_work(keyed(engine, OLD_KEY)) as s:
        for i in range(3):
            audit.record(s, at=T0 + dt.timedelta(minutes=i), action="blackout.added", object_type="blackout",
                         object_key=str(i))
    with db.unit_of_work(keyed(engine, TEST_AUDIT_KEY, (OLD_KEY,))) as s:  # rotated: new key, old one kept
        for i in range(3, 5):
            audit.record(s, at=T0 + dt.timedelta(minutes=i), action="blackout.added", object_type="blackout",
                         object_key=str(i))
    ids = [r["key_id"] for r in rows(engine)]
    assert ids[0] == ids[2] != ids[3] == ids[4]
    rotated = cli(db_target, "audit", "verify", env={"GOVBOT_AUDIT_PREVIOUS_KEYS": OLD_KEY})
    assert rotated.exit_code == 0, rotated.output
    assert "audit trail intact: 5 entries" in rotated.output
    forgotten = cli(db_target, "audit", "verify")
    assert f"audit entry #1: signed with audit key {ids[0]}, which is not configured" in first_problem(forgotten)


@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["worker", "--once"], ["audit", "verify"],
                                     ["audit", "anchor"]])
def test_production_refuses_to_start_without_the_audit_key(trail: sessionmaker[Session],
                                                            db_target: tuple[str, str | None],
                                                            command: list[str]) -> None:
    result = cli(db_target, *command, env={"GOVBOT_AUDIT_KEY": None, "GOVBOT_DEV_MODE": "false"})
    assert result.exit_code == 1, result.output
    assert "GOVBOT_AUDIT_KEY is not set" in result.output
    assert "Traceback" not in result.output


def test_a_placeholder_or_short_audit_key_is_refused(db_target: tuple[str, str | None]) -> None:
    for value, problem in (("changeme", "placeholder"), ("short", "too short")):
        result = cli(db_target, "audit", "verify", env={"GOVBOT_AUDIT_KEY": value})
        assert result.exit_code == 1 and problem in result.output, result.output


def test_the_worker_anchors_on_a_schedule_to_the_log_and_the_anchor_file(
        trail: sessionmaker[Session], engine: Engine, db_target: tuple[str, str | None], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from notifications.audit_anchor import JOB_ID, add_anchor_job

    scheduler = BackgroundScheduler(timezone="UTC")
    anchors = tmp_path / "anchors.txt"
    job = add_anchor_job(scheduler, trail, clock=lambda: T0, minutes=30, anchor_file=anchors)
    assert scheduler.get_job(JOB_ID) is job and job.trigger.interval == dt.timedelta(minutes=30)
    with caplog.at_level(logging.INFO, logger="govbot.audit.anchor"):
        job.func()  # what the scheduler runs every 30 minutes
    logged = [r.getMessage() for r in caplog.records if r.name == "govbot.audit.anchor"]
    assert len(logged) == 1 and "seq=10 " in logged[0]
    log_file = tmp_path / "govbot.log"
    log_file.write_text("2025-06-04 14:30:00 INFO govbot.audit.anchor: " + logged[0] + "\n", encoding="utf-8")
    assert anchors.read_text(encoding="utf-8").strip() == logged[0]
    sql(engine, "delete from audit_log where seq = 10")
    problem = first_problem(cli(db_target, "audit", "verify", "--anchor", str(log_file)))
    assert "audit entry #10: missing: the newest entries were deleted" in problem


def test_each_weekly_digest_carries_an_anchor_that_verify_reads(org: sessionmaker[Session], engine: Engine,
                                                                db_target: tuple[str, str | None],
                                                                tmp_path: Path) -> None:
    from notifications import digest

    factory = keyed(engine)
    with db.unit_of_work(factory) as s:
        for i in range(4):
            audit.record(s, at=T0 + dt.timedelta(minutes=i), action="blackout.added", object_type="blackout",
                         object_key=str(i))
    monday_8 = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)
    assert digest.run_due(factory, [digest.DigestScope("site:US-FDL", ("luis.ortega@corvane.example",))],
                          now=monday_8)
    with factory() as s:
        sent = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("digest:%"))).one().payload
    footer = next(f for f in sent["sections"][-1]["fields"] if f["label"] == "Audit trail anchor")
    assert footer["value"].startswith("govbot-audit-anchor v1 ") and " seq=4 " in footer["value"]
    mailbox = tmp_path / "digest.txt"  # the digest as a recipient keeps it
    mailbox.write_text(json.dumps(sent, indent=2), encoding="utf-8")
    sql(engine, "delete from audit_log")
    assert "audit entries #1–#4: missing: the audit trail is empty" in first_problem(
        cli(db_target, "audit", "verify", "--anchor", str(mailbox)))


def test_entries_from_before_keying_are_sealed_by_the_upgrade_and_still_checked(
        tmp_path: Path) -> None:
    """A store written by the previous version: `govbot db upgrade` numbers its entries and seals them with a
    keyed entry; verify checks them, and an edit of one of them is still found."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(url, revision="0002")
    engine = db.make_engine(url)
    prev = audit.GENESIS
    with engine.begin() as conn:
        for i in range(3):
            row = {"at": T0 + dt.timedelta(minutes=i), "actor": "govbot", "platform": "system", "action": "x",
                   "object_type": "change", "object_key": str(i), "data": {"i": i}}
            digest_ = _legacy(prev, row)
            conn.execute(sa.text("insert into audit_log (at, actor, platform, action, object_type, object_key, data, "
                                 "prev_hash, hash) values (:at, :actor, :platform, :action, :object_type, :object_key, "
                                 ":data, :prev, :hash)"),
                         {**row, "at": row["at"].replace(tzinfo=None), "data": json.dumps(row["data"]), "prev": prev,
                          "hash": digest_})
            prev = digest_
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["--database-url", url, "audit", "verify"], env={"GOVBOT_AUDIT_ANCHOR_FILE": ""})
    assert result.exit_code == 0, result.output
    assert "audit trail intact: 4 entries (3 from before entries were keyed)" in result.output
    with engine.begin() as conn:
        conn.execute(sa.text("update audit_log set actor = 'mallory' where seq = 2"))
    result = runner.invoke(main, ["--database-url", url, "audit", "verify"], env={"GOVBOT_AUDIT_ANCHOR_FILE": ""})
    assert "audit entry #2: content does not match its hash" in first_problem(result)
    engine.dispose()
