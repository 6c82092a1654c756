"""The outbox's ``Sender`` port for e-mail: SMTP with STARTTLS (or implicit TLS) and authentication.

E-mail reaches the people a chat platform cannot: a vendor's engineer without a chat account at once, and
anyone else after their message has waited ``GOVBOT_EMAIL_FALLBACK_MINUTES`` (see
:mod:`notifications.reach`), or first when they chose it (``notify me on email``).

* The connection is encrypted before anything else is said: STARTTLS is required (a server that does not
  offer it gets nothing), the certificate and host name are checked against the system's CAs or
  ``GOVBOT_SMTP_CA_FILE``; the password (``GOVBOT_SMTP_PASSWORD``) is only ever sent inside TLS.
* Approve / Reject become signed single-use links (:mod:`bot.email.links`), made when the mail is sent;
  nothing secret is stored in the outbox.
* Each mail's ``Message-ID`` is derived from its outbox key, so a message sent again after a crash (SMTP
  has no way to look a sent message up) is the same message to mail clients that de-duplicate by it.
* An e-mail cannot be changed once sent.  When a decision makes the Approve / Reject links of an approval
  request stale, ``update`` sends one short follow-up in the same thread ("approved by … at …; the links
  no longer work"); later changes send nothing more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.email.links import LinkSigner
from bot.email.render import LINKED, render_mail
from handlers.reply import Button, reply_from_dict
from notifications.outbox import DeliveryError, Recipient

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

PLATFORM = "email"
LINK_PATH = "email/act"


class EmailSender:
    platform = PLATFORM
    fallback = True  # used for people without a chat account, or after the wait (notifications.reach)

    def __init__(self, *, host: str, port: int, sender: str, security: str = "starttls", username: str | None = None,
                 password: str | None = None, ca_file: Path | None = None, timeout: float = 30.0,
                 signer: LinkSigner | None = None, base_url: str = "http://127.0.0.1:3000/",
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError("security must be starttls, tls or none")
        self.host, self.port, self.sender, self.security = host, port, sender, security
        self.username = username
        self._password = password
        self.ca_file = ca_file
        self.timeout = timeout
        self.signer = signer
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # ------------------------------------------------------------------ who can be reached

    def can_reach(self, recipient: Recipient) -> bool:
        return recipient.person_id is not None and bool(recipient.email and "@" in recipient.email)

    def has_account(self, recipient: Recipient) -> bool:
        return self.can_reach(recipient)

    def why_not(self, recipient: Recipient) -> str:
        return "no e-mail address is known for them"

    # ------------------------------------------------------------------ delivery

    def send(self, recipient: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        return self.send_keyed(recipient, payload, key=None)

    def send_keyed(self, recipient: Recipient, payload: dict[str, Any], *, key: str | None) -> dict[str, Any]:
        if not self.can_reach(recipient):
            raise DeliveryError("no e-mail address for this recipient", unreachable=True)
        assert recipient.email is not None and recipient.person_id is not None
        reply = reply_from_dict(payload)
        person_id = recipient.person_id

        def link(button: Button) -> str | None:
            if self.signer is None or button.action_id not in LINKED or not button.value.isdigit():
                return None
            token = self.signer.sign(person_id=person_id, change_id=int(button.value),
                                     action=LINKED[button.action_id], now=self.clock())
            return f"{self.base_url}{LINK_PATH}?t={token}"

        mail = render_mail(reply, link=link)
        message_id = self._message_id(key or f"{person_id}:{mail.subject}:{self.clock().isoformat()}")
        message = self._message(recipient, mail.subject, mail.text, mail.html, message_id)
        self._deliver(message, recipient.email)
        return {"to": recipient.email, "message_id": message_id, "subject": mail.subject,
                "followup": bool(mail.decisions and reply.data.get("status") == "card")}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        reply = reply_from_dict(payload)
        still_open = any(b.action_id in LINKED for b in reply.buttons)
        if not ref.get("followup") or still_open or not ref.get("to"):
            return ref  # an e-mail cannot change; only a decision that makes its links stale is worth a mail
        mail = render_mail(reply, link=lambda _b: None)
        text = mail.text + "\nThe Approve / Reject links in the earlier e-mail no longer work.\n"
        html = mail.html.replace("</body>", "<p style=\"color:#666;font-size:12px\">The Approve / Reject links in "
                                 "the earlier e-mail no longer work.</p></body>")
        subject = ref.get("subject") or mail.subject
        message = self._message(Recipient(None, None, ref["to"]), f"Re: {subject}", text, html,
                                self._message_id(f"{ref['message_id']}:followup"))
        message["In-Reply-To"] = ref["message_id"]
        message["References"] = ref["message_id"]
        self._deliver(message, ref["to"])
        return {**ref, "followup": False}

    # ------------------------------------------------------------------ SMTP

    def _message_id(self, key: str) -> str:
        domain = self.sender.rsplit("@", 1)[-1].strip(">") or "govbot.local"
        return f"<govbot.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"

    def _message(self, recipient: Recipient, subject: str, text: str, html: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = formataddr((recipient.display_name or "", recipient.email or ""))
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"the SMTP server {self.host} does not offer STARTTLS; nothing was sent")
                smtp.starttls(context=self._context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, message: EmailMessage, to: str) -> None:
        try:
            smtp = self._connect()
        except DeliveryError:
            raise
        except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError: nothing was sent
            raise DeliveryError(f"cannot reach the SMTP server {self.host}: {exc}") from exc
        try:
            if self.username:
                if self.security == "none":
                    raise DeliveryError("refusing to send the SMTP password without TLS", permanent=True)
                smtp.login(self.username, self._password or "")
            refused = smtp.send_message(message, to_addrs=[to])
            if refused:
                raise DeliveryError(f"the SMTP server refused {to}: {refused}", permanent=True)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"the SMTP server refused {to}: {exc.recipients}",
                                permanent=all(code >= 500 for code in codes)) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"the SMTP server refused govbot's login ({exc.smtp_code})") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"the SMTP server answered {exc.smtp_code}: {exc.smtp_error!r}",
                                permanent=exc.smtp_code >= 500) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"the SMTP conversation with {self.host} broke off: {exc}") from exc
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def email_sender_from_settings(container: Container) -> EmailSender | None:
    """The sender when ``GOVBOT_SMTP_HOST`` and ``GOVBOT_SMTP_FROM`` are set."""
    settings = container.settings
    if not settings.email_enabled():
        return None
    assert settings.smtp_host is not None and settings.smtp_from is not None
    signer = None
    if settings.email_link_key is not None:
        signer = LinkSigner(settings.email_link_key.get_secret_value(),
                            lifetime=dt.timedelta(hours=settings.email_link_hours))
    else:
        log.warning("GOVBOT_EMAIL_LINK_KEY is not set: e-mails carry no Approve / Reject links")
    return EmailSender(host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from,
                       security=settings.smtp_security, username=settings.smtp_username,
                       password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                       ca_file=settings.smtp_ca_file, timeout=settings.outbox_send_timeout(),
                       signer=signer, base_url=settings.dashboard_url(), clock=container.clock)
