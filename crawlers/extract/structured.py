"""Structured-data layer: JSON-LD, microdata, RDFa and OpenGraph via extruct.

Every syntax is normalised to plain JSON-LD-like dicts (``{"@type": ..., "offers": ...}``) so one
walker (:func:`product_fields`) reads them all. extruct is run on the already-parsed lxml tree (no
second parse) and each syntax is guarded separately: a broken block loses that syntax only. RDFa
(pyRdfa, slow) only runs when the page carries RDFa attributes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from . import availability as avail
from .prices import currency_iso, parse_price, to_decimal

log = logging.getLogger(__name__)

_RANGE_MARK = re.compile(r"[~～起]|\bfrom\b")

PRODUCT_TYPES = {
    "product",
    "productgroup",
    "individualproduct",
    "productmodel",
    "somproducts",
    "book",
    "vehicle",
    "car",
    "softwareapplication",
    "offer",
    "aggregateoffer",
    "event",
}


@dataclass
class Found:
    """Field values found by one layer, with the key/path that produced each."""

    values: dict[str, Any] = field(default_factory=dict)
    via: dict[str, str] = field(default_factory=dict)
    price_is_range: bool = False
    #: fields whose user selector matched only empty elements
    empty: set[str] = field(default_factory=set)

    def put(self, name: str, value: Any, via: str) -> None:
        if value is None or value == "" or name in self.values:
            return
        self.values[name] = value
        self.via[name] = via


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type") or node.get("type") or []
    if isinstance(raw, str):
        raw = [raw]
    out = set()
    for t in raw:
        if isinstance(t, str):
            out.add(t.rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower())
    return out


def _first(value: Any) -> Any:
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("@id")
        value = _first(value)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = " ".join(str(value).split())
    return text or None


def walk(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree (including @graph members), parents first."""
    if depth > 12:
        return
    if isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from walk(value, depth + 1)
    elif isinstance(data, list):
        for value in data:
            yield from walk(value, depth + 1)


def _offers(node: dict[str, Any]) -> list[dict[str, Any]]:
    raw = node.get("offers")
    if raw is None and _types(node) & {"offer", "aggregateoffer"}:
        raw = node
    out: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict):
            out.append(item)
            nested = item.get("offers")
            if isinstance(nested, (list, dict)) and nested is not item:
                out.extend(x for x in (nested if isinstance(nested, list) else [nested]) if isinstance(x, dict))
    return out


_LIST_PRICE_TYPES = {"listprice", "srp", "msrp", "strikethroughprice", "originalprice", "regularprice"}
# Non-standard offer keys some shops put next to ``price`` for the crossed-out price.
_ORIGINAL_OFFER_KEYS = ("listPrice", "originalPrice", "marketPrice", "regularPrice", "wasPrice")


def _specs(offer: dict[str, Any]) -> list[dict[str, Any]]:
    spec = offer.get("priceSpecification")
    return [s for s in (spec if isinstance(spec, list) else [spec]) if isinstance(s, dict)]


def _is_list_price_spec(spec: dict[str, Any]) -> bool:
    kind = _text(spec.get("priceType"))
    return kind is not None and bool(kind) and kind.rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower() in _LIST_PRICE_TYPES


def _offer_price(offer: dict[str, Any]) -> tuple[Decimal | None, str | None, bool]:
    """(price, currency token, is_range) of one Offer/AggregateOffer."""
    cur = _text(offer.get("priceCurrency"))
    for key in ("price", "lowPrice"):
        amount = to_decimal(_first(offer.get(key)))
        if amount is not None:
            high = to_decimal(_first(offer.get("highPrice")))
            return amount, cur, bool(key == "lowPrice" and high is not None and high != amount)
    for s in _specs(offer):
        if _is_list_price_spec(s):
            continue  # a list price (UnitPriceSpecification priceType ListPrice) is the 划线价
        amount = to_decimal(_first(s.get("price")))
        if amount is not None:
            return amount, cur or _text(s.get("priceCurrency")), False
    return None, cur, False


