"""Sites, the ISA-95 hierarchy, security zones and conduits."""

from __future__ import annotations

import re
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages

from governance_store.calendar import MAX_SHUTDOWN_DAYS
from governance_store.folding import name_keys
from governance_store.hours import parse_hours, site_languages
from governance_store.importers.context import Row, Run, check_timezone, fold, parse_date, parse_int
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import Places, Systems
from governance_store.models import Conduit, SiteShutdown

ISA95_LEVELS = {
    "enterprise", "site", "area", "work_center", "production_line", "process_cell", "production_unit",
    "storage_zone", "work_cell", "work_unit", "unit", "storage_unit", "equipment_module", "control_module",
}
_PSM = re.compile(r"\bPSM\b")


def first_seen(seen: dict[str, int], key: str, row: Row, what: str) -> bool:
    """True (and an error) when ``key`` already appeared earlier in this file."""
    if not key:
        return False
    k = fold(key)
    if k in seen:
        row.fail(f"duplicate {what} {key!r} (first on line {seen[k]})")
        return True
    seen[k] = row.line
    return False


def holiday_subdivision(country: str | None, region: str | None) -> str | None:
    """ISO subdivision code the ``holidays`` package uses: Ohio gives OH, Bayern gives BY, Łódzkie (or
    Lodzkie) gives 10.  None when the package has no calendar for the country or does not know the region."""
    if not country or not region:
        return None
    import holidays

    try:
        cls = type(holidays.country_holidays(country))
    except NotImplementedError:
        return None
    wanted = name_keys(region.strip())
    for code in getattr(cls, "subdivisions", ()):
        if set(name_keys(str(code))) & set(wanted):
            return str(code)
    for alias, code in (getattr(cls, "subdivisions_aliases", None) or {}).items():
        if set(name_keys(str(alias))) & set(wanted):
            return str(code)
    return None


def site_language(language: str, country: str | None) -> str | None:
    """The site's language tag as given (``es``, ``pl-PL``), or derived from its country (MX gives ``es-MX``)."""
    if language:
        tag = language.strip().replace("_", "-")
        try:
            Locale.parse(tag, sep="-")
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown language {language!r} (expected e.g. en, de, es-MX, pl)") from None
        return tag
    if not country:
        return None
    official = get_official_languages(country, de_facto=True)
    return f"{official[0]}-{country}" if official else None


def import_sites(run: Run, f: CsvFile) -> None:
    from governance_store.calendar import holiday_support

    places = Places.of(run)
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        code = row.required("site_code")
        name = row.required("name")
        tz = row.parse(check_timezone, "timezone")
        country = row["country"].upper() or None
        if country and len(country) != 2:
            row.fail(f"country: expected a two-letter ISO code, got {row['country']!r}")
        language = row.parse(site_language, "language", country if country and len(country) == 2 else None)
        hours_column = "business_hours_local" if row["business_hours_local"] else "business_hours"
        hours = row[hours_column] or None
        hours_problem = None
        if hours:
            try:
                parse_hours(hours, site_languages(language))
            except ValueError as exc:
                # Reported below; the site is still known, so rows naming it do not fail as well.
                hours_problem = f"{hours_column}: {exc}"
        if first_seen(seen, code, row, "site_code") or row.bad:
            continue
        region = row["region"] or None
        subdivision = holiday_subdivision(country, region)
        known, _ = holiday_support(country, None)
        if country and not known:
            run.note(f"{f.label}: the holidays package has no calendar for {country}; site {code} has no "
                     "public holidays (plant shutdown days can be imported)")
        elif region and country and subdivision is None:
            run.note(f"{f.label}: the holidays package has no calendar for {country} / {region}; site {code} "
                     f"uses the national public holidays of {country}")
        rec = places.site_by_code.get(fold(code))
        rec = places.sites.upsert(
            rec, row.where,
            code=code, name=name, isa95_node_id=row["isa95_node_id"] or None, country=country, region=region,
            holiday_subdivision=subdivision, timezone=tz or "UTC", business_hours=hours,
            oncall_channel=row["oncall_channel"] or None, language=language,
        )
        places.add_site(rec)
        if hours_problem:
            row.fail(hours_problem)
    run.cache["psm_dirty"] = True


