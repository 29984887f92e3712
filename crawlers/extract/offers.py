"""到手价: promo copy parsed into structured offers, and the best final price they allow.

``parse_offers(text)`` reads the promo copy a page shows (``promo``: "满300减40 | 领券减20 | 第2件半价")
into :class:`Offer` values; ``final_price(price, offers, quantity)`` computes what a buyer pays per unit
for ``quantity`` units when every offer that can be combined is used: unit discounts first (立减/直降,
PLUS/会员价, 百亿补贴, 国补), then the best basket discount (满减, 每满减, 满N件M折, 第N件半价), then
coupons (领券/店铺券). A 券后价 / 到手价 stated by the shop is an upper bound the computation never
exceeds; a presale (定金 X 抵 Y + 尾款 Z) pays deposit plus balance. Offers that depend on who the buyer
is (PLUS / 会员价) are only used when ``members=True``.

The parser is deliberately literal: an amount it cannot tie to a rule is left alone, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
_SPACES = re.compile(r"\s+")
_MEMBER = re.compile(r"PLUS|会员|88VIP", re.I)
_NUM = r"(\d+(?:\.\d+)?)"
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_Y = r"\s*[¥￥]?\s*"


@dataclass(frozen=True)
class Offer:
    """One promotion. ``kind`` says how it applies; amounts are CNY, ``rate`` a fraction paid (0.8 = 8折)."""

    # threshold | per_threshold | qty_rate | nth_rate | unit_off | coupon | stated_final | unit_price | presale
    kind: str
    text: str
    threshold: Decimal | None = None  # 满 X (元) or 满 N (件)
    amount: Decimal | None = None  # 减 Y / 立减 Y / the stated price
    rate: Decimal | None = None
    quantity: int | None = None  # N 件 / 第 N 件
    cap: Decimal | None = None  # 每满减 上限
    member: bool = False
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            k: (format(v, "f") if isinstance(v, Decimal) else v)
            for k, v in asdict(self).items()
            if v not in (None, "", False)
        }


def _d(text: str) -> Decimal:
    return Decimal(text)


def _count(text: str) -> int:
    return int(text) if text.isdigit() else _CN_DIGITS.get(text, 0)


def _rate(text: str) -> Decimal:
    """``8`` -> 0.8, ``8.5`` -> 0.85, ``85`` -> 0.85 (Chinese 折 counts tenths)."""
    value = Decimal(text)
    return value / 100 if value >= 10 else value / 10


_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"定金" + _Y + _NUM + r"\s*元?\s*(?:抵|膨胀|可抵)\s*[¥￥]?\s*" + _NUM + r"\s*元?"
            r"(?:[^\d尾]{0,6}尾款" + _Y + _NUM + r")?"
        ),
        "presale",
    ),
    (
        re.compile(
            r"每满" + _Y + _NUM + r"\s*元?\s*减" + _Y + _NUM + r"\s*元?"
            r"(?:[^\d]{0,6}(?:最高|封顶|上限)\s*减?" + _Y + _NUM + r"|\s*[,，]?\s*(上不封顶))?"
        ),
        "per_threshold",
    ),
    (re.compile(r"满" + _Y + _NUM + r"\s*件\s*(?:打)?\s*" + _NUM + r"\s*折"), "qty_rate"),
    (re.compile(r"(?<!每)满" + _Y + _NUM + r"\s*元?\s*(?:可)?减" + _Y + _NUM), "threshold"),
    (re.compile(r"第\s*([\d一二两三四五]+)\s*件\s*(半价|" + _NUM + r"\s*折|0\s*元|免费)"), "nth_rate"),
    (re.compile(r"([\d一二两三四五]+)\s*件\s*" + _NUM + r"\s*折"), "qty_rate_n"),
    (re.compile(r"(券后价?|到手价|到手)\s*[:：]?" + _Y + _NUM), "stated_final"),
    (
        re.compile(
            r"(?:(?:领|用)?(店铺|平台|品类|跨店|满减|优惠)?券\s*(?:立)?减|领券\s*(?:立)?减?|优惠券)"
            + _Y
            + _NUM
            + r"(?![\d.%％])"
        ),
        "coupon",
    ),
    (
        re.compile(
            r"(立减|直降|下单立减|限时直降|官方立减|补贴|百亿补贴\s*(?:立)?减?|国补\s*(?:立)?减?|"
            r"国家补贴\s*(?:立)?减?|以旧换新\s*(?:立)?减?)" + _Y + _NUM + r"(?![\d.%％])"
        ),
        "unit_off",
    ),
    (
        re.compile(
            r"(PLUS\s*(?:会员)?价|会员价|88VIP价|超级会员价|秒杀价|百亿补贴价|国补价|拼团价|活动价)"
            r"\s*[:：]?" + _Y + _NUM,
            re.I,
        ),
        "unit_price",
    ),
    (re.compile(r"(?<![\d.])" + _NUM + r"\s*折(?!扣券)"), "rate_all"),
]


def parse_offers(text: str | None) -> list[Offer]:
    """Structured offers from promo copy; unknown phrases are skipped. Order follows the text."""
    if not text:
        return []
    text = text.replace("\u3000", " ").replace("\xa0", " ")
    found: list[tuple[int, Offer]] = []
    taken: list[tuple[int, int]] = []

    def free(m: re.Match[str]) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in taken)

    for pattern, kind in _RULES:
        for m in pattern.finditer(text):
            if not free(m):
                continue
            offer = _offer(kind, m)
            if offer is None:
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), offer))
    found.sort(key=lambda item: item[0])
    return [o for _, o in found]


def _offer(kind: str, m: re.Match[str]) -> Offer | None:
    t = m.group(0).strip()
    if kind == "presale":
        deposit, worth, balance = m.group(1), m.group(2), m.group(3)
        return Offer(
            "presale", t, threshold=_d(deposit), amount=_d(worth) - _d(deposit), cap=_d(balance) if balance else None
        )
    if kind == "per_threshold":
        cap = m.group(3)
        return Offer("per_threshold", t, threshold=_d(m.group(1)), amount=_d(m.group(2)), cap=_d(cap) if cap else None)
    if kind == "qty_rate":
        return Offer("qty_rate", t, quantity=int(Decimal(m.group(1))), rate=_rate(m.group(2)))
    if kind == "qty_rate_n":
        n = _count(m.group(1))
        return Offer("qty_rate", t, quantity=n, rate=_rate(m.group(2))) if n else None
    if kind == "threshold":
        threshold, amount = _d(m.group(1)), _d(m.group(2))
        return Offer("threshold", t, threshold=threshold, amount=amount) if amount < threshold else None
    if kind == "nth_rate":
        n = _count(m.group(1))
        what = m.group(2)
        if n < 2:
            return None
        if what == "半价":
            rate = Decimal("0.5")
        elif what == "免费" or (what.startswith("0") and "折" not in what):
            rate = Decimal(0)
        else:
            rate = _rate(m.group(3))
        return Offer("nth_rate", t, quantity=n, rate=rate)
    if kind == "stated_final":
        return Offer("stated_final", t, amount=_d(m.group(2)), label=m.group(1))
    if kind == "coupon":
        return Offer("coupon", t, amount=_d(m.group(2)), label=(m.group(1) or "优惠券"))
    if kind == "unit_off":
        label = _SPACES.sub("", m.group(1))
        return Offer("unit_off", t, amount=_d(m.group(2)), label=label)
    if kind == "unit_price":
        label = _SPACES.sub("", m.group(1))
        member = bool(_MEMBER.search(label))
        return Offer("unit_price", t, amount=_d(m.group(2)), label=label, member=member)
    if kind == "rate_all":
        rate = _rate(m.group(1))
        return Offer("qty_rate", t, quantity=1, rate=rate) if Decimal("0.1") <= rate < 1 else None
    return None


@dataclass(frozen=True)
class FinalPrice:
    unit: Decimal  # per unit when buying ``quantity``
    quantity: int
    total: Decimal
    used: tuple[Offer, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": format(self.unit, "f"),
            "quantity": self.quantity,
            "total": format(self.total, "f"),
            "offers": [o.to_json() for o in self.used],
        }


def _amount(offer: Offer) -> Decimal:
    """The offer's amount; the parser sets one for every kind that is priced with it."""
    if offer.amount is None:
        raise ValueError(f"{offer.kind} offer {offer.text!r} has no amount")
    return offer.amount


