"""Competitor alerts (issue 5, "Competitor alerts"): price, stock, promo, 划线价, ad-law words, reviews.

Each rule is a small function ``rule(facts: CompetitorFacts) -> list[AlertInstance]``; the tuple
:data:`COMPETITOR_RULES` lists them and :func:`evaluate_competitor` runs them all. Observations are the
product's stored history: a row is appended only when something changed (DESIGN.md), ``at`` is when
that state was first seen and ``last_seen`` when it was last confirmed.

Two kinds of rules, on purpose:

- *Conditions* fire for as long as they hold: ``price_floor`` (below the floor), ``stock_out`` (out of
  stock since an observed in-stock -> out-of-stock change; a competitor's stock-out is an opportunity,
  so blue), ``fake_original_price`` (the current 划线价 claim), ``adlaw`` (the current copy),
  ``review_spike`` (the last 24 hours).
- *Changes* fire while the change is recent (``change_window_hours``, default 24): ``price_drop``,
  ``price_anomaly``, ``back_in_stock``, ``promo_change``. The engine sees one fingerprint for a day,
  then the alert resolves; a price that stays low does not stay "anomalous" for ever.

Fingerprints are sha1 of (family, ``product:<id>``), except ``promo_change`` (plus a hash of the new
promo copy: a new promo is a new alert), ``fake_original_price`` (plus the claimed price: a new claim
is a new alert) and ``adlaw`` (plus a hash of the distinct words: a new word is a new alert, a copy
edit that keeps the same words is not).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from jingshao.core.formatting import clock, percent, shop_price
from jingshao.core.identities import product_key, product_subject
from jingshao.core.levels import Level

from .model import MAX_EVIDENCE, AlertInstance, Family, fingerprint, number, quote, require_aware, short_hash

# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ProductRef:
    """The competitor product an evaluation is about."""

    id: int
    name: str
    competitor: str
    url: str = ""

    @property
    def key(self) -> str:
        return product_key(self.id)

    @property
    def subject(self) -> str:
        return product_subject(self.competitor, self.name)

    def lookup_keys(self) -> tuple[str, ...]:
        """Keys a per-product setting (a price floor) may be configured under, most specific first."""
        return tuple(k for k in (self.key, str(self.id), self.url, self.name) if k)


@dataclass(frozen=True)
class ObservationFact:
    """One stored observation (a change of the product page). ``price`` None: no price on that page."""

    at: datetime
    price: Decimal | None
    original_price: Decimal | None = None
    in_stock: bool | None = None
    promo: str | None = None
    title: str | None = None
    last_seen: datetime | None = None

    def __post_init__(self) -> None:
        require_aware(self.at, "ObservationFact.at")
        if self.last_seen is not None:
            require_aware(self.last_seen, "ObservationFact.last_seen")

    @property
    def seen_until(self) -> datetime:
        return self.last_seen or self.at


@dataclass(frozen=True)
class ReviewFact:
    """One stored review. Reviews without a date cannot be placed in a window and are ignored."""

    posted_at: datetime | None
    is_negative: bool
    text: str = ""


def _decimal(value: Any, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"CompetitorThresholds.{name} must be a number, got {value!r}") from exc
    if not result.is_finite() or result < 0:
        raise ValueError(f"CompetitorThresholds.{name} must be a non-negative number, got {value!r}")
    return result


@dataclass(frozen=True)
class CompetitorThresholds:
    """Every number of the competitor rules, with the defaults used when config says nothing."""

    drop_percent: Decimal = Decimal(10)  # a drop at or beyond this -> yellow
    drop_red_percent: Decimal = Decimal(25)  # ... at or beyond this -> red
    price_floors: Mapping[str, Decimal] = field(default_factory=dict)  # product key -> floor (red below)
    # product key or competitor name -> "price" (default) or "final" (price rules follow the 到手价)
    price_basis: Mapping[str, str] = field(default_factory=dict)
    anomaly_k: float = 3.0  # strictly outside mean ± k·σ -> yellow
    anomaly_history: int = 30  # last N observations before the current price
    anomaly_min_history: int = 5
    anomaly_min_std_percent: float = 1.0  # σ floor as % of the mean: a flat history is not 0-σ
    change_window_hours: float = 24.0
    original_price_days: int = 7
    original_price_min_observations: int = 2  # the claim plus at least one earlier price
    review_window_hours: int = 24
    review_baseline_days: int = 14
    review_spike_k: float = 3.0
    review_spike_min: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop_percent", _decimal(self.drop_percent, "drop_percent"))
        object.__setattr__(self, "drop_red_percent", _decimal(self.drop_red_percent, "drop_red_percent"))
        floors = {str(k): _decimal(v, f"price_floors[{k!r}]") for k, v in dict(self.price_floors).items()}
        object.__setattr__(self, "price_floors", floors)
        for key, basis in dict(self.price_basis).items():
            if basis not in ("price", "final"):
                raise ValueError(f'CompetitorThresholds.price_basis[{key!r}] must be "price" or "final", got {basis!r}')
        if self.drop_red_percent < self.drop_percent:
            raise ValueError("CompetitorThresholds.drop_red_percent must be >= drop_percent")
        for name in (
            "anomaly_history",
            "anomaly_min_history",
            "original_price_days",
            "original_price_min_observations",
            "review_window_hours",
            "review_baseline_days",
            "review_spike_min",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CompetitorThresholds.{name} must be a whole number >= 1, got {value!r}")
        for name in ("anomaly_k", "anomaly_min_std_percent", "change_window_hours", "review_spike_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"CompetitorThresholds.{name} must be a number > 0, got {value!r}")

    def basis_for(self, product: ProductRef) -> str:
        """ "final" when price alerts of this product use its 到手价 (product keys win over the competitor)."""
        for key in (*product.lookup_keys(), product.competitor):
            if key in self.price_basis:
                return self.price_basis[key]
        return "price"

    def floor_for(self, product: ProductRef) -> Decimal | None:
        for key in product.lookup_keys():
            if key in self.price_floors:
                return self.price_floors[key]
        return None


@dataclass(frozen=True)
class CompetitorFacts:
    """Everything one product's rules may look at, cleaned once: time-ordered, nothing after ``now``."""

    product: ProductRef
    observations: tuple[ObservationFact, ...]
    reviews: tuple[ReviewFact, ...]
    now: datetime
    thresholds: CompetitorThresholds
    adlaw_hits: tuple[tuple[str, str], ...]

    @property
    def priced(self) -> list[ObservationFact]:
        return [o for o in self.observations if o.price is not None]

    @property
    def change_window(self) -> timedelta:
        return timedelta(hours=self.thresholds.change_window_hours)

    def is_recent(self, moment: datetime) -> bool:
        return self.now - moment <= self.change_window

    def alert(
        self,
        family: Family,
        level: Level,
        rule: str,
        summary: str,
        facts: list[tuple[str, str]],
        evidence: Iterable[tuple[str, str]] = (),
        extra_key: Sequence[str] = (),
    ) -> AlertInstance:
        product = self.product
        if not evidence:
            title = next((o.title for o in reversed(self.observations) if o.title), None) or product.name
            evidence = [(quote(title), product.url)]
        return AlertInstance(
            fingerprint=fingerprint(family, product.key, *extra_key),
            family=family,
            level=level,
            subject=product.subject,
            subject_key=product.key,
            rule=rule,
            summary=summary,
            facts=facts,
            evidence=list(evidence)[:MAX_EVIDENCE],
            at=self.now,
            is_crisis=False,
        )


