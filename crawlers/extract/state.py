"""Embedded page state: JSON (or JavaScript object literals) in script tags.

Sources: ``<script type="application/json" id=...>`` (``__NEXT_DATA__``, ``__NUXT_DATA__``...) and
assignments such as ``window.__INITIAL_STATE__ = {...}``, ``var pageConfig = {...}``,
``window.rawData = {...}``. Object literals that are not strict JSON (unquoted keys, single quotes,
trailing commas; JD's ``pageConfig``) go through a small converter written here because no
installed library parses JavaScript literals (chompjs would, but is another dependency).

A product-like object is a dict with a title-ish key and a price-ish key; to stay precise it must
also share words with the page title (``<h1>``, ``og:title`` or ``<title>``), so prices of
recommended items in the same state blob are not taken.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import Any

from . import availability as avail
from .page import Page, text_content
from .prices import currency_iso, parse_price, to_decimal
from .structured import Found

# ``NAME = {`` / ``NAME = [``: found from the ``=`` backwards. One search for the name anchored at
# every start position (``(?:^|[;\s,(])NAME\s*=``) cost a regex attempt at each whitespace of
# megabytes of script; ``=`` followed by a bracket is rare, and the name is read in the few hundred
# characters before it (same leftmost match, as the name can hold no bracket or quote).
_ASSIGN_EQ = re.compile(r"=\s*(?=[{\[])")
_ASSIGN_NAME = re.compile(
    r"(?:^|[;\s,(])((?:window\.|var\s+|let\s+|const\s+|self\.)?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*))\s*\Z"
)
_NAME_WINDOW = 200
_JSON_AT = json.JSONDecoder().raw_decode
# Strings as unrolled loops ("[^"\\]*(?:\\.[^"\\]*)*": the same strings as "(?:[^"\\]|\\.)*", found
# without an alternation tried at every character).
_JS_TOKEN = re.compile(
    r"""("[^"\\]*(?:\\.[^"\\]*)*")|('[^'\\]*(?:\\.[^'\\]*)*')|(/\*.*?\*/|//[^\n]*)|([A-Za-z_$][\w$]*)|(,\s*(?=[}\]]))""",
    re.S,
)
# What strict JSON allows right after the opening bracket (past JSON whitespace): anything else
# fails at once, so the C decoder is not asked (its error counts the lines before the position).
_JSON_NEXT = re.compile(r"[ \t\n\r]*")
_JSON_FIRST = {"{": frozenset('"}'), "[": frozenset('"{[]-0123456789tfnNI')}
MAX_SCRIPT = 3_000_000

TITLE_KEYS = ("title", "name", "skuName", "goodsName", "productName", "itemName", "displayName", "wareName")
PRICE_KEYS = (
    "price",
    "salePrice",
    "sale_price",
    "currentPrice",
    "current_price",
    "finalPrice",
    "final_price",
    "promotionPrice",
    "sellingPrice",
    "jdPrice",
    "minGroupPrice",
    "groupPrice",
    "priceValue",
    "priceAmount",
    "minPrice",
    "offerPrice",
    "priceInCent",
    "price_in_cents",
    "p",
)
ORIGINAL_KEYS = (
    "originalPrice",
    "original_price",
    "marketPrice",
    "market_price",
    "listPrice",
    "list_price",
    "linePrice",
    "line_price",
    "oldPrice",
    "old_price",
    "wasPrice",
    "regularPrice",
    "regular_price",
    "normalPrice",
    "minNormalPrice",
    "tagPrice",
    "op",
    "m",
    "originPriceInCent",
    "originPrice",
)
#: The top of a price range (variants): the product's price is the low end and a range.
HIGH_KEYS = ("highPrice", "maxPrice", "max_price", "maxGroupPrice", "priceMax")
SKU_KEYS = ("sku", "skuId", "skuid", "goodsID", "itemId", "goodsId", "productId", "product_id", "articleNumber")
BRAND_KEYS = ("brand", "brandName", "brand_name")
STOCK_KEYS = (
    "availability",
    "stockState",
    "stockStatus",
    "stock_status",
    "isSoldOut",
    "soldOut",
    "inStock",
    "in_stock",
    "isInStock",
    "available",
    "isAvailable",
    "onSale",
)
CURRENCY_KEYS = ("currency", "currencyCode", "priceCurrency", "currency_code")


def _js_to_json(text: str) -> str:
    """Rewrite a JavaScript object literal into JSON (quote keys, "-quote strings, drop comments)."""

    def repl(m: re.Match[str]) -> str:
        dq, sq, comment, ident, trailing = m.groups()
        if dq:
            return dq
        if sq:
            body = sq[1:-1].replace('\\"', '"').replace("\\'", "'").replace('"', '\\"')
            return f'"{body}"'
        if comment or trailing:
            return ""
        if ident in ("true", "false", "null"):
            return ident
        if ident == "undefined":
            return "null"
        return f'"{ident}"'

    return _JS_TOKEN.sub(repl, text)


_STRUCTURE = re.compile(r"[\"'`{}\[\]]")
_IN_QUOTE = {q: re.compile(r"[\\" + q + "]") for q in "\"'`"}


# How far from a literal's first bracket the text can be JSON once :func:`_js_to_json` has
# rewritten it: the same tokens as _JS_TOKEN, tried in its order at each position, or a character
# that JSON allows outside strings. At the first other character (the "(" of a function, a ";",
# "=", "!", a non-JSON space ...) the match stops: that character would stay as it is and make
# ``json.loads`` fail, so a literal that reaches it cannot be read and is not looked for further.
_JS_AS_JSON = re.compile(
    r"""(?:"[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'|/\*.*?\*/|//[^\n]*|[A-Za-z_$][\w$]*|,\s*(?=[}\]])|"""
    r"""[ \t\n\r{}\[\],:0-9.+\-])*""",
    re.S,
)


def _balanced(text: str, start: int, end: int | None = None) -> str | None:
    """The {...} / [...] literal starting at ``start``, respecting strings; None when it does not
    close before ``end`` (default: the end of ``text``).

    Jumps from one bracket or quote to the next with precompiled searches instead of a Python
    loop over every character (state blobs are often hundreds of kilobytes)."""
    if end is None:
        end = len(text)
    closer = "}" if text[start] == "{" else "]"
    depth = 0
    pos = start
    find = _STRUCTURE.search
    while True:
        m = find(text, pos, end)
        if m is None:
            return None
        c = m.group()
        i = m.start()
        if c in "{[":
            depth += 1
            pos = i + 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1] if c == closer else None
            pos = i + 1
        else:  # a string: skip to its closing quote, a backslash escaping the next character
            in_quote = _IN_QUOTE[c].search
            pos = i + 1
            while True:
                q = in_quote(text, pos, end)
                if q is None:
                    return None
                if q.group() == "\\":
                    pos = q.start() + 2
                    continue
                pos = q.end()
                break


@lru_cache(maxsize=64)
def _loads_js(literal: str) -> Any:
    """A JavaScript object literal that is not strict JSON, read through :func:`_js_to_json`.

    Not tried as JSON first: the caller's ``raw_decode`` at the literal's first bracket already
    failed, and a literal that parsed as JSON would have been that same value (a second strict
    parse only raised again, its ``JSONDecodeError`` counting lines over the whole text)."""
    try:
        return json.loads(_js_to_json(literal))
    except ValueError:
        return None


# A blob can give the state layer a product (a dict with a ``PRICE_KEYS`` key) or the variant pass
# a list (items with a ``variants._PRICE_KEYS`` key) only when its text spells such a key: every
# key of both lists but "p" holds "rice"; "p" is a token of its own followed by a colon (a JSON
# key ``"p":``, a JS ``p:`` or ``'p' :``; a comment may stand before the colon); a key written
# with an escaped letter (``"\u0070rice"``) holds ``\u004`` to ``\u007``. A blob whose text has
# none of the three is not parsed at all (most scripts of a big page are code and tracking
# objects without a price), nor walked by the state and variant passes.
_P_TOKEN = re.compile(r"p(?<![A-Za-z0-9_$]p)[\"']?\s*(?::|/[*/])")
_ESCAPED_LETTER = re.compile(r"\\u00[4-7]")


def _may_hold_price(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``text[start:end]`` can spell a price key (see ``_P_TOKEN``): literal searches, no
    slice copied."""
    if end is None:
        end = len(text)
    return (
        text.find("rice", start, end) >= 0
        or _P_TOKEN.search(text, start, end) is not None
        or _ESCAPED_LETTER.search(text, start, end) is not None
    )


def iter_state(page: Page) -> list[tuple[str, Any]]:
    """(name, data) for every JSON blob in the page's scripts that can hold a price: the blobs the
    state layer and the variant lists read (cached on the page)."""
    cached = page.__dict__.get("_state_blobs")
    if cached is None:
        cached = page.__dict__["_state_blobs"] = _read_state(page, priced_only=True)
    return cached


def all_state(page: Page) -> list[tuple[str, Any]]:
    """(name, data) for every JSON blob in the page's scripts, priced or not (the user's ``json:``
    selectors may read any of them; cached on the page)."""
    cached = page.__dict__.get("_all_state_blobs")
    if cached is None:
        cached = page.__dict__["_all_state_blobs"] = _read_state(page, priced_only=False)
    return cached


def _read_state(page: Page, priced_only: bool) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for i, script in enumerate(page.scripts):
        kind = (script.get("type") or "").lower()
        text = script.text or ""
        if not text.strip() or len(text) > MAX_SCRIPT:
            continue
        if "ld+json" in kind:
            continue
        if priced_only and not _may_hold_price(text):
            continue
        if "json" in kind:
            try:
                data = json.loads(text)
            except ValueError:
                continue
            out.append((script.get("id") or f"script[{i}]", data))
            continue
        if kind and "javascript" not in kind and "ecmascript" not in kind and kind != "module":
            continue
        for eq in _ASSIGN_EQ.finditer(text):
            at = eq.start()
            m = _ASSIGN_NAME.search(text, max(0, at - _NAME_WINDOW), at)
            if m is None:
                continue
            start = eq.end()
            try:
                # strict JSON (a quarter of the literals) is read straight off the script by the
                # C decoder: the same span the bracket scan finds, parsed in the same pass
                first = _JSON_NEXT.match(text, start + 1).end()  # type: ignore[union-attr]
                if first >= len(text) or text[first] not in _JSON_FIRST[text[start]]:
                    raise ValueError("not strict JSON")
                data, end = _JSON_AT(text, start)
            except ValueError:
                # only a literal that closes before its first character JSON cannot hold can be
                # read (most that fail are code: "= {init: function () {...}}"); the bracket scan
                # of a big code object stops there
                limit = _JS_AS_JSON.match(text, start).end()  # type: ignore[union-attr]
                if priced_only and not _may_hold_price(text, start, limit):
                    continue  # the literal lies within text[start:limit]
                literal = _balanced(text, start, limit)
                data = _loads_js(literal) if literal and len(literal) > 20 else None
            else:
                if end - start <= 20 or (priced_only and not _may_hold_price(text, start, end)):
                    continue
            if isinstance(data, (dict, list)):
                out.append((m.group(2), data))
    return out


def find_named_json(page: Page, name: str) -> Any:
    """The blob called ``name`` (``window.X``, ``X`` or a script id)."""
    short = name.removeprefix("window.").removeprefix("self.")
    for blob_name, data in all_state(page):
        if blob_name in (name, short) or blob_name.removeprefix("window.") == short:
            return data
    return None


_NOT_CJK = re.compile(r"[^\u2e80-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+", re.U)


def _words(text: str) -> set[str]:
    text = text.lower()
    words = {w for w in _WORD.findall(text) if len(w) > 1 or ord(w[0]) > 0x2E80}
    # CJK has no spaces: use character bigrams.
    cjk = _NOT_CJK.sub("", text)
    words |= {cjk[i : i + 2] for i in range(len(cjk) - 1)}
    return words


def page_titles(page: Page, with_h1: bool = True) -> list[str]:
    """The page's titles: its first <h1>s, og:title and <title> (cached on the page; the title
    index and the state layer both ask, with and without the <h1>s)."""
    parts = page.__dict__.get("_title_parts")
    if parts is None:
        parts = page.__dict__["_title_parts"] = _page_titles(page)
    h1s, others = parts
    return h1s + others if with_h1 else list(others)


def _page_titles(page: Page) -> tuple[list[str], list[str]]:
    """(the first two <h1>s, the first two og:title and <title>), blanks left out."""
    tagged = page.tagged
    # the page's tag lists (one walk of lxml's C iterator), stopped after two: the same as the
    # XPaths "//h1", "//title" and '//meta[@property="og:title"]/@content' cut to two
    og = (m.get("content") for m in tagged["meta"] if m.get("property") == "og:title" and m.get("content") is not None)
    sources = (
        (text_content(h) for h in tagged["h1"]),
        og,
        (text_content(h) for h in tagged["title"]),
    )
    out: list[list[str]] = []
    for values in sources:
        found = []
        for v in islice(values, 2):
            s = " ".join(v.split())
            if s:
                found.append(s)
        out.append(found)
    return out[0], out[1] + out[2]


def _title_match(candidate: str, titles: list[str]) -> float:
    cw = _words(candidate)
    if not cw:
        return 0.0
    best = 0.0
    for t in titles:
        tw = _words(t)
        if tw:
            best = max(best, len(cw & tw) / len(cw))
    return best


def _get(node: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for k in keys:
        if k in node and node[k] not in (None, "", [], {}):
            return k, node[k]
    return None


def _price_value(value: Any) -> Decimal | None:
    if isinstance(value, dict):
        for k in ("value", "amount", "price", "current", "sale", "raw"):
            if k in value:
                return _price_value(value[k])
        return None
    if isinstance(value, str):
        return to_decimal(value) or parse_price(value)[0]
    return to_decimal(value)


#: Integer prices under these keys are in fen (1/100 yuan) or cents.
FEN_KEY = re.compile(r"fen|cent|^(min|max)?GroupPrice$|^minNormalPrice$|^normalPrice$", re.I)
#: Keys under which a state blob lists other items: never the product.
_RAIL_KEY = re.compile(
    r"recommend|similar|related|guess|rails?$|feeds?$|hot|rank|also|together|bundle|"
    r"shopGoods|goodsList|itemList|list$|items$",
    re.I,
)
_ITEM_ID = re.compile(
    r"(?:[?&#](?:id|item_?id|goods_?id|sku_?id|skuId|productId|pid)=|/)(\d{5,})(?:\.html|[/?&#]|$)", re.I
)


def url_item_id(url: str) -> str | None:
    """The item id a shop URL carries (JD ``/100012043978.html``, Tmall ``id=``, PDD ``goods_id=``)."""
    m = _ITEM_ID.search(url or "")
    return m.group(1) if m else None


_NOT_RAIL = re.compile(r"sku|spec|price|image|pic", re.I)


@lru_cache(maxsize=16384)
def _is_rail_key(key: str) -> bool:
    """A key under which a blob lists other items (cached: blobs repeat their keys)."""
    return bool(_RAIL_KEY.search(key)) and not _NOT_RAIL.search(key)


def _walk_marked(data: Any, in_list: bool = False, depth: int = 0) -> Any:
    """``(node, listed)`` for every dict; ``listed``: inside a list of items or under a rail's key."""
    if depth > 12:
        return
    if isinstance(data, dict):
        yield data, in_list
        for key, value in data.items():
            if isinstance(value, (dict, list)):
                yield from _walk_marked(value, in_list or _is_rail_key(str(key)), depth + 1)
    elif isinstance(data, list):
        many = sum(isinstance(v, dict) for v in data) >= 2
        for value in data:
            yield from _walk_marked(value, in_list or many, depth + 1)


