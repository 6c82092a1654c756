"""Usage help: what govbot understands, with examples."""

from __future__ import annotations

from handlers.i18n import N_, translator
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
EXAMPLES = (
    N_("who owns PLC-FIL-L3-07?"),
    N_("who approves changes to the ammonia safety controller?"),
    N_("who do I call about the historian in Regensburg?"),
    N_("who must be consulted for firmware update on SIS-NH3-01?"),
    N_("what depends on SCADA-FDL-01?"),
    N_("what does Hannah Kowalski own?"),
)


def help_reply(*, prefix: str = "", topic: str = "", status: str = "help", locale: str = "en") -> Reply:
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
            Section(title=t("Or ask in plain words"), text="\n".join(f"• {t(e)}" for e in EXAMPLES)),
        ),
        data={"status": status, "intent": "help", "candidates": [], "warnings": [], "locale": t.locale},
    )
