"""Brand crisis levels (issue 5, "Crisis levels"): blue / yellow / red from stored mentions.

How time is cut. Every count uses whole-hour buckets that end at ``now``: bucket 0 is the current
hour ``(now - 1h, now]``, bucket ``k`` is ``(now - (k+1)h, now - k h]``. Mentions after ``now`` are
ignored, so evaluating old facts at an old ``now`` replays exactly what was known then.

- 1-hour volume: negatives in bucket 0.
- Baseline: buckets ``1..168`` (the 7 days of hourly negative counts ending where the current hour
  starts); mean and population standard deviation. The deviation used is ``max(std, std_floor)``
  (default 1.0 negative): a flat-zero baseline would otherwise make a single negative an infinite
  number of sigmas; with the floor, the minimum counts (5 / 15 / 50) are what decide on a quiet brand.
- Same hour yesterday / last week: buckets 24 and 168.
- Shares: negatives / all mentions in buckets ``0..n-1`` (n = 2 for yellow, 24 for blue); "over 40%"
  means strictly greater.
- Growth ("negatives up 5x in 24 hours"): negatives in the last 24 hours against the 24 hours before
  (buckets 0..23 vs 24..47), at least 5x and at least 30. It catches a slow burn the 1-hour sigma rules
  miss (3 negatives an hour all day on a brand that usually has 0.5). Read it as a day-level rule: it
  stays red for up to 24 hours after a burst, which the engine's repeat interval has to live with.
- Single mentions (authority 3 -> red, authority 2 -> yellow, a strongly negative mention with a
  crisis word -> blue) count while they are in the event window (default: the current hour), so an
  article that has aged out no longer holds the level by itself.

Time-based rules need what the engine knows (:class:`CrisisHistory`):

- ``yellow.blue_6h``: the alert has been firing (at any level) for 6 hours and the brand's own
  numbers still say at least blue now. Measured from ``started_at``, so once it is yellow it stays
  yellow on the next evaluation instead of flapping back to blue.
- ``red.yellow_2h_rising``: the alert has been yellow or red for 2 hours, its own numbers still say
  at least yellow now, and the 1-hour negative count is above the count at the previous evaluation.
  "Own numbers" excludes ``yellow.blue_6h``: a 6-hour-old blue grumble does not become red because
  its hourly count moved from 5 to 6.

:func:`evaluate_crisis` returns at most one :class:`AlertInstance` per brand: the highest level
that fires, named after the first rule of that level (order of :data:`RULE_ORDER`), with that rule's
numbers in ``facts`` and the other rules that fired listed after them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from jingshao.core.formatting import clock
from jingshao.core.identities import brand_key
from jingshao.core.levels import LEVEL_RANK, LEVELS, Level
from jingshao.core.textfold import fold

from .model import MAX_EVIDENCE, AlertInstance, fingerprint, hours_text, number, quote, require_aware, share

HOUR = timedelta(hours=1)
WEEK_HOURS = 7 * 24

DEFAULT_CRISIS_WORDS: tuple[str, ...] = (
    "投诉",
    "召回",
    "假货",
    "曝光",
    "维权",
    "315",
    "起诉",
    "欺诈",
    "虚假宣传",
    "自燃",
    "爆炸",
    "中毒",
    "致癌",
    "立案",
    "约谈",
    "消协",
)

RULE_NAMES: dict[str, str] = {
    "red.authority3": "权威来源负面",
    "red.sigma5": "1小时负面声量突增（5σ）",
    "red.growth5x": "24小时负面增长5倍",
    "red.yellow_2h_rising": "黄色预警持续2小时且仍在上升",
    "yellow.sigma3": "1小时负面声量突增（3σ，高于昨日与上周同时段）",
    "yellow.share2h": "2小时负面占比过高",
    "yellow.authority2": "行业来源负面",
    "yellow.blue_6h": "蓝色预警持续6小时",
    "blue.sigma2": "1小时负面声量上升（2σ）",
    "blue.share24h": "24小时负面占比偏高",
    "blue.crisis_word": "强负面提及含危机词",
}
#: Keys older configs may still carry, with what replaced them.
RETIRED_KEYS: dict[str, str] = {
    "negative_below": "removed; a mention is negative when the mention model labels it neg "
    "(retrain it with `jingshao nlp train --kind mention` to change what counts)",
    "strongly_negative": "renamed strongly_negative_prob and now a P(negative), e.g. 0.8 (it was a P(positive))",
}
#: Rule ids, most severe first; the first that fires at the highest level names the alert.
RULE_ORDER: tuple[str, ...] = tuple(RULE_NAMES)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class MentionFact:
    """One stored brand mention, as the rules need it.

    ``is_negative`` is the mention model's decision as stored (label ``neg``; the rules never
    re-threshold it). ``sentiment`` is P(positive) and ``negative_prob`` P(negative) from that model
    (``None``: a legacy two-class score, read as ``1 - sentiment``). ``has_crisis_word``: ``None`` means
    "look in title and text with the configured word list"; ``True``/``False`` overrides that.
    """

    posted_at: datetime
    sentiment: float
    is_negative: bool
    authority: int = 1
    source: str = ""
    url: str = ""
    title: str = ""
    text: str = ""
    has_crisis_word: bool | None = None
    negative_prob: float | None = None

    @property
    def p_negative(self) -> float:
        return 1.0 - self.sentiment if self.negative_prob is None else self.negative_prob

    def __post_init__(self) -> None:
        if self.posted_at.tzinfo is None:
            raise ValueError(f"MentionFact.posted_at must be timezone-aware, got {self.posted_at!r} ({self.url})")
        if self.authority not in (1, 2, 3):
            raise ValueError(f"MentionFact.authority must be 1, 2 or 3, got {self.authority!r} ({self.url})")


@dataclass(frozen=True)
class CrisisThresholds:
    """Every number of issue 5's crisis levels; all configurable per brand.

    Windows are whole hours (the rules count hourly buckets). Sustain durations may be fractional.
    """

    # red
    red_authority: int = 3
    red_sigma: float = 5.0
    red_min_negatives: int = 50
    red_min_negative_share: float = 0.5  # "at least 50% negative" in the current hour
    red_growth_factor: float = 5.0
    red_growth_min_negatives: int = 30
    red_growth_hours: int = 24
    red_after_yellow_hours: float = 2.0
    # yellow
    yellow_authority: int = 2
    yellow_sigma: float = 3.0
    yellow_min_negatives: int = 15
    yellow_vs_yesterday: float = 2.0  # at least double the same hour yesterday ...
    yellow_vs_last_week: float = 2.0  # ... and the same hour last week
    yellow_share: float = 0.4  # "over 40% negative": strictly greater
    yellow_share_hours: int = 2
    yellow_share_min_mentions: int = 30
    yellow_after_blue_hours: float = 6.0
    # blue
    blue_sigma: float = 2.0
    blue_min_negatives: int = 5
    blue_share: float = 0.3  # strictly greater
    blue_share_hours: int = 24
    blue_share_min_mentions: int = 20
    # Which mentions are negative is not a threshold here: it is the mention model's ``neg`` label,
    # stored at ingest (see nlp/mention.py for how that decision is calibrated). A negative mention
    # with P(negative) at or above this is "strongly negative" (the crisis-word rule).
    strongly_negative_prob: float = 0.8
    crisis_words: tuple[str, ...] = DEFAULT_CRISIS_WORDS
    # baseline and windows
    baseline_hours: int = WEEK_HOURS
    std_floor: float = 1.0
    event_hours: int = 1  # how long a single authority / crisis-word mention counts

    def __post_init__(self) -> None:
        object.__setattr__(self, "crisis_words", tuple(self.crisis_words))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "crisis_words":
                if not all(isinstance(w, str) and w.strip() for w in value):
                    raise ValueError("CrisisThresholds.crisis_words must be non-empty strings")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"CrisisThresholds.{f.name} must be a non-negative number, got {value!r}")
        for name in ("red_growth_hours", "yellow_share_hours", "blue_share_hours", "baseline_hours", "event_hours"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CrisisThresholds.{name} must be a whole number of hours >= 1, got {value!r}")
        for name in ("red_min_negative_share", "yellow_share", "blue_share", "strongly_negative_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"CrisisThresholds.{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if self.std_floor <= 0:
            raise ValueError(f"CrisisThresholds.std_floor must be > 0, got {self.std_floor!r}")
        if not self.red_authority > self.yellow_authority >= 1:
            raise ValueError("CrisisThresholds needs red_authority > yellow_authority >= 1")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "crisis thresholds") -> CrisisThresholds:
        """Build from config (e.g. a brand's ``crisis`` table); an unknown key names itself and ``where``."""
        known = {f.name for f in fields(cls)}
        retired = sorted(set(data) & set(RETIRED_KEYS))
        if retired:
            raise ValueError(f"{where}: {'; '.join(f'{k}: {RETIRED_KEYS[k]}' for k in retired)}")
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
            )
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc

    @property
    def horizon_hours(self) -> int:
        """Hour buckets the rules look at (the baseline, same hour last week, the growth window ...)."""
        return max(
            self.baseline_hours + 1,
            WEEK_HOURS + 1,
            2 * self.red_growth_hours,
            self.yellow_share_hours,
            self.blue_share_hours,
            self.event_hours,
        )


