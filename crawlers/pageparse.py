"""Shared pieces for parsing list pages (reviews, mentions): paths into JSON, CSS values,
text cleanup, numbers, times as sites write them, next-page links. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from parsel import Selector

_INT = re.compile(r"-?\d+")
_JSONP = re.compile(r"^\s*[\w$.]+\s*\(\s*(.*?)\s*\)\s*;?\s*$", re.S)


def unwrap_jsonp(raw: str) -> str:
    """`callback({...});` -> `{...}`; anything else unchanged."""
    m = _JSONP.match(raw)
    return m.group(1) if m else raw


def next_link(doc: Selector, selector: str | None, page_url: str) -> str | None:
    """Absolute URL of the next-page link, or None (javascript: links are no links)."""
    if not selector:
        return None
    href = doc.css(selector).get()
    if not href or href.strip().lower().startswith("javascript:"):
        return None
    return urljoin(page_url, href.strip())


def json_path(data: Any, path: str) -> Any:
    cur = data
    for part in path.split("."):
        if cur is None:
            return None
        if isinstance(cur, list):
            if not part.lstrip("-").isdigit() or not -len(cur) <= int(part) < len(cur):
                return None
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def to_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    m = _INT.search(str(value))
    return int(m.group()) if m else None


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
                 "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y.%m.%d")


# Times outside this span are junk (a placeholder year, a mangled epoch), not when something was posted.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def parse_time(value: Any, tz: ZoneInfo) -> datetime | None:
    """Times as sites write them: ISO, 'YYYY-mm-dd HH:MM:SS', 2026年11月20日, epoch s/ms.
    Naive values are in the shop's time zone. Unreadable or implausible values (before 2000, more
    than a day in the future, NaN, overflow) give None, never an exception."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        dt = _parse_time(value, tz)
    except (ValueError, OverflowError, OSError):
        return None
    if dt is None or not EARLIEST <= dt <= datetime.now(UTC) + FUTURE_SLACK:
        return None
    return dt


def _parse_time(value: Any, tz: ZoneInfo) -> datetime | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        n = float(value)
        if n > 1e11:
            n /= 1000
        return datetime.fromtimestamp(n, tz)
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        dt = None
        for fmt in _DATE_FORMATS:
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def clean_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = " ".join(str(v) for v in value if v)
    s = " ".join(str(value).split())
    return s or None


def css_value(sel: Selector, query: str) -> str | list[str] | None:
    values = [v for v in sel.css(query).getall() if v and v.strip()]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


