"""Site codes typed on the command line: matched as the store spells them, or a clear error."""

from __future__ import annotations

import click
from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store.models import Site


def site_code(session: Session, typed: str, *, option: str = "--site") -> str:
    """The store's code for ``typed`` (case does not matter); otherwise a usage error that names the nearest
    codes and every site, so a typo never runs a command over no site at all."""
    codes = list(session.scalars(select(Site.code).order_by(Site.code)))
    wanted = typed.strip().casefold()
    for code in codes:
        if code.casefold() == wanted:
            return code
    near = [c for c, _score, _i in process.extract(typed.strip().upper(), codes, scorer=fuzz.WRatio,
                                                   limit=3, score_cutoff=60)]
    hint = f" Did you mean {' or '.join(near)}?" if near else ""
    known = ", ".join(codes) if codes else "none yet (import your exports first)"
    raise click.BadParameter(f"no site {typed!r}.{hint} Sites: {known}.", param_hint=option)
