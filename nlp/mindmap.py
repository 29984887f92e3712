"""The user mind map (用户心智图谱): what buyers of one product or competitor talk about, like and dislike.

Per normalised aspect: how many reviews mention it, the positive / negative share of those mentions,
the surface forms buyers used (续航, 电池, 待机), the top opinions each way and short example reviews.
When the reviews carry times, ``week`` compares the last 7 days with the 7 before (mentions and
negative share) so a team sees what moved. Pure: plain data in, plain data out (``to_dict`` for JSON).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from .tags import Tag


@dataclass
class AspectNode:
    aspect: str
    reviews: int  # distinct reviews mentioning it
    share: float  # of all reviews given
    positive: float  # share of its tags that are positive
    negative: float
    surfaces: list[tuple[str, int]] = field(default_factory=list)
    top_positive: list[tuple[str, int]] = field(default_factory=list)  # (normalised opinion, reviews)
    top_negative: list[tuple[str, int]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    week: dict[str, float] | None = None  # this_week, last_week mentions; their negative shares


def mind_map(
    reviews: Iterable[tuple[str, list[Tag]] | tuple[str, list[Tag], datetime | None]],
    *,
    top: int = 5,
    now: datetime | None = None,
    quote_chars: int = 60,
) -> list[AspectNode]:
    """Aspects sorted by reviews mentioning them, most first (implicit 整体 included)."""
    total = 0
    members: dict[str, set[int]] = defaultdict(set)
    pol: dict[str, Counter] = defaultdict(Counter)
    surf: dict[str, Counter] = defaultdict(Counter)
    ops: dict[tuple[str, str], Counter] = defaultdict(Counter)
    texts: list[str] = []
    times: list[datetime | None] = []
    for k, item in enumerate(reviews):
        text, tags = item[0], item[1]
        when = item[2] if len(item) > 2 else None  # type: ignore[misc]
        total += 1
        texts.append(text)
        times.append(when)
        seen_op: set[tuple[str, str, str]] = set()
        for t in tags:
            members[t.aspect].add(k)
            pol[t.aspect][t.polarity] += 1
            surf[t.aspect][t.aspect_text] += 1
            key = (t.aspect, t.polarity, t.opinion_norm or t.opinion)
            if key not in seen_op:
                seen_op.add(key)
                ops[(t.aspect, t.polarity)][key[2]] += 1
    ref = now or max((t for t in times if t), default=None)
    out: list[AspectNode] = []
    for aspect, ids in members.items():
        n_tags = sum(pol[aspect].values())
        quotes = sorted({texts[i].strip() for i in ids if texts[i].strip()}, key=lambda t: (len(t), t))[:2]
        node = AspectNode(
            aspect=aspect,
            reviews=len(ids),
            share=round(len(ids) / total, 4) if total else 0.0,
            positive=round(pol[aspect]["pos"] / n_tags, 4),
            negative=round(pol[aspect]["neg"] / n_tags, 4),
            surfaces=surf[aspect].most_common(top),
            top_positive=ops[(aspect, "pos")].most_common(top),
            top_negative=ops[(aspect, "neg")].most_common(top),
            examples=[q if len(q) <= quote_chars else q[: quote_chars - 1] + "…" for q in quotes],
        )
        if ref is not None:
            node.week = _week(ref, [times[i] for i in ids], [texts[i] for i in ids])
        out.append(node)
    out.sort(key=lambda a: (-a.reviews, a.aspect))
    return out


def _week(ref: datetime, times: list[datetime | None], _texts: list[str]) -> dict[str, float]:
    this = sum(1 for t in times if t and ref - timedelta(days=7) < t <= ref)
    last = sum(1 for t in times if t and ref - timedelta(days=14) < t <= ref - timedelta(days=7))
    return {"this_week": this, "last_week": last}


def mind_map_dict(nodes: list[AspectNode]) -> list[dict]:
    return [asdict(n) for n in nodes]
