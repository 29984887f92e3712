"""The dispatcher: sends the outbox, in order per channel, at least once, within each platform's limits.

Per channel, each :meth:`Dispatcher.run_once`:

1. skips the channel if it is ``broken`` (a permanent error: bad signature, missing keyword, bad token);
   its notifications stay pending and go out once the configuration is fixed and the channel reset
   (:func:`reset_channel`, called by a successful ``jingshao channels test NAME`` or a config change);
2. takes the pending notifications in id order while they are due (``next_attempt_at <= now``): the
   first one not due (backing off, or claimed by a send in flight) blocks the later ones, so a channel
   never gets a later notice before an earlier one;
3. asks the rate limiter how many may go now, counting ``sent_at`` of the channel's notifications in
   the database (a restart cannot burst). Each window applies on its own: when only a short window is
   full (Feishu's 4 a second) the rest wait for the next run and go out as themselves; only when more
   are due than the longest window allows (90 a minute) is the overflow merged into ONE summary
   notification (``status = merged``, ``merged_into`` = the summary) - never dropped;
4. sends one by one. Each send is *claimed* first in its own transaction (``attempts + 1``,
   ``next_attempt_at = now + claim_timeout``), then the platform's answer is recorded in another:

   - ``sent`` -> ``status = sent``, ``sent_at``; the channel's ``last_sent_at``;
   - ``retry`` -> ``next_attempt_at = now + backoff`` (exponential, jitter, at least ``Retry-After``);
     after ``retry.max_attempts`` the notification is *parked* (never dropped, however old): see below;
   - ``permanent`` -> the channel is marked broken with the reason (logged at ERROR once); the
     notification stays pending.

   A dispatcher killed between claim and record re-sends that one notification after ``claim_timeout``
   (at-least-once, still in order: the claimed one blocks the ones after it).

Parking. When the head of a channel's line has used its retry budget, the channel is ``failing``: that
notification and every one queued behind it (and every new one) become ``parked``. A parked line is
not retried with backoff; its oldest notification is sent as a *probe* every ``retry.cap`` (the longest
backoff). The first message the channel accepts - a probe, or a successful ``jingshao channels test``
(:func:`reset_channel`) - puts every parked notification back in line, and they go out in id order. So
an outage of any length delivers every alert afterwards, in order. ``status = dead`` rows written by
older versions are parked the same way. ``on_parked`` (the admin notice) is told when a channel starts
parking: how many are parked and since when.

Logs name channels and notification ids, never URLs (the channels redact their own details).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jingshao.alerts.channels.base import Channel, SendResult
from jingshao.alerts.ratelimit import RateLimiter
from jingshao.alerts.render import from_payload, notification_from_dict, payload_parts, render_summary, to_payload
from jingshao.alerts.settings import AlertsConfig
from jingshao.core.redaction import redact as scrub_secrets
from jingshao.storage.db import Database
from jingshao.storage.models import ChannelState
from jingshao.storage.models import Notification as OutboxRow

log = logging.getLogger(__name__)

OVERFLOW_REASON = "发送频率受限，超出部分合并为一条"


@dataclass
class DispatchReport:
    """What one :meth:`Dispatcher.run_once` did, per outcome (notification ids)."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)  # used their retry budget this run (the line is parked)
    unparked: list[int] = field(default_factory=list)  # back in line: the channel accepted a message again
    merged: list[int] = field(default_factory=list)
    summaries: list[int] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)  # channel -> reason, newly broken this run
    skipped_broken: list[str] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)  # channels that had due notifications but no room

    @property
    def idle(self) -> bool:
        return not (self.sent or self.retried or self.parked or self.merged or self.broken)


def _now() -> datetime:
    return datetime.now(UTC)


def channel_state(session: Session, name: str, now: datetime) -> ChannelState:
    state = session.get(ChannelState, name, with_for_update=True)
    if state is None:
        state = ChannelState(name=name, state="ok", since=now)
        session.add(state)
        session.flush()
    return state


def unpark(s: Session, name: str, now: datetime) -> list[int]:
    """Put channel ``name``'s parked notifications back in line, due now; returns their ids."""
    ids = list(
        s.scalars(
            select(OutboxRow.id)
            .where(OutboxRow.channel == name, OutboxRow.status.in_(("parked", "dead")))
            .order_by(OutboxRow.id)
        )
    )
    if ids:
        s.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(status="pending", next_attempt_at=now))
    return ids