@dataclass(frozen=True)
class CrisisHistory:
    """What the engine knows of the brand's ongoing crisis alert (None when there is none).

    ``level`` and ``since``: the alert's level at the previous evaluation and when it reached it.
    ``previous_negatives_1h``: the 1-hour negative count at the previous evaluation ("still rising").
    ``started_at``: when the alert first fired, at any level (default ``since``).
    ``yellow_since``: when it first reached yellow or red (default ``since`` when ``level`` is yellow
    or red); an engine that records it lets a red reached through another rule keep its yellow clock.
    """

    level: Level
    since: datetime
    previous_negatives_1h: int | None = None
    started_at: datetime | None = None
    yellow_since: datetime | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"CrisisHistory.level must be one of {LEVELS}, got {self.level!r}")
        for name in ("since", "started_at", "yellow_since"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, f"CrisisHistory.{name}")

    @property
    def firing_since(self) -> datetime:
        return self.started_at or self.since

    @property
    def at_least_yellow_since(self) -> datetime | None:
        if self.yellow_since is not None:
            return self.yellow_since
        return self.since if LEVEL_RANK[self.level] >= LEVEL_RANK["yellow"] else None


# ---------------------------------------------------------------- counting


@dataclass(frozen=True)
class CrisisStats:
    """Hourly counts and the single mentions that matter, computed once per evaluation."""

    negatives: np.ndarray  # negatives per hour bucket; [0] is the current hour
    mentions: np.ndarray  # all mentions per hour bucket
    baseline_mean: float
    baseline_std: float
    sigma: float  # max(baseline_std, std_floor)
    authority_negatives: list[MentionFact]  # negatives at yellow_authority or above in the event window
    crisis_word_mentions: list[tuple[MentionFact, str]]  # strongly negative with a crisis word, event window
    top_negatives: list[MentionFact]  # current-hour negatives, most telling first (evidence)

    @property
    def negatives_1h(self) -> int:
        return int(self.negatives[0])

    @property
    def mentions_1h(self) -> int:
        return int(self.mentions[0])

    def negatives_in(self, first: int, last: int) -> int:
        """Negatives in hour buckets ``first..last-1``."""
        return int(self.negatives[first:last].sum())

    def mentions_in(self, first: int, last: int) -> int:
        return int(self.mentions[first:last].sum())

    def deviations(self) -> float:
        return (self.negatives_1h - self.baseline_mean) / self.sigma


