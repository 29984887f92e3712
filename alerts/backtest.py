"""Replay the alert rules over stored history (``jingshao alerts backtest``), like ``promtool test rules``.

A team tunes its crisis and competitor thresholds on its own data: what would the product have raised,
and when, over the last ten days with these settings? :func:`backtest` answers by running the real
engine (:class:`~jingshao.alerts.engine.Engine`: the same rule sources, the same :class:`StateMachine`,
the crisis history memo behind ``yellow.blue_6h`` and ``red.yellow_2h_rising``, ``clear_windows``
resolution) at every step from ``start`` to ``end``:

- **facts as known then**: at each step ``now`` the sources read the live database through
  :mod:`jingshao.alerts.facts`, which only sees mentions and reviews posted at or before ``now`` and
  observations first seen at or before it. Each step reads in its own short, read-only transaction
  (SQLite: a deferred ``BEGIN`` on a ``query_only`` connection, which in WAL mode never blocks the
  crawler or the scheduler; PostgreSQL: ``SET TRANSACTION READ ONLY``);
- **a scratch alert state**: alerts, events (and memos), notifications and silences live in an in-memory
  SQLite database built from :mod:`jingshao.storage.models`, empty at ``start`` (a crisis already under
  way at ``start`` opens at ``start``). The engine runs with no channels, so no notification row is
  written even there; nothing is ever sent and the live alert tables are not touched.

API (``bench/crisis_replay.py`` calls it in-process)::

    from jingshao.alerts.backtest import backtest
    events = backtest(cfg, db, start, end, timedelta(minutes=10), brand=None)
    events = backtest(alerts_config, db, start, end, step, brands=[BrandConfig(name="蜜橙")])

``cfg`` is the top-level :class:`~jingshao.config.Config` (its ``alerts`` and ``brands`` are used) or an
:class:`~jingshao.alerts.settings.AlertsConfig` with ``brands=`` given. ``db`` is an open
:class:`~jingshao.storage.db.Database` (the live one), a database URL, or ``None`` for ``cfg.database_url``
(opened, migrated and closed again). ``start``/``end`` are timezone-aware; steps are
``start, start + step, ...`` up to and including ``end``. ``brand``: replay only that brand's crisis
rules (competitor rules are then left out). ``competitors=False`` leaves them out as well.
``progress(done, total)`` is called after each step. Bad input raises :class:`BacktestError` (a
``ValueError``) naming what was wrong.

It returns :class:`BacktestEvent` values in time order: one per state change (``opened``, ``escalated``,
``deescalated``, ``resolved``) with the level, the rule and the key numbers at that step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, create_engine, event, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from jingshao.alerts.engine import AlertBook, CompetitorSource, CrisisSource, Engine, RuleSource, SourceResult
from jingshao.alerts.rules.model import AlertInstance
from jingshao.alerts.settings import AlertsConfig
from jingshao.crawlers.config import BrandConfig
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import Alert, AlertEvent, Base, Mention, Notification, Silence

DEFAULT_STEP = timedelta(minutes=10)
TRANSITIONS = ("opened", "escalated", "deescalated", "resolved")
HOUR = timedelta(hours=1)
#: The tables the engine writes: these are what the scratch database holds.
STATE_TABLES: tuple[Table, ...] = tuple(cast(Table, m.__table__) for m in (Alert, AlertEvent, Notification, Silence))

#: More steps than this is almost certainly a typo (``--step 1s`` over a month); say so instead of churning.
MAX_STEPS = 100_000
_STEP = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_STEP_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class BacktestError(ValueError):
    """Bad backtest input (times, step, brand); the message says what was expected."""


@dataclass(frozen=True)
class BacktestEvent:
    """One state change of one (scratch) alert at one step.

    ``kind`` is ``crisis`` or ``competitor``; ``family`` the rule family (crisis, price_drop, ...).
    ``level``: the alert's level after the change (for ``resolved``, the episode's highest level, as the
    resolved notice carries it); ``max_level``: the episode's highest so far. ``rule``: the rule that
    named the alert (for ``resolved``, the last one that fired). ``negatives_1h`` / ``mentions_1h``: the
    brand's current-hour counts at that step (crisis only). ``numbers``: the rule's key numbers
    (``AlertInstance.metrics``; empty for a resolution). ``alert``: the scratch alert id, the same for
    every event of one episode.
    """

    at: datetime
    kind: str
    family: str
    subject: str
    subject_key: str
    level: str
    max_level: str
    transition: str
    rule: str
    summary: str
    alert: int
    detail: str | None = None
    negatives_1h: int | None = None
    mentions_1h: int | None = None
    numbers: dict[str, float] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self, tz: tzinfo | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``at`` as ISO 8601 in ``tz`` (default: as stored, UTC)."""
        out = asdict(self)
        out["at"] = (self.at.astimezone(tz) if tz else self.at).isoformat()
        out["facts"] = [list(f) for f in self.facts]
        return out


