"""The working copy of the store that an import edits, and writing it back.

Each table the import touches is loaded once into compact slotted records
(no per-row queries).  Importers change records in memory; new records get
negative temporary ids, and foreign keys between records hold those ids until
the write, which allocates real ids in bulk and remaps them.  The diff of the
working copy against what was loaded gives the added / changed / removed /
unchanged counts, so a dry run reports exactly what a real run would write.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.models import Base

# Above this many new rows of one table, PostgreSQL gets them through COPY.
COPY_THRESHOLD = 2000
CHUNK = 2000


def _dump_json(value: Any) -> str | None:
    """JSON text of a column value; empty lists and objects, the common case, skip the encoder."""
    if value is None:
        return None
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


class _Sharer:
    """One object for every distinct value (values are never edited in place, only replaced)."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.lists: dict[tuple[Any, ...], list[Any]] = {}
        self.dicts: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __call__(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.strings.setdefault(value, value)
        if kind is list:
            return self._list(value)
        if kind is dict:
            return self._dict(value)
        return value

    def _list(self, value: list[Any]) -> list[Any]:
        strings = self.strings
        flat = True
        items = []
        for v in value:
            kind = type(v)
            if kind is str:
                v = strings.setdefault(v, v)
            elif kind is list or kind is dict:
                v = self(v)
                flat = False
            items.append(v)
        return self.lists.setdefault(tuple(items), items) if flat else items

    def _dict(self, value: dict[str, Any]) -> dict[str, Any]:
        strings = self.strings
        flat = True
        shared: dict[str, Any] = {}
        for k, v in value.items():
            kind = type(v)
            if kind is str:
                v = strings.setdefault(v, v)
            elif kind is list:
                v = self._list(v)
                flat = False
            elif kind is dict:
                v = self._dict(v)
                flat = False
            shared[strings.setdefault(k, k)] = v
        return self.dicts.setdefault(tuple(shared.items()), shared) if flat else shared


class Record:
    """Base of the per-table record classes; the attributes are the table's columns."""

    __slots__ = ()


class TableState:
    """All rows of one table: loaded ones, new ones, and what happened to each."""

    def __init__(self, session: Session, model: type[Base]) -> None:
        self.session = session
        self.model = model
        self.table: sa.Table = model.__table__  # type: ignore[assignment]
        self.name = self.table.name
        self.cols = [c.name for c in self.table.columns if c.name != "id"]
        self.json_cols = {c.name for c in self.table.columns if isinstance(c.type, sa.JSON)}
        self.fks: dict[str, str] = {}
        for col in self.table.columns:
            for fk in col.foreign_keys:
                self.fks[col.name] = fk.column.table.name
        self.lengths = {
            c.name: c.type.length
            for c in self.table.columns
            if isinstance(c.type, sa.String) and getattr(c.type, "length", None)
        }
        self.not_null = {c.name for c in self.table.columns if not c.nullable and c.name != "id"}
        self.defaults: dict[str, Any] = {}
        for col in self.table.columns:
            default = col.default
            if default is None or col.name == "id":
                continue
            arg = getattr(default, "arg", None)
            if getattr(default, "is_callable", False):
                self.defaults[col.name] = arg  # called per record
            else:
                self.defaults[col.name] = ("value", arg)
        self._static = {n: (d[1] if isinstance(d, tuple) else None) for n in self.cols
                        for d in [self.defaults.get(n)] if not callable(d)}
        self._factories = {n: d for n, d in self.defaults.items() if callable(d)}
        slots = ("id", *self.cols, "_orig", "_touched", "_removed", "_where")
        self.rec_cls: type[Any] = type(f"{self.name}_record", (Record,), {"__slots__": slots})
        getter = operator.attrgetter(*self.cols)
        if len(self.cols) == 1:
            self.get_values: Callable[[Any], tuple[Any, ...]] = lambda rec: (getter(rec),)
        else:
            self.get_values = getter  # type: ignore[assignment]
        self.rows: dict[int, Any] = {}
        self._temp = 0
        self._init = self._compile_init()
        self._check = self._compile_check()

    def _compile_init(self) -> Callable[[Any, dict[str, Any]], None]:
        """A record initialiser for this table: every column from ``values`` or its default."""
        lines = ["def init(rec, v):"]
        for name in self.cols:
            if name in self._factories:
                lines.append(f"    rec.{name} = v['{name}'] if '{name}' in v else F['{name}'](None)")
            else:
                lines.append(f"    rec.{name} = v['{name}'] if '{name}' in v else S['{name}']")
        lines += ["    rec._orig = None", "    rec._touched = True", "    rec._removed = False"]
        scope: dict[str, Any] = {"F": self._factories, "S": self._static}
        exec("\n".join(lines), scope)  # noqa: S102 - generated from the table's own column names
        return scope["init"]  # type: ignore[no-any-return]

    def _compile_check(self) -> Callable[[Any], list[str]]:
        """A checker for what the database would refuse: over-long strings, missing required values."""
        lines = ["def check(rec):", "    bad = []"]
        for name in self.cols:
            limit = self.lengths.get(name)
            required = name in self.not_null
            if not limit and not required:
                continue
            lines.append(f"    x = rec.{name}")
            if required:
                lines.append(f"    if x is None: bad.append('{name} is required')")
            if limit:
                lines.append(f"    if x is not None and len(x) > {limit}:")
                lines.append(f"        bad.append('{name} is longer than {limit} characters: ' + repr(x[:40]) + '...')")
        lines.append("    return bad")
        scope: dict[str, Any] = {}
        exec("\n".join(lines), scope)  # noqa: S102 - generated from the table's own column names
        return scope["check"]  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        """Every row of the table, once.  Equal values are shared between rows (strings,
        and lists and objects from JSON columns): a re-import of a large export holds
        the whole table, and most of its values repeat."""
        cls = self.rec_cls
        names = ["id", *self.cols]
        columns = [self.table.c[n] for n in names]
        json_pos = [i for i, n in enumerate(names) if n in self.json_cols]
        str_pos = [i for i, c in enumerate(columns) if isinstance(c.type, sa.String)]
        share = _Sharer()
        strings = share.strings
        result = self.session.execute(sa.select(*columns)).yield_per(5000)
        for row in result:
            values = list(row)
            for i in str_pos:
                v = values[i]
                if v is not None:
                    values[i] = strings.setdefault(v, v)
            for i in json_pos:
                values[i] = share(values[i])
            rec = object.__new__(cls)
            for name, value in zip(names, values, strict=True):
                setattr(rec, name, value)
            rec._orig = tuple(values[1:])
            rec._touched = False
            rec._removed = False
            rec._where = None
            self.rows[rec.id] = rec

    # ------------------------------------------------------------------ editing

    def new(self, where: tuple[str, int] | None = None, **values: Any) -> Any:
        rec = object.__new__(self.rec_cls)
        self._temp -= 1
        rec.id = self._temp
        self._init(rec, values)
        rec._where = where
        self.rows[rec.id] = rec
        return rec

    def upsert(self, rec: Any, where: tuple[str, int] | None, **values: Any) -> Any:
        """Create the record, or set ``values`` on the existing one; either way it is touched."""
        if rec is None:
            return self.new(where, **values)
        for name, value in values.items():
            setattr(rec, name, value)
        self.touch(rec, where)
        return rec

    @staticmethod
    def touch(rec: Any, where: tuple[str, int] | None = None) -> None:
        rec._touched = True
        rec._removed = False
        if where is not None:
            rec._where = where

    @staticmethod
    def remove(rec: Any) -> None:
        rec._removed = True

    def live(self) -> Iterator[Any]:
        return (r for r in self.rows.values() if not r._removed)

    # ------------------------------------------------------------------ diff

    def is_changed(self, rec: Any) -> bool:
        return rec._orig is not None and self.get_values(rec) != rec._orig

    def plan(self) -> tuple[list[Any], list[Any], list[Any], int]:
        """(added, changed, removed, unchanged-count) of this table."""
        added: list[Any] = []
        changed: list[Any] = []
        removed: list[Any] = []
        unchanged = 0
        getter = self.get_values
        for rec in self.rows.values():
            if rec._orig is None:
                if not rec._removed:
                    added.append(rec)
            elif rec._removed:
                removed.append(rec)
            elif getter(rec) != rec._orig:
                changed.append(rec)
            elif rec._touched:
                unchanged += 1
        return added, changed, removed, unchanged

    def validate(self, records: Iterable[Any], fallback: str) -> Iterator[tuple[tuple[str, int] | None, str]]:
        """Values the database would refuse: over-long strings, missing required values."""
        check = self._check
        for rec in records:
            problems = check(rec)
            for problem in problems:
                yield rec._where, problem if rec._where is not None else f"{problem} ({fallback})"


class Writer:
    """Writes the planned changes of every table in foreign-key order."""

    def __init__(self, session: Session, tables: dict[str, TableState]) -> None:
        self.session = session
        self.tables = tables
        self.dialect = session.get_bind().dialect.name
        self.idmap: dict[str, dict[int, int]] = {}

    def write(self, plans: dict[str, tuple[list[Any], list[Any], list[Any], int]],
              progress: Callable[[int, int], None] | None = None) -> None:
        order = [t.name for t in Base.metadata.sorted_tables if t.name in plans]
        total = sum(len(a) + len(c) + len(r) for a, c, r, _ in plans.values()) or 1
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        for name in order:
            added = plans[name][0]
            self.idmap[name] = dict(zip((r.id for r in added), self._allocate(name, len(added)), strict=True))
        for name in order:
            state = self.tables[name]
            added = plans[name][0]
            if added:
                later = self._insert(state, added)
                tick(len(added))
                if later:
                    self._update(state, later, only=list({c for _, cols in later for c in cols}))
        for name in order:
            changed = plans[name][1]
            if changed:
                self._update(self.tables[name], [(r, None) for r in changed])
                tick(len(changed))
        for name in reversed(order):
            removed = plans[name][2]
            if removed:
                table = self.tables[name].table
                ids = [r.id for r in removed]
                for i in range(0, len(ids), CHUNK):
                    self.session.execute(sa.delete(table).where(table.c.id.in_(ids[i : i + CHUNK])))
                tick(len(removed))
        self.session.flush()

    # ------------------------------------------------------------------ helpers

    def _allocate(self, name: str, n: int) -> list[int]:
        if not n:
            return []
        if self.dialect == "postgresql":
            rows = self.session.execute(
                sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": name, "n": n},
            )
            return [r[0] for r in rows]
        start = self.session.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{name}"')).scalar_one()
        return list(range(start + 1, start + 1 + n))

    def _real(self, target: str, value: int | None) -> int | None:
        if value is None or value > 0:
            return value
        return self.idmap[target][value]

    def _row(self, state: TableState, rec: Any, *, defer_self: bool) -> tuple[dict[str, Any], list[str]]:
        row: dict[str, Any] = {"id": self._real(state.name, rec.id)}
        deferred: list[str] = []
        for name in state.cols:
            value = getattr(rec, name)
            target = state.fks.get(name)
            if target is not None and value is not None and value < 0:
                if defer_self and target == state.name:
                    deferred.append(name)
                    value = None
                else:
                    value = self.idmap[target][value]
            row[name] = value
        return row, deferred

    def _tuples(self, state: TableState, records: list[Any]) -> Iterator[tuple[list[Any], Any, list[str]]]:
        """Each new record as a list of values in ``("id", *cols)`` order, foreign keys made real.

        References to other new rows of the same table are left empty and
        returned, to be set once every row exists."""
        fk_positions = [(i + 1, name, target) for i, name in enumerate(state.cols)
                        if (target := state.fks.get(name)) is not None]
        getter = state.get_values
        own = self.idmap[state.name]
        for rec in records:
            values = [own[rec.id], *getter(rec)]
            deferred: list[str] = []
            for pos, name, target in fk_positions:
                value = values[pos]
                if value is not None and value < 0:
                    if target == state.name:
                        deferred.append(name)
                        values[pos] = None
                    else:
                        values[pos] = self.idmap[target][value]
            yield values, rec, deferred

    def _insert(self, state: TableState, records: list[Any]) -> list[tuple[Any, list[str]]]:
        """Insert new rows; returns the rows whose self-references must be set afterwards."""
        later: list[tuple[Any, list[str]]] = []
        names = ["id", *state.cols]
        driver = self.session.get_bind().dialect.driver
        if self.dialect == "postgresql" and driver == "psycopg" and len(records) >= COPY_THRESHOLD:
            json_pos = [i for i, n in enumerate(names) if n in state.json_cols]
            raw = self.session.connection().connection.driver_connection
            cols = ", ".join(f'"{n}"' for n in names)
            dumps = _dump_json
            with raw.cursor() as cur, cur.copy(f'COPY "{state.name}" ({cols}) FROM STDIN') as copy:  # type: ignore[union-attr]
                for values, rec, deferred in self._tuples(state, records):
                    for i in json_pos:
                        if values[i] is not None:
                            values[i] = dumps(values[i])
                    copy.write_row(values)
                    if deferred:
                        later.append((rec, deferred))
            return later
        if self.dialect == "sqlite":
            # Straight to the driver, through the same value processing SQLAlchemy applies.
            dialect = self.session.get_bind().dialect
            procs = [(i, _dump_json if n in state.json_cols else proc) for i, n in enumerate(names)
                     if (proc := state.table.c[n].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
            quoted = ", ".join(f'"{n}"' for n in names)
            sql = f'INSERT INTO "{state.name}" ({quoted}) VALUES ({", ".join("?" for _ in names)})'
            cursor = self.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            batch: list[list[Any]] = []
            try:
                for values, rec, deferred in self._tuples(state, records):
                    for i, proc in procs:
                        values[i] = proc(values[i])
                    batch.append(values)
                    if deferred:
                        later.append((rec, deferred))
                    if len(batch) >= CHUNK:
                        cursor.executemany(sql, batch)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)
            finally:
                cursor.close()
            return later
        rows: list[dict[str, Any]] = []
        for values, rec, deferred in self._tuples(state, records):
            rows.append(dict(zip(names, values, strict=True)))
            if deferred:
                later.append((rec, deferred))
            if len(rows) >= CHUNK:
                self.session.execute(sa.insert(state.table), rows)
                rows = []
        if rows:
            self.session.execute(sa.insert(state.table), rows)
        return later

    def _update(self, state: TableState, items: Sequence[tuple[Any, list[str] | None]],
                only: list[str] | None = None) -> None:
        table = state.table
        cols = only or state.cols
        stmt = sa.update(table).where(table.c.id == sa.bindparam("_pk"))
        if state.name == "change_requests" and only is None:
            # The version counter guards concurrent edits of a change.
            for rec, _ in items:
                rec.version = (rec._orig[state.cols.index("version")] or 1) + 1
        batch: list[dict[str, Any]] = []
        for rec, _ in items:
            row, _deferred = self._row(state, rec, defer_self=False)
            params = {"_pk": row["id"]}
            params.update({c: row[c] for c in cols})
            batch.append(params)
            if len(batch) >= CHUNK:
                self.session.execute(stmt, batch)
                batch = []
        if batch:
            self.session.execute(stmt, batch)
