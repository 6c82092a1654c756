"""Every sentence the Slack adapter itself says (answers come from the core)."""

from __future__ import annotations

from handlers.reply import Reply, Section

# Slash-command subcommands the adapter hands to the core; anything else gets the usage.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "who": ("who SYSTEM", "who owns it, who runs it, who to call"),
    "raci": ("raci SYSTEM [activity]", "who is Responsible, Accountable, Consulted, Informed"),
    "sla": ("sla SYSTEM", "which service levels apply"),
    "deps": ("deps SYSTEM", "what depends on it and what it depends on"),
    "owns": ("owns PERSON", "which systems a person owns"),
    "call": ("call SYSTEM", "who to call: support group, escalation chain, local time"),
    "steward": ("steward SYSTEM", "who is the data steward"),
    "change": ("change ...", "raise or look up a change request"),
    "approvals": ("approvals", "change requests waiting for your decision"),
    "delegate": ("delegate PERSON until YYYY-MM-DD", "who approves in your place while you are away"),
    "notify": ("notify me on teams|slack|email", "where govbot reaches you"),
    "attest": ("attest", "systems to confirm as yours, ownership to accept or approve"),
    "transfer": ("transfer SYSTEM to PERSON", "hand a system you own over to someone"),
    "claim": ("claim SYSTEM", "ask to own a system nobody owns"),
    "gaps": ("gaps", "governance gaps assigned to you, with one-click fixes"),
    "dashboard": ("dashboard", "your personal sign-in link to the web dashboard"),
    "help": ("help", "what govbot can answer"),
}

# Answers to these may be shared in the channel: asking again has no side effects.
SHAREABLE = frozenset({"who", "raci", "sla", "deps", "owns", "call", "steward"})

SHARE_LABEL = "Share in channel"
OPEN_FORM_LABEL = "Open the form"
CHOOSE_LABEL = "This one"
CONTINUED = "(continued)"


def usage(command: str = "/govbot", *, unknown: str | None = None) -> Reply:
    lines = [f"• `{command} {syntax}`: {what}" for syntax, what in SUBCOMMANDS.values()]
    intro = f"I don't know `{unknown}`. " if unknown else ""
    return Reply(
        text=f"{intro}Ask govbot with one of these:",
        sections=(
            Section(text="\n".join(lines)),
            Section(text="You can also mention @govbot in a channel or send it a direct message in plain words, "
                    f"e.g. “who owns SYSTEM?”; `{command} help` shows examples from your own plant."),
        ),
        data={"status": "usage"},
    )


def not_in_directory(*, email: str | None) -> Reply:
    if email:
        why = (
            f"Your Slack account's e-mail ({email}) does not match anyone in the governance directory."
        )
        fix = (
            "Check that your Slack e-mail is the same as your company directory e-mail, "
            "or ask a govbot admin to import the directory and the Slack user list again "
            "(`govbot import`)."
        )
    else:
        why = "I could not find your Slack account in the governance directory, and Slack did not tell me your e-mail."
        fix = (
            "Ask a govbot admin to import the Slack user list and the directory (`govbot import`), "
            "or to grant the app the `users:read.email` scope so I can match you by e-mail."
        )
    return Reply(text=f"Sorry, I don't know who you are yet. {why}", sections=(Section(text=fix),),
                 data={"status": "unknown_person"})


def shared_by(user_id: str) -> str:
    return f"Shared by <@{user_id}>"


def share_failed() -> Reply:
    return Reply(
        text="I could not post in this channel. Invite me with `/invite @govbot` and try again.",
        data={"status": "error"},
    )