@lru_cache(maxsize=64)
def _crisis_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation, longest first. A word made of digits (315) must not touch other digits:
    "3150mAh" on a power bank is not the 3·15 consumer-rights gala."""
    parts = []
    for word in sorted({fold(w) for w in words}, key=len, reverse=True):
        escaped = re.escape(word)
        parts.append(rf"(?<!\d){escaped}(?!\d)" if word.isdigit() else escaped)
    return re.compile("|".join(parts))


def find_crisis_word(text: str, words: Sequence[str] = DEFAULT_CRISIS_WORDS) -> str | None:
    """The first crisis word in ``text``, or None (text folded by ``core.textfold.fold``: ３１５, 投訴 count)."""
    found = _crisis_pattern(tuple(words)).search(fold(text))
    return found.group(0) if found else None


def _crisis_word_of(m: MentionFact, t: CrisisThresholds) -> str | None:
    if m.has_crisis_word is False:
        return None
    word = find_crisis_word(f"{m.title}\n{m.text}", t.crisis_words)
    if word is None and m.has_crisis_word:
        return "（来源标记）"
    return word


def _telling(m: MentionFact) -> tuple[int, float, float]:
    """Sort key for evidence: higher authority, more negative, more recent first."""
    return (-m.authority, -m.p_negative, -m.posted_at.timestamp())


@dataclass(frozen=True)
class HourlyCounts:
    """Mentions and negatives per hour bucket (``[0]`` the current hour), counted elsewhere.

    Storage keeps per-minute counts so that an evaluation need not read every mention of the horizon
    (``storage.queries.crisis_counts``); with these, :func:`crisis_stats` only needs the event window's
    negative mentions as facts. Both sequences have one entry per bucket of the horizon.
    """

    mentions: Sequence[int]
    negatives: Sequence[int]


def crisis_stats(
    mentions: Sequence[MentionFact], now: datetime, t: CrisisThresholds, counts: HourlyCounts | None = None
) -> CrisisStats:
    """Bucket every mention once, then count with numpy.

    ``(now - posted_at) // 1h`` is exact timedelta arithmetic (no float rounding at bucket edges), and
    a mention even a microsecond after ``now`` floors to -1 and is left out.

    ``counts``: the hourly counts, already known; ``mentions`` then only has to hold the negatives of
    the event window (the single-mention rules and the evidence read nothing else), and the result is
    the same as bucketing every mention of the horizon.
    """
    horizon = t.horizon_hours
    n = len(mentions)
    buckets = np.fromiter(((now - m.posted_at) // HOUR for m in mentions), dtype=np.int64, count=n)
    negative = np.fromiter((m.is_negative for m in mentions), dtype=np.bool_, count=n)
    inside = (buckets >= 0) & (buckets < horizon)  # a mention after now floors to bucket -1
    if counts is None:
        counted = buckets[inside]
        per_hour = np.bincount(counted, minlength=horizon)[:horizon]
        negatives = np.bincount(counted[negative[inside]], minlength=horizon)[:horizon]
    else:
        if len(counts.mentions) != horizon or len(counts.negatives) != horizon:
            raise ValueError(
                f"HourlyCounts must cover the {horizon}-hour horizon, got "
                f"{len(counts.mentions)} / {len(counts.negatives)} buckets"
            )
        per_hour = np.asarray(counts.mentions, dtype=np.int64)
        negatives = np.asarray(counts.negatives, dtype=np.int64)

    baseline = negatives[1 : t.baseline_hours + 1].astype(np.float64)
    mean, std = float(baseline.mean()), float(baseline.std())

    recent = [mentions[int(i)] for i in np.flatnonzero(inside & (buckets < t.event_hours))]
    authority = sorted((m for m in recent if m.is_negative and m.authority >= t.yellow_authority), key=_telling)
    crisis_words = []
    for m in recent:
        if m.is_negative and m.p_negative >= t.strongly_negative_prob and (word := _crisis_word_of(m, t)):
            crisis_words.append((m, word))
    crisis_words.sort(key=lambda hit: _telling(hit[0]))
    current_negatives = [mentions[int(i)] for i in np.flatnonzero(inside & negative & (buckets == 0))]
    top = sorted(current_negatives, key=_telling)[:MAX_EVIDENCE]

    return CrisisStats(
        negatives=negatives,
        mentions=per_hour,
        baseline_mean=mean,
        baseline_std=std,
        sigma=max(std, t.std_floor),
        authority_negatives=authority,
        crisis_word_mentions=crisis_words,
        top_negatives=top,
    )


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired: its id, level, one-line summary, the numbers, the mentions that show it."""

    rule: str
    level: Level
    summary: str
    facts: list[tuple[str, str]]
    evidence: list[MentionFact] = field(default_factory=list)


