"""Per-variant prices (颜色 / 尺码 / 版本 / 套餐) a page shows, and picking one by name.

Sources, first that yields two or more variants wins: elements carrying a variant's price in data
attributes (``data-price`` with a ``data-sku``/``data-spec``/``data-value``, the shape JD, Tmall and
most H5 shops render their SKU pickers in), then lists in embedded state whose objects have a spec
name and a price (``skuList``, ``skus``, ``sku_list`` ...). Prices in fen (integer ``*Fen*`` /
``*Cent*`` keys, PDD's ``groupPrice``) are converted.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from lxml import etree

from .page import Page, text_content
from .prices import to_decimal

_NAME_KEYS = ("specName", "spec", "skuName", "sku_name", "specs", "name", "title", "propPath", "skuDesc")
_PRICE_KEYS = (
    "price",
    "salePrice",
    "promotionPrice",
    "groupPrice",
    "normalPrice",
    "priceFen",
    "price_fen",
    "salePriceFen",
    "price_in_cents",
    "priceCent",
    "jdPrice",
    "p",
)
_FEN_KEY = re.compile(r"fen|cent|^groupPrice$|^normalPrice$", re.I)
_SEPARATORS = re.compile(r"[\s/|,，·]+")
_LIST_KEYS = re.compile(r"^(sku_?list|skus|skuInfos?|variants|sku_?infos?|specList)$", re.I)


def _norm(text: str) -> str:
    return _SEPARATORS.sub(" ", text).strip()


def _price(key: str, value: Any) -> Decimal | None:
    amount = to_decimal(value)
    if amount is None:
        return None
    if _FEN_KEY.search(key) and isinstance(value, int):
        return (Decimal(value) / 100).quantize(Decimal("0.01"))
    return amount


# "//*[@data-price][...]" on the descendant axis (the same elements, found faster by libxml2)
_PRICED_OPTIONS = etree.XPath("/descendant::*[@data-price][@data-sku or @data-spec or @data-value or @data-sku-id]")
_PRICED_OPTION_PAIRS = (b"data-sku", b"data-spec", b"data-value")


def _from_attributes(page: Page) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    low = page.ascii_lower
    if b"data-price" not in low or not any(name in low for name in _PRICED_OPTION_PAIRS):
        # no element can carry both attributes the XPath asks for (attribute names are lower-cased
        # by the parser, and every one of the second ones starts with data-sku, data-spec or
        # data-value): the XPath over every node is skipped
        return out
    for el in _PRICED_OPTIONS(page.tree):
        name = _norm(el.get("data-spec") or el.get("data-value") or el.get("title") or text_content(el))
        raw = el.get("data-price") or ""
        key = "priceFen" if el.get("data-unit") == "fen" else "price"
        price = _price(key, int(raw) if key == "priceFen" and raw.isdigit() else raw)
        if name and price is not None:
            out.append({"name": name, "price": price})
    return out


def _walk(node: Any, depth: int = 0):
    # only dicts and lists are walked into: a generator for every string and number of a big blob
    # (most of its values), which yields nothing, cost more than the rest of the walk
    if depth > 12:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, list):
                if _LIST_KEYS.match(str(key)):
                    yield value
                yield from _walk(value, depth + 1)
            elif isinstance(value, dict):
                yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node[:200]:
            if isinstance(value, (dict, list)):
                yield from _walk(value, depth + 1)


def from_state(blobs: list[Any]) -> list[dict[str, Any]]:
    for blob in blobs:
        for items in _walk(blob):
            out = []
            for item in items:
                if not isinstance(item, dict):
                    continue
                name = next((item[k] for k in _NAME_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
                if isinstance(name, list):
                    name = " ".join(map(str, name))
                price = next((p for k in _PRICE_KEYS if k in item for p in [_price(k, item[k])] if p is not None), None)
                if name and price is not None:
                    out.append({"name": _norm(name), "price": price})
            if len(out) >= 2:
                return out
    return []


# Every character ``str.isspace`` (and so a str pattern's ``\s``) takes, as UTF-8 (all are below U+3001).
_UNI_SPACES = sorted({re.escape(chr(c).encode()) for c in range(0x3001) if chr(c).isspace()}, key=len, reverse=True)
#: Lower-cased pieces one of which every key ``_LIST_KEYS`` matches starts with, and such a key
#: as the page's script text writes it (``"skuList":``, ``skus :``, ``'variants':``).
_LIST_KEY_HINTS = (b"sku", b"variants", b"speclist")
# On the page's lower-cased UTF-8 bytes (``Page.ascii_lower``); the whitespace is spelled out as
# every character a str pattern's ``\s`` matches, in UTF-8 (a bytes ``\s`` is ASCII only).
_LIST_KEY_AT = re.compile(
    rb"(?:sku_?list|skus|sku_?infos?|variants|speclist)[\"']?(?:" + b"|".join(_UNI_SPACES) + rb")*:"
)


def _names_variant_list(low: bytes) -> bool:
    """Whether the lower-cased page text writes a variant-list key anywhere: only then can a
    state blob hold one, and only then are the blobs read (literal searches, then a match at each
    hit: a regex search over the page, ``_LIST_KEY_AT.search``, tried its alternation at every
    byte and cost ten times more)."""
    return _matches_at_a_hint(low, _LIST_KEY_AT)


def _matches_at_a_hint(low: bytes, pattern: re.Pattern[bytes]) -> bool:
    """Whether ``pattern`` matches where one of the list-key hints starts in ``low``."""
    for hint in _LIST_KEY_HINTS:
        at = low.find(hint)
        while at != -1:
            if pattern.match(low, at):
                return True
            at = low.find(hint, at + 1)
    return False


# A variant-list key whose value is a non-empty list, as a script writes it: the key (optionally
# quoted, its string maybe ending in an escaped newline, which ``$`` in ``_LIST_KEYS`` lets through),
# spaces or comments, the colon, JSON whitespace or comments (which the JS reader drops), "[" and
# something other than "]".
_GAP = rb"(?:[ \t\n\r]|/\*.*?\*/|//[^\n]*)*"
_LIST_VALUE_AT = re.compile(
    rb"(?:sku_?list|skus|sku_?infos?|variants|speclist)(?:\\n)?[\"']?(?:"
    + b"|".join(_UNI_SPACES)
    + rb"|/\*.*?\*/|//[^\n]*)*:"
    + _GAP
    + rb"\[(?!"
    + _GAP
    + rb"\])",
    re.S,
)
#: Non-ASCII characters that a case-insensitive str pattern takes for an ASCII letter of those keys
#: (U+0130 and U+0131 for "i", U+017F for "s", U+212A for "k"), as UTF-8.
_FOLDS_TO_ASCII = ("\u0130".encode(), "\u0131".encode(), "\u017f".encode(), "\u212a".encode())
_ESCAPED_LETTER = re.compile(rb"\\u00[4-7]")


def _may_list_variants(page: Page) -> bool:
    """Whether a state blob of the page can hold a list that :func:`from_state` reads: a key
    ``_LIST_KEYS`` matches with a non-empty list for its value. Such a key is written in the
    script text as ``_LIST_VALUE_AT`` reads it, unless the page spells a letter of it with a
    ``\\u00XX`` escape or with a non-ASCII character that folds to it (then: maybe). Asked of
    pages that name such a key (:func:`_names_variant_list`) before their blobs are read: most
    give it an empty list, a number or a string ("skus":[], "sku": ...)."""
    low = page.ascii_lower
    if _matches_at_a_hint(low, _LIST_VALUE_AT):
        return True
    data = page.data or page.text.encode("utf-8", "replace")
    return _ESCAPED_LETTER.search(low) is not None or any(c in data for c in _FOLDS_TO_ASCII)


def page_variants(page: Page, blobs: list[Any] | None = None) -> list[dict[str, Any]]:
    """Variants from the page's attributes, else from its state blobs (``blobs``: the data of
    :func:`state.iter_state`, read only when the page text names a variant list at all)."""
    found = _from_attributes(page)
    if len(found) >= 2:
        return _dedup(found)
    if blobs is None and "_state_blobs" in page.__dict__:
        # The blobs are already read (the state layer ran): walking them for a variant list is
        # cheaper than the gate's scans of the whole page, and the answer is the same: none found
        # is none whatever the gate says, and a list found still needs the gate's yes.
        from .state import iter_state

        found = from_state([data for _name, data in iter_state(page)])
        return _dedup(found) if found and _names_variant_list(page.ascii_lower) else []
    if not _names_variant_list(page.ascii_lower) or not _may_list_variants(page):
        return []
    if blobs is None:
        from .state import iter_state

        blobs = [data for _name, data in iter_state(page)]
    return _dedup(from_state(blobs))


def _dedup(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item["name"] not in seen:
            seen.add(item["name"])
            out.append(item)
    return out


def pick(variants: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """The variant whose name holds every word of ``wanted`` ("256GB 黑色" matches "黑色 / 256GB")."""
    words = [w.lower() for w in _norm(wanted).split()]
    matches = [v for v in variants if all(w in v["name"].lower() for w in words)]
    if not matches:
        return None
    return min(matches, key=lambda v: len(v["name"]))
