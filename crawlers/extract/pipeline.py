"""``extract_product``: run the layers, first hit wins per field.

Layers: user selectors -> JSON-LD -> microdata -> RDFa -> OpenGraph -> embedded page state ->
visible-text heuristics. Each field records ``{"layer", "via"}`` in ``sources``.

Price semantics (a decision, documented here because shops show up to three numbers):
``price`` is the main price the page displays for buying now (the big red number on JD/Tmall,
``offers.price`` in structured data). A crossed-out/划线/原价/"was" number is ``original_price``.
A conditional price (券后价, 到手价, after-coupon, member price) is NOT ``price`` when another main
price is shown: it depends on the buyer claiming a coupon, so it goes into ``promo`` verbatim (e.g.
"券后价 ¥159"), where changes still show up in monitoring. When it is the only main price the page
displays, it IS the price. Amounts inside promo phrases (立减10元, 满299减30, 补贴800元, 省50, 返20,
券50, 定金) are never price candidates. When the user's price selector matches only an empty element
(a price filled in by JavaScript), no price is guessed from the visible text and ``error`` says
so (set ``render = true``). A "from" price on the page (最低价 $99 起) lower than the embedded
state's price gives the lowest price of a range.

Bounded cost: pages above ``MAX_PARSE_CHARS`` are truncated before parsing (the product block of
a real page is in its first megabytes; the rest is usually inlined scripts or data), and the
truncation is reported in ``error``.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import etree

from . import heuristics, promo, state, structured, variants
from .decode import decode_html
from .model import FIELDS, ProductExtraction
from .page import Page, parse_page_text, utf8_body
from .prices import currency_iso, page_country_currency
from .selectors import apply_selectors

log = logging.getLogger(__name__)

MAX_PARSE_CHARS = 6_000_000
PRICE_SELECTOR_EMPTY = "price selector matched an empty element (page needs JavaScript? set render = true)"


def _merge(result: ProductExtraction, found: structured.Found, layer: str) -> None:
    for name in FIELDS:
        if getattr(result, name) is not None:
            continue
        value = found.values.get(name)
        if value is None or value == "":
            continue
        if name in ("price", "original_price") and (not isinstance(value, Decimal) or value <= 0):
            continue
        setattr(result, name, value)
        result.sources[name] = {"layer": layer, "via": found.via.get(name, "")}
        if name == "price":
            result.price_is_range = found.price_is_range


_UNIT_FACTORS = (Decimal(100), Decimal(10))
_SLACK = Decimal("0.000001")  # rounding of the divisions below
_NUMBER_TOKEN = re.compile(r"\d(?:[\d,.' \u00a0\u202f]*\d)?")
_GROUP_SEPARATORS = re.compile(r"[,.' \u00a0\u202f]+")
# Plain strings (no parent links) and the parent axis: libxml2 parses script and style contents as
# one raw text node, so ``parent::`` says what ``ancestor::`` did at a fraction of the cost. The
# descendant axis is the same node set as "//body//text()" (the abbreviation's descendant-or-self
# steps), which libxml2 evaluated about 1.6x slower. One union of the two parent steps in one
# not(): the same test ("the parent is a script or a style"), evaluated about 1.2x faster than
# two not()s joined by "and" (the predicate cost more than the walk over the text nodes).
_VISIBLE_TEXT = etree.XPath(
    "/descendant::body/descendant::text()[not(parent::script|parent::style)]", smart_strings=False
)


@lru_cache(maxsize=65536)
def _readings(token: str) -> frozenset[Decimal]:
    """Every value one number token can be read as (cached: pages repeat their numbers)."""
    values: set[Decimal] = set()
    groups = _GROUP_SEPARATORS.split(token)[:8]
    for i in range(len(groups)):
        for j in range(i + 1, len(groups) + 1):
            run = groups[i:j]
            values.add(Decimal("".join(run)))
            for k in range(1, len(run)):
                values.add(Decimal("".join(run[:k]) + "." + "".join(run[k:])))
    return frozenset(values)


def _visible_numbers(page: Page) -> list[Decimal]:
    """Every value the numbers of the page's visible text can be read as, sorted (cached on the page).

    Generous on purpose: the digit groups of a token ("1,299.00", "1.299,00", "19 .28") are read
    in every contiguous run and with the decimal point at every group boundary, so whatever
    price-parser makes of a visible price text is among them. Each distinct token is read once."""
    cached = page.__dict__.get("_visible_numbers")
    if cached is not None:
        return cached
    values: set[Decimal] = set()
    text = " ".join(_VISIBLE_TEXT(page.tree))
    for token in set(_NUMBER_TOKEN.findall(text)):
        values.update(_readings(token))
    out = sorted(values)
    page.__dict__["_visible_numbers"] = out
    return out


def _visible_in_unit(page: Page, price: Decimal) -> bool:
    """Cheap gate of the unit check: can any visible number be ``price`` / 100 or / 10 within the
    check's 0.5 %? Scoring every visible price candidate is by far the costliest step on a page with
    structured data and the answer is almost always no, so the full check runs only when it may be yes."""
    numbers = _visible_numbers(page)
    for factor in _UNIT_FACTORS:
        low = price / (factor * Decimal("1.005")) - _SLACK
        high = price / (factor * Decimal("0.995")) + _SLACK
        at = bisect.bisect_left(numbers, low)
        if at < len(numbers) and numbers[at] <= high:
            return True
    return False


def _candidate_in_unit(page: Page, price: Decimal) -> bool:
    """Second gate of the unit check, exact about what ``best_price`` can return: is there a small
    visible element that the scorer would take as a price candidate (the scorer's own tests,
    ``heuristics._candidate_price_text`` and ``heuristics._price_signals``: a currency next to it, a
    price class, itemprop or a big font) whose amount times 100 or
    10 is ``price`` within the check's 0.5 %? The first gate passes on about a quarter of the
    demo pages on bare numbers (spec rows "参数项21", counts, ratings, recommendation blocks);
    scoring every candidate costs 5-10 ms a page, this reads only the few numbers in range.
    Only when it says yes is the page scored: the scorer's other tests can only drop candidates."""
    doc = heuristics.get_doc(page)
    sizes: dict[str, float] | None = None
    for el in doc.small:
        cand = heuristics._candidate_price_text(el, doc)
        if cand is None:
            continue
        text = cand[0]
        amount, _cur = heuristics.parse_price(text)
        if amount is None or amount <= 0:
            continue
        if not any(abs(price - amount * factor) <= amount * factor / 200 for factor in _UNIT_FACTORS):
            continue
        if sizes is None:
            sizes = heuristics.css_font_sizes(page)
        after = heuristics._text_after(el, doc)
        before = heuristics._text_before(el, doc)
        if heuristics._price_signals(el, el.getparent(), text, after, before, sizes) is not None:
            return True
    return False