def _run_start(items: Sequence[ObservationFact], same: Callable[[ObservationFact], bool]) -> int:
    """Index where the trailing run of items satisfying ``same`` begins (len(items) if none does)."""
    start = len(items)
    while start > 0 and same(items[start - 1]):
        start -= 1
    return start


def _since(o: ObservationFact) -> str:
    return f"{clock(o.at)} 起"


# ---------------------------------------------------------------- price


def price_drop_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """The latest price change is a drop of at least 10% (yellow) or 25% (red).

    Compared with the last *different* price, so a promo-only change (a new row with the same price)
    does not hide a drop made an hour earlier. Fires for ``change_window_hours`` after the change.
    """
    priced = c.priced
    if len(priced) < 2:
        return []
    current = priced[-1]
    start = _run_start(priced, lambda o: o.price == current.price)
    if start == 0 or not c.is_recent(priced[start].at):
        return []
    before, after = priced[start - 1], priced[start]
    old, new = before.price, current.price
    assert old is not None and new is not None
    if old <= 0 or new >= old:
        return []
    drop = (old - new) * 100 / old
    t = c.thresholds
    if drop < t.drop_percent:
        return []
    level: Level = "red" if drop >= t.drop_red_percent else "yellow"
    return [
        c.alert(
            "price_drop",
            level,
            f"price_drop.{level}",
            f"降价 {percent(drop)}：{shop_price(old)} → {shop_price(new)}",
            [
                ("原价格", f"{shop_price(old)}（{_since(before)}）"),
                ("现价格", f"{shop_price(new)}（{_since(after)}）"),
                (
                    "降幅",
                    f"{percent(drop)}（黄色 ≥ {percent(t.drop_percent, 0)}，红色 ≥ {percent(t.drop_red_percent, 0)}）",
                ),
            ],
        )
    ]