CountRule = Callable[[CrisisStats, CrisisThresholds], RuleHit | None]
SustainRule = Callable[[CrisisStats, CrisisThresholds, CrisisHistory | None, datetime, Level | None], RuleHit | None]


def _mention_label(m: MentionFact) -> str:
    return f"{m.source or '未知来源'}《{quote(m.title or m.text, 40)}》"


def _volume_facts(s: CrisisStats, k: float) -> list[tuple[str, str]]:
    return [
        ("1小时负面", f"{s.negatives_1h} 条"),
        ("7日小时基线", f"均值 {s.baseline_mean:.1f}，标准差 {s.baseline_std:.1f}（计算用 {number(s.sigma)}）"),
        ("偏离", f"{s.deviations():.1f}σ（阈值 {number(k)}σ，即 ≥ {s.baseline_mean + k * s.sigma:.1f} 条）"),
    ]


def _volume_summary(s: CrisisStats, k: float) -> str:
    return f"1小时负面声量 {s.negatives_1h} 条，超过7日基线 {s.baseline_mean:.1f} + {number(k)}σ"


def _above_sigma(s: CrisisStats, k: float, minimum: int) -> bool:
    return s.negatives_1h >= minimum and s.negatives_1h >= s.baseline_mean + k * s.sigma


def _authority_hit(hits: list, rule: str, level: Level, what: str, count_label: str) -> RuleHit | None:
    """A rule hit for negative mentions from sources of some authority: the first one names it."""
    if not hits:
        return None
    first = hits[0]
    return RuleHit(
        rule,
        level,
        f"{what}：{_mention_label(first)}",
        [
            ("来源", f"{first.source}（权威度 {first.authority}）"),
            ("发布时间", clock(first.posted_at)),
            ("负面概率", f"{first.p_negative:.2f}"),
            (count_label, f"{len(hits)} 条"),
        ],
        hits,
    )


