"""Price-compliance audits after 《明码标价和禁止价格欺诈规定》(2022), pure like every rule (issue 12).

The product sees *displayed* prices, not transactions: every finding is worded as a risk with its evidence
("可能违反第十六条", the 7-day prices, the snapshots), never as a verdict.

- :func:`article16` — a comparison price (划线价 / 原价) shown without explanation must not be higher than the
  lowest price in the 7 days before the promotion; with no price seen in those 7 days, the last one before.
- :func:`article17` — a discount's base: a price raised just before a discount (先涨后降) makes the discount
  measured from the raised price, not from the Article 16 reference.
- :func:`article19` — false discounts: a discount the copy claims ("5折", "直降200元") that the prices do not
  show against the Article 16 reference.
- :func:`article20` — a price shown on a list or search page lower than the detail page's at the same time.

Findings feed the 划线价 alert (its facts name Article 16) and the daily report (a short section).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from jingshao.core.formatting import clock
from jingshao.core.formatting import shop_price as money

REGULATION = "《明码标价和禁止价格欺诈规定》"
ARTICLE_NAMES = {16: "第十六条", 17: "第十七条", 19: "第十九条", 20: "第二十条"}
ARTICLE_TOPICS = {
    16: "被比较价格（划线价）高于促销前7日内最低价格",
    17: "先涨后降：折价基准为促销前刚上调的价格",
    19: "虚假折价：宣传的折扣与实际价格不符",
    20: "列表页/搜索页价格低于详情页价格",
}
CAVEAT = "依据页面展示价格推断（非成交价），仅提示风险，不构成违法认定"


@dataclass(frozen=True)
class PricePoint:
    """One displayed price of a product: an observation (its span ``at``..``last_seen``) and its snapshot."""

    at: datetime
    price: Decimal | None
    original_price: Decimal | None = None
    promo: str | None = None
    last_seen: datetime | None = None
    snapshot: str | None = None  # SHA-256 of the page it came from, when evidence was kept
    observation_id: int | None = None

    @property
    def seen_until(self) -> datetime:
        return self.last_seen or self.at


@dataclass(frozen=True)
class ListPrice:
    """A price of the product shown on a list or search page."""

    at: datetime
    price: Decimal
    page_url: str


@dataclass(frozen=True)
class Finding:
    """A compliance risk: which article, what was seen, and the evidence (prices, times, snapshots)."""

    article: int
    product_id: int
    product: str
    competitor: str
    at: datetime
    summary: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return f"可能违反{REGULATION}{ARTICLE_NAMES[self.article]}（{ARTICLE_TOPICS[self.article]}）"


@dataclass(frozen=True)
class AuditSubject:
    product_id: int
    product: str
    competitor: str


def _priced(points: Sequence[PricePoint]) -> list[PricePoint]:
    return sorted((p for p in points if p.price is not None), key=lambda p: p.at)


def promotion_start(points: list[PricePoint], index: int) -> int:
    """Index of the first point of the run ending at ``index`` that shows the same price and 划线价."""
    cur = points[index]
    start = index
    while start > 0 and (points[start - 1].price, points[start - 1].original_price) == (
        cur.price,
        cur.original_price,
    ):
        start -= 1
    return start


def _price(point: PricePoint) -> Decimal:
    """A point's price; the rules read only points that show one (status ok, price set)."""
    if point.price is None:
        raise ValueError(f"price point at {point.at} has no price")
    return point.price


def reference_price(points: list[PricePoint], start: int, days: int = 7) -> tuple[Decimal, list[PricePoint]] | None:
    """Article 16's comparison price for a promotion starting at ``points[start]``: the lowest price shown in
    the ``days`` before it, else the last price before them. None: no earlier price at all."""
    begin = points[start].at - timedelta(days=days)
    before = points[:start]
    if not before:
        return None
    window = [p for p in before if p.seen_until >= begin]
    if window:
        return min(_price(p) for p in window), window
    return _price(before[-1]), [before[-1]]


def _prices_text(points: Sequence[PricePoint]) -> str:
    return "，".join(f"{clock(p.at)} {money(p.price)}" for p in points[-8:])  # type: ignore[arg-type]


def _snapshots(points: Sequence[PricePoint]) -> list[str]:
    return [p.snapshot for p in points if p.snapshot]


def article16(subject: AuditSubject, points: Sequence[PricePoint], days: int = 7) -> list[Finding]:
    priced = _priced(points)
    out = []
    seen: set[tuple[Decimal, Decimal]] = set()
    for i, p in enumerate(priced):
        claimed = p.original_price
        if claimed is None or p.price is None or claimed <= p.price:
            continue
        start = promotion_start(priced, i)
        if (claimed, p.price) in seen or start != i:
            continue
        seen.add((claimed, p.price))
        ref = reference_price(priced, start, days)
        if ref is None or claimed <= ref[0]:
            continue
        lowest, window = ref
        out.append(
            Finding(
                16,
                subject.product_id,
                subject.product,
                subject.competitor,
                p.at,
                f"划线价 {money(claimed)} 高于促销前{days}日内最低价 {money(lowest)}",
                [
                    ("划线价", money(claimed)),
                    ("促销价", money(p.price)),
                    ("促销开始", clock(p.at)),
                    (f"促销前{days}日价格", _prices_text(window)),
                    (f"前{days}日最低", money(lowest)),
                    ("说明", CAVEAT),
                ],
                _snapshots([*window, p]),
            )
        )
    return out