def price_floor_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """The current price is below the floor configured for this product (red: a price war line)."""
    floor = c.thresholds.floor_for(c.product)
    priced = c.priced
    if floor is None or not priced:
        return []
    current = priced[-1]
    assert current.price is not None
    if current.price >= floor:
        return []
    gap = floor - current.price
    gap_pct = gap * 100 / floor if floor else Decimal(0)
    return [
        c.alert(
            "price_floor",
            "red",
            "price_floor",
            f"价格 {shop_price(current.price)} 低于底价 {shop_price(floor)}",
            [
                ("现价格", f"{shop_price(current.price)}（{_since(current)}）"),
                ("底价", shop_price(floor)),
                ("低于底价", f"{shop_price(gap)}（{percent(gap_pct)}）"),
            ],
        )
    ]


def price_anomaly_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """The current price is strictly outside mean ± 3σ of the last 30 prices before it (at least 5).

    History is the observations *before* the current price took effect, so the new price does not
    dilute its own baseline. σ is population σ, floored at 1% of the mean so a price that never moved
    does not make a one-yuan change infinite sigmas. Fires for ``change_window_hours``.
    """
    t = c.thresholds
    priced = c.priced
    if not priced:
        return []
    current = priced[-1]
    start = _run_start(priced, lambda o: o.price == current.price)
    history = [float(o.price) for o in priced[:start][-t.anomaly_history :] if o.price is not None]
    if len(history) < t.anomaly_min_history or not c.is_recent(priced[start].at):
        return []
    mean, std = statistics.fmean(history), statistics.pstdev(history)
    sigma = max(std, abs(mean) * t.anomaly_min_std_percent / 100)
    assert current.price is not None
    deviation = (float(current.price) - mean) / sigma if sigma else 0.0
    if abs(deviation) <= t.anomaly_k:
        return []
    direction = "低于" if deviation < 0 else "高于"
    return [
        c.alert(
            "price_anomaly",
            "yellow",
            "price_anomaly",
            f"价格异常：{shop_price(current.price)} {direction}近 {len(history)} 次均值 ¥{mean:.2f} "
            f"{abs(deviation):.1f}σ",
            [
                ("现价格", f"{shop_price(current.price)}（{_since(priced[start])}）"),
                (f"近 {len(history)} 次价格", f"均值 ¥{mean:.2f}，标准差 ¥{std:.2f}（计算用 ¥{sigma:.2f}）"),
                ("偏离", f"{deviation:+.1f}σ（阈值 ±{number(t.anomaly_k)}σ）"),
            ],
        )
    ]


