"""Every sentence the Teams adapter itself says (answers come from the core)."""

from __future__ import annotations

from handlers.reply import Reply, Section

PLATFORM = "teams"

CONTINUED = "(continued)"
NO_TEXT = "Ask me about a plant system by its name, e.g. “who owns SYSTEM?”, or type `help` for examples from your own plant."
SHORTENED = "Some of what you typed was too long to show here and was shortened: check it before you send the form."


def not_in_directory(*, email: str | None) -> Reply:
    if email:
        why = f"Your Teams account ({email}) does not match anyone in govbot's directory."
    else:
        why = "I could not find your Teams account in govbot's directory, and Teams did not tell me your e-mail."
    fix = ("Ask a govbot admin to import the directory again (`govbot import`): your Entra object id "
           "or your e-mail must be in it.")
    return Reply(text=f"Sorry, you are not in govbot's directory. {why}", sections=(Section(text=fix),),
                 data={"status": "unknown_person"})


def unknown_click() -> Reply:
    return Reply(text="That button is no longer supported. Ask again to get a fresh answer.",
                 data={"status": "refused"})
