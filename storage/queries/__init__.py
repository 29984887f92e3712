"""Read (and small write) queries, grouped by the package that consumes them.

The convention, so that no ORM object leaves storage:

- one module per consumer area: :mod:`.report` (the daily report), :mod:`.alerts` (rule inputs, the
  engine's outbox and memo), :mod:`.status` (``jingshao status``), :mod:`.analyze` (``jingshao analyze``);
- every function takes a ``Session`` (already inside a transaction, see ``Database.session``) or an
  ``Engine`` first, then plain arguments (ids, aware datetimes, strings, numbers);
- every result is a frozen, typed dataclass (or a dict / list / tuple of them, or a plain number):
  callers may keep results after the session closes, and tests can build them without a database;
- SQL lives here and only here: callers above storage assemble, format and decide; they never build
  a ``select``.

Importing this package imports nothing; import the module you need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.orm import Session


def dated(at: datetime | None) -> datetime:
    """A time column read under a range filter on it (so never NULL), as the non-optional type results carry."""
    if at is None:
        raise ValueError("a row selected by its time has no time")
    return at


def read(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
    """``session.execute(stmt, params)`` for a statement of plain columns, on the session's
    connection when the session has nothing to flush.

    ``Session.execute`` runs even a select of plain columns through the ORM's execution path
    (compile-state plugin, ORM result setup, chunked row loading): ~0.1-0.2 ms more a statement
    than the same statement on the session's connection, which returns the same rows in the same
    transaction. Only an autoflush would differ, so a session with pending changes keeps
    ``Session.execute``. Not for ``select(Model)`` (that needs the ORM to build objects).
    """
    if session.new or session.dirty or session.deleted:
        return session.execute(stmt, params)
    return session.connection().execute(stmt, params)


class _Unplannable(Exception):
    pass


class _SqlitePlan:
    """A select compiled once for one SQLite dialect: its SQL, how to bind each positional parameter
    (the caller's value or the statement's own literal, through the type's bind processor) and the
    result processor of each column (the same ones SQLAlchemy applies: pysqlite reports no column
    types, so they depend on the column's type alone)."""

    __slots__ = ("sql", "binds", "results")

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        # (the key a caller binds it by, whether the statement gives a value, that value, processor)
        self.binds: list[tuple[str, bool, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.callable is not None:  # a value computed at execution: SQLAlchemy's way
                raise _Unplannable(name)
            given = not bind.required
            value = bind.value if given else None
            self.binds.append((bind.key, given, value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        self.results = [
            (i, proc)
            for i, column in enumerate(stmt.selected_columns)
            if (proc := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]

    def run(self, cursor: Any, params: dict[str, Any]) -> list[Any]:
        args = []
        for key, given, value, proc in self.binds:
            if key in params or not given:  # a value the caller binds wins, as in construct_params
                value = params[key]
            args.append(value if proc is None else proc(value))
        cursor.execute(self.sql, args)
        rows = cursor.fetchall()
        results = self.results
        if not results:
            return rows
        if not rows:
            return rows
        # Column by column (map over each processed column, then zip back): a loop over rows and
        # their processed fields in Python cost more than SQLAlchemy's own row processing.
        columns: list[Any] = list(zip(*rows, strict=True))
        for i, proc in results:
            columns[i] = map(proc, columns[i])
        return list(zip(*columns, strict=True))


def _plannable(stmt: Any, dialect: Dialect) -> bool:
    """A select whose SQL is fixed once compiled: no expanding (IN) or literal-rendered parameters,
    which SQLAlchemy renders anew for each execution."""
    from sqlalchemy import Select

    if not isinstance(stmt, Select):
        return False
    compiled = stmt.compile(dialect=dialect)
    return bool(compiled.positional) and not (compiled.post_compile_params or compiled.literal_execute_params)


# (statement id, dialect id) -> (the statement, its plan or None when it has none). The statement is
# held so that its id is not reused while the entry lives.
_PLANS: dict[tuple[int, int], tuple[Any, _SqlitePlan | None]] = {}
_PLANS_LOCK = threading.Lock()
_PLANS_MAX = 512  # statements built once per module or filter shape: a few dozen in use


def _plan(stmt: Any, dialect: Dialect) -> _SqlitePlan | None:
    key = (id(stmt), id(dialect))
    entry = _PLANS.get(key)
    if entry is not None and entry[0] is stmt:
        return entry[1]
    try:
        plan = _SqlitePlan(stmt, dialect) if _plannable(stmt, dialect) else None
    except _Unplannable:
        plan = None
    with _PLANS_LOCK:
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[key] = (stmt, plan)
    return plan


def _watched(conn: Any) -> bool:
    """Whether statement execution events are listened for (a test counting statements, a tracer):
    they fire on SQLAlchemy's execution path only, so such reads take it."""
    d = conn.dispatch
    return bool(d.before_execute or d.after_execute or d.before_cursor_execute or d.after_cursor_execute)


def read_rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """The rows of :func:`read`, as a list of tuples (unpack them; no attribute access by name).

    For a select built once (a module's statement, or one cached per filter shape: never a
    statement built per call, which would only fill the cache) on SQLite, the statement is
    compiled once and run on the session's DBAPI connection, in the same transaction, with the
    same bind and result processors SQLAlchemy applies: its execution path (execution context,
    events, result metadata) cost ~20 us a statement, as much as the small reads of a page.
    Elsewhere (another database, a statement with an expanding IN, an echoing engine or one whose
    execution events are listened for, a session with pending changes) this is ``read(...).all()``.
    """
    if not (session.new or session.dirty or session.deleted):
        conn = session.connection()
        dialect = conn.dialect
        if dialect.name == "sqlite" and not conn.engine.echo and not _watched(conn):
            plan = _plan(stmt, dialect)
            if plan is not None:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    return plan.run(cursor, params or {})
                except dialect.loaded_dbapi.Error as exc:
                    from sqlalchemy.exc import DBAPIError

                    raise DBAPIError.instance(plan.sql, None, exc, dialect.loaded_dbapi.Error) from exc
                finally:
                    cursor.close()
    return read(session, stmt, params).all()