def _check_units_against_visible(page: Page, result: ProductExtraction) -> None:
    """A structured or state price that is the visible main price times 100 (fen, cents) or 10 is
    read in the wrong unit: the visible price wins, and ``sources`` says why."""
    source = result.sources.get("price", {})
    if result.price is None or source.get("layer") in ("selector", "heuristic"):
        return
    if "_scored_prices" in page.__dict__:
        # The visible prices are already scored (the heuristic layer looked for an original
        # price): when the best one is no unit away from the price, nothing below can change it,
        # whatever the gate would say; only when it is does the gate decide, as before.
        try:
            best = heuristics.best_price(page)
        except Exception:
            return
        if (
            best is None
            or best[1] <= 0
            or not any(abs(result.price - best[1] * factor) <= best[1] * factor / 200 for factor in _UNIT_FACTORS)
        ):
            return
    # Both gates must say yes (each is a pure test of the page); the cheaper goes first. With the
    # page index built, or about to be for the promo pass (which runs whenever no promo is known
    # yet), the candidate gate reads a few hundred small elements and says yes on few pages, where
    # the visible-number gate's XPath over every text node cost about twice as much: 32 of the 70
    # pages ask, 10 pass the number gate, 2 the candidate gate.
    candidates_first = "_doc" in page.__dict__ or result.promo is None
    if not candidates_first and not _visible_in_unit(page, result.price):
        return
    try:
        if not _candidate_in_unit(page, result.price):
            return
    except Exception:
        return
    if candidates_first and not _visible_in_unit(page, result.price):
        return
    try:
        visible = heuristics.best_price(page)
    except Exception:
        return
    if visible is None or visible[1] <= 0 or visible[1] == result.price:
        return
    for factor in _UNIT_FACTORS:
        if abs(result.price - visible[1] * factor) <= visible[1] * factor / 200:
            result.price = visible[1]
            result.sources["price"] = {
                "layer": "heuristic",
                "via": f"{visible[3]} (the {source.get('layer')} "
                f"price {source.get('via')} is {factor}x the visible price: wrong unit)",
            }
            orig = result.original_price
            if orig is not None and result.sources.get("original_price", {}).get("layer") == source.get("layer"):
                result.original_price = (orig / factor).quantize(Decimal("0.01"))
                result.sources["original_price"]["via"] += f" (/{factor}, as the price)"
            return