def reset_channel(db: Database, name: str, now: datetime | None = None) -> int:
    """Mark channel ``name`` ok again (after a successful test or a config change) and put its parked
    notifications back in line; returns how many are pending, which the next dispatcher run sends in order."""
    now = now or _now()
    with db.session() as s:
        state = channel_state(s, name, now)
        if state.state != "ok":
            log.warning("channel %r reset to ok (was %s: %s)", name, state.state, state.reason)
        state.state, state.reason, state.since = "ok", None, now
        back = unpark(s, name, now)
        if back:
            log.warning("channel %r: %d parked notifications back in line", name, len(back))
        return (
            s.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.channel == name, OutboxRow.status == "pending")
            )
            or 0
        )


class Dispatcher:
    """Sends pending notifications for the configured ``channels`` (name -> :class:`Channel`)."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        config: AlertsConfig | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
        batch: int = 200,
        on_broken: Callable[[str, str], None] | None = None,
        on_parked: Callable[[str, int, datetime], None] | None = None,
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.config = config or AlertsConfig()
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.Client(follow_redirects=False)
        self.rng = rng or random.Random()
        self.batch = batch
        self.on_broken = on_broken  # e.g. mail the admin address
        self.on_parked = on_parked  # (channel, how many parked, since when): the admin notice
        self.limiters = {
            name: RateLimiter.from_settings(self.config.limits_for(name, ch.kind)) for name, ch in self.channels.items()
        }

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ loop

    def run_forever(self, stop_event: threading.Event, interval: float | None = None) -> None:
        """Poll until ``stop_event`` is set. An error in one run is logged; the loop goes on."""
        wait = interval if interval is not None else self.config.dispatch_interval.total_seconds()
        while not stop_event.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("dispatcher run failed; retrying in %.1f s", wait)
            stop_event.wait(wait)

    def run_once(self, now: datetime | None = None) -> DispatchReport:
        now = now or self.clock()
        report = DispatchReport()
        for name, channel in self.channels.items():
            self._drain(name, channel, now, report)
        return report

    # ------------------------------------------------------------------ one channel

    def _drain(self, name: str, channel: Channel, now: datetime, report: DispatchReport) -> None:
        for _ in range(2):  # a second round when a probe put the parked line back
            ids, probe = self._plan(name, now, report)
            went = 0
            for notification_id in ids:
                if not self._send_one(name, channel, notification_id, now, report):
                    break
                went += 1
            if not (probe and went):
                return

    def _plan(self, name: str, now: datetime, report: DispatchReport) -> tuple[list[int], bool]:
        """The ids to send now, in order, and whether the one id is a probe of a parked line; merges the
        overflow beyond the rate limit into a summary."""
        with self.db.session() as s:
            state = s.get(ChannelState, name)
            if state is not None and state.state == "broken":
                report.skipped_broken.append(name)
                return [], False
            if s.scalar(
                select(OutboxRow.id).where(OutboxRow.channel == name, OutboxRow.status.in_(("parked", "dead"))).limit(1)
            ):
                return self._probe(s, name, now), True
            head = s.scalars(
                select(OutboxRow)
                .where(OutboxRow.channel == name, OutboxRow.status == "pending")
                .order_by(OutboxRow.id)
                .limit(self.batch)
            ).all()
            due: list[OutboxRow] = []
            for row in head:
                if row.next_attempt_at > now:
                    break  # the head of the line waits: nothing after it may overtake it
                due.append(row)
            if not due:
                return [], False
            limiter = self.limiters[name]
            sent = self._recent_sends(s, name, now - limiter.horizon)
            room = limiter.room(sent, now)
            if room is None or len(due) <= room:
                return [r.id for r in due], False
            if room == 0:
                report.throttled.append(name)
                return [], False
            budget = limiter.room_in_longest(sent, now)
            if budget is not None and len(due) <= budget:
                # Only a short window (4 a second) is full: send what fits now, the rest in later runs,
                # each as itself. A summary is only for more than the longest window (90 a minute) allows.
                report.throttled.append(name)
                return [r.id for r in due[:room]], False
            keep, overflow = due[: room - 1], due[room - 1 :]
            summary = self._merge(s, name, overflow, now)
            report.merged += [r.id for r in overflow]
            report.summaries.append(summary.id)
            log.warning(
                "channel %r: %d notifications due, room for %d; merged %d into summary #%d",
                name,
                len(due),
                room,
                len(overflow),
                summary.id,
            )
            return [*(r.id for r in keep), summary.id], False

    def _probe(self, s: Session, name: str, now: datetime) -> list[int]:
        """The channel's line is parked: everything queued waits with it, and its oldest notification is
        the probe, due every ``retry.cap``. Rows left ``dead`` by older versions join the parked line."""
        s.execute(
            update(OutboxRow)
            .where(OutboxRow.channel == name, OutboxRow.status.in_(("pending", "dead")))
            .values(status="parked")
        )
        oldest = s.scalars(
            select(OutboxRow)
            .where(OutboxRow.channel == name, OutboxRow.status == "parked")
            .order_by(OutboxRow.id)
            .limit(1)
        ).first()
        if oldest is None or oldest.next_attempt_at > now:
            return []
        limiter = self.limiters[name]
        if limiter.room(self._recent_sends(s, name, now - limiter.horizon), now) == 0:
            return []
        return [oldest.id]

    @staticmethod
    def _recent_sends(s: Session, name: str, since: datetime) -> list[datetime]:
        return list(
            s.scalars(
                select(OutboxRow.sent_at).where(
                    OutboxRow.channel == name, OutboxRow.status == "sent", OutboxRow.sent_at > since
                )
            )
        )

    @staticmethod
    def _merge(s: Session, name: str, rows: list[OutboxRow], now: datetime) -> OutboxRow:
        parts = [p for r in rows for p in payload_parts(r.payload)]
        message = render_summary([notification_from_dict(p) for p in parts], now, OVERFLOW_REASON)
        alert_ids = sorted({a for r in rows for a in (r.payload.get("alert_ids") or [])})
        summary = OutboxRow(
            alert_id=None,
            channel=name,
            kind="summary",
            level=message.level,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            payload=to_payload(message, alert_ids=alert_ids, parts=parts),
        )
        s.add(summary)
        s.flush()
        for r in rows:
            r.status, r.merged_into = "merged", summary.id
        return summary

    def _claim(self, notification_id: int, now: datetime) -> dict | None:
        """Take the notification for one send (committed before the send); None if it is not ours to send."""
        with self.db.session() as s:
            row = s.get(OutboxRow, notification_id, with_for_update=True)
            if row is None or row.status not in ("pending", "parked") or row.next_attempt_at > now:
                return None
            row.attempts += 1
            row.next_attempt_at = now + self.config.claim_timeout
            return row.payload

    def _send_one(
        self, name: str, channel: Channel, notification_id: int, now: datetime, report: DispatchReport
    ) -> bool:
        """Claim, send, record. True if the channel may go on to the next notification."""
        payload = self._claim(notification_id, now)
        if payload is None:
            return False
        try:
            result = channel.send(from_payload(payload), self.client)
        except Exception as exc:  # a bug in rendering must not kill the loop; it is retried, then parked
            log.exception("channel %r: notification #%d could not be sent", name, notification_id)
            result = SendResult("retry", None, f"internal error: {type(exc).__name__}")
        return self._record(name, notification_id, result, now, report)

    def _record(
        self, name: str, notification_id: int, result: SendResult, now: datetime, report: DispatchReport
    ) -> bool:
        broken: list[tuple[str, str]] = []
        parked: list[tuple[str, int, datetime]] = []
        go_on = self._record_tx(name, notification_id, result, now, report, broken, parked)
        # After the commit: on_broken may mail the admin (SMTP with retries) and must neither hold the
        # database's write lock meanwhile nor, by failing, undo the recorded state.
        for channel_name, reason in broken:
            self._notify_broken(channel_name, reason)
        for channel_name, count, since in parked:
            self._notify_parked(channel_name, count, since)
        return go_on

    def _notify_parked(self, name: str, count: int, since: datetime) -> None:
        if self.on_parked is None:
            return
        try:
            self.on_parked(name, count, since)
        except Exception:
            log.exception("channel %r: on_parked callback failed", name)

    def _notify_broken(self, name: str, reason: str) -> None:
        if self.on_broken is None:
            return
        try:
            self.on_broken(name, reason)
        except Exception:
            log.exception("channel %r: on_broken callback failed", name)

    def _record_tx(
        self,
        name: str,
        notification_id: int,
        result: SendResult,
        now: datetime,
        report: DispatchReport,
        broken: list[tuple[str, str]],
        parked: list[tuple[str, int, datetime]],
    ) -> bool:
        with self.db.session() as s:
            row = s.get(OutboxRow, notification_id, with_for_update=True)
            if row is None:
                return False
            row.platform_code = None if result.code is None else str(result.code)[:50]
            state = channel_state(s, name, now)
            if result.status == "sent":
                was_parked = row.status == "parked"
                row.status, row.sent_at, row.last_error = "sent", now, None
                state.last_sent_at = now
                back = unpark(s, name, now)  # the channel accepts messages again: the parked line goes next
                if back or was_parked:
                    report.unparked += back
                    log.warning(
                        "channel %r accepts messages again (notification #%d sent); %d parked "
                        "notifications back in line, in order",
                        name,
                        row.id,
                        len(back),
                    )
                if state.state == "failing":
                    state.state, state.reason, state.since = "ok", None, now
                report.sent.append(row.id)
                return True
            row.last_error = scrub_secrets(result.detail)
            if result.status == "permanent":
                row.next_attempt_at = now  # due again as soon as the channel is fixed
                if state.state != "broken":
                    reason = f"{result.code}: {result.detail}" if result.code is not None else result.detail
                    state.state, state.reason, state.since = "broken", reason, now
                    report.broken[name] = reason
                    log.error(
                        "channel %r is BROKEN (%s); its notifications stay queued until it is fixed and "
                        "reset (jingshao channels test %s)",
                        name,
                        reason,
                        name,
                    )
                    broken.append((name, reason))  # on_broken is called after the commit
                return False
            probe = timedelta(seconds=max(self.config.retry.cap.total_seconds(), result.retry_after or 0))
            if row.status == "parked":  # a failed probe: the line stays parked
                row.next_attempt_at = now + probe
                log.warning(
                    "channel %r: probe with parked notification #%d failed (%s); next probe in %.0f s",
                    name,
                    row.id,
                    row.last_error,
                    probe.total_seconds(),
                )
                return False
            if row.attempts >= self.config.retry.max_attempts:
                row.status, row.next_attempt_at = "parked", now + probe
                s.execute(
                    update(OutboxRow)
                    .where(OutboxRow.channel == name, OutboxRow.status == "pending")
                    .values(status="parked")
                )
                count = (
                    s.scalar(
                        select(func.count())
                        .select_from(OutboxRow)
                        .where(OutboxRow.channel == name, OutboxRow.status == "parked")
                    )
                    or 0
                )
                since = (
                    s.scalar(
                        select(func.min(OutboxRow.created_at)).where(
                            OutboxRow.channel == name, OutboxRow.status == "parked"
                        )
                    )
                    or now
                )
                if state.state != "failing":
                    state.state, state.since = "failing", now
                    parked.append((name, count, since))
                state.reason = (
                    f"{count} 条通知暂存：通知 #{row.id} 重试 {row.attempts} 次未成功（{row.last_error}）；"
                    f"通道恢复后按顺序补发"
                )
                report.parked.append(row.id)
                log.error(
                    "channel %r: notification #%d PARKED after %d attempts (%s); %d notifications wait "
                    "for the channel (probed every %.0f s, or `jingshao channels test %s`)",
                    name,
                    row.id,
                    row.attempts,
                    row.last_error,
                    count,
                    probe.total_seconds(),
                    name,
                )
                return False
            delay = self.config.retry.delay(row.attempts, self.rng.random())
            if result.retry_after is not None:
                delay = max(delay, timedelta(seconds=result.retry_after))
            row.next_attempt_at = now + delay
            report.retried.append(row.id)
            log.warning(
                "channel %r: notification #%d attempt %d failed (%s); next try in %.0f s",
                name,
                row.id,
                row.attempts,
                row.last_error,
                delay.total_seconds(),
            )
            return False
