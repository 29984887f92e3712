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

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