def _extract(
    body: bytes | str, url: str, selectors: Mapping[str, str] | None, encoding: str | None, variant: str | None = None
) -> ProductExtraction:
    result = ProductExtraction()
    if (
        body is None
        or len(body) == 0
        or (isinstance(body, (bytes, bytearray)) and not body.strip())
        or (isinstance(body, str) and not body.strip())
    ):
        result.error = "empty body"
        return result
    raw = bytes(body) if isinstance(body, bytearray) else body
    text, enc = decode_html(raw, encoding)
    notes: list[str] = []
    if len(text) > MAX_PARSE_CHARS:
        size_mb = len(body) / 1_000_000
        notes.append(
            f"page too large ({size_mb:.1f} MB), truncated to the first {MAX_PARSE_CHARS / 1_000_000:.0f} M characters"
        )
        text = text[:MAX_PARSE_CHARS]
    tree, data = parse_page_text(text, utf8_body(raw, text, enc) if not notes else None)
    page = Page(text=text, url=url or "", tree=tree, notes=notes, data=data)

    if selectors:
        chosen = apply_selectors(page, selectors)
        _merge(result, chosen, "selector")
        if "price" in chosen.empty:
            page.__dict__["price_selector_empty"] = True
            notes.append(PRICE_SELECTOR_EMPTY)
    layers: list[tuple[str, Any]] = [
        ("jsonld", lambda: structured.product_fields(structured.jsonld_items(tree, page.scripts), "", url, page.lang)),
        # Microdata is read on the page's own tree (lxml.html's tree only for the few properties
        # and itemref pages that need it, see structured.microdata_items); extruct's RDFa needs
        # lxml.html elements: the page is parsed a second time for it. Each only when the raw
        # text can contain that syntax at all.
        (
            "microdata",
            lambda: structured.product_fields(
                structured.microdata_items(tree, url, lambda: page.html_tree) if "itemscope" in text else [],
                "",
                url,
                page.lang,
            ),
        ),
        (
            "rdfa",
            lambda: structured.product_fields(
                structured.rdfa_items(page.html_tree, url) if "typeof=" in text else [], "", url, page.lang
            ),
        ),
        ("opengraph", lambda: structured.opengraph_fields(tree, url, page.lang, page.tagged["meta"])),
        ("state", lambda: state.state_fields(page)),
        ("heuristic", lambda: heuristics.heuristic_fields(page, result)),
    ]
    for layer, run in layers:
        if all(getattr(result, f) is not None for f in FIELDS if f not in ("promo", "original_price")):
            break
        try:
            found = run()
        except Exception as exc:
            log.debug("layer %s failed on %s", layer, url, exc_info=True)
            notes.append(f"{layer} layer failed: {type(exc).__name__}")
            continue
        _merge(result, found, layer)

    if result.sources.get("price", {}).get("layer") == "state":
        # Embedded state often holds one variant or pack (a 10-pack at 990) while the page
        # advertises the range's lowest price ("最低价 $99 元起"). Ranges give their lowest price.
        try:
            low = heuristics.visible_from_price(page)
        except Exception:
            low = None
        if low is not None and result.price is not None and low[0] < result.price:
            result.price = low[0]
            result.price_is_range = True
            result.sources["price"] = {"layer": "heuristic", "via": f"{low[1]} (lowest of a range)"}
    _check_units_against_visible(page, result)
    try:
        result.variants = variants.page_variants(page)
    except Exception as exc:
        notes.append(f"variant detection failed: {type(exc).__name__}")
    if variant:
        chosen_variant = variants.pick(result.variants, variant)
        if chosen_variant is None:
            notes.append(
                f"variant {variant!r} not found on the page"
                + (f" (shown: {', '.join(v['name'] for v in result.variants)})" if result.variants else "")
            )
        elif result.sources.get("price", {}).get("layer") != "selector":
            result.price = chosen_variant["price"]
            result.price_is_range = False
            result.sources["price"] = {"layer": "variant", "via": chosen_variant["name"]}
    if result.promo is None:
        try:
            found = promo.promo_fields(page)
            _merge(result, found, "heuristic")
        except Exception as exc:
            notes.append(f"promo detection failed: {type(exc).__name__}")
    if result.availability is None and result.price is not None:
        # A product page that shows a price and no sold-out/unavailable label sells the product.
        result.availability = "InStock"
        result.sources["availability"] = {"layer": "heuristic", "via": "price shown, no out-of-stock label"}
    if result.price is not None and result.currency is None:
        local = page_country_currency(url, page.lang) or heuristics.page_currency(page)
        if local:
            result.currency = currency_iso(local, url, page.lang) if len(local) != 3 else local
            result.sources["currency"] = {"layer": "heuristic", "via": "page country/language"}
    if result.original_price is not None and result.price is not None and result.original_price <= result.price:
        result.original_price = None
        result.sources.pop("original_price", None)
    if result.price is None:
        notes.insert(0, "no price found on page")
    result.error = "; ".join(notes) or None
    return result


def extract_product(
    body: bytes | str,
    url: str = "",
    *,
    selectors: Mapping[str, str] | None = None,
    encoding: str | None = None,
    variant: str | None = None,
) -> ProductExtraction:
    """Extract product fields from one page. Never raises; problems are described in ``error``.

    ``variant`` ("256GB 黑色") picks that variant's price among those the page shows."""
    try:
        return _extract(body, url, selectors, encoding, variant)
    except Exception as exc:
        log.exception("extraction failed for %s", url)
        return ProductExtraction(error=f"extraction failed: {type(exc).__name__}: {exc}")