def _offer_rate(offer: Offer) -> Decimal:
    if offer.rate is None:
        raise ValueError(f"{offer.kind} offer {offer.text!r} has no rate")
    return offer.rate


def _basket_discount(offer: Offer, unit: Decimal, quantity: int) -> Decimal:
    total = unit * quantity
    if offer.kind == "threshold" and offer.threshold is not None and total >= offer.threshold:
        return _amount(offer)
    if offer.kind == "per_threshold" and offer.threshold:
        off = (total // offer.threshold) * _amount(offer)
        return min(off, offer.cap) if offer.cap is not None else off
    if offer.kind == "qty_rate" and quantity >= (offer.quantity or 1):
        return total * (1 - _offer_rate(offer))
    if offer.kind == "nth_rate" and offer.quantity and quantity >= offer.quantity:
        return (quantity // offer.quantity) * unit * (1 - _offer_rate(offer))
    return Decimal(0)


def final_price(
    price: Decimal | None, offers: list[Offer], quantity: int = 1, *, members: bool = False
) -> FinalPrice | None:
    """The lowest per-unit price for ``quantity`` units using the offers (None without a price)."""
    if price is None or price <= 0:
        return None
    if quantity < 1:
        raise ValueError(f"quantity must be >= 1, got {quantity}")
    used: list[Offer] = []
    unit = price
    presale = next((o for o in offers if o.kind == "presale"), None)
    if presale is not None:
        # Deposit X counts as X + bonus; the rest is paid later: the buyer pays price - bonus.
        used.append(presale)
        unit = unit - _amount(presale)
    unit_prices = [o for o in offers if o.kind == "unit_price" and (members or not o.member) and _amount(o) < unit]
    if unit_prices:
        best = min(unit_prices, key=_amount)
        unit = _amount(best)
        used.append(best)
    for o in offers:
        if o.kind == "unit_off" and _amount(o) < unit:
            unit -= _amount(o)
            used.append(o)
    total = unit * quantity
    baskets = [
        (o, _basket_discount(o, unit, quantity))
        for o in offers
        if o.kind in ("threshold", "per_threshold", "qty_rate", "nth_rate")
    ]
    baskets = [(o, d) for o, d in baskets if d > 0]
    if baskets:
        best_o, best_d = max(baskets, key=lambda od: od[1])
        total -= best_d
        used.append(best_o)
    coupons = [o for o in offers if o.kind == "coupon" and _amount(o) < total]
    if coupons:
        best_c = max(coupons, key=_amount)
        total -= _amount(best_c)
        used.append(best_c)
    stated = [o for o in offers if o.kind == "stated_final" and _amount(o) < price]
    if stated and quantity == 1:
        best_s = min(stated, key=_amount)
        if _amount(best_s) < total:
            total = _amount(best_s)
            used = [best_s]
    total = max(total, CENT)
    per_unit = (total / quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    return FinalPrice(
        unit=per_unit, quantity=quantity, total=total.quantize(CENT, rounding=ROUND_HALF_UP), used=tuple(used)
    )
