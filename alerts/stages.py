"""The notify pipeline between the state machine and the outbox, in Alertmanager's shape.

The engine turns each state change into a :class:`Candidate` (a notice that *may* go out) and runs
the candidates through a list of stages. Each stage is a small class with one method,
``apply(candidates, ctx) -> candidates``, so the pipeline is a value: print it, reorder it, drop a stage
in a test. The default (:data:`DEFAULT_PIPELINE`)::

    Inhibit -> Silence -> Ack -> RepeatInterval -> Route -> Group

- Muting stages (:class:`Inhibit`, :class:`Silence`) keep the candidate and set ``muted``: the state
  change is recorded as an event, nothing is sent.
- Dropping stages (:class:`Ack`, :class:`RepeatInterval`) set ``dropped``: a repeat that is not due is
  not an event at all.
- :class:`Route` picks the channels whose ``levels`` include the alert's level; :class:`Group` gives
  candidates a group key so the outbox writer merges notices about one subject for one channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from jingshao.alerts.rules.model import ADMIN_FAMILIES
from jingshao.alerts.settings import AlertsConfig
from jingshao.core.levels import LEVEL_RANK
from jingshao.storage.alerts_repo import SilenceRow
from jingshao.storage.queries.alerts import AlertRecord


class Routable(Protocol):
    """A channel as routing sees it: a :class:`~jingshao.alerts.channels.Channel` or its config."""

    name: str

    def accepts(self, level: str) -> bool: ...


@dataclass
class Candidate:
    """A notice the state machine wants to send about ``alert`` (a plain value, not a database row:
    stages can be run and tested without a database).

    ``kind``: firing (first notice of an episode), escalated, followup (an event alert changed further:
    the price dropped again; ``previous_summary`` is what the last notice said), repeat, resolved.
    """

    alert: AlertRecord
    kind: str
    previous_level: str | None = None
    previous_summary: str | None = None
    current: str | None = None  # a resolved notice's "where it stands now" (现价 ¥99.90，有货)
    muted: str | None = None  # why it is recorded but not sent
    muted_by: str | None = None  # the event kind recording it: "inhibited" | "silenced"
    dropped: str | None = None  # why nothing at all happens this time
    channels: list[str] = field(default_factory=list)
    group: str | None = None
    news: bool = True  # False: a first notice retried after being muted, or a repeat (no event when muted)

    @property
    def level(self) -> str:
        """The level a notice carries: the episode's highest (kept until resolved)."""
        return self.alert.max_level

    @property
    def live(self) -> bool:
        return self.muted is None and self.dropped is None


@dataclass
class StageContext:
    """What stages may look at; built once per evaluation by the engine."""

    now: datetime
    config: AlertsConfig
    channels: Sequence[Routable]
    silences: Sequence[SilenceRow] = ()
    red_subjects: dict[str, AlertRecord] = field(default_factory=dict)  # subject_key -> its firing red crisis alert


class Stage(Protocol):
    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]: ...


class _Named:
    def __repr__(self) -> str:
        return type(self).__name__


class Inhibit(_Named):
    """A firing red crisis of a brand mutes that brand's yellow and blue notices (same ``subject_key``)."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        for c in candidates:
            red = ctx.red_subjects.get(c.alert.subject_key)
            if c.live and red is not None and red.id != c.alert.id and LEVEL_RANK[c.level] < LEVEL_RANK["red"]:
                c.muted, c.muted_by = f"被红色预警 #{red.id}（{red.subject}）抑制", "inhibited"
        return candidates


def silence_matches(silence: SilenceRow, alert: AlertRecord) -> bool:
    """A matcher is a fingerprint, a subject key (``brand:蜜橙``, ``product:12``) or a family (``price_drop``)."""
    return silence.matcher in (alert.fingerprint, alert.subject_key, alert.family)


def active_silences(silences: Iterable[SilenceRow], now: datetime) -> list[SilenceRow]:
    return [s for s in silences if s.ended_at is None and s.created_at <= now < s.expires_at]


class Silence(_Named):
    """Active silences (not ended, not expired) mute every notice of the alerts they match."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        active = active_silences(ctx.silences, ctx.now)
        for c in candidates:
            if not c.live:
                continue
            hit = next((s for s in active if silence_matches(s, c.alert)), None)
            if hit is not None:
                c.muted, c.muted_by = f"静默 #{hit.id}（{hit.author}：{hit.reason}）", "silenced"
        return candidates


class Ack(_Named):
    """An acknowledged alert gets no repeats; escalation clears the acknowledgement (the engine does)."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        for c in candidates:
            if c.live and c.kind == "repeat" and c.alert.acked_at is not None:
                c.dropped = f"已确认（{c.alert.acked_by}）"
        return candidates


class RepeatInterval(_Named):
    """A still-firing alert is repeated once its level's interval has passed since the last notice."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        for c in candidates:
            if not c.live or c.kind != "repeat":
                continue
            interval = ctx.config.repeat_interval.for_level(c.level)
            last = c.alert.last_notified_at
            if interval is None:
                c.dropped = "该级别不重复提醒"
            elif last is not None and ctx.now - last < interval:
                c.dropped = "未到重复间隔"
        return candidates


def channel_roles(channel: Routable) -> frozenset[str]:
    """A channel's roles (``business`` by default; ``admin`` receives the alerts about the crawler itself)."""
    return frozenset(getattr(channel, "roles", None) or ("business",))


class Route(_Named):
    """Channels whose ``levels`` include the notice's level, in configuration order; alerts about the crawler
    (:data:`ADMIN_FAMILIES`: blocked competitor, expired cookies) only to ``admin`` channels, every other alert
    only to ``business`` channels (the default role)."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        for c in candidates:
            if c.live:
                role = "admin" if c.alert.family in ADMIN_FAMILIES else "business"
                c.channels = [ch.name for ch in ctx.channels if ch.accepts(c.level) and role in channel_roles(ch)]
        return candidates


class Group(_Named):
    """Notices about one subject (a brand, a product) for one channel within ``group_interval`` become one
    message. This stage names the group; the outbox writer merges (it sees pending rows of earlier runs)."""

    def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
        if ctx.config.group_interval <= timedelta(0):
            return candidates
        for c in candidates:
            if c.live:
                c.group = c.alert.subject_key
        return candidates


DEFAULT_PIPELINE: tuple[Stage, ...] = (Inhibit(), Silence(), Ack(), RepeatInterval(), Route(), Group())


def run_pipeline(
    candidates: list[Candidate], ctx: StageContext, pipeline: Sequence[Stage] = DEFAULT_PIPELINE
) -> list[Candidate]:
    for stage in pipeline:
        candidates = stage.apply(candidates, ctx)
    return candidates
