"""The alert engine: rules -> state machine per fingerprint -> notify pipeline -> outbox, in ONE transaction.

One call of :func:`evaluate` (the scheduler's job every few minutes, ``jingshao alerts evaluate``):

1. Rule sources read facts and run the pure rules (:class:`CrisisSource` per configured brand,
   :class:`CompetitorSource` per active product), producing :class:`AlertInstance` values.
2. The state machine (:class:`StateMachine`) updates ``alerts`` rows by fingerprint:

   - new fingerprint (or a resolved one firing again) -> firing, event ``opened``, notice ``firing``;
   - level above the episode's highest (``max_level``) -> event ``escalated``, notice at once
     (repeat interval ignored, acknowledgement cleared);
   - level down -> event ``deescalated``, no notice. Like Alertmanager, a de-escalation does not notify:
     the alert keeps its highest level (``max_level``) for notices, routing, inhibition and repeats until
     it resolves, so a crisis cooling from red to yellow is still repeated hourly as red; ``level`` holds
     the current level (what the crisis rules' time-based history needs);
   - still firing -> notice ``repeat`` (the pipeline drops it unless its level's interval has passed);
   - a firing alert its source did not produce -> ``clear_windows + 1``; at ``clear_windows`` (default 2)
     -> resolved, event ``resolved``, notice ``resolved`` (a red crisis's carries the 复盘 reminder).
     Only alerts of families a source evaluated are counted clear: dropping the competitor source for a
     run does not resolve every competitor alert.

3. The candidates go through the stages (:mod:`jingshao.alerts.stages`) and the survivors become
   ``notifications`` rows, one per routed channel, grouped per subject and channel.

Everything (alert rows, events, notifications) is written in the same transaction: if anything fails,
nothing is written (the outbox pattern); the dispatcher sends what was committed.

Evaluations are serialised: the scheduler's job, the one right after a mention crawl and a manual
``jingshao alerts evaluate`` may overlap. On SQLite the transaction's ``BEGIN IMMEDIATE`` already does it;
on PostgreSQL the transaction first takes ``pg_advisory_xact_lock(EVALUATION_LOCK_KEY)`` (released at commit
or rollback), so the second evaluation reads the state the first one committed instead of opening the same
alert twice (duplicate notices, ``clear_windows`` counted twice, a unique violation on the fingerprint).

Crisis history for the time-based rules (blue 6 h -> yellow, yellow 2 h and rising -> red) comes from the
alert (``level``, ``level_since``, ``started_at``) and its memo (``alerts.memo``, JSON: the previous 1-hour
negative count and when the alert first reached yellow), updated each evaluation.

Every read and write goes through :mod:`jingshao.storage.queries.alerts`: the state machine moves plain
:class:`~jingshao.storage.queries.alerts.AlertRecord` values, the stages see those values, and storage
saves them, the events and the outbox rows at the end of the evaluation (same transaction).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from jingshao.alerts import facts as facts_mod
from jingshao.alerts.render import notification_from_dict, payload_parts, render_alert, render_group
from jingshao.alerts.render import to_payload as payload_of
from jingshao.alerts.rules.competitor import evaluate_competitor
from jingshao.alerts.rules.crisis import CrisisHistory, crisis_fingerprint, evaluate_crisis
from jingshao.alerts.rules.model import ADMIN_FAMILIES, EVENT_FAMILIES, FAMILIES, AlertInstance
from jingshao.alerts.settings import AlertsConfig
from jingshao.alerts.stages import DEFAULT_PIPELINE, Candidate, Routable, Stage, StageContext, run_pipeline
from jingshao.core.identities import brand_key
from jingshao.core.levels import LEVEL_RANK
from jingshao.crawlers.config import BrandConfig
from jingshao.storage import alerts_repo
from jingshao.storage.db import Database
from jingshao.storage.queries import alerts as store
from jingshao.storage.queries.alerts import EVALUATION_LOCK_KEY, AlertRecord, NewNotification, QueuedNotification

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- rule sources


@dataclass
class AlertBook:
    """The firing alerts at the start of an evaluation, by fingerprint (each with its memo)."""

    firing: dict[str, AlertRecord]

    def memo(self, alert: AlertRecord | None) -> dict[str, Any]:
        return alert.memo if alert is not None else {}


@dataclass
class SourceResult:
    """What a source produced: instances, the families it speaks for, memo updates by fingerprint, and
    the current value of each subject it looked at (by subject key: ``现价 ¥99.90，有货``), which a
    resolved notice states."""

    instances: list[AlertInstance]
    families: frozenset[str]
    memos: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)


class RuleSource(Protocol):
    def evaluate(self, session: Session, now: datetime, book: AlertBook) -> SourceResult: ...


class CrisisSource:
    """Blue / yellow / red crisis per configured brand, from its stored mentions."""

    def __init__(self, brands: Sequence[BrandConfig], config: AlertsConfig) -> None:
        self.brands = list(brands)
        self.config = config

    def evaluate(self, session: Session, now: datetime, book: AlertBook) -> SourceResult:
        instances: list[AlertInstance] = []
        memos: dict[str, dict[str, Any]] = {}
        current: dict[str, str] = {}
        for brand in self.brands:
            thresholds = self.config.crisis_thresholds(brand)
            mentions, counts = facts_mod.crisis_inputs(session, brand.name, now, thresholds)
            fp = crisis_fingerprint(brand.name)
            alert = book.firing.get(fp)
            instances += evaluate_crisis(brand.name, mentions, now, thresholds, self.history(alert, book), counts)
            negatives = facts_mod.negatives_last_hour(mentions, now)
            memos[fp] = {"negatives_1h": negatives}
            current[brand_key(brand.name)] = f"近1小时负面声量 {negatives} 条"
        return SourceResult(instances, frozenset({"crisis"}), memos, current)

    @staticmethod
    def history(alert: AlertRecord | None, book: AlertBook) -> CrisisHistory | None:
        if alert is None:
            return None
        memo = book.memo(alert)
        yellow = memo.get("yellow_since")
        return CrisisHistory(
            level=alert.level,  # type: ignore[arg-type]
            since=alert.level_since,
            previous_negatives_1h=memo.get("negatives_1h"),
            started_at=alert.started_at,
            yellow_since=datetime.fromisoformat(yellow) if yellow else None,
        )


class CompetitorSource:
    """Price, stock, promo, 划线价, ad-law and review alerts per active competitor product."""

    families = frozenset(FAMILIES) - {"crisis"} - ADMIN_FAMILIES

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def evaluate(self, session: Session, now: datetime, book: AlertBook) -> SourceResult:
        thresholds = self.config.competitor_thresholds()
        instances: list[AlertInstance] = []
        current: dict[str, str] = {}
        for p in facts_mod.product_inputs(session, now, thresholds):
            instances += evaluate_competitor(p.product, p.observations, p.reviews, now, thresholds, p.adlaw_hits)
            if p.observations:
                current[p.product.key] = facts_mod.current_value(p.observations[-1])
        return SourceResult(instances, self.families, current=current)


def default_sources(brands: Sequence[BrandConfig], config: AlertsConfig) -> list[RuleSource]:
    from jingshao.alerts.crawl_health import CrawlHealthSource  # issue 12: admin alerts about the crawler

    return [CrisisSource(brands, config), CompetitorSource(config), CrawlHealthSource(config)]


# ---------------------------------------------------------------- report


def _saved_id(alert: AlertRecord) -> int:
    """An alert's id; every alert an evaluation reports on has been inserted (``insert_alert``) first."""
    if alert.id is None:
        raise ValueError(f"alert {alert.fingerprint} was never saved")
    return alert.id


