"""The user's per-site selectors: CSS (parsel, with ``::text`` / ``::attr(x)``), XPath, or
``json:NAME.path`` into embedded JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parsel import Selector

from . import availability as avail
from .page import Page
from .prices import currency_iso, parse_price, to_decimal
from .state import find_named_json
from .structured import Found


def _json_path(page: Page, spec: str) -> Any:
    """``NAME.a.b.0.c``: NAME is a script global or a script id; numbers index lists."""
    spec = spec.strip()
    candidates = []
    parts = spec.split(".")
    # The name itself may contain dots (window.__INITIAL_STATE__): try the longest prefix first.
    for i in range(len(parts), 0, -1):
        candidates.append((".".join(parts[:i]), parts[i:]))
    for name, path in candidates:
        data = find_named_json(page, name)
        if data is None:
            continue
        cur = data
        for key in path:
            if isinstance(cur, list) and key.lstrip("-").isdigit() and -len(cur) <= int(key) < len(cur):
                cur = cur[int(key)]
            elif isinstance(cur, dict) and key in cur:
                cur = cur[key]
            else:
                cur = None
                break
        if cur is not None:
            return cur
    return None


def select(page: Page, spec: str) -> str | None:
    """The first non-empty text a selector yields."""
    return select_detail(page, spec)[0]


def select_detail(page: Page, spec: str) -> tuple[str | None, bool]:
    """(first non-empty text, whether the selector matched something that was empty)."""
    spec = spec.strip()
    if spec.startswith("json:"):
        value = _json_path(page, spec[5:])
        if value is None or isinstance(value, (dict, list)):
            return None, False
        return str(value), False
    sel = Selector(root=page.tree, type="html")
    if spec.startswith("xpath:"):
        results = sel.xpath(spec[6:].strip())
    elif spec.startswith(("/", "(")):
        results = sel.xpath(spec)
    else:
        css = spec[4:].strip() if spec.startswith("css:") else spec
        results = sel.css(css)
    matched = False
    for node in results:
        value = node.get()
        if value is None:
            continue
        matched = True
        if hasattr(node.root, "tag"):  # an element: its visible text
            value = " ".join(node.xpath("string()").get("").split())
        value = " ".join(str(value).split())
        if value:
            return value, False
    return None, matched


def apply_selectors(page: Page, selectors: Mapping[str, str]) -> Found:
    found = Found()
    for name, spec in selectors.items():
        if not spec:
            continue
        try:
            raw, empty = select_detail(page, spec)
        except Exception:
            raw, empty = None, False
        if raw is None:
            if empty and name == "price":
                # The user told us where the price is and that element is empty: the page fills
                # it with JavaScript. Guessing another number from the page would be wrong (the
                # heuristics would find a promo or a recommendation), so say so instead.
                found.empty.add(name)
            continue
        if name in ("price", "original_price"):
            amount, cur = parse_price(raw) if not raw.replace(".", "", 1).isdigit() else (to_decimal(raw), None)
            found.put(name, amount, spec)
            if cur and name == "price":
                found.put("currency", currency_iso(cur, page.url, page.lang), spec)
        elif name == "availability":
            found.put(name, avail.from_schema(raw), spec)
        elif name == "currency":
            found.put(name, currency_iso(raw, page.url, page.lang) or raw, spec)
        elif name in ("title", "promo", "sku", "brand"):
            found.put(name, raw, spec)
    return found