def article17(subject: AuditSubject, points: Sequence[PricePoint], raise_days: int = 7, days: int = 7) -> list[Finding]:
    """A discount (a price drop) whose base was raised within ``raise_days`` before it, while the discounted
    price is not below the price before the raise: the discount is measured from a raised base."""
    priced = _priced(points)
    out = []
    for i in range(2, len(priced)):
        low, high, promo = priced[i - 2], priced[i - 1], priced[i]
        if not (high.price > low.price and promo.price < high.price):  # type: ignore[operator]
            continue
        if promo.at - high.at > timedelta(days=raise_days):
            continue
        if promo.price < low.price:  # type: ignore[operator]
            continue  # below the price before the raise: a real discount
        out.append(
            Finding(
                17,
                subject.product_id,
                subject.product,
                subject.competitor,
                promo.at,
                f"促销前由 {money(_price(low))} 涨至 {money(_price(high))}，随后“降”至 {money(_price(promo))}，"
                f"不低于涨价前价格",
                [
                    ("涨价前", f"{money(_price(low))}（{clock(low.at)}）"),
                    ("涨价", f"{money(_price(high))}（{clock(high.at)}）"),
                    ("促销价", f"{money(_price(promo))}（{clock(promo.at)}）"),
                    ("涨价至促销", f"{(promo.at - high.at).total_seconds() / 86400:.1f} 天"),
                    ("说明", CAVEAT),
                ],
                _snapshots([low, high, promo]),
            )
        )
    return out


_ZHE = re.compile(r"(?<![\d.])(\d(?:\.\d)?)\s*折")
_CUT = re.compile(r"(?:直降|降价|狂降|立省)\s*[¥￥]?\s*(\d+(?:\.\d+)?)\s*元?")


def claimed_discounts(promo: str | None) -> list[tuple[str, Decimal]]:
    """("zhe", 5) for 5折, ("cut", 200) for 直降200元. 满减 and coupons (立减, 券) are checkout offers, not
    claims about the shown price, so they are left out."""
    if not promo:
        return []
    out: list[tuple[str, Decimal]] = [("zhe", Decimal(m)) for m in _ZHE.findall(promo) if 0 < Decimal(m) < 10]
    out += [("cut", Decimal(m)) for m in _CUT.findall(promo)]
    return out


def article19(subject: AuditSubject, points: Sequence[PricePoint], days: int = 7) -> list[Finding]:
    priced = _priced(points)
    out = []
    for i, p in enumerate(priced):
        claims = claimed_discounts(p.promo)
        if not claims or (i and priced[i - 1].promo == p.promo and priced[i - 1].price == p.price):
            continue
        ref = reference_price(priced, i, days)
        if ref is None:
            continue
        base, window = ref
        for kind, value in claims:
            if kind == "zhe":
                actual = (p.price / base * 10).quantize(Decimal("0.1"))  # type: ignore[operator]
                false = actual > value + Decimal("0.05")
                said, shown = f"{value.normalize()}折", f"实际约 {actual.normalize()}折"
            else:
                actual = base - p.price  # type: ignore[operator]
                false = actual < value - Decimal("0.01")
                said, shown = f"直降{money(value)}", f"实际比促销前{days}日最低价低 {money(actual)}"
            if not false:
                continue
            out.append(
                Finding(
                    19,
                    subject.product_id,
                    subject.product,
                    subject.competitor,
                    p.at,
                    f"宣传“{said}”，{shown}（基准：促销前{days}日最低 {money(base)}）",
                    [
                        ("宣传", p.promo or ""),
                        ("现价", money(p.price)),  # type: ignore[arg-type]
                        (f"促销前{days}日价格", _prices_text(window)),
                        ("基准价", money(base)),
                        ("说明", CAVEAT),
                    ],
                    _snapshots([*window, p]),
                )
            )
    return out


def article20(
    subject: AuditSubject, points: Sequence[PricePoint], list_prices: Sequence[ListPrice], tolerance_hours: float = 6
) -> list[Finding]:
    """A list or search page showing the product cheaper than its detail page did at about the same time."""
    priced = _priced(points)
    out = []
    for lp in sorted(list_prices, key=lambda x: x.at):
        slack = timedelta(hours=tolerance_hours)
        near = [p for p in priced if p.at - slack <= lp.at <= p.seen_until + slack]
        if not near:
            continue
        detail = near[-1]
        if lp.price >= _price(detail):
            continue
        out.append(
            Finding(
                20,
                subject.product_id,
                subject.product,
                subject.competitor,
                lp.at,
                f"列表/搜索页标价 {money(lp.price)} 低于详情页 {money(_price(detail))}",
                [
                    ("列表/搜索页", f"{money(lp.price)}（{clock(lp.at)}，{lp.page_url}）"),
                    ("详情页", f"{money(_price(detail))}（{clock(detail.at)} 起）"),
                    ("说明", CAVEAT),
                ],
                _snapshots([detail]),
            )
        )
    return out


def audit_product(
    subject: AuditSubject,
    points: Sequence[PricePoint],
    list_prices: Sequence[ListPrice] = (),
    *,
    since: datetime | None = None,
    days: int = 7,
) -> list[Finding]:
    """Every article's findings for one product (findings from ``since`` on)."""
    found = [
        *article16(subject, points, days),
        *article17(subject, points, days=days),
        *article19(subject, points, days),
        *article20(subject, points, list_prices),
    ]
    return sorted((f for f in found if since is None or f.at >= since), key=lambda f: (f.at, f.article))
