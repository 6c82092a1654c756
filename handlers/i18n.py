"""Answers in the asker's language: gettext catalogues (``handlers/locale/<lang>/LC_MESSAGES/govbot.po``,
read directly with Babel, so a plain checkout needs no build step) and dates and times formatted for the
locale with Babel's CLDR data.

Which language an answer is in (:func:`choose_locale`), first that applies:

1. the language the question was asked in, when its words belong to one language only
   ("¿quién es el dueño del horno?" is answered in Spanish even in an English chat client: whoever wrote it
   reads it);
2. the chat client's language (``Actor.locale``: Slack's user locale, Teams' activity locale);
3. the language the directory records for the person (Entra ``preferredLanguage``);
4. the language of the person's own site (the site of their teams, else of the site roles they hold);
5. the language of the site of the system the question is about (sites get a language in ``sites.csv``,
   or one derived from the site's country);
6. English.

A language without a catalogue is skipped (the next one applies).  English answers show dates as
``2025-02-28``; other languages in their CLDR medium format ("28 feb 2025", "28.02.2025").
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import logging
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from governance_store.models import Person, RoleAssignment, ScopeType, Site, Team, TeamMember
from governance_store.wording import Wording

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "govbot"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translated later"
    """Marks a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


def language_of(locale: str | None) -> str:
    """``es-MX`` -> ``es``; ``""`` for nothing."""
    return (locale or "").replace("_", "-").split("-", 1)[0].strip().lower()


@lru_cache(maxsize=1)
def supported() -> frozenset[str]:
    """The languages with a catalogue, and English."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset(found | {"en"})


@lru_cache(maxsize=16)
def _catalogue(language: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(language_of(locale) or "en")


class Translator:
    """Texts and dates for one locale.  ``t("{system} is owned by {owner}.", system=..., owner=...)``."""

    def __init__(self, locale: str = "en") -> None:
        language = language_of(locale)
        if language not in supported():
            language, locale = "en", "en"
        self.locale = locale or "en"
        self.language = language
        self._babel = _babel_locale(self.locale)
        self._gettext = _catalogue(language).gettext
        self._ngettext = _catalogue(language).ngettext

    def __call__(self, message: str, **values: Any) -> str:
        text = self._gettext(message)
        return text.format(**values) if values else text

    def say(self, text: str) -> str:
        """A text the store worded (:class:`governance_store.wording.Wording`) in this language; any other
        text as it is."""
        if not isinstance(text, Wording):
            return str(text)
        values = {k: self.date(v) if isinstance(v, dt.date) else self.say(v) if isinstance(v, Wording) else v
                  for k, v in text.values.items()}
        return self(text.msgid, **values)

    def plural(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self._ngettext(singular, plural, n).format(n=n, **values)

    def date(self, day: dt.date) -> str:
        if self.language == "en":
            return day.isoformat()
        return format_date(day, format="medium", locale=self._babel)

    def weekday_time(self, local: dt.datetime) -> str:
        """``Wed 10:00 EDT`` in the locale (the zone's abbreviation where there is one)."""
        zone = local.strftime("%Z")
        return f"{format_datetime(local, 'EEE HH:mm', locale=self._babel)} {zone}".strip()

    def datetime(self, local: dt.datetime) -> str:
        if self.language == "en":
            return f"{local:%Y-%m-%d %H:%M %Z}"
        return f"{format_datetime(local, 'medium', locale=self._babel)} {local.strftime('%Z')}".strip()


def translator(locale: str | None) -> Translator:
    return _translator(locale or "en")


@lru_cache(maxsize=64)
def _translator(locale: str) -> Translator:
    return Translator(locale)


def _person(person_id: int | None, email: str | None, session: Session) -> Person | None:
    if person_id is not None:
        return session.get(Person, person_id)
    if email:
        return session.scalar(select(Person).where(Person.email == email.strip()))
    return None


# Built once: every question whose asker's language is not known yet runs them.
_TEAM_SITES = (select(Team.site_code).join(TeamMember, TeamMember.team_id == Team.id)
               .where(TeamMember.person_id == bindparam("person"), Team.site_code.is_not(None)))
_ROLE_SITES = select(RoleAssignment.scope_key).where(
    RoleAssignment.person_id == bindparam("person"), RoleAssignment.scope_type == ScopeType.SITE.value)
_SITE_LANGUAGE = select(Site.language).where(Site.code == bindparam("code"))


def person_languages(*, person_id: int | None, email: str | None, session: Session) -> tuple[str | None, str | None]:
    """(what the directory says the person reads, the language of the person's own site) — either may be None.

    A person's own site is the site of the teams they belong to, else of the site-scoped roles they hold."""
    person = _person(person_id, email, session)
    if person is None:
        return None, None
    home = _home_site(person, session)
    language = session.scalar(_SITE_LANGUAGE, {"code": home}) if home else None
    return person.preferred_language, language


def home_site(*, person_id: int | None, email: str | None, session: Session) -> str | None:
    """The code of the person's own site (see :func:`person_languages`), or ``None``."""
    person = _person(person_id, email, session)
    return _home_site(person, session) if person is not None else None


def _home_site(person: Person, session: Session) -> str | None:
    sites = session.scalars(_TEAM_SITES, {"person": person.id}).all()
    if not sites:
        sites = session.scalars(_ROLE_SITES, {"person": person.id}).all()
    return Counter(sites).most_common(1)[0][0] if sites else None


def choose_locale(*candidates: str | None) -> str:
    """The first candidate whose language has a catalogue; "" when none does (the caller decides)."""
    for candidate in candidates:
        if candidate and language_of(candidate) in supported():
            return candidate
    return ""


def error_text(locale: str | None, error_id: str) -> str:
    """The one reply to a failure, in the asker's language (for the turn pipeline's error reply)."""
    t = translator(locale)
    return t("Something went wrong on my side (error id {error_id}). The team running govbot can look it up.",
             error_id=error_id)