def state_price(key: str, value: Any) -> Decimal | None:
    """A state price; integers under fen/cent keys are divided by 100."""
    amount = _price_value(value)
    if amount is not None and FEN_KEY.search(key) and isinstance(value, int) and not isinstance(value, bool):
        amount = (Decimal(value) / 100).quantize(Decimal("0.01"))
    return amount


def _ids(node: dict[str, Any]) -> set[str]:
    return {
        str(node[k])
        for k in (*SKU_KEYS, "id", "goods_id", "item_id", "skuid", "wareId")
        if isinstance(node.get(k), (str, int)) and not isinstance(node.get(k), bool)
    }


def state_fields(page: Page) -> Found:
    found = Found()
    titles = page_titles(page)
    if not titles:
        return found
    best: tuple[float, str, dict[str, Any]] | None = None
    body_text: str | None = None  # built on first need: the whole body's text is costly
    item_id = url_item_id(page.url)
    for name, data in iter_state(page):
        for node, listed in _walk_marked(data):
            title = _get(node, TITLE_KEYS)
            price = _get(node, PRICE_KEYS)
            if not title or not isinstance(title[1], str) or not price:
                continue
            amount = _price_value(price[1])
            if amount is None:
                continue
            id_match = item_id is not None and item_id in _ids(node)
            if listed and not id_match:
                continue  # a list of items (a rail, a feed) is never the product
            if item_id is not None and not id_match and _ids(node) and not listed:
                # Another item's object (the URL names a different id): only on a very good name match.
                match_floor = 0.95
            else:
                match_floor = 0.6
            match = _title_match(title[1], titles)
            if match < 0.6 and len(title[1]) >= 6 and body_text is None:
                body = page.tree.find("body")
                body_text = " ".join(text_content(body).split())[:200_000] if body is not None else ""
            if match < 0.6 and len(title[1]) >= 6 and body_text and title[1].strip() in body_text:
                match = 0.9  # the name is shown on the page verbatim
            if match < match_floor and not id_match:
                continue
            score = (
                match
                + (1.0 if id_match else 0)
                + (0.1 if _get(node, SKU_KEYS) else 0)
                + (0.1 if _get(node, STOCK_KEYS) else 0)
            )
            if best is None or score > best[0]:
                best = (score, name, node)
    if best is None:
        return found
    _, name, node = best
    title_kv = _get(node, TITLE_KEYS)
    price_kv = _get(node, PRICE_KEYS)
    assert title_kv and price_kv
    found.put("title", " ".join(str(title_kv[1]).split()), f"{name}..{title_kv[0]}")
    amount = state_price(*price_kv)
    fen = " (fen)" if amount != _price_value(price_kv[1]) else ""
    found.put("price", amount, f"{name}..{price_kv[0]}{fen}")
    orig = _get(node, ORIGINAL_KEYS)
    if orig:
        found.put("original_price", state_price(*orig), f"{name}..{orig[0]}")
    high = _get(node, HIGH_KEYS)
    if high:
        top = state_price(*high)
        if top is not None and amount is not None and top > amount:
            found.price_is_range = True
    cur = _get(node, CURRENCY_KEYS)
    if cur and isinstance(cur[1], str):
        found.put("currency", currency_iso(cur[1], page.url, page.lang), f"{name}..{cur[0]}")
    elif isinstance(price_kv[1], str):
        raw = parse_price(price_kv[1])[1]
        found.put("currency", currency_iso(raw, page.url, page.lang), f"{name}..{price_kv[0]}")
    sku = _get(node, SKU_KEYS)
    if sku and isinstance(sku[1], (str, int)) and not isinstance(sku[1], bool):
        found.put("sku", str(sku[1]), f"{name}..{sku[0]}")
    brand = _get(node, BRAND_KEYS)
    if brand:
        value = brand[1].get("name") if isinstance(brand[1], dict) else brand[1]
        if isinstance(value, str):
            found.put("brand", value.strip(), f"{name}..{brand[0]}")
    stock = _get(node, STOCK_KEYS)
    if stock is not None or "isSoldOut" in node or "soldOut" in node:
        key, value = (
            stock
            if stock
            else (("isSoldOut", node["isSoldOut"]) if "isSoldOut" in node else ("soldOut", node["soldOut"]))
        )
        if key in ("isSoldOut", "soldOut") and isinstance(value, (bool, int)):
            state: str | None = "OutOfStock" if value else "InStock"
        else:
            state = avail.from_schema(value)
        found.put("availability", state, f"{name}..{key}")
    return found