def red_authority_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """A negative mention from an authority-3 source (national media, a hot list)."""
    hits = [m for m in s.authority_negatives if m.authority >= t.red_authority]
    return _authority_hit(
        hits, "red.authority3", "red", f"{t.red_authority}级权威来源负面", f"{t.event_hours}小时内权威负面"
    )


def red_sigma_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """1-hour negatives >= 5σ above baseline, at least 50 of them and at least 50% of the hour."""
    if not _above_sigma(s, t.red_sigma, t.red_min_negatives):
        return None
    if s.mentions_1h == 0 or s.negatives_1h / s.mentions_1h < t.red_min_negative_share:
        return None
    return RuleHit(
        "red.sigma5",
        "red",
        f"{_volume_summary(s, t.red_sigma)}，负面占比 {share(s.negatives_1h, s.mentions_1h)}",
        [*_volume_facts(s, t.red_sigma), ("1小时负面占比", share(s.negatives_1h, s.mentions_1h))],
    )


def red_growth_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """Negatives of the last 24 hours at least 5x the 24 hours before, and at least 30."""
    hours = t.red_growth_hours
    current, previous = s.negatives_in(0, hours), s.negatives_in(hours, 2 * hours)
    if current < t.red_growth_min_negatives or current < t.red_growth_factor * previous:
        return None
    ratio = f"{current / previous:.1f} 倍" if previous else "此前为 0"
    return RuleHit(
        "red.growth5x",
        "red",
        f"{hours}小时负面 {current} 条，前{hours}小时 {previous} 条（{ratio}）",
        [
            (f"近{hours}小时负面", f"{current} 条"),
            (f"前{hours}小时负面", f"{previous} 条"),
            ("增长", f"{ratio}（阈值 {number(t.red_growth_factor)} 倍且 ≥ {t.red_growth_min_negatives} 条）"),
        ],
    )


def yellow_sigma_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """1-hour negatives >= 3σ above baseline, at least 15, and at least double the same hour yesterday
    and the same hour last week (a daily or weekly rhythm is not a crisis)."""
    if not _above_sigma(s, t.yellow_sigma, t.yellow_min_negatives):
        return None
    yesterday, last_week = int(s.negatives[24]), int(s.negatives[WEEK_HOURS])
    if s.negatives_1h < t.yellow_vs_yesterday * yesterday or s.negatives_1h < t.yellow_vs_last_week * last_week:
        return None
    return RuleHit(
        "yellow.sigma3",
        "yellow",
        f"{_volume_summary(s, t.yellow_sigma)}，昨日同时段 {yesterday} 条，上周同时段 {last_week} 条",
        [
            *_volume_facts(s, t.yellow_sigma),
            ("昨日同时段负面", f"{yesterday} 条"),
            ("上周同时段负面", f"{last_week} 条"),
        ],
    )


