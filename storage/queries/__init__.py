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

from datetime import datetime


def dated(at: datetime | None) -> datetime:
    """A time column read under a range filter on it (so never NULL), as the non-optional type results carry."""
    if at is None:
        raise ValueError("a row selected by its time has no time")
    return at
