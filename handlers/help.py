"""Usage help: what govbot understands, with examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance_store.models import Activity, Person, RaciEntry, System, SystemRelation
from handlers.i18n import N_, Translator, home_site, translator
from handlers.reply import Field, Reply, Section

COMMANDS = (
    (N_("who SYSTEM"), N_("owner, technical manager, support group, Accountable for changes, gaps")),
    (N_("raci SYSTEM [activity]"), N_("R/A/C/I holders for an activity (default: change approval)")),
    (N_("sla SYSTEM"), N_("response and resolution targets for the system's criticality")),
    (N_("deps SYSTEM"), N_("what depends on the system and what it depends on")),
    (N_("call SYSTEM"), N_("support group, escalation chain and local time at the site")),
    (N_("owns PERSON-or-TEAM"), N_("systems and roles someone holds")),
    (N_('change SYSTEM "title"'), N_("open a change request (without arguments: a form)")),
    (N_("approvals"), N_("change requests waiting for your decision")),
    (N_("delegate PERSON until YYYY-MM-DD"), N_("who approves in your place while you are away")),
    (N_("attest"), N_("systems to confirm as yours, ownership to accept or approve")),
    (N_("transfer SYSTEM to PERSON"), N_("hand a system you own over to someone")),
    (N_("claim SYSTEM"), N_("ask to own a system nobody owns")),
    (N_("gaps"), N_("governance gaps assigned to you, with one-click fixes")),
    (N_("dashboard"), N_("your personal sign-in link to the web dashboard")),
    (N_("notify [me on teams|slack|email]"), N_("where govbot reaches you (in that order)")),
    (N_("help"), N_("this help")),
)
# Questions in plain words, filled in with the asker's own plant (:func:`plant_examples`): an example
# naming a system the reader has never heard of teaches less than one about the PLC down the hall.
EXAMPLES = (
    N_("who owns {system}?"),
    N_("who approves changes to {system}?"),
    N_("who do I call about {system}?"),
    N_("who must be consulted for {activity} on {system}?"),
    N_("what depends on {system}?"),
    N_("what does {person} own?"),
)
# Of the systems an example may name, how many are looked at (the most critical first).
CANDIDATES = 200


@dataclass(frozen=True)
class ExampleValues:
    """What the examples name: a system for each of the first three, an activity and a person, and a
    system others depend on."""

    systems: tuple[str, str, str]
    activity: str
    depended_on: str
    person: str

    def fill(self, example: str, t: Translator) -> str:
        """``example`` (one of :data:`EXAMPLES`) in ``t``'s language, naming these values."""
        first, second, third = self.systems
        system = (first, second, third, first, self.depended_on, first)[EXAMPLES.index(example)]
        return t(example, system=system, activity=self.activity, person=self.person)


# An empty store: the examples show the shape of the question.
PLACEHOLDERS = ExampleValues(("SYSTEM", "SYSTEM", "SYSTEM"), "ACTIVITY", "SYSTEM", "PERSON")


def plant_examples(*, session: Session, person_id: int | None = None, email: str | None = None) -> ExampleValues:
    """Example values from the store: systems of the asker's own site when it is known (else of any),
    the most critical first and plain names (no spaces) before long ones, a system others depend on, the
    shortest-named activity that consults someone and a person who owns a system.  :data:`PLACEHOLDERS`
    for what the store does not have."""
    site = home_site(person_id=person_id, email=email, session=session)
    scopes: list[tuple[Any, ...]] = [(System.site_code == site,), ()] if site else [()]
    rows: list[tuple[str, int | None]] = []
    for scope in scopes:
        rows = list(session.execute(
            select(System.name, System.owner_id).where(System.owner_id.is_not(None), *scope)
            .order_by(func.coalesce(System.criticality, 9), System.name).limit(CANDIDATES)).tuples())
        if rows:
            break
    if not rows:
        return PLACEHOLDERS
    rows.sort(key=lambda row: (" " in row[0], len(row[0]) > 40))  # stable: criticality order otherwise kept
    names = [name for name, _owner in rows]
    systems = (names[0], names[1 % len(names)], names[2 % len(names)])
    depended = session.scalar(
        select(System.name).join(SystemRelation, SystemRelation.depends_on_id == System.id)
        .where(*((System.site_code == site,) if site else ()))
        .group_by(System.id, System.name).order_by(func.count().desc(), System.name).limit(1))
    activity = session.scalar(
        select(Activity.name).join(RaciEntry, RaciEntry.activity_id == Activity.id)
        .where(RaciEntry.letter == "C").order_by(func.length(Activity.name), Activity.activity_id).limit(1))
    owners = [owner for _name, owner in rows[:20]]
    person = session.scalar(select(Person.display_name).where(Person.id.in_(owners), Person.active.is_(True))
                            .order_by(Person.display_name).limit(1))
    return ExampleValues(systems, activity or PLACEHOLDERS.activity, depended or names[0],
                         person or PLACEHOLDERS.person)


def help_reply(*, prefix: str = "", topic: str = "", status: str = "help", locale: str = "en",
               examples: ExampleValues = PLACEHOLDERS) -> Reply:
    """Usage help in ``locale``; ``examples``: what the plain-words examples name (:func:`plant_examples`)."""
    t = translator(locale)
    intro = prefix or t("I answer who owns, decides on and must be told about a plant system.")
    if topic:
        usage = next((c for c in COMMANDS if c[0].split()[0] == topic), None)  # the command word stays English
        if usage:
            intro = t("`{topic}` needs a subject: {usage} — {description}", topic=topic, usage=t(usage[0]),
                      description=t(usage[1]))
    return Reply(
        text=intro,
        sections=(
            Section(title=t("Commands"), fields=tuple(Field(t(cmd), t(desc)) for cmd, desc in COMMANDS)),
            Section(title=t("Or ask in plain words"), text="\n".join(f"• {examples.fill(e, t)}" for e in EXAMPLES)),
        ),
        data={"status": status, "intent": "help", "candidates": [], "warnings": [], "locale": t.locale},
    )
