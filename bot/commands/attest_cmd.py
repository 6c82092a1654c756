"""``govbot attest start|status|close`` and ``govbot gaps sync|list``: ownership attestation campaigns and
governance gaps as tracked work."""

from __future__ import annotations

import json
import sys

import click

from bot.cli import CliState, pass_state


def register(main: click.Group) -> None:
    main.add_command(attest)
    main.add_command(gaps_group)


def _policy(state: CliState):  # type: ignore[no-untyped-def]
    from governance_store.ownership_policy import PolicyError

    try:
        return state.store.services.ownership
    except PolicyError as exc:
        raise click.ClickException(f"GOVBOT_ATTESTATION_POLICY_FILE: {exc}") from None


@click.group()
def attest() -> None:
    """Ownership attestation campaigns: owners confirm, hand over, disown or retire their systems in chat."""


@attest.command("start")
@click.option("--site", "sites", multiple=True, help="Only systems of this site (repeat for several).")
@click.option("--all", "everything", is_flag=True, help="Every live system, not only those due by the policy.")
@click.option("--name", default=None, help="Campaign name (default: Ownership attestation DATE).")
@click.option("--dry-run", is_flag=True, help="Show who would be asked about what; send nothing.")
@pass_state
def attest_start(state: CliState, sites: tuple[str, ...], everything: bool, name: str | None, dry_run: bool) -> None:
    """Ask every owner whose systems are due (by the policy) to confirm them; each gets one card."""
    from bot.commands.sites import site_code
    from governance_store import attestation
    from notifications.ownership import start_campaign

    container = state.store
    policy = _policy(state)
    now = container.clock()
    with container.unit_of_work() as session:
        sites = tuple(site_code(session, s) for s in sites)
        if dry_run:
            plan = attestation.plan(session=session, now=now, policy=policy, sites=sites, everything=everything)
            campaign = None
        else:
            campaign, plan = start_campaign(session=session, now=now, policy=policy, started_by="govbot attest start",
                                            name=name, sites=sites, everything=everything)
        for person_id, systems in sorted(plan.asked.items(), key=lambda kv: plan.people[kv[0]].display_name):
            person = plan.people[person_id]
            click.echo(f"{person.display_name} <{person.email}>: {', '.join(s.name for s in systems)}")
        if plan.without_owner:
            click.echo(f"not asked, no owner ({len(plan.without_owner)}; each is a governance gap): "
                       + ", ".join(s.name for s in plan.without_owner))
        if campaign is None and not dry_run:
            click.echo("nothing is due: every owner has confirmed their systems within the policy's interval")
            return
        what = "would ask" if dry_run else f"campaign {campaign.id} asks" if campaign else "asks"
        click.echo(f"{what} {len(plan.asked)} people about {plan.systems} system(s)"
                   + (f"; answers due by {campaign.due_at:%Y-%m-%d %H:%M} UTC" if campaign else ""))


@attest.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_state
def attest_status(state: CliState, as_json: bool) -> None:
    """Campaigns and their answers, and ownership coverage per site."""
    from governance_store import ownership_metrics as metrics

    container = state.store
    policy = _policy(state)
    now = container.clock()
    with container.unit_of_work() as session:
        campaigns = metrics.campaigns(session=session, now=now)
        coverage = metrics.coverage(session=session, now=now, policy=policy)
    if as_json:
        click.echo(json.dumps({
            "campaigns": [{"id": c.id, "name": c.name, "state": c.state, "asked": c.asked, "answered": c.answered,
                           "overdue": c.overdue, "response_rate": c.response_rate, "median_hours": c.median_hours,
                           "answers": c.answers, "sites": {k: list(v) for k, v in c.sites.items()}}
                          for c in campaigns],
            "coverage": [{"site": r.site, "systems": r.systems, "owned": r.owned, "attested": r.attested,
                          "attested_pct": r.pct} for r in coverage],
        }, indent=2))
        return
    if not campaigns:
        click.echo("no attestation campaign yet (govbot attest start)")
    for c in campaigns:
        click.echo(f"campaign {c.id} · {c.name} · {c.state}: {c.answered}/{c.asked} answered ({c.response_rate}%), "
                   f"{c.overdue} overdue, median answer {c.median_hours if c.median_hours is not None else '—'} h; "
                   + ", ".join(f"{k} {v}" for k, v in sorted(c.answers.items())))
    for r in coverage:
        click.echo(f"coverage {r.site}: {r.attested}/{r.systems} systems with an attested owner ({r.pct}%), "
                   f"{r.owned} with an active owner")


@attest.command("close")
@click.argument("campaign_id", type=int)
@pass_state
def attest_close(state: CliState, campaign_id: int) -> None:
    """Close a campaign: unanswered systems stay due for the next one, and reminders stop."""
    from governance_store.attestation import AttestationError, close

    container = state.store
    try:
        with container.unit_of_work() as session:
            campaign = close(campaign_id, session=session, now=container.clock(), closed_by="govbot attest close")
            click.echo(f"campaign {campaign.id} closed")
    except AttestationError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("gaps")
def gaps_group() -> None:
    """Governance gaps as tracked work: who fixes each, and whether it is still found."""


@gaps_group.command("sync")
@pass_state
def gaps_sync(state: CliState) -> None:
    """Run the governance lint now: open, route and send new gaps, close those no longer found."""
    from bot.bootstrap import sync_gaps

    _policy(state)
    queued = sync_gaps(state.store)
    click.echo(f"gaps synced; {queued} card(s) queued")


@gaps_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Closed gaps too.")
@pass_state
def gaps_list(state: CliState, everything: bool) -> None:
    """Tracked gaps with their assignee and state."""
    from sqlalchemy import select

    from governance_store.models import TrackedGap

    with state.store.unit_of_work() as session:
        query = select(TrackedGap).order_by(TrackedGap.state.desc(), TrackedGap.severity, TrackedGap.code)
        if not everything:
            query = query.where(TrackedGap.state == "open")
        rows = session.scalars(query).all()
        for g in rows:
            who = g.assignee.display_name if g.assignee else "unassigned"
            click.echo(f"[{g.state}] {g.severity} {g.code}: {g.subject} -> {who}"
                       + (f" ({g.assigned_because})" if g.assigned_because else ""))
        if not rows:
            click.echo("no gaps" if everything else "no open gaps")
    sys.stdout.flush()