@dataclass(frozen=True)
class Change:
    """One state change of one alert in an evaluation, and what became of its notice."""

    alert_id: int
    subject: str
    family: str
    event: str  # opened | escalated | deescalated | repeated | resolved
    level: str
    notified: list[str]  # channels a notification was written for
    muted: str | None = None


@dataclass
class EvaluationReport:
    now: datetime
    instances: int = 0
    firing: int = 0
    changes: list[Change] = field(default_factory=list)
    notifications: int = 0  # outbox rows written (before grouping)
    merged: int = 0  # of which merged into group messages

    def count(self, event: str) -> int:
        return sum(1 for c in self.changes if c.event == event)

    def lines(self) -> list[str]:
        head = (
            f"evaluated at {self.now.isoformat(timespec='seconds')}: {self.instances} active, "
            f"{self.firing} firing; {self.notifications} notifications queued ({self.merged} merged)"
        )
        out = [head]
        for c in self.changes:
            tail = f"muted: {c.muted}" if c.muted else (f"-> {', '.join(c.notified)}" if c.notified else "not sent")
            out.append(f"  #{c.alert_id} {c.event:<11} {c.level:<6} {c.family:<20} {c.subject}  ({tail})")
        return out


# ---------------------------------------------------------------- state machine


def _pairs(items: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[str(a), str(b)] for a, b in items]