# ---------------------------------------------------------------- input


def parse_step(value: str | timedelta) -> timedelta:
    """``"10m"`` / ``"1h"`` / ``"30s"`` / ``"1d"`` -> timedelta (a whole number and a unit, above zero)."""
    if isinstance(value, timedelta):
        step = value
    else:
        match = _STEP.match(str(value).lower())
        if not match:
            raise BacktestError(f"--step {value!r}: expected a whole number and a unit, such as 30s, 10m, 1h or 1d")
        step = timedelta(**{_STEP_UNITS[match.group(2)]: int(match.group(1))})
    if step <= timedelta(0):
        raise BacktestError(f"--step {value!r}: a step must be longer than 0 seconds")
    return step


def parse_moment(value: str, tz: tzinfo, option: str = "time") -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in ``tz`` (the configured time zone)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BacktestError(
            f"{option} {value!r}: expected an ISO 8601 time such as 2026-11-30T20:00, "
            "2026-11-30 or 2026-11-30T12:00:00+00:00"
        ) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _check_range(start: datetime, end: datetime, step: timedelta) -> None:
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise BacktestError(f"backtest {name} must be timezone-aware, got {moment!r}")
    if end < start:
        raise BacktestError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    if step <= timedelta(0):
        raise BacktestError("a step must be longer than 0 seconds")