def _offer_original(offer: dict[str, Any]) -> tuple[Decimal | None, str]:
    """The list/was price an offer states: ``priceSpecification`` with ``priceType`` ListPrice
    (schema.org's way, also SRP/MSRP/StrikethroughPrice), or a listPrice/originalPrice key."""
    for s in _specs(offer):
        if _is_list_price_spec(s):
            amount = to_decimal(_first(s.get("price")))
            if amount is not None:
                return amount, "priceSpecification[priceType=ListPrice].price"
    for key in _ORIGINAL_OFFER_KEYS:
        amount = to_decimal(_first(offer.get(key)))
        if amount is not None:
            return amount, key
    return None, ""


def product_fields(nodes: list[dict[str, Any]], prefix: str, url: str = "", lang: str = "") -> Found:
    """Read product fields from normalised structured items (first product with a price wins)."""
    found = Found()
    products = [n for n in nodes if _types(n) & PRODUCT_TYPES and not (_types(n) & {"offer", "aggregateoffer"})]
    # Bare Offer items (no Product) still carry price/availability.
    offers_only = [n for n in nodes if _types(n) & {"offer", "aggregateoffer"}]
    products.sort(key=lambda n: 0 if any(_offer_price(o)[0] for o in _offers(n)) else 1)
    # Several Product items with the chosen product's name are its variants (one per size or
    # colour, each with its own sku): the product is in stock when any variant is.
    variant_states: list[str | None] = []
    if len(products) > 1:
        name = _text(products[0].get("name"))
        if name:
            for n in products:
                if _text(n.get("name")) == name:
                    variant_states.extend(avail.from_schema(o.get("availability")) for o in _offers(n))
    for node in products + offers_only:
        kind = sorted(_types(node))[0] if _types(node) else "item"
        base = f"{prefix}{kind.capitalize() if kind != 'product' else 'Product'}"
        found.put("title", _text(node.get("name")), f"{base}.name")
        found.put("sku", _text(node.get("sku")) or _text(node.get("productID")), f"{base}.sku")
        found.put("brand", _text(node.get("brand")) or _text(node.get("manufacturer")), f"{base}.brand")
        offers = _offers(node)
        prices: list[tuple[Decimal, str | None, bool, dict[str, Any]]] = []
        for offer in offers:
            amount, cur, rng = _offer_price(offer)
            if amount is not None:
                prices.append((amount, cur, rng, offer))
        if prices and "price" not in found.values:
            low = min(prices, key=lambda p: p[0])
            found.put("price", low[0], f"{base}.offers.price")
            found.price_is_range = low[2] or len({p[0] for p in prices}) > 1
            if low[1]:
                found.put("currency", currency_iso(low[1], url, lang), f"{base}.offers.priceCurrency")
            original, key = _offer_original(low[3])
            if original is not None and original > low[0]:
                found.put("original_price", original, f"{base}.offers.{key}")
        # Variants: the product is in stock when any offer is (size M sold out, size L not).
        states = [avail.from_schema(o.get("availability")) for o in offers] + variant_states
        for wanted in ("InStock", "PreOrder", "OutOfStock"):
            if wanted in states:
                found.put("availability", wanted, f"{base}.offers.availability")
                break
        if "availability" not in found.values:
            found.put("availability", avail.from_schema(node.get("availability")), f"{base}.availability")
    return found


# -- per-syntax normalisers ------------------------------------------------------------------------


def _microdata_to_ld(item: Any) -> Any:
    if isinstance(item, list):
        return [_microdata_to_ld(i) for i in item]
    if not isinstance(item, dict):
        return item
    if "properties" in item:
        out = {"@type": item.get("type")}
        for key, value in item["properties"].items():
            out[key] = _microdata_to_ld(value)
        return out
    return item