def _id(alert: AlertRecord) -> int:
    """The id of an alert the state machine has saved (every alert a change speaks of is)."""
    assert alert.id is not None, "an alert is inserted when it opens"
    return alert.id


def _event(
    session: Session, alert: AlertRecord, kind: str, now: datetime, detail: str | None = None, level: str | None = None
) -> None:
    assert alert.id is not None, "an alert is inserted before its first event"
    store.add_event(session, alert.id, kind, level or alert.level, now, detail)


class StateMachine:
    """Applies one evaluation's instances to the ``alerts`` rows; returns the candidate notices."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def apply(
        self,
        session: Session,
        instances: Sequence[AlertInstance],
        families: frozenset[str],
        book: AlertBook,
        now: datetime,
        current: dict[str, str] | None = None,
    ) -> tuple[list[Candidate], list[tuple[AlertRecord, str, str | None]]]:
        """Returns candidates and ``(alert, event, detail)`` for changes that have no notice. ``current``:
        the sources' current value per subject key, stated by resolved notices."""
        candidates: list[Candidate] = []
        quiet: list[tuple[AlertRecord, str, str | None]] = []
        active = _highest_per_fingerprint(instances)
        others = store.resting_alerts(session, active)
        for fp, inst in active.items():
            alert = book.firing.get(fp)
            if alert is None:
                alert = self._open(session, others.get(fp), inst, now)
                candidates.append(Candidate(alert, "firing"))
                continue
            candidates += self._update(session, alert, inst, now, quiet)
        for fp, alert in book.firing.items():
            if fp in active or alert.family not in families:
                continue
            alert.clear_windows += 1
            if alert.clear_windows >= self.config.clear_windows:
                alert.state, alert.resolved_at = "resolved", now
                _event(session, alert, "resolved", now, f"连续 {alert.clear_windows} 次评估未触发", alert.max_level)
                if alert.last_notified_at is not None and alert.family not in EVENT_FAMILIES:
                    # events close quietly (model.EVENT_FAMILIES); a state says where it stands now
                    candidates.append(Candidate(alert, "resolved", current=(current or {}).get(alert.subject_key)))
        return candidates, quiet

    def _open(self, session: Session, alert: AlertRecord | None, inst: AlertInstance, now: datetime) -> AlertRecord:
        reopened = alert is not None
        if alert is None:
            alert = AlertRecord(
                fingerprint=inst.fingerprint,
                family=inst.family,
                subject=inst.subject,
                subject_key=inst.subject_key,
                level=inst.level,
                max_level=inst.level,
                state="firing",
                rule=inst.rule,
                summary=inst.summary,
                facts=[],
                evidence=[],
                is_crisis=inst.is_crisis,
                started_at=now,
                level_since=now,
                last_active_at=now,
            )
        alert.family, alert.state, alert.is_crisis = inst.family, "firing", inst.is_crisis
        alert.level = alert.max_level = inst.level
        alert.started_at = alert.level_since = alert.last_active_at = now
        alert.clear_windows, alert.resolved_at, alert.last_notified_at = 0, None, None
        alert.acked_by = alert.acked_at = None
        alert.memo = {}  # a new episode remembers nothing of the last one
        self._describe(alert, inst)
        if alert.id is None:
            store.insert_alert(session, alert)
        _event(session, alert, "opened", now, "再次触发" if reopened else None)
        return alert

    @staticmethod
    def _describe(alert: AlertRecord, inst: AlertInstance) -> None:
        alert.subject, alert.subject_key = inst.subject, inst.subject_key
        alert.rule, alert.summary = inst.rule, inst.summary
        alert.facts, alert.evidence = _pairs(inst.facts), _pairs(inst.evidence)

    def _update(
        self,
        session: Session,
        alert: AlertRecord,
        inst: AlertInstance,
        now: datetime,
        quiet: list[tuple[AlertRecord, str, str | None]],
    ) -> list[Candidate]:
        old_level, old_max, old_summary = alert.level, alert.max_level, alert.summary
        self._describe(alert, inst)
        alert.last_active_at, alert.clear_windows = now, 0
        if inst.level != old_level:
            alert.level, alert.level_since = inst.level, now
        if LEVEL_RANK[inst.level] > LEVEL_RANK[old_max]:
            alert.max_level = inst.level
            detail = f"{old_max} -> {inst.level}（{inst.rule}）"
            if alert.acked_at is not None:
                detail += f"；清除 {alert.acked_by} 的确认"
                alert.acked_by = alert.acked_at = None
            _event(session, alert, "escalated", now, detail)
            return [Candidate(alert, "escalated", previous_level=old_max)]
        if LEVEL_RANK[inst.level] < LEVEL_RANK[old_level]:
            _event(session, alert, "deescalated", now, f"{old_level} -> {inst.level}（按 {old_max} 处理直至恢复）")
            quiet.append((alert, "deescalated", None))
        elif LEVEL_RANK[inst.level] > LEVEL_RANK[old_level]:
            detail = f"{old_level} -> {inst.level}（未超过已通知的 {old_max}，不另行通知）"
            _event(session, alert, "escalated", now, detail)
            quiet.append((alert, "escalated", None))
        if alert.last_notified_at is None:  # its first notice never got out (muted): try it again, quietly
            return [Candidate(alert, "firing", news=False)]
        if alert.family in EVENT_FAMILIES and inst.summary != old_summary:
            # An event changed further while its notice stands (the price dropped again, another promo):
            # say so now with the current value; waiting for a repeat would leave the old price standing.
            _event(session, alert, "changed", now, f"{old_summary} -> {inst.summary}")
            return [Candidate(alert, "followup", previous_summary=old_summary)]
        return [Candidate(alert, "repeat", news=False)]


