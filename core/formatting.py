"""Money, percentages and times as people read them (CLI tables, alerts, the daily report).

One implementation per kind of value; the named presets below are the house's spellings of it:

- :func:`money` ``4,799.00`` (tables), :func:`yuan` ``¥4,799.00`` (the report),
  :func:`shop_price` ``¥459.00`` (alert messages: as Chinese shops print a price, no separators);
- :func:`stock_label` ``有货`` / ``缺货``;
- :func:`percent` ``12.5%`` / ``+12.5%`` from a percentage value;
- :func:`clock` ``11-20 14:30`` and :func:`timestamp` ``2026-11-20 14:30`` in the display time zone,
  :func:`zone_label` ``北京时间`` or the zone's IANA name.

**The display time zone** is ``Config.timezone``. Alert rules are pure functions that format times
into their facts, and channels format the footer when they send, so instead of threading a zone
through every rule the services that evaluate, dispatch or replay alerts wrap the work in
``with display_zone(cfg.tz):`` (a :mod:`contextvars` variable: per thread and per task, like
:func:`decimal.localcontext`). Outside such a block times show in Asia/Shanghai, the product's default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
#: Zones that keep China Standard Time (the old aliases included): all read as 北京时间.
_CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})
NONE = "—"

_zone: ContextVar[tzinfo] = ContextVar("jingshao_display_zone", default=DEFAULT_ZONE)


# ---------------------------------------------------------------- money


def _decimal(value: Decimal | float | int) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def format_money(
    value: Decimal | float | int | None, *, symbol: str = "", grouping: bool = True, none: str = NONE
) -> str:
    """Two decimals, rounded half up; ``symbol`` in front, thousands separators when ``grouping``."""
    if value is None:
        return none
    amount = _decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{symbol}{amount:,.2f}" if grouping else f"{symbol}{amount:.2f}"


def money(value: Decimal | float | int | None) -> str:
    """``4,799.00`` (``—`` for no value): CLI and report tables."""
    return format_money(value)


def yuan(value: Decimal | float | int | None) -> str:
    """``¥4,799.00`` (``—`` for no value): the daily report."""
    return format_money(value, symbol="¥")


def shop_price(value: Decimal | float | int) -> str:
    """``¥459.00``: no thousands separator, as Chinese shops print prices (alert messages)."""
    return format_money(value, symbol="¥", grouping=False)


def price_change(before: Decimal | None, after: Decimal | None) -> str:
    """``4,799.00 → 4,299.00 (-10.4%)``."""
    out = f"{money(before)} → {money(after)}"
    if before and after and before != after:
        out += f" ({percent((after - before) / before * 100, signed=True)})"
    return out


# ---------------------------------------------------------------- stock

STOCK_LABELS = {"InStock": "有货", "OutOfStock": "缺货", "PreOrder": "预售"}


def stock_label(availability: str | None) -> str:
    """``有货`` / ``缺货`` / ``预售`` for a schema.org availability, ``未知`` otherwise."""
    return STOCK_LABELS.get(availability or "", "未知")


# ---------------------------------------------------------------- percentages


def percent(value: Decimal | float | int | None, places: int = 1, *, signed: bool = False, none: str = NONE) -> str:
    """``12.5%`` from a percentage value (12.5, not 0.125), rounded half up; ``+12.5%`` when ``signed``."""
    if value is None:
        return none
    quantum = Decimal(1).scaleb(-places)
    rounded = _decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.0%"
    return f"{'+' if signed and rounded >= 0 else ''}{rounded}%"


# ---------------------------------------------------------------- times


@contextmanager
def display_zone(tz: tzinfo | str) -> Iterator[tzinfo]:
    """Times formatted inside the block show in ``tz`` (``Config.timezone``)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    token = _zone.set(zone)
    try:
        yield zone
    finally:
        _zone.reset(token)


def current_zone() -> tzinfo:
    """The display time zone of this thread / task (see :func:`display_zone`)."""
    return _zone.get()


def clock(moment: datetime, tz: tzinfo | None = None) -> str:
    """``11-20 14:30``: short enough for a fact, exact enough to find the page."""
    return moment.astimezone(tz or _zone.get()).strftime("%m-%d %H:%M")


def timestamp(moment: datetime, tz: tzinfo | None = None) -> str:
    """``2026-11-20 14:30``."""
    return moment.astimezone(tz or _zone.get()).strftime("%Y-%m-%d %H:%M")


def zone_label(tz: tzinfo | None = None) -> str:
    """What to call the zone next to a time: ``北京时间`` for China Standard Time, else its name."""
    zone = tz or _zone.get()
    name = getattr(zone, "key", None) or str(zone)
    return "北京时间" if name in _CHINA_ZONES else name