def _share_hit(s: CrisisStats, rule: str, level: Level, hours: int, limit: float, min_mentions: int) -> RuleHit | None:
    negatives, total = s.negatives_in(0, hours), s.mentions_in(0, hours)
    if total < min_mentions or negatives <= limit * total:
        return None
    return RuleHit(
        rule,
        level,
        f"{hours}小时负面占比 {share(negatives, total)}，超过 {number(limit * 100)}%",
        [
            (f"{hours}小时负面占比", share(negatives, total)),
            ("阈值", f"> {number(limit * 100)}% 且提及 ≥ {min_mentions} 条"),
        ],
    )


def yellow_share_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """Over 40% of the last 2 hours' mentions negative, with at least 30 mentions."""
    return _share_hit(s, "yellow.share2h", "yellow", t.yellow_share_hours, t.yellow_share, t.yellow_share_min_mentions)


def yellow_authority_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """A negative mention from an authority-2 source (industry media, a big account, a regulator)."""
    hits = [m for m in s.authority_negatives if m.authority == t.yellow_authority]
    return _authority_hit(
        hits, "yellow.authority2", "yellow", f"{t.yellow_authority}级来源负面", f"{t.event_hours}小时内该级负面"
    )


def blue_sigma_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """1-hour negatives >= 2σ above baseline and at least 5."""
    if not _above_sigma(s, t.blue_sigma, t.blue_min_negatives):
        return None
    return RuleHit("blue.sigma2", "blue", _volume_summary(s, t.blue_sigma), _volume_facts(s, t.blue_sigma))


def blue_share_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """Over 30% of the last 24 hours' mentions negative, with at least 20 mentions."""
    return _share_hit(s, "blue.share24h", "blue", t.blue_share_hours, t.blue_share, t.blue_share_min_mentions)


def blue_crisis_word_rule(s: CrisisStats, t: CrisisThresholds) -> RuleHit | None:
    """One strongly negative mention (labelled neg, P(negative) >= 0.8) with a crisis word (投诉, 召回, 315 ...)."""
    if not s.crisis_word_mentions:
        return None
    first, word = s.crisis_word_mentions[0]
    return RuleHit(
        "blue.crisis_word",
        "blue",
        f"强负面提及含危机词「{word}」：{_mention_label(first)}",
        [
            ("危机词", "、".join(dict.fromkeys(w for _, w in s.crisis_word_mentions))),
            ("来源", f"{first.source}（权威度 {first.authority}）"),
            ("发布时间", clock(first.posted_at)),
            ("负面概率", f"{first.p_negative:.2f}（≥ {number(t.strongly_negative_prob)} 为强负面）"),
            (f"{t.event_hours}小时内此类提及", f"{len(s.crisis_word_mentions)} 条"),
        ],
        [m for m, _ in s.crisis_word_mentions],
    )


def red_yellow_rising_rule(
    s: CrisisStats, t: CrisisThresholds, history: CrisisHistory | None, now: datetime, own: Level | None
) -> RuleHit | None:
    """Yellow (or red) for 2 hours, still at least yellow on its own numbers, and rising."""
    if history is None or own is None or LEVEL_RANK[own] < LEVEL_RANK["yellow"]:
        return None
    since = history.at_least_yellow_since
    previous = history.previous_negatives_1h
    if since is None or now - since < timedelta(hours=t.red_after_yellow_hours):
        return None
    if previous is None or s.negatives_1h <= previous:
        return None
    return RuleHit(
        "red.yellow_2h_rising",
        "red",
        f"黄色预警已持续 {hours_text(now - since)}，仍在上升：1小时负面 {previous} → {s.negatives_1h} 条",
        [
            ("黄色预警开始", clock(since)),
            ("已持续", hours_text(now - since)),
            ("1小时负面", f"上次评估 {previous} 条 → 本次 {s.negatives_1h} 条"),
        ],
        s.top_negatives,
    )