def _highest_per_fingerprint(instances: Iterable[AlertInstance]) -> dict[str, AlertInstance]:
    out: dict[str, AlertInstance] = {}
    for inst in instances:
        have = out.get(inst.fingerprint)
        if have is None or LEVEL_RANK[inst.level] > LEVEL_RANK[have.level]:
            out[inst.fingerprint] = inst
    return out


# ---------------------------------------------------------------- outbox


class OutboxWriter:
    """Writes one ``notifications`` row per live candidate and routed channel, then merges each group
    (same channel and subject) into one message, including rows of earlier evaluations that are still
    pending, never tried and younger than ``group_interval``. Merged rows get ``status = merged`` and
    ``merged_into`` = the message that carries them."""

    def __init__(self, config: AlertsConfig, public_url: str | None = None) -> None:
        self.config = config
        self.public_url = public_url

    def write(self, session: Session, candidates: Sequence[Candidate], now: datetime) -> tuple[int, int]:
        groups: dict[tuple[str, str], list[QueuedNotification]] = defaultdict(list)
        written = 0
        for c in candidates:
            if not c.live or not c.channels:
                continue
            assert c.alert.id is not None
            n = render_alert(
                c.alert,
                c.kind,
                now,
                previous_level=c.previous_level,
                previous_summary=c.previous_summary,
                current=c.current,
                public_url=self.public_url,
            )
            payload = payload_of(n, group=c.group, alert_ids=[c.alert.id])
            for channel in c.channels:
                row = store.queue_notification(
                    session, NewNotification(c.alert.id, channel, c.kind, c.level, payload, now)
                )
                written += 1
                if c.group:
                    groups[(channel, c.group)].append(row)
        if not groups:
            return written, 0
        self._add_earlier(session, groups, now)
        merged = 0
        for (channel, group), members in groups.items():
            if len(members) > 1:
                merged += self._merge(session, channel, group, sorted(members, key=lambda r: r.id), now)
        return written, merged

    def _add_earlier(
        self, session: Session, groups: dict[tuple[str, str], list[QueuedNotification]], now: datetime
    ) -> None:
        fresh = {r.id for rows in groups.values() for r in rows}
        earlier = store.groupable_notifications(session, {ch for ch, _ in groups}, now - self.config.group_interval)
        for row in earlier:
            key = (row.channel, row.group)
            if row.id not in fresh and row.group is not None and key in groups:
                groups[(row.channel, row.group)].append(row)

    @staticmethod
    def _merge(session: Session, channel: str, group: str, members: list[QueuedNotification], now: datetime) -> int:
        parts = [p for m in members for p in payload_parts(m.payload)]
        message = render_group([notification_from_dict(p) for p in parts], now)
        alert_ids = sorted({a for m in members for a in (m.payload.get("alert_ids") or [])})
        store.merge_notifications(
            session,
            [m.id for m in members],
            NewNotification(
                alert_ids[0] if len(alert_ids) == 1 else None,
                channel,
                message.kind,
                message.level,
                payload_of(message, group=group, alert_ids=alert_ids, parts=parts),
                now,
            ),
        )
        return len(members)


