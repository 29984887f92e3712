"""Small formatting helpers for text meant for people (CLI tables, alerts, reports)."""

from __future__ import annotations

from decimal import Decimal

STOCK_LABELS = {"InStock": "有货", "OutOfStock": "缺货", "PreOrder": "预售"}


def money(v: Decimal | None) -> str:
    return "—" if v is None else f"{v:,.2f}"


def stock_label(availability: str | None) -> str:
    return STOCK_LABELS.get(availability or "", "未知")


def price_change(before: Decimal | None, after: Decimal | None) -> str:
    """'4,799.00 → 4,299.00 (-10.4%)'."""
    out = f"{money(before)} → {money(after)}"
    if before and after and before != after:
        out += f" ({(after - before) / before * 100:+.1f}%)"
    return out
