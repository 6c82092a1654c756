"""The weekly digest says how true the truth is: coverage, attestation answers and gaps of the week."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import Person
from governance_store.ownership_policy import DEFAULT_POLICY
from handlers.reply import Action, Actor
from notifications import digest
from notifications.ownership import start_campaign, sync_and_announce
from tests.core import handle_action

WEDNESDAY = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
NEXT_MONDAY_8 = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)  # 08:00 EDT


def test_the_weekly_digest_has_an_ownership_line_per_site(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=WEDNESDAY, policy=DEFAULT_POLICY, started_by="test")
        sync_and_announce(session=s, now=WEDNESDAY, policy=DEFAULT_POLICY)
        brian = s.scalars(sa.select(Person).where(Person.email == "brian.caldwell@corvane.example")).one()
        handle_action(Action("att.all_mine", str(campaign.id), Actor(brian.id, brian.display_name, "test")),  # type: ignore[union-attr]
                      session=s, now=WEDNESDAY + dt.timedelta(hours=5))
    runs = digest.run_due(org, [digest.DigestScope("site:US-FDL", ("luis.ortega@corvane.example",))],
                          now=NEXT_MONDAY_8)
    [run] = runs
    own = run.payload["ownership"]
    assert own["coverage"]["attested"] == 10 and own["coverage"]["systems"] == 25
    assert (own["asked"], own["answered"], own["median_response_hours"]) == (24, 10, 5.0)
    assert own["gaps_opened"] == own["gaps_open"] == 10  # the gaps of Findlay systems
    with org() as s:
        from governance_store.models import OutboxMessage

        message = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("digest:site:US-FDL:%"))).one()
        ownership = next(f for sec in message.payload["sections"] for f in sec["fields"] if f["label"] == "Ownership")
        assert ownership["value"].startswith("coverage 40.0% (10/25 systems with an owner confirmed in govbot)")
        assert "attestation 10/24 answered, median 5.0 h" in ownership["value"]


def test_the_ownership_lines_of_one_job_read_the_catalog_once(org: sessionmaker[Session]) -> None:
    """Coverage reads every system: the scopes of one job share that read (each used to make its own, which
    took minutes at fifty plants), and each site still gets its own figures."""
    with org() as s, s.begin():
        start_campaign(session=s, now=WEDNESDAY, policy=DEFAULT_POLICY, started_by="test")
        sync_and_announce(session=s, now=WEDNESDAY, policy=DEFAULT_POLICY)
    scopes = [digest.DigestScope(n, ("luis.ortega@corvane.example",))
              for n in ("all", "site:US-FDL", "site:CORP", "site:DE-RGB")]
    alone = {}
    for scope in scopes:  # each scope in a job of its own: the figures to compare with
        with org() as s:
            figures = digest.digest_figures(session=s, site=scope.name.partition(":")[2] or None,
                                            start=NEXT_MONDAY_8 - dt.timedelta(days=7), end=NEXT_MONDAY_8,
                                            now=NEXT_MONDAY_8)
            alone[scope.name] = (figures.coverage.systems, figures.coverage.attested, figures.gaps_open)
    seen: list[str] = []
    sa.event.listen(org.kw["bind"], "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    runs = digest.run_due(org, scopes, now=NEXT_MONDAY_8)
    assert len(runs) == 4
    catalog_reads = [q for q in seen if "FROM systems" in q and "WHERE systems.in_cmdb" in q]
    assert len(catalog_reads) == 1, "coverage is read once per job, whatever the number of scopes"
    shown = {r.scope: (r.payload["ownership"]["coverage"]["systems"], r.payload["ownership"]["coverage"]["attested"],
                       r.payload["ownership"]["gaps_open"]) for r in runs if r.payload.get("ownership")}
    assert shown and all(shown[name] == alone[name] for name in shown)
    assert shown.get("site:US-FDL", (0,))[0] == 25 and shown["all"][0] > shown["site:US-FDL"][0]
