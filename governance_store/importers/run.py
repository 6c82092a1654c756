"""``import_paths``: recognise the files, apply them in dependency order, write once.

``import_files`` is the same pipeline for files that are already open: live sources hand it
their records as :class:`governance_store.importers.records.RecordFile` objects.
"""

from __future__ import annotations

import datetime as dt
import gc
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from governance_store.importers.changes import finish_changes
from governance_store.importers.cmdb import finish_cmdb
from governance_store.importers.context import Run, check_timezone
from governance_store.importers.csvio import CsvFile
from governance_store.importers.errors import COUNT_KEYS, ImportFailed, ImportReport, RowError
from governance_store.importers.holds import Hold, apply_holds
from governance_store.importers.org import finish_places
from governance_store.importers.people import finish_managers
from governance_store.importers.precedence import keep_confirmed_facts
from governance_store.importers.shapes import ORDER, SHAPES_BY_KIND, STAGES, recognise
from governance_store.importers.sightings import refresh_dirty
from governance_store.importers.state import Writer
from governance_store.models import Base

Progress = Callable[[str, int, int], None]

# What an export folder may say about its files, in a file of this name beside them.
FOLDER_SETTINGS = "govbot-import.toml"
FOLDER_KEYS = ("export_timezone",)

# Kinds in the report, in the order files are applied.
REPORT_ORDER = [
    "sites", "site_shutdowns", "hierarchy_nodes", "zones", "people", "chat_identities", "teams", "team_members", "systems",
    "system_sources", "system_contacts", "system_relations", "conduits", "roles", "activities", "raci_entries",
    "role_assignments", "decision_rights", "sla_policies", "escalation_chains", "escalation_levels",
    "change_requests", "approvals",
]

STAGE_FINISH: dict[str, Callable[[Run], None]] = {
    "people": finish_managers,
    "systems": finish_cmdb,
}


def _outside(child: Path, folder: Path) -> str | None:
    """Why ``child`` (an entry of ``folder``) is not read: a symbolic link, or a path that leads elsewhere.

    Nothing of what a link points at is read or shown: an import folder filled by someone else must not
    make govbot read (and echo in an error) a file outside it."""
    if child.is_symlink():
        return "is a symbolic link: not followed (copy the file into the import folder)"
    try:
        child.resolve(strict=True).relative_to(folder.resolve(strict=True))
    except (OSError, ValueError):
        return "leads outside the import folder: not read"
    return None


def _folder_zone(folder: Path, errors: list[RowError], known: dict[Path, str | None]) -> str | None:
    """The exporting user's time zone that ``folder``'s :data:`FOLDER_SETTINGS` names, if any.

    A folder of exports from one ServiceNow instance says once which zone its display values are in, so
    one import of several plants' folders reads each in its own zone.  An unreadable file, an unknown key
    or an unknown zone is an error of the import."""
    if folder in known:
        return known[folder]
    known[folder] = None
    path = folder / FOLDER_SETTINGS
    if not path.exists() and not path.is_symlink():
        return None
    label = str(path)
    if path.is_symlink() or not path.is_file():
        errors.append(RowError(label, 0, "is not a regular file: not read"))
        return None
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        errors.append(RowError(label, 0, f"not readable as TOML: {exc}"))
        return None
    unknown = sorted(set(settings) - set(FOLDER_KEYS))
    if unknown:
        errors.append(RowError(label, 0, f"unknown setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(FOLDER_KEYS)}"))
    zone = settings.get("export_timezone")
    if zone is None:
        return None
    try:
        if not isinstance(zone, str) or not check_timezone(zone):
            raise ValueError(f"export_timezone must be a time zone name, e.g. \"Europe/Warsaw\", not {zone!r}")
    except ValueError as exc:
        errors.append(RowError(label, 0, str(exc)))
        return None
    known[folder] = zone
    return zone


def _expand(paths: Iterable[Path], errors: list[RowError], order: list[str]) -> list[CsvFile]:
    """The CSV files named by ``paths`` (folders: every ``*.csv`` in them), in the order given, each with
    the export time zone its folder's :data:`FOLDER_SETTINGS` names.

    Symbolic links (a file given by name, or any entry of a folder) and entries that resolve outside their
    folder are refused as errors of their own, so the import stops and nothing is written."""
    files: list[CsvFile] = []
    seen: set[Path] = set()
    zones: dict[Path, str | None] = {}
    for given in paths:
        path = Path(given)
        order.append(str(path))
        if path.is_symlink() and not path.is_dir():
            errors.append(RowError(str(path), 0, "is a symbolic link: not followed (name the file itself)"))
            continue
        if path.is_dir():
            children = []
            for p in sorted(path.iterdir()):
                if p.suffix.lower() != ".csv":
                    continue
                refused = _outside(p, path)
                if refused is not None:
                    errors.append(RowError(str(p), 0, refused))
                elif p.is_file():
                    children.append(p)
            if not children and not any(e.file.startswith(str(path)) for e in errors):
                errors.append(RowError(str(path), 0, "folder contains no .csv files"))
        elif path.is_file():
            children = [path]
        else:
            errors.append(RowError(str(path), 0, "no such file or folder"))
            continue
        for child in children:
            resolved = child.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            f = CsvFile(child, str(child))
            f.export_timezone = _folder_zone(child.parent, errors, zones)
            files.append(f)
            order.append(str(child))
    return files


