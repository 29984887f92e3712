"""The 评价洞察 mind map (用户心智图谱) of one selection, shared by the page and the API.

A selection (a competitor, a product, or all) names reviewed products; their tagged reviews of the
last ``days`` go through ``nlp.mindmap.build_mind_map``, the one builder the daily report and
``jingshao tags --json`` use too. ``GET /api/v1/mindmap`` answers ``MindMap.to_dict()``; the page
draws the same map as an ECharts tree (:func:`mind_map_option`): the selection, its aspects (most
talked about first, red where complaints outweigh praise), and each aspect's top praise and complaints.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from jingshao.core.tags import Tag, tag_from_row
from jingshao.nlp.mindmap import MindMap, build_mind_map
from jingshao.storage.queries import web_pages as q

ASPECTS = 8  # aspects drawn (the most talked about)
TOP = 3  # opinions each way per aspect
POS, NEG, MIXED = "#059669", "#dc2626", "#6b7280"


def chosen_products(
    products: list[tuple[int, str, str, int]], competitor: str | None, product_id: int | None
) -> list[tuple[int, str, str, int]]:
    """The (id, competitor, name, reviews) of ``products`` the selection names (all when neither is given)."""
    return [p for p in products if (not competitor or p[1] == competitor) and (not product_id or p[0] == product_id)]


def mind_map_of(
    rows: Iterable[q.ReviewText],
    chosen: list[tuple[int, str, str, int]],
    competitor: str | None,
    product_id: int | None,
    now: datetime,
    *,
    tags: Iterable[list[Tag]] | None = None,
) -> MindMap:
    """The mind map of tagged ``rows`` of the ``chosen`` products, named by the selection; ``tags``:
    each row's tags already read as :class:`Tag` (in row order), when the caller has them."""
    one = chosen[0] if product_id and chosen else None
    read = ([tag_from_row(t) for t in r.tags] for r in rows) if tags is None else tags
    return build_mind_map(
        # (text, tags, time) tuples, which build_mind_map reads as it reads a MindMapReview: a frozen
        # dataclass a review cost ~0.7 us to build, a quarter of the map's time on a 30-day selection
        ((r.text, row_tags, r.at) for r, row_tags in zip(rows, read, strict=True)),
        competitor=competitor or (one[1] if one else "全部竞品"),
        product=one[2] if one else None,
        top=TOP,
        aspects=ASPECTS,
        now=now,
    )


def mind_map_for(
    db: Session, *, competitor: str | None, product_id: int | None, now: datetime, days: int = 30
) -> MindMap | None:
    """The mind map of the selection over the last ``days`` (``None`` when it names no reviewed product)."""
    chosen = chosen_products(
        q.review_products(db, competitor or None, product=product_id or None), competitor, product_id
    )
    if not chosen:
        return None
    rows = q.tagged_reviews(db, [p[0] for p in chosen], now - timedelta(days=days), now + timedelta(seconds=1))
    return mind_map_of(rows, chosen, competitor, product_id, now)


def mind_map_option(m: MindMap) -> dict[str, Any]:
    """The ECharts option of ``m``: a left-to-right tree, aspects collapsible by a click (or a tap)."""
    children = []
    for a in m.aspects:
        leaves = [{"name": f"好评 {label} {n}", "value": n, "itemStyle": {"color": POS}} for label, n in a.top_positive]
        leaves += [
            {"name": f"差评 {label} {n}", "value": n, "itemStyle": {"color": NEG}} for label, n in a.top_negative
        ]
        color = NEG if a.negative > a.positive else POS if a.positive > a.negative else MIXED
        children.append(
            {
                "name": f"{a.aspect} {a.reviews}条",
                "aspect": a.aspect,
                "value": a.reviews,
                "itemStyle": {"color": color, "borderColor": color},
                "label": {"color": color, "fontWeight": "bold"},
                "children": leaves,
            }
        )
    title = m.product or m.competitor
    return {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "tree",
                "orient": "LR",
                "top": 8,
                "bottom": 8,
                "left": 64,
                "right": 130,
                "symbolSize": 9,
                "initialTreeDepth": 2,
                "expandAndCollapse": True,
                "roam": False,
                "label": {"position": "left", "verticalAlign": "middle", "align": "right", "fontSize": 12},
                "leaves": {"label": {"position": "right", "align": "left"}},
                "data": [
                    {
                        "name": f"{m.reviews}条评价",  # the selection's name is the card's text above
                        "title": title,
                        "children": children,
                    }
                ],
            }
        ],
    }


def mind_map_height(m: MindMap) -> int:
    """Pixels the tree needs: a line per leaf, so a phone scrolls the page rather than squeezing labels."""
    leaves = sum(max(1, len(a.top_positive) + len(a.top_negative)) for a in m.aspects)
    return max(260, 22 * leaves + 20)


__all__ = ["chosen_products", "mind_map_for", "mind_map_height", "mind_map_of", "mind_map_option"]