# ---------------------------------------------------------------- evaluate


class Engine:
    """Sources, state machine, pipeline and outbox writer, assembled; :func:`evaluate` uses the defaults."""

    def __init__(
        self,
        config: AlertsConfig,
        sources: Sequence[RuleSource],
        channels: Iterable[Routable],
        pipeline: Sequence[Stage] = DEFAULT_PIPELINE,
        *,
        public_url: str | None = None,
    ) -> None:
        self.config = config
        self.sources = list(sources)
        self.channels = list(channels)
        self.pipeline = list(pipeline)
        self.machine = StateMachine(config)
        # web.public_url: every notice links to the alert's page there ({public_url}/alerts/{id}).
        self.outbox = OutboxWriter(config, public_url)

    def evaluate(self, db: Database, now: datetime | None = None) -> EvaluationReport:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("evaluate(now=...) needs a timezone-aware datetime")
        with db.session() as session:
            return self.evaluate_in(session, now)

    def evaluate_in(self, session: Session, now: datetime) -> EvaluationReport:
        """The whole evaluation inside the caller's transaction (tests use it to inject a failure).

        On PostgreSQL it first waits for the evaluation advisory lock, held until the transaction ends: call
        it at the start of the transaction so that every read comes after the previous evaluation's commit.
        """
        lock_evaluations(session)
        book = load_book(session)
        instances: list[AlertInstance] = []
        families: set[str] = set()
        memos: dict[str, dict[str, Any]] = {}
        current: dict[str, str] = {}
        for source in self.sources:
            result = source.evaluate(session, now, book)
            instances += result.instances
            families |= result.families
            memos.update(result.memos)
            current.update(result.current)
        candidates, quiet = self.machine.apply(session, instances, frozenset(families), book, now, current)
        ctx = StageContext(
            now=now,
            config=self.config,
            channels=self.channels,
            silences=alerts_repo.list_silences(session, active_only=True, now=now),
            red_subjects=_red_crises(book, candidates),
        )
        candidates = run_pipeline(candidates, ctx, self.pipeline)
        written, merged = self.outbox.write(session, candidates, now)
        report = EvaluationReport(
            now=now, instances=len(_highest_per_fingerprint(instances)), notifications=written, merged=merged
        )
        for c in candidates:
            self._record(session, c, now, report)
        for alert, event, detail in quiet:
            report.changes.append(Change(_id(alert), alert.subject, alert.family, event, alert.level, [], detail))
        firing = [c.alert for c in candidates if c.alert.state == "firing"]
        firing_ids = {a.id for a in firing}
        firing += [a for a in book.firing.values() if a.state == "firing" and a.id not in firing_ids]
        _update_memos(firing, memos, now)
        touched = {a.id: a for a in book.firing.values()} | {c.alert.id: c.alert for c in candidates}
        store.save_alerts(session, touched.values())
        report.firing = len({a.id for a in firing})
        return report

    @staticmethod
    def _record(session: Session, c: Candidate, now: datetime, report: EvaluationReport) -> None:
        event = {"firing": "opened", "repeat": "repeated"}.get(c.kind, c.kind)
        if c.dropped is not None:
            return
        if c.muted is not None:
            if c.news:  # a muted open/escalation/resolution is recorded; a muted repeat is not news
                _event(session, c.alert, c.muted_by or "muted", now, f"{c.kind}：{c.muted}", c.level)
            report.changes.append(Change(_id(c.alert), c.alert.subject, c.alert.family, event, c.level, [], c.muted))
            return
        c.alert.last_notified_at = now
        if c.kind == "repeat":
            _event(session, c.alert, "repeated", now, None, c.level)
        report.changes.append(Change(_id(c.alert), c.alert.subject, c.alert.family, event, c.level, list(c.channels)))


