"""What every rule returns (:class:`AlertInstance`) and the small helpers rules share.

Rules are pure functions of stored facts (DESIGN.md, Alerts): no database, no network, no clock —
the evaluation time is a parameter, so replaying the facts at the same ``now`` gives the same alerts.
The engine turns instances into state (firing at a level -> escalated -> resolved) by fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, get_args

from jingshao.core.formatting import percent
from jingshao.core.levels import LEVELS, Level

Family = Literal[
    "crisis",
    "price_drop",
    "price_floor",
    "price_anomaly",
    "stock_out",
    "back_in_stock",
    "promo_change",
    "fake_original_price",
    "adlaw",
    "review_spike",
    "crawl_blocked",
    "cookie_expired",
]

#: Every family, in the order above (read off the Literal, so the two cannot drift apart).
FAMILIES: tuple[Family, ...] = get_args(Family)
#: Families about the crawler itself, not the market (issue 12): routed to channels with the ``admin`` role only
#: (never to the business group), and every other family only to channels with the ``business`` role.
ADMIN_FAMILIES: frozenset[str] = frozenset({"crawl_blocked", "cookie_expired"})
#: Families that report a one-off *event* (a price drop, a new promo, a new ad-law word): the notice is
#: the news, and there is nothing to "recover" from. Their alerts close quietly when the rule stops
#: firing, with no 已恢复 notice (one said "竞品降价已恢复" while the price had dropped further). The other
#: families are *states* (out of stock, a crisis level, a price below a floor) and do get one.
EVENT_FAMILIES: frozenset[str] = frozenset({"price_drop", "price_anomaly", "back_in_stock", "promo_change", "adlaw"})
MAX_EVIDENCE = 3
MAX_QUOTE = 80


@dataclass(frozen=True)
class AlertInstance:
    """One alert as a rule sees it at ``at``: what, how bad, why (numbers) and a few quotes.

    ``fingerprint`` identifies the *situation*, not its numbers or level: sha1 of the family and the
    subject key (plus, for a few families, a hash of the copy — see each rule), so a crisis that grows
    from blue to red keeps one fingerprint and the engine sees an escalation, not a new alert.

    ``evidence`` holds up to three ``(quote, url)`` pairs (``url`` may be empty); they map directly to
    a notification's links. Every text field may contain crawled text: channels escape it.

    ``metrics`` carries the key numbers machine-readably (facts are display text): for a crisis,
    ``negatives_1h`` is what the engine passes back as ``CrisisHistory.previous_negatives_1h``.
    """

    fingerprint: str
    family: Family
    level: Level
    subject: str
    subject_key: str
    rule: str
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)
    at: datetime | None = None
    is_crisis: bool = False
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"AlertInstance.level must be one of {LEVELS}, got {self.level!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"AlertInstance.family must be one of {FAMILIES}, got {self.family!r}")
        if self.at is None or self.at.tzinfo is None:
            raise ValueError("AlertInstance.at must be a timezone-aware datetime")
        if len(self.evidence) > MAX_EVIDENCE:
            raise ValueError(f"AlertInstance.evidence holds at most {MAX_EVIDENCE} items")


def fingerprint(family: str, subject_key: str, *extra: str) -> str:
    """Stable id of a situation: sha1 over the family, the subject key and optional extra parts.

    Never put numbers or the level in here: they change while the situation goes on.
    """
    material = "\x1f".join((family, subject_key, *extra))
    return hashlib.sha1(material.encode("utf-8")).hexdigest()


def short_hash(text: str) -> str:
    """12 hex chars of sha1: enough to tell two promo copies apart inside a fingerprint."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


# ---------------------------------------------------------------- Chinese formatting


def share(part: int, whole: int) -> str:
    """``45.0%（18/40）``"""
    pct = Decimal(part * 100) / Decimal(whole) if whole else Decimal(0)
    return f"{percent(pct)}（{part}/{whole}）"


def hours_text(span: timedelta) -> str:
    """``2.5 小时``"""
    hours = Decimal(str(span.total_seconds() / 3600)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{int(hours) if hours == hours.to_integral() else hours} 小时"


def number(value: float, places: int = 1) -> str:
    """``4.1``; whole numbers without a trailing ``.0`` (``5`` not ``5.0``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{places}f}"


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """One line of crawled text, whitespace collapsed, cut at ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
