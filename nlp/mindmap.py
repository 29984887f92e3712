"""The user mind map (用户心智图谱): what buyers of one product or competitor talk about, like and dislike.

One function builds it, :func:`build_mind_map`, for every consumer (the daily report, ``jingshao tags
--json`` / ``--csv`` and the web dashboard): plain reviews with their tags in, a :class:`MindMap`
dataclass out, ``MindMap.to_dict()`` for JSON. Pure: no database, no I/O.

Per normalised aspect (:class:`AspectNode`): how many reviews mention it and their share of all reviews
given, the positive / negative share of its opinion tags and how many tags only mention it (no
opinion), the surface forms buyers used (续航, 电池, 待机), the top opinions each way with the number of
reviews saying them, short example reviews (the shortest, they read best), and, when the reviews carry
times, :class:`WeekChange`: mentions and negative share in the 7 days up to ``now`` beside the 7 days
before, so a team sees what moved.

JSON shape of ``MindMap.to_dict()``::

    {"competitor": "优品数码旗舰店", "product": null, "reviews": 320, "tagged": 281, "now": "2026-...",
     "aspects": [{"aspect": "续航", "reviews": 41, "share": 0.128, "positive": 0.8, "negative": 0.2, "mentions": 3,
                  "surfaces": [["续航", 30], ["电池", 11]],
                  "top_positive": [["续航给力", 12]], "top_negative": [["电池不耐用", 3]],
                  "examples": ["续航很给力"], "example_positive": "续航很给力", "example_negative": "...",
                  "week": {"this_week": 9, "last_week": 4, "negative_this_week": 0.1,
                           "negative_last_week": 0.25}}]}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .tags import Tag


@dataclass(frozen=True)
class MindMapReview:
    """One review as the mind map reads it: its text, its tags and when it was written (or first seen)."""

    text: str
    tags: Sequence[Tag]
    at: datetime | None = None


@dataclass
class WeekChange:
    this_week: int  # reviews mentioning the aspect in (now - 7 days, now]
    last_week: int  # ... in (now - 14 days, now - 7 days]
    negative_this_week: float | None  # negative share of those reviews' opinion tags; None without any
    negative_last_week: float | None

    @property
    def delta(self) -> int:
        return self.this_week - self.last_week


@dataclass
class AspectNode:
    aspect: str
    reviews: int  # distinct reviews mentioning it
    share: float  # of all reviews given
    positive: float  # share of its opinion tags that are positive (mentions left out)
    negative: float
    mentions: int = 0  # tags naming it with no opinion on it (polarity "neu": 拍照真的很重要)
    surfaces: list[tuple[str, int]] = field(default_factory=list)
    # (opinion with the surface it was said of, as most reviews put it: 续航给力, 性价比高; reviews saying
    # it), grouped by the normalised opinion (很给力 and 超级给力 are one)
    top_positive: list[tuple[str, int]] = field(default_factory=list)
    top_negative: list[tuple[str, int]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    example_positive: str | None = None  # a short review praising it
    example_negative: str | None = None  # a short review complaining about it
    week: WeekChange | None = None


@dataclass
class MindMap:
    competitor: str
    product: str | None  # None: all of the competitor's products
    reviews: int  # reviews given
    tagged: int  # of those, reviews with at least one tag
    aspects: list[AspectNode]
    now: datetime | None = None  # the end of "this week" (None when no review carries a time)

    @property
    def has_weeks(self) -> bool:
        """Whether any aspect was mentioned in the last two weeks (else the week figures say nothing)."""
        return any(a.week and (a.week.this_week or a.week.last_week) for a in self.aspects)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["now"] = self.now.isoformat() if self.now else None
        return d


def _quote(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def build_mind_map(
    reviews: Iterable[MindMapReview | tuple[str, Sequence[Tag]] | tuple[str, Sequence[Tag], datetime | None]],
    *,
    competitor: str = "",
    product: str | None = None,
    top: int = 5,
    aspects: int | None = None,
    now: datetime | None = None,
    quote_chars: int = 60,
) -> MindMap:
    """The mind map of ``reviews``: aspects sorted by reviews mentioning them, most first (the implicit
    整体 included), at most ``aspects`` of them; ``top`` surfaces and opinions each way per aspect.

    ``now`` ends "this week" for :class:`WeekChange` (default: the newest review time); reviews without a
    time count everywhere except in the week figures.
    """
    total = tagged = 0
    members: dict[str, set[int]] = defaultdict(set)
    pol: dict[str, Counter] = defaultdict(Counter)
    # per aspect, per review: [positive, negative] tags (a Counter a review cost ~1 us to make)
    pol_by_review: dict[str, dict[int, list[int]]] = defaultdict(dict)
    surf: dict[str, Counter] = defaultdict(Counter)
    ops: dict[tuple[str, str], Counter] = defaultdict(Counter)
    said: dict[tuple[str, str, str], Counter] = defaultdict(Counter)  # how each opinion was put most often
    texts: list[str] = []
    times: list[datetime | None] = []
    for k, item in enumerate(reviews):
        if isinstance(item, MindMapReview):
            text, tags, when = item.text, item.tags, item.at
        else:
            text, tags = item[0], item[1]
            when = item[2] if len(item) > 2 else None
        total += 1
        tagged += bool(tags)
        texts.append(text or "")
        times.append(when)
        seen_op: set[tuple[str, str, str]] = set()
        for t in tags:
            aspect, polarity = t.aspect, t.polarity
            members[aspect].add(k)
            pol[aspect][polarity] += 1
            counts = pol_by_review[aspect].get(k)
            if counts is None:
                counts = pol_by_review[aspect][k] = [0, 0]
            if polarity == "pos":
                counts[0] += 1
            elif polarity == "neg":
                counts[1] += 1
            surf[aspect][t.aspect_text] += 1
            key = (aspect, polarity, t.opinion_norm or t.opinion)
            if key not in seen_op:
                seen_op.add(key)
                ops[(aspect, polarity)][key[2]] += 1
            said[key][_label(t, key[2])] += 1
    ref = now or max((t for t in times if t), default=None)
    # Every review with text, shortest first (then by text): each aspect's examples are the first of
    # its reviews in this order (sorted once, not once per aspect; reviews that tie have the same
    # text, so which of them comes first changes no example).
    by_length = sorted((i for i in range(total) if texts[i].strip()), key=lambda i: (len(texts[i]), texts[i]))
    out: list[AspectNode] = []
    for aspect, ids in members.items():
        n_tags = pol[aspect]["pos"] + pol[aspect]["neg"]
        by_len = [i for i in by_length if i in ids]
        quotes: list[str] = []
        for i in by_len:  # the first two different quotes
            quote = _quote(texts[i], quote_chars)
            if quote not in quotes:
                quotes.append(quote)
                if len(quotes) == 2:
                    break
        per = pol_by_review[aspect]
        pos_q = next((_quote(texts[i], quote_chars) for i in by_len if per[i][0] > per[i][1]), None)
        neg_q = next((_quote(texts[i], quote_chars) for i in by_len if per[i][1] > per[i][0]), None)
        node = AspectNode(
            aspect=aspect,
            reviews=len(ids),
            share=round(len(ids) / total, 4) if total else 0.0,
            positive=round(pol[aspect]["pos"] / n_tags, 4) if n_tags else 0.0,
            negative=round(pol[aspect]["neg"] / n_tags, 4) if n_tags else 0.0,
            mentions=pol[aspect]["neu"],
            surfaces=surf[aspect].most_common(top),
            top_positive=[
                (said[(aspect, "pos", o)].most_common(1)[0][0], n) for o, n in ops[(aspect, "pos")].most_common(top)
            ],
            top_negative=[
                (said[(aspect, "neg", o)].most_common(1)[0][0], n) for o, n in ops[(aspect, "neg")].most_common(top)
            ],
            examples=quotes,
            example_positive=pos_q,
            example_negative=neg_q,
        )
        if ref is not None:
            node.week = _week(ref, ids, times, per)
        out.append(node)
    out.sort(key=lambda a: (-a.reviews, a.aspect))
    if aspects is not None:
        out = out[:aspects]
    return MindMap(competitor, product, total, tagged, out, ref)


def _label(t: Tag, opinion: str) -> str:
    """性价比 + 高 -> 性价比高; the opinion as written for an implicit tag (发热严重, 很好用), and alone when it
    already says the aspect."""
    if t.aspect_text == t.opinion:
        return t.opinion
    if not t.aspect_text or opinion.startswith(t.aspect_text):
        return opinion
    return t.aspect_text + opinion


def _week(ref: datetime, ids: set[int], times: list[datetime | None], per: dict[int, list[int]]) -> WeekChange:
    def window(lo: datetime, hi: datetime) -> tuple[int, float | None]:
        got = [i for i in ids if times[i] is not None and lo < times[i] <= hi]  # type: ignore[operator]
        pos = sum(per[i][0] for i in got)
        neg = sum(per[i][1] for i in got)
        n = pos + neg
        return len(got), (round(neg / n, 4) if n else None)

    week = timedelta(days=7)
    this, neg_this = window(ref - week, ref)
    last, neg_last = window(ref - 2 * week, ref - week)
    return WeekChange(this, last, neg_this, neg_last)


def mind_map(
    reviews: Iterable[tuple[str, list[Tag]] | tuple[str, list[Tag], datetime | None]],
    *,
    top: int = 5,
    now: datetime | None = None,
    quote_chars: int = 60,
) -> list[AspectNode]:
    """The aspects of :func:`build_mind_map` alone (kept for callers that need only the list)."""
    return build_mind_map(reviews, top=top, now=now, quote_chars=quote_chars).aspects


def mind_map_dict(nodes: list[AspectNode]) -> list[dict]:
    return [asdict(n) for n in nodes]


#: Columns of ``jingshao tags --csv``: one row per (competitor, product, aspect).
CSV_COLUMNS = (
    "competitor",
    "product",
    "aspect",
    "reviews",
    "share",
    "positive",
    "negative",
    "mentions",
    "surfaces",
    "top_positive",
    "top_negative",
    "example",
    "this_week",
    "last_week",
    "negative_this_week",
    "negative_last_week",
)


def csv_rows(m: MindMap) -> Iterable[dict[str, Any]]:
    """One flat row per aspect (lists joined with ``、``, opinions as ``很给力(12)``)."""

    def join(pairs: list[tuple[str, int]]) -> str:
        return "、".join(f"{w}({n})" for w, n in pairs)

    for a in m.aspects:
        w = a.week
        yield {
            "competitor": m.competitor,
            "product": m.product or "",
            "aspect": a.aspect,
            "reviews": a.reviews,
            "share": a.share,
            "positive": a.positive,
            "negative": a.negative,
            "mentions": a.mentions,
            "surfaces": join(a.surfaces),
            "top_positive": join(a.top_positive),
            "top_negative": join(a.top_negative),
            "example": a.examples[0] if a.examples else "",
            "this_week": "" if w is None else w.this_week,
            "last_week": "" if w is None else w.last_week,
            "negative_this_week": "" if w is None or w.negative_this_week is None else w.negative_this_week,
            "negative_last_week": "" if w is None or w.negative_last_week is None else w.negative_last_week,
        }