def lock_evaluations(session: Session) -> None:
    """Serialise evaluations (see :func:`jingshao.storage.queries.alerts.lock_evaluations`)."""
    store.lock_evaluations(session)


def _red_crises(book: AlertBook, candidates: Sequence[Candidate]) -> dict[str, AlertRecord]:
    """Firing red crisis alerts by subject key, after this evaluation's state changes."""
    alerts = {a.id: a for a in book.firing.values()} | {c.alert.id: c.alert for c in candidates}
    return {a.subject_key: a for a in alerts.values() if a.state == "firing" and a.is_crisis and a.max_level == "red"}


def load_book(session: Session) -> AlertBook:
    return AlertBook(store.firing_alerts(session))


def _update_memos(firing: Sequence[AlertRecord], fresh: dict[str, dict[str, Any]], now: datetime) -> None:
    """Each firing alert's memo: what the next evaluation needs to remember."""
    for alert in firing:
        memo = dict(alert.memo)
        memo.update(fresh.get(alert.fingerprint, {}))
        if alert.is_crisis and LEVEL_RANK[alert.level] >= LEVEL_RANK["yellow"] and not memo.get("yellow_since"):
            memo["yellow_since"] = now.isoformat()
        if memo:
            alert.memo = memo


def evaluate(
    db: Database,
    config: AlertsConfig,
    brands: Sequence[BrandConfig],
    channels: Iterable[Routable],
    now: datetime | None = None,
    *,
    sources: Sequence[RuleSource] | None = None,
    pipeline: Sequence[Stage] = DEFAULT_PIPELINE,
    public_url: str | None = None,
) -> EvaluationReport:
    """Run every rule, move the alert states and queue notifications, all in one transaction.

    ``channels``: the configured channels (``Channel`` objects or their configs: anything with ``name``
    and ``accepts(level)``), in configuration order. ``now`` defaults to the current UTC time.
    """
    engine = Engine(
        config,
        sources if sources is not None else default_sources(brands, config),
        channels,
        pipeline,
        public_url=public_url,
    )
    return engine.evaluate(db, now)


__all__ = [
    "EVALUATION_LOCK_KEY",
    "AlertBook",
    "Change",
    "CompetitorSource",
    "CrisisSource",
    "Engine",
    "EvaluationReport",
    "OutboxWriter",
    "RuleSource",
    "SourceResult",
    "StateMachine",
    "evaluate",
]
