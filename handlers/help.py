"""Usage help: what govbot understands, with examples."""

from __future__ import annotations

from handlers.reply import Field, Reply, Section

COMMANDS = (
    ("who SYSTEM", "owner, technical manager, support group, Accountable for changes, gaps"),
    ("raci SYSTEM [activity]", "R/A/C/I holders for an activity (default: change approval)"),
    ("sla SYSTEM", "response and resolution targets for the system's criticality"),
    ("deps SYSTEM", "what depends on the system and what it depends on"),
    ("call SYSTEM", "support group, escalation chain and local time at the site"),
    ("owns PERSON-or-TEAM", "systems and roles someone holds"),
    ("dashboard", "your personal sign-in link to the web dashboard"),
    ("help", "this help"),
)
EXAMPLES = (
    "who owns PLC-FIL-L3-07?",
    "who approves changes to the ammonia safety controller?",
    "who do I call about the historian in Regensburg?",
    "who must be consulted for firmware update on SIS-NH3-01?",
    "what depends on SCADA-FDL-01?",
    "what does Hannah Kowalski own?",
)


def help_reply(*, prefix: str = "", topic: str = "", status: str = "help") -> Reply:
    intro = prefix or "I answer who owns, decides on and must be told about a plant system."
    if topic:
        usage = next((c for c in COMMANDS if c[0].split()[0] == topic), None)
        if usage:
            intro = f"`{topic}` needs a subject: {usage[0]} — {usage[1]}"
    return Reply(
        text=intro,
        sections=(
            Section(title="Commands", fields=tuple(Field(cmd, desc) for cmd, desc in COMMANDS)),
            Section(title="Or ask in plain words", text="\n".join(f"• {e}" for e in EXAMPLES)),
        ),
        data={"status": status, "intent": "help", "candidates": [], "warnings": []},
    )