def yellow_blue_sustained_rule(
    s: CrisisStats, t: CrisisThresholds, history: CrisisHistory | None, now: datetime, own: Level | None
) -> RuleHit | None:
    """Firing for 6 hours (blue or above) and still at least blue on its own numbers."""
    if history is None or own is None:
        return None
    started = history.firing_since
    if now - started < timedelta(hours=t.yellow_after_blue_hours):
        return None
    return RuleHit(
        "yellow.blue_6h",
        "yellow",
        f"蓝色预警已持续 {hours_text(now - started)}",
        [
            ("预警开始", clock(started)),
            ("已持续", hours_text(now - started)),
            ("阈值", f"≥ {number(t.yellow_after_blue_hours)} 小时"),
        ],
        s.top_negatives,
    )


#: Rules that judge the numbers alone, in :data:`RULE_ORDER`.
COUNT_RULES: tuple[CountRule, ...] = (
    red_authority_rule,
    red_sigma_rule,
    red_growth_rule,
    yellow_sigma_rule,
    yellow_share_rule,
    yellow_authority_rule,
    blue_sigma_rule,
    blue_share_rule,
    blue_crisis_word_rule,
)
#: Rules that also need the ongoing alert's history.
SUSTAIN_RULES: tuple[SustainRule, ...] = (red_yellow_rising_rule, yellow_blue_sustained_rule)


# ---------------------------------------------------------------- evaluation


def _highest(hits: Sequence[RuleHit]) -> RuleHit | None:
    if not hits:
        return None
    return min(hits, key=lambda h: (-LEVEL_RANK[h.level], RULE_ORDER.index(h.rule)))


def _evidence(hit: RuleHit, s: CrisisStats) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    seen: set[int] = set()
    for m in [*hit.evidence, *s.top_negatives]:
        if id(m) in seen:
            continue
        seen.add(id(m))
        text = m.title or m.text
        chosen.append((quote(f"{m.source}：{text}" if m.source else text), m.url))
        if len(chosen) == MAX_EVIDENCE:
            break
    return chosen


def _metrics(s: CrisisStats) -> dict[str, float]:
    return {
        "negatives_1h": s.negatives_1h,
        "mentions_1h": s.mentions_1h,
        "baseline_mean": s.baseline_mean,
        "baseline_std": s.baseline_std,
        "deviations": s.deviations(),
    }


def crisis_fingerprint(brand: str) -> str:
    return fingerprint("crisis", brand_key(brand))


def evaluate_crisis(
    brand: str,
    mentions: Sequence[MentionFact],
    now: datetime,
    thresholds: CrisisThresholds | None = None,
    history: CrisisHistory | None = None,
    counts: HourlyCounts | None = None,
) -> list[AlertInstance]:
    """At most one crisis alert for ``brand`` at ``now``: the highest level that fires (see module doc).

    ``counts``: the horizon's hourly counts when storage has them (see :func:`crisis_stats`); then
    ``mentions`` need only be the event window's negatives."""
    if not brand:
        raise ValueError("evaluate_crisis needs a brand name")
    require_aware(now, "now")
    t = thresholds or CrisisThresholds()
    s = crisis_stats(mentions, now, t, counts)
    hits = [hit for rule in COUNT_RULES if (hit := rule(s, t)) is not None]
    own = top.level if (top := _highest(hits)) else None
    hits += [hit for rule in SUSTAIN_RULES if (hit := rule(s, t, history, now, own)) is not None]
    top = _highest(hits)
    if top is None:
        return []
    facts = [("触发规则", f"{top.rule}（{RULE_NAMES[top.rule]}）"), *top.facts]
    others = sorted((h for h in hits if h is not top), key=lambda h: RULE_ORDER.index(h.rule))
    if others:
        facts.append(("同时触发", "；".join(f"{h.rule}（{RULE_NAMES[h.rule]}）" for h in others)))
    facts.append(("1小时负面/提及", f"{s.negatives_1h} / {s.mentions_1h} 条"))
    return [
        AlertInstance(
            fingerprint=crisis_fingerprint(brand),
            family="crisis",
            level=top.level,
            subject=brand,
            subject_key=brand_key(brand),
            rule=top.rule,
            summary=top.summary,
            facts=facts,
            evidence=_evidence(top, s),
            at=now,
            is_crisis=True,
            metrics=_metrics(s),
        )
    ]
