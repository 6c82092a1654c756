"""The sample organisation the Slack tests talk to.

With the importer available the whole of ``examples/corvane`` is loaded (people
from Entra, Slack accounts from ``slack_users.csv``, the CMDB).  Without it, the
few rows the tests rely on are inserted directly, with the same names, e-mails
and Slack ids as the sample.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store.models import ChatIdentity, Person, System

# Slack ids from examples/corvane/slack_users.csv
LUIS = "U02411743DB"  # Luis Ortega, joined to his directory entry by e-mail
JESSICA = "U094C25DC3C"  # Jessica Park
JOHANNA = "U0F97113F78"  # Johanna Weber: Slack e-mail jo.weber@ does not match the directory
STRANGER = "U0STRANGER9"  # not in the sample at all
NEWCOMER = "U0RAYDAWSN1"  # not imported from Slack, but their e-mail is in the directory (Ray Dawson)
NEWCOMER_EMAIL = "ray.dawson@brightlinecontrols.example"
TEAM = "T04CRVBEV"

PLC = "PLC-FIL-L3-07"
PLC_OWNER = "Gregory Maddox"


def seed_org(session: Session, corvane_dir: Path) -> None:
    try:
        from governance_store.importers import import_paths  # type: ignore[attr-defined]
    except ImportError:
        _minimal(session)
    else:
        import_paths([corvane_dir], session=session)
    session.flush()


def _minimal(session: Session) -> None:
    people = {
        "luis": Person(email="luis.ortega@corvane.example", display_name="Luis Ortega", title="Senior Controls Engineer"),
        "jessica": Person(email="jessica.park@corvane.example", display_name="Jessica Park", title="Controls Engineer"),
        "gregory": Person(email="gregory.maddox@corvane.example", display_name="Gregory Maddox", active=False,
                          left_on=dt.date(2025, 2, 28)),
        "johanna": Person(email="johanna.weber@corvane.example", display_name="Johanna Weber"),
        "elena": Person(email="elena.petrova@corvane.example", display_name="Elena Petrova"),
        "ray": Person(email=NEWCOMER_EMAIL, display_name="Ray Dawson", is_guest=True),
    }
    session.add_all(people.values())
    session.flush()
    session.add_all([
        System(key="6f24307cd2c57f3d3030aa1d4c3a63f5", name=PLC, aliases=["Line 3 filler PLC"], class_name="PLC",
               site_code="US-FDL", serial="7A21C9E4", owner_id=people["gregory"].id,
               technical_manager_id=people["jessica"].id, support_group_name="OT Engineering - Findlay",
               install_status="Installed", criticality=1),
        System(key="929b2502517a47733aaf56eb9d1f9bc3", name="Historian (AVEVA PI) Plant 2", aliases=["PIHIST-RGB-01"],
               class_name="Historian", site_code="DE-RGB", owner_id=people["elena"].id, install_status="Installed"),
    ])
    session.add_all([
        ChatIdentity(platform="slack", external_id=LUIS, workspace_id=TEAM, person_id=people["luis"].id,
                     email="luis.ortega@corvane.example", display_name="Luis Ortega"),
        ChatIdentity(platform="slack", external_id=JESSICA, workspace_id=TEAM, person_id=people["jessica"].id,
                     email="jessica.park@corvane.example", display_name="Jessica Park"),
        ChatIdentity(platform="slack", external_id=JOHANNA, workspace_id=TEAM, person_id=None,
                     email="jo.weber@corvane.example", display_name="Johanna Weber"),
    ])


def person_id(session: Session, email: str) -> int:
    return session.scalars(select(Person.id).where(Person.email == email)).one()