def import_shutdowns(run: Run, f: CsvFile) -> None:
    """Plant shutdown days per site: each file lists every shutdown of the sites it names."""
    places = Places.of(run)
    state = run.table(SiteShutdown)
    existing = {(fold(r.site_code), r.first_day): r for r in state.live()}
    named: set[str] = set()
    seen: dict[str, int] = {}
    kept: set[int] = set()
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        code = row.required("site_code")
        site = places.site(code) if code else None
        if code and site is None:
            row.fail(f"site_code: unknown site {code!r}")
        first = row.parse(parse_date, "first_day")
        if first is None and not row["first_day"]:
            row.fail("first_day is empty")
        last = row.parse(parse_date, "last_day")
        if first is not None and last is not None:
            if last < first:
                row.fail(f"last_day {last.isoformat()} is before first_day {first.isoformat()}")
            elif (last - first).days >= MAX_SHUTDOWN_DAYS:
                row.fail(f"a shutdown of more than {MAX_SHUTDOWN_DAYS} days ({first} to {last}) is not a shutdown")
        if row.bad or site is None or first is None:
            continue
        if first_seen(seen, f"{site.code}|{first.isoformat()}", row, "shutdown"):
            continue
        named.add(fold(site.code))
        rec = state.upsert(existing.get((fold(site.code), first)), row.where, site_code=site.code, first_day=first,
                           last_day=last if last and last != first else None,
                           name=row["name"] or row["reason"] or None)
        existing[(fold(site.code), first)] = rec
        kept.add(rec.id)
    for rec in list(state.live()):
        if fold(rec.site_code) in named and rec.id not in kept:
            state.remove(rec)


def import_hierarchy(run: Run, f: CsvFile) -> None:
    places = Places.of(run)
    seen: dict[str, int] = {}
    pending: list[tuple[Any, str, Row]] = []
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        node_id = row.required("node_id")
        name = row.required("name")
        level = row["isa95_level"].strip().lower().replace(" ", "_")
        if level not in ISA95_LEVELS:
            row.fail(f"isa95_level: invalid level {row['isa95_level']!r}")
        site_code = row["site_code"] or None
        if site_code and places.site(site_code) is None:
            row.fail(f"site_code: unknown site {site_code!r}")
        if first_seen(seen, node_id, row, "node_id") or row.bad:
            continue
        rec = places.node(node_id)
        rec = places.nodes.upsert(
            rec, row.where, node_id=node_id, level=level, name=name,
            local_name=row["local_name"] or None, site_code=site_code,
        )
        places.add_node(rec)
        pending.append((rec, row["parent_node_id"], row))
    for rec, parent_ref, row in pending:
        if not parent_ref:
            rec.parent_id = None
            continue
        parent = places.node(parent_ref)
        if parent is None:
            row.fail(f"parent_node_id: unknown node {parent_ref!r}")
        elif parent is rec:
            row.fail("parent_node_id: a node cannot be its own parent")
        else:
            rec.parent_id = parent.id
    places.cache_areas = None
    places.area_memo = {}


def import_zones(run: Run, f: CsvFile) -> None:
    places = Places.of(run)
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        zone_id = row.required("zone_id")
        name = row["zone_name"] or row["name"]
        if not name:
            row.fail("zone_name is empty")
        site_code = row["site_code"] or None
        if site_code and places.site(site_code) is None:
            row.fail(f"site_code: unknown site {site_code!r}")
        sl = row.parse(parse_int, "sl_target")
        if sl is not None and not 0 <= sl <= 4:
            row.fail(f"sl_target: security level must be 0 to 4, got {sl}")
        if first_seen(seen, zone_id, row, "zone_id") or row.bad:
            continue
        rec = places.zone_by_id.get(fold(zone_id))
        rec = places.zones.upsert(
            rec, row.where, zone_id=zone_id, site_code=site_code, name=name,
            purdue_level=row["purdue_level"] or None, sl_target=sl,
            owner_role=row["zone_owner_role"] or row["owner_role"] or None,
            description=row["description"] or None,
        )
        places.add_zone(rec)
    run.cache["psm_dirty"] = True


def import_conduits(run: Run, f: CsvFile) -> None:
    places = Places.of(run)
    systems = Systems.of(run)
    state = run.table(Conduit)
    existing = {fold(r.conduit_id): r for r in state.live()}
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        conduit_id = row.required("conduit_id")
        ends = []
        for column in ("from_zone", "to_zone"):
            zone = row.required(column)
            if zone and fold(zone) not in places.zone_by_id:
                row.fail(f"{column}: unknown zone {zone!r}")
            ends.append(zone)
        if first_seen(seen, conduit_id, row, "conduit_id") or row.bad:
            continue
        enforced_by = row["enforced_by_ci"] or row["enforced_by"] or None
        system_id = None
        if enforced_by:
            system, _problem = systems.find_ref(enforced_by)
            if system is None:
                run.tally(f"{f.label}: enforcing system {{key!r}} not found ({{n}} conduit{{s}}); kept as a name",
                          enforced_by)
            else:
                system_id = system.id
        existing[fold(conduit_id)] = state.upsert(
            existing.get(fold(conduit_id)), row.where, conduit_id=conduit_id, from_zone=ends[0], to_zone=ends[1],
            enforced_by=enforced_by, enforced_by_system_id=system_id,
            allowed_traffic=row["allowed_traffic"] or None,
        )


def finish_places(run: Run) -> None:
    """Site flags derived from zones: a site is PSM-covered when one of its zones says so."""
    if not run.cache.get("psm_dirty"):
        return
    places = Places.of(run)
    covered = {
        fold(z.site_code)
        for z in places.zones.live()
        if z.site_code and _PSM.search(z.description or "")
    }
    for site in places.sites.live():
        site.psm_covered = fold(site.code) in covered