def steps_between(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """``start, start + step, ...`` up to and including ``end``."""
    _check_range(start, end, step)
    count = int((end - start) // step) + 1
    if count > MAX_STEPS:
        raise BacktestError(
            f"{count} steps from {start.isoformat()} to {end.isoformat()} at {step}: at most "
            f"{MAX_STEPS}; use a longer --step"
        )
    return [start + i * step for i in range(count)]


def _parts(cfg: Any, brands: Sequence[BrandConfig] | None) -> tuple[AlertsConfig, list[BrandConfig]]:
    if isinstance(cfg, AlertsConfig):
        return cfg, list(brands or [])
    return cfg.alerts, list(brands if brands is not None else cfg.brands)


def _select_brands(brands: list[BrandConfig], brand: str | None) -> list[BrandConfig]:
    if brand is None:
        return brands
    chosen = [b for b in brands if b.name == brand]
    if not chosen:
        names = ", ".join(b.name for b in brands) or "none"
        raise BacktestError(f"--brand {brand!r} is not a configured brand; configured: {names}")
    return chosen


# ---------------------------------------------------------------- databases


class FactsReader:
    """Short read-only transactions on the live database, one per step."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine, self.own_engine = _read_only_engine(db.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = Session(self.engine)
        try:
            if self.engine.dialect.name == "postgresql":
                session.execute(text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            session.rollback()  # a read never commits anything
            session.close()

    def dispose(self) -> None:
        if self.own_engine:
            self.engine.dispose()


def _read_only_engine(live: SqlEngine) -> tuple[SqlEngine, bool]:
    """SQLite file: an engine of our own whose transactions are deferred (a WAL reader takes no lock;
    the product's engine begins IMMEDIATE, which would take the write lock for every step) and whose
    connections are ``query_only``. Anything else (PostgreSQL, an in-memory SQLite): the live engine."""
    url = live.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return live, False
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine, True


def scratch_database() -> Database:
    """An empty in-memory alert state (alerts, alert_events, notifications, silences)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    Base.metadata.create_all(engine, tables=list(STATE_TABLES))
    return Database(engine)


# ---------------------------------------------------------------- sources


class _StepFacts:
    """The facts session of the current step, shared by the sources (one snapshot per step)."""

    session: Session | None = None
    instances: dict[str, AlertInstance]
    negatives_1h: dict[str, int]

    def __init__(self) -> None:
        self.instances, self.negatives_1h = {}, {}


class FactsFrom:
    """A rule source that reads its facts from the step's live read session instead of the state session
    the engine hands it (the alert book still comes from the scratch state). It also keeps what the source
    produced, for the events' numbers."""

    def __init__(self, source: RuleSource, step: _StepFacts) -> None:
        self.source, self.step = source, step

    def evaluate(self, session: Session, now: datetime, book: AlertBook) -> SourceResult:
        assert self.step.session is not None, "FactsFrom used outside a backtest step"
        result = self.source.evaluate(self.step.session, now, book)
        for inst in result.instances:
            self.step.instances[inst.fingerprint] = inst
        for fp, memo in result.memos.items():
            if "negatives_1h" in memo:
                self.step.negatives_1h[fp] = int(memo["negatives_1h"])
        return result


# ---------------------------------------------------------------- backtest


def backtest(
    cfg: Any,
    db: Database | str | None,
    start: datetime,
    end: datetime,
    step: timedelta | str = DEFAULT_STEP,
    brand: str | None = None,
    *,
    brands: Sequence[BrandConfig] | None = None,
    competitors: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[BacktestEvent]:
    """Replay the rules and the state machine at each step; see the module docstring."""
    config, all_brands = _parts(cfg, brands)
    step = parse_step(step)
    chosen = _select_brands(all_brands, brand)
    moments = steps_between(start, end, step)
    if db is None or isinstance(db, str):
        url = db or getattr(cfg, "database_url", None)
        if not url:
            raise BacktestError("backtest needs a database: a Database, a URL, or a Config that names one")
        opened = open_database(url)
        try:
            return backtest(
                cfg, opened, start, end, step, brand, brands=brands, competitors=competitors, progress=progress
            )
        finally:
            opened.dispose()
    facts = _StepFacts()
    sources: list[RuleSource] = [FactsFrom(CrisisSource(chosen, config), facts)] if chosen else []
    if competitors and brand is None:
        sources.append(FactsFrom(CompetitorSource(config), facts))
    engine = Engine(config, sources, channels=[])
    scratch = scratch_database()
    reader = FactsReader(db)
    events: list[BacktestEvent] = []
    last_event_id = 0
    try:
        for done, now in enumerate(moments, 1):
            facts.instances.clear()
            facts.negatives_1h.clear()
            with reader.session() as live, scratch.session() as state:
                facts.session = live
                engine.evaluate_in(state, now)
                state.flush()
                rows = state.execute(
                    select(AlertEvent, Alert)
                    .join(Alert, Alert.id == AlertEvent.alert_id)
                    .where(AlertEvent.id > last_event_id, AlertEvent.kind.in_(TRANSITIONS))
                    .order_by(AlertEvent.id)
                ).all()
                for ev, alert in rows:
                    events.append(_event_of(ev, alert, now, facts, live))
                last_event_id = max([last_event_id, *(ev.id for ev, _ in rows)])
                facts.session = None
            if progress is not None:
                progress(done, len(moments))
    finally:
        reader.dispose()
        scratch.dispose()
    return events


def _event_of(ev: AlertEvent, alert: Alert, now: datetime, facts: _StepFacts, live: Session) -> BacktestEvent:
    inst = facts.instances.get(alert.fingerprint)
    numbers = dict(inst.metrics) if inst is not None else {}
    negatives = mentions = None
    if alert.is_crisis:
        negatives = (
            int(numbers["negatives_1h"]) if "negatives_1h" in numbers else facts.negatives_1h.get(alert.fingerprint)
        )
        mentions = int(numbers["mentions_1h"]) if "mentions_1h" in numbers else _mentions_1h(live, alert.subject, now)
    return BacktestEvent(
        at=now,
        kind="crisis" if alert.is_crisis else "competitor",
        family=alert.family,
        subject=alert.subject,
        subject_key=alert.subject_key,
        level=ev.level,
        max_level=alert.max_level,
        transition=ev.kind,
        rule=alert.rule,
        summary=alert.summary,
        alert=alert.id,
        detail=ev.detail,
        negatives_1h=negatives,
        mentions_1h=mentions,
        numbers=numbers,
        facts=[(str(k), str(v)) for k, v in (alert.facts or [])],
    )


def _mentions_1h(session: Session, brand: str, now: datetime) -> int:
    """Mentions of ``brand`` in the rules' current-hour bucket ``(now - 1h, now]``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Mention)
            .where(Mention.brand == brand, Mention.posted_at > now - HOUR, Mention.posted_at <= now)
        )
        or 0
    )


__all__ = [
    "DEFAULT_STEP",
    "BacktestError",
    "BacktestEvent",
    "FactsFrom",
    "FactsReader",
    "backtest",
    "parse_moment",
    "parse_step",
    "scratch_database",
    "steps_between",
]
