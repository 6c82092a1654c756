"""A :class:`~handlers.reply.Reply` as an e-mail: a subject, a plain-text part and an HTML part.

Approve and Reject become signed single-use links to a confirmation page (``/email/act``); other buttons
(Ask a question, I'm on it …) cannot be pressed from an e-mail, and the mail says where to do that.
Everything that comes from people or the store is escaped in the HTML part.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from handlers.reply import Button, Reply

# action id of a decision button -> the action a link takes
LINKED = {"cr.approve": "approve", "cr.reject": "reject"}


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str
    decisions: bool  # carries Approve / Reject links


def _subject(reply: Reply) -> str:
    title = reply.sections[0].title if reply.sections and reply.sections[0].title else ""
    first = (reply.text or "").strip().splitlines()[0] if (reply.text or "").strip() else "govbot"
    subject = first if not title or title in first else f"{first} · {title}"
    subject = " ".join(subject.split())
    return f"[govbot] {subject}"[:200]


def render_mail(reply: Reply, *, link: Callable[[Button], str | None]) -> Mail:
    """``link(button)``: the URL of a decision link for ``button`` (``None`` when links are not available)."""
    text_lines = [reply.text.strip(), ""]
    parts = [f"<p style=\"font-size:15px;font-weight:bold\">{html.escape(reply.text.strip())}</p>"]
    for warning in reply.warnings:
        text_lines.append(f"! {warning}")
        parts.append(f"<p style=\"color:#a4262c\">⚠ {html.escape(warning)}</p>")
    for section in reply.sections:
        if section.title:
            text_lines += [section.title, "-" * min(len(section.title), 60)]
            parts.append(f"<h3 style=\"margin:12px 0 4px\">{html.escape(section.title)}</h3>")
        if section.text:
            text_lines.append(section.text)
            parts.append(f"<p>{html.escape(section.text)}</p>")
        if section.fields:
            rows = []
            for f in section.fields:
                text_lines.append(f"{f.label}: {f.value}")
                value = html.escape(f.value).replace("\n", "<br>")
                rows.append(f"<tr><th style=\"text-align:left;padding:2px 12px 2px 0;vertical-align:top\">"
                            f"{html.escape(f.label)}</th><td style=\"padding:2px 0\">{value}</td></tr>")
            parts.append("<table style=\"border-collapse:collapse\">" + "".join(rows) + "</table>")
    decisions = False
    actions, elsewhere = [], []
    for button in reply.buttons:
        url = button.value if button.is_link else (link(button) if button.action_id in LINKED else None)
        if url is None:
            elsewhere.append(button.label)
            continue
        decisions = decisions or button.action_id in LINKED
        text_lines.append(f"{button.label}: {url}")
        colour = {"primary": "#2e7d32", "danger": "#a4262c"}.get(button.style or "", "#444")
        actions.append(f"<a href=\"{html.escape(url, quote=True)}\" style=\"display:inline-block;margin:8px 8px 0 0;"
                       f"padding:8px 16px;background:{colour};color:#fff;text-decoration:none;border-radius:4px\">"
                       f"{html.escape(button.label)}</a>")
    if actions:
        parts.append("<p>" + "".join(actions) + "</p>")
    if decisions:
        note = ("Each link opens a page that asks you to confirm; it works once and expires. "
                "Nothing is decided until you confirm there.")
        text_lines += ["", note]
        parts.append(f"<p style=\"color:#666;font-size:12px\">{html.escape(note)}</p>")
    if elsewhere:
        note = f"To {', '.join(label.lower() for label in elsewhere)}, use govbot in chat or on its dashboard."
        text_lines += ["", note]
        parts.append(f"<p style=\"color:#666;font-size:12px\">{html.escape(note)}</p>")
    body = "<!doctype html><html><body style=\"font-family:Segoe UI,Helvetica,Arial,sans-serif\">" \
        + "".join(parts) + "</body></html>"
    return Mail(subject=_subject(reply), text="\n".join(text_lines).strip() + "\n", html=body, decisions=decisions)
