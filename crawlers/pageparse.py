"""Shared pieces for parsing list pages (reviews, mentions): paths into JSON, CSS values,
text cleanup, numbers, next-page links. Pure functions. Times are read by `jingshao.core.times`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

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