def _rdfa_to_ld(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expanded RDFa JSON-LD -> compact dicts with local property names, ids resolved one level."""
    by_id = {i.get("@id"): i for i in items if isinstance(i, dict)}

    def compact(node: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": node.get("@type", [])}
        for key, values in node.items():
            if key.startswith("@"):
                continue
            name = key.rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]
            vals = []
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, dict) and "@value" in v:
                    vals.append(v["@value"])
                elif isinstance(v, dict) and "@id" in v and v["@id"] in by_id and depth < 3:
                    vals.append(compact(by_id[v["@id"]], depth + 1))
                else:
                    vals.append(v)
            out[name] = vals[0] if len(vals) == 1 else vals
        return out

    return [compact(i) for i in items if isinstance(i, dict)]


_JSONLD_CASE = str.maketrans("JSONLD", "jsonld")


def jsonld_items(tree: Any, scripts: list[Any] | None = None) -> list[dict[str, Any]]:
    """JSON-LD items of the page; ``scripts``: its <script> elements, when already listed (the
    same as ``//script[contains(translate(@type,"JSONLD","jsonld"),"ld+json")]``, without
    another XPath over the whole tree)."""
    from extruct.jsonld import JsonLdExtractor

    out: list[dict[str, Any]] = []
    extractor = JsonLdExtractor()
    if scripts is None:
        scripts = tree.xpath("//script")
    for script in scripts:
        if "ld+json" not in (script.get("type") or "").translate(_JSONLD_CASE):
            continue
        try:
            items = list(extractor._extract_items(script))  # per block, so one bad block loses only itself
        except Exception:
            continue
        out.extend(walk(items))
    return out


#: Tags whose presence in a property's subtree makes extruct's cleaner change that subtree before
#: its text is read (killed, as comments and processing instructions are; <image> is renamed <img>).
_CLEANED_TAGS = frozenset(("script", "style", "link", "meta"))


@lru_cache(maxsize=1)
def _plain_tree_extractor() -> Any:
    """extruct's microdata extractor made to run on the page's own tree (plain lxml elements).

    extruct reads a property's text through ``lxml.html.clean.Cleaner`` on a copy of the element,
    which needs ``lxml.html`` elements (``drop_tree``): that was the only reason the page was
    parsed a second time. This subclass does what that cleaner does to such a subtree (written
    here as lxml.html's Cleaner cannot run on plain elements): script, style, link and meta
    elements and comments dropped with their tails kept (processing instructions are already out
    of this tree; the inline ``style`` attributes it also strips hold no text), then reads the
    text with ``html_text`` as extruct does. A subtree with an <image> (which the cleaner renames)
    is read by extruct itself on the same element of the ``lxml.html`` tree (``html_tree``: a
    callable parsing the page again, only then). A test compares both on every page."""
    import html_text
    from extruct.w3cmicrodata import LxmlMicrodataExtractor

    class PlainTreeMicrodataExtractor(LxmlMicrodataExtractor):
        def __init__(self, html_tree: Any) -> None:
            super().__init__()
            self._html_tree = html_tree

        def extract_items(self, document: Any, base_url: Any) -> list[Any]:
            # extruct's extract_items with one listing of the items instead of two (document is
            # the root element); a page using itemref is read by extruct on the lxml.html tree
            scopes = self._xp_item(document)
            if any(node.get("itemref") is not None for node in scopes):
                return list(LxmlMicrodataExtractor().extract_items(self._html_tree(), base_url))
            itemids = {node: idx + 1 for idx, node in enumerate(scopes)}
            items_seen: set[Any] = set()
            items = (self._extract_item(it, items_seen=items_seen, base_url=base_url, itemids=itemids) for it in scopes)
            return [item for item in items if item]

        def _extract_textContent(self, node: Any) -> Any:
            killed = []
            for el in node.iter():
                tag = el.tag
                if tag == "image":
                    break
                if not isinstance(tag, str) or tag in _CLEANED_TAGS:
                    killed.append(el)
            else:
                if not killed:
                    return html_text.etree_to_text(node)
                if killed[0] is node:
                    return ""  # the cleaner clears a killed root: no text left
                # what the cleaner does to a copy: each killed element (comment, script, style,
                # link, meta) dropped in document order, its tail kept (lxml.html's drop_tree)
                copy = deepcopy(node)
                for el in [el for el in copy.iter() if not isinstance(el.tag, str) or el.tag in _CLEANED_TAGS]:
                    parent = el.getparent()
                    if parent is None:
                        continue
                    if el.tail:
                        previous = el.getprevious()
                        if previous is None:
                            parent.text = (parent.text or "") + el.tail
                        else:
                            previous.tail = (previous.tail or "") + el.tail
                    parent.remove(el)
                return html_text.etree_to_text(copy)
            twin = self._html_tree().getroottree().xpath(node.getroottree().getpath(node))
            if len(twin) != 1 or twin[0].tag != node.tag:
                raise ValueError("the lxml.html tree does not have this element")
            return super()._extract_textContent(twin[0])

    return PlainTreeMicrodataExtractor


def microdata_items(tree: Any, url: str, html_tree: Any = None) -> list[dict[str, Any]]:
    """Microdata items of the page, normalised. ``tree``: the page's lxml tree; when it is not an
    ``lxml.html`` tree, ``html_tree`` is a callable returning the page parsed by ``lxml.html``
    (see :func:`_plain_tree_extractor`; extruct runs on that tree when an item uses ``itemref``,
    whose ``id()`` lookups the page's own tree, parsed without an id table, cannot answer)."""
    if not tree.xpath("//*[@itemscope][1]"):
        return []
    from extruct.w3cmicrodata import MicrodataExtractor

    try:
        if html_tree is None:
            items = MicrodataExtractor().extract_items(tree, url or None)
        else:
            try:
                items = _plain_tree_extractor()(html_tree).extract_items(tree, url or None)
            except Exception:
                # The subclass leans on extruct's internals (pyproject allows any extruct >= 0.17): where
                # it fails, extruct reads the lxml.html tree as it did before, rather than no microdata.
                log.debug("microdata on the page's own tree failed; extruct reads it again", exc_info=True)
                items = MicrodataExtractor().extract_items(html_tree(), url or None)
    except Exception:
        log.debug("microdata extraction failed", exc_info=True)
        return []
    return list(walk(_microdata_to_ld(items)))


def rdfa_items(tree: Any, url: str) -> list[dict[str, Any]]:
    # Only pages with typed RDFa (typeof=...) can carry a product; pyRdfa is slow on big pages.
    if not tree.xpath("//*[@typeof][1]"):
        return []
    try:
        from extruct.rdfa import RDFaExtractor

        items = RDFaExtractor().extract_items(tree, base_url=url or None)
    except Exception:
        log.debug("RDFa extraction failed", exc_info=True)
        return []
    return _rdfa_to_ld(items)


def opengraph_fields(tree: Any, url: str = "", lang: str = "", metas: list[Any] | None = None) -> Found:
    """OpenGraph / Facebook product meta (og:price:amount, product:price:amount, ...).

    ``metas``: the page's <meta> elements in document order, when already listed
    (:attr:`Page.tagged`), else they are read from ``tree``."""
    found = Found()
    meta: dict[str, str] = {}
    # (lxml's C iterator over the <meta>s: the same elements in the same order as the XPath
    # "//meta[@property and @content] | //meta[@name and @content]", at a fraction of the cost)
    for el in tree.iter("meta") if metas is None else metas:
        if el.get("content") is None or (el.get("property") is None and el.get("name") is None):
            continue
        key = (el.get("property") or el.get("name") or "").strip().lower()
        if key.startswith(("og:", "product:")) and key not in meta:
            meta[key] = el.get("content", "").strip()
    if not meta:
        return found
    is_product = meta.get("og:type", "").lower() in ("product", "og:product", "product.item", "product.group")
    # "og:price" (no ":amount") is a common shorthand, often with the currency in the text ("2,900원~").
    for key in ("product:sale_price:amount", "product:price:amount", "og:price:amount", "product:price", "og:price"):
        amount = to_decimal(meta.get(key)) if meta.get(key) else None
        if amount is not None:
            found.put("price", amount, key)
            cur_key = key.replace("amount", "currency") if "amount" in key else "product:price:currency"
            cur = meta.get(cur_key) or meta.get("og:price:currency") or meta.get("product:price:currency")
            if not cur:
                cur = parse_price(meta[key])[1]
                cur_key = key
            found.put("currency", currency_iso(cur, url, lang), cur_key)
            # "2,900원~" / "¥99起": the lowest price of a range
            found.price_is_range = bool(_RANGE_MARK.search(meta[key]))
            break
    for key in ("product:original_price:amount",):
        amount = to_decimal(meta.get(key)) if meta.get(key) else None
        found.put("original_price", amount, key)
    for key in ("product:availability", "og:availability"):
        if meta.get(key):
            found.put("availability", avail.from_schema(meta[key]), key)
    found.put("brand", meta.get("product:brand") or None, "product:brand")
    found.put("sku", meta.get("product:retailer_item_id") or None, "product:retailer_item_id")
    if is_product or found.values:
        found.put("title", meta.get("og:title") or None, "og:title")
    return found


def text_price(value: str) -> Decimal | None:
    return parse_price(value)[0]