def fake_original_price_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """A claimed 原价/划线价 above the lowest price of the 7 days before the promotion (7-day rule).

    China's price-marking rules take the reference ("was") price of a discount to be the lowest price
    charged in the 7 days *before the promotion*. So the window is anchored at the start of the claim
    (the first observation of the current run showing this same 划线价 above the selling price), not at
    ``now``: anchored at ``now``, the discounted price itself would be "the lowest of the last 7 days"
    and every honest discount would fire. Prices before the claim count when their observed span
    (``at``..``last_seen``) reaches into that window: a price charged from day -10 to day -3 was charged
    in the window. Needs the claim plus at least one earlier price; with less than 7 days of history
    it uses what exists and says how many days were observed. Raising the price for a day before a
    "discount" (先涨后降) is caught: the earlier, lower price is the reference.
    """
    t = c.thresholds
    priced = c.priced
    if not priced:
        return []
    current = priced[-1]
    claimed = current.original_price
    if claimed is None or current.price is None or claimed <= current.price:
        return []

    def same_claim(o: ObservationFact) -> bool:
        return o.original_price == claimed and o.price is not None and o.price < claimed

    start = _run_start(priced, same_claim)
    claim_start = priced[start].at
    window_start = claim_start - timedelta(days=t.original_price_days)
    earlier = [o for o in priced[:start] if o.seen_until >= window_start]
    if len(earlier) + 1 < t.original_price_min_observations or not earlier:
        return []
    lowest = min(earlier, key=lambda o: (o.price, -o.at.timestamp()))
    assert lowest.price is not None
    if claimed <= lowest.price:
        return []
    covered_from = max(window_start, min(o.at for o in earlier))
    days = (claim_start - covered_from).total_seconds() / 86400
    return [
        c.alert(
            "fake_original_price",
            "yellow",
            "fake_original_price",
            f"划线价 {shop_price(claimed)} 高于促销前{t.original_price_days}日最低售价 {shop_price(lowest.price)}"
            f"（{clock(lowest.at)} 观测）",
            [
                ("划线价", shop_price(claimed)),
                ("现价格", shop_price(current.price)),
                ("促销开始", clock(claim_start)),
                (f"前{t.original_price_days}日最低售价", f"{shop_price(lowest.price)}（{clock(lowest.at)} 观测）"),
                ("观测覆盖", f"{number(min(days, t.original_price_days))} 天，{len(earlier)} 次观测"),
                ("依据", f"划线价应不高于促销前{t.original_price_days}日内最低售价"),
                # Issue 12: the audit's wording (a risk, never a verdict); `jingshao audit prices` has the detail.
                ("合规风险", "可能违反《明码标价和禁止价格欺诈规定》第十六条（依据展示价格推断，非成交价）"),
            ],
            extra_key=(format(claimed.normalize(), "f"),),
        )
    ]


# ---------------------------------------------------------------- stock and promo


def _stock_runs(c: CompetitorFacts) -> tuple[list[ObservationFact], int]:
    known = [o for o in c.observations if o.in_stock is not None]
    if not known:
        return known, 0
    state = known[-1].in_stock
    return known, _run_start(known, lambda o: o.in_stock == state)


def stock_out_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """Out of stock since an observed change from in stock; fires until it is back (an opportunity: blue)."""
    known, start = _stock_runs(c)
    if not known or known[-1].in_stock is not False or start == 0:
        return []
    went_out = known[start]
    hours = (c.now - went_out.at).total_seconds() / 3600
    return [
        c.alert(
            "stock_out",
            "blue",
            "stock_out",
            f"竞品缺货（{clock(went_out.at)} 起），可加推同类商品",
            [
                ("缺货时间", f"{clock(went_out.at)} 起，已 {hours:.1f} 小时"),
                ("此前有货", f"至 {clock(known[start - 1].seen_until)}"),
            ],
        )
    ]


def back_in_stock_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """Back in stock after an observed stock-out, within the change window."""
    known, start = _stock_runs(c)
    if not known or known[-1].in_stock is not True or start == 0 or not c.is_recent(known[start].at):
        return []
    back = known[start]
    out_since = known[_run_start(known[:start], lambda o: o.in_stock is False)]
    return [
        c.alert(
            "back_in_stock",
            "blue",
            "back_in_stock",
            f"竞品恢复有货（{clock(back.at)}）",
            [("恢复时间", clock(back.at)), ("缺货期间", f"{clock(out_since.at)} 至 {clock(back.at)}")],
        )
    ]


def _promo(o: ObservationFact) -> str | None:
    text = " ".join((o.promo or "").split())
    return text or None


def promo_change_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """A new or changed promo copy (whitespace-insensitive), within the change window.

    The first observation of a product has nothing to change from, and a promo that ends is not an
    alert. The fingerprint includes a hash of the new copy: each new promo is a new alert.
    """
    obs = c.observations
    if len(obs) < 2:
        return []
    new = _promo(obs[-1])
    if new is None:
        return []
    start = _run_start(obs, lambda o: _promo(o) == new)
    if start == 0 or not c.is_recent(obs[start].at):
        return []
    old = _promo(obs[start - 1])
    summary = f"新促销：{quote(new, 60)}" if old is None else f"促销变更：{quote(old, 40)} → {quote(new, 40)}"
    return [
        c.alert(
            "promo_change",
            "blue",
            "promo_change",
            summary,
            [
                ("原促销", quote(old, 200) if old else "（无）"),
                ("新促销", quote(new, 200)),
                ("变更时间", clock(obs[start].at)),
            ],
            extra_key=(short_hash(new),),
        )
    ]