def import_paths(
    paths: list[Path],
    *,
    session: Session,
    dry_run: bool = False,
    progress: Progress | None = None,
    export_timezone: str | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import CSV exports from files and folders into the governance store.

    Files are recognised by their header and applied in dependency order.  All
    problems are collected first; if there is any, :class:`ImportFailed` carries
    every one of them and nothing is written.  Otherwise the changes are written
    to ``session`` (never committed here: the caller's unit of work commits).  In
    a dry run nothing is written and the report says what would change.

    ``export_timezone`` is the zone of the user who made the ServiceNow display-value exports, for
    files that do not name it themselves (a zone in a time column's header or after each value, or
    ``export_timezone`` in the folder's :data:`FOLDER_SETTINGS`).  Without any of these, the zone all sites
    share is used; when the sites are in several zones, such a file is refused.

    Facts confirmed in govbot are kept when the files disagree (``report.kept``; see
    :func:`governance_store.importers.precedence.keep_confirmed_facts`); ``now`` dates the disagreement.
    """
    # Hundreds of thousands of long-lived records make the cyclic collector
    # rescan the same objects over and over; nothing here creates cycles worth
    # collecting, so it pauses for the duration of the import.
    errors: list[RowError] = []
    labels: list[str] = []
    candidates = _expand(paths, errors, labels)
    return import_files(candidates, session=session, dry_run=dry_run, progress=progress, errors=errors,
                        labels=labels, export_timezone=export_timezone, now=now)


def import_files(
    files: list[CsvFile],
    *,
    session: Session,
    dry_run: bool = False,
    progress: Progress | None = None,
    holds: Iterable[Hold] = (),
    errors: list[RowError] | None = None,
    labels: list[str] | None = None,
    export_timezone: str | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """The import pipeline for files that are already named: CSV files (recognised by their header) or
    live-source record files (whose ``kind`` is set).  ``holds``: facts confirmed in govbot that this
    import must not overwrite; each row they keep is reported as held.  Same contract as
    :func:`import_paths`."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    run = Run(session)
    run.progress = progress
    if export_timezone:
        check_timezone(export_timezone)
        run.export_timezone = export_timezone
    if errors:
        run.errors.extend(errors)
    try:
        return _import(run, files, labels if labels is not None else [f.label for f in files],
                       dry_run=dry_run, holds=list(holds), now=now or dt.datetime.now(dt.UTC))
    finally:
        # The working copy refers to itself through its indexes: let it go now.
        run.cache.clear()
        run.tables.clear()
        if gc_was_enabled:
            gc.enable()


def _import(run: Run, candidates: list[CsvFile], labels: list[str], *, dry_run: bool,
            holds: list[Hold], now: dt.datetime) -> ImportReport:
    session = run.session
    progress = run.progress
    errors = run.errors
    report = ImportReport(dry_run=dry_run)

    for f in candidates:
        if f.kind is not None:
            # A live source's records: their kind is known, nothing to recognise.
            run.files.append(f)
            continue
        problems = f.open_header()
        if problems:
            errors.extend(problems)
            continue
        shape, problem, unknown = recognise(f)
        if shape is None:
            errors.append(RowError(f.label, 1, problem or "unrecognised header"))
            continue
        f.kind = shape.sniff(f) if shape.sniff else shape.kind
        if f.kind == "cmdb_ci_raw":
            f.variant = "raw"
        elif f.kind == "cmdb_ci":
            f.variant = "display"
        if unknown:
            run.note(f"{f.label}: ignored unknown column(s): {', '.join(unknown)}")
        f.sample = []
        run.files.append(f)
    report.files = [(f.label, f.kind or "") for f in run.files]
    run.rows_total = sum(f.rows_estimate for f in run.files) or 1

    # The caller's pending changes must be visible to what is loaded below; a dry
    # run flushes nothing at all.
    if not dry_run:
        session.flush()
    position: dict[str, int] = {}
    for label in labels:
        position.setdefault(label, len(position))
    ordered = sorted(run.files, key=lambda f: (ORDER[f.kind or ""], position[f.label]))
    for stage, kinds in STAGES:
        for f in ordered:
            if f.kind in kinds:
                before = run.rows_done
                SHAPES_BY_KIND[f.kind].handler(run, f)
                run.progress_rows(f, max(0, before + f.rows_estimate - run.rows_done))
        finish = STAGE_FINISH.get(stage)
        if finish is not None and any(f.kind in kinds for f in ordered):
            finish(run)
    if "systems" in run.cache:
        refresh_dirty(run.cache["systems"])
    finish_places(run)
    finish_changes(run)
    run.flush_tallies()
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: (position.get(e.file, -1), e.line)))

    # Facts confirmed in govbot first (they are reported and remembered), then a source's own holds.
    report.kept = keep_confirmed_facts(run, now=now, record=not dry_run)
    report.held = apply_holds(run, holds)
    for kept in report.kept:  # rows kept for a confirmed fact count as held too
        report.held[kept.table] = report.held.get(kept.table, 0) + 1
    plans = {name: state.plan() for name, state in run.tables.items()}
    for name, (added, changed, _removed, _unchanged) in plans.items():
        for where, reason in run.tables[name].validate([*added, *changed], name):
            label, line = where if where is not None else (f"({name})", 0)
            errors.append(RowError(label, line, reason))
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: (position.get(e.file, -1), e.line)))

    order = REPORT_ORDER + [t.name for t in Base.metadata.sorted_tables if t.name not in REPORT_ORDER]
    for name in sorted(plans, key=order.index):
        added, changed, removed, unchanged = plans[name]
        counts = dict(zip(COUNT_KEYS, (len(added), len(changed), len(removed), unchanged), strict=True))
        if any(counts.values()):
            report.counts[name] = counts
    report.notes = list(run.notes)

    if not dry_run:
        writing = None
        if progress is not None:
            def writing(done: int, total: int) -> None:
                progress("writing", done, total)
        Writer(session, run.tables).write(plans, writing)
        session.expire_all()
    return report