# ---------------------------------------------------------------- copy and reviews


def adlaw_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """Ad-law words (最, 第一, 国家级 ...) in the competitor's current copy: blue, words with context."""
    if not c.adlaw_hits:
        return []
    words = list(dict.fromkeys(word for word, _ in c.adlaw_hits))
    facts = [("违禁词", "、".join(words))]
    facts += [(f"「{word}」", quote(context, 120)) for word, context in c.adlaw_hits[:10]]
    evidence = [(quote(f"「{word}」{context}"), c.product.url) for word, context in c.adlaw_hits[:MAX_EVIDENCE]]
    return [
        c.alert(
            "adlaw",
            "blue",
            "adlaw",
            f"竞品文案含广告法违禁词 {len(words)} 个：{'、'.join(words[:5])}",
            facts,
            evidence,
            extra_key=(short_hash("\x1f".join(sorted(words))),),
        )
    ]


def review_spike_rule(c: CompetitorFacts) -> list[AlertInstance]:
    """Negative reviews of the last 24 hours >= max(5, 3 x the daily average of the 14 days before)."""
    t = c.thresholds
    window = timedelta(hours=t.review_window_hours)
    recent_from, baseline_from = c.now - window, c.now - window - timedelta(days=t.review_baseline_days)
    recent = [r for r in c.reviews if r.is_negative and r.posted_at and recent_from < r.posted_at <= c.now]
    earlier = sum(1 for r in c.reviews if r.is_negative and r.posted_at and baseline_from < r.posted_at <= recent_from)
    average = earlier / t.review_baseline_days
    needed = max(float(t.review_spike_min), t.review_spike_k * average)
    if len(recent) < needed:
        return []
    hours = t.review_window_hours
    recent.sort(key=lambda r: r.posted_at or c.now, reverse=True)
    evidence = [(quote(r.text), c.product.url) for r in recent if r.text][:MAX_EVIDENCE]
    return [
        c.alert(
            "review_spike",
            "yellow",
            "review_spike",
            f"{hours}小时差评 {len(recent)} 条，前{t.review_baseline_days}日日均 {average:.1f} 条",
            [
                (f"{hours}小时差评", f"{len(recent)} 条"),
                (f"前{t.review_baseline_days}日日均差评", f"{average:.1f} 条（共 {earlier} 条）"),
                (
                    "阈值",
                    f"≥ max({t.review_spike_min}, {number(t.review_spike_k)} × {average:.1f}) = {number(needed)} 条",
                ),
            ],
            evidence,
        )
    ]


CompetitorRule = Callable[[CompetitorFacts], list[AlertInstance]]

COMPETITOR_RULES: tuple[CompetitorRule, ...] = (
    price_drop_rule,
    price_floor_rule,
    price_anomaly_rule,
    fake_original_price_rule,
    stock_out_rule,
    back_in_stock_rule,
    promo_change_rule,
    adlaw_rule,
    review_spike_rule,
)


def _adlaw_pairs(hits: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """``(word, context)`` pairs, or anything with ``.word`` and ``.context`` (nlp's AdlawHit)."""
    pairs = []
    for hit in hits:
        if isinstance(hit, tuple):
            word, context = hit
        else:
            word, context = hit.word, hit.context
        pairs.append((str(word), str(context)))
    return tuple(pairs)


def evaluate_competitor(
    product: ProductRef,
    observations: Sequence[ObservationFact],
    reviews: Sequence[ReviewFact],
    now: datetime,
    thresholds: CompetitorThresholds | None = None,
    adlaw_hits: Iterable[Any] = (),
    rules: Sequence[CompetitorRule] = COMPETITOR_RULES,
) -> list[AlertInstance]:
    """Every competitor alert for ``product`` at ``now``, in rule order. Facts after ``now`` are ignored."""
    require_aware(now, "now")
    ordered = sorted((o for o in observations if o.at <= now), key=lambda o: o.at)
    facts = CompetitorFacts(
        product=product,
        observations=tuple(ordered),
        reviews=tuple(reviews),
        now=now,
        thresholds=thresholds or CompetitorThresholds(),
        adlaw_hits=_adlaw_pairs(adlaw_hits),
    )
    return [alert for rule in rules for alert in rule(facts)]
