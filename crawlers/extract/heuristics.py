"""Scored visible-text heuristics (the last layer), written here because no library scores price
candidates on arbitrary shops.

Price candidates are small elements whose text parses as a price. Each gets a score from:
attribute hints (itemprop=price, class/id words such as price/jg/p-price/tm-price/sale/current),
a currency token next to the number, inline font size, and closeness in document order to the
product title (<h1>) and to the buy button. Elements inside recommendation / related / cart /
猜你喜欢 / 看了又看 / 为你推荐 blocks, navigation, headers and footers are excluded. Candidates that
are crossed out (<del>, <s>, line-through, 划线/原价/was/old/list hints) become ``original_price``
candidates instead. Instalment, shipping, savings and per-unit amounts are penalised.

Only the first ``MAX_ELEMENTS`` elements of the body are scored, which bounds the cost on huge pages.
"""

from __future__ import annotations

import math
import re
from collections import deque
from decimal import Decimal
from functools import lru_cache
from itertools import count as counter_from
from itertools import islice
from typing import Any

from lxml import etree

from . import availability as avail
from .model import ProductExtraction
from .page import Page, text_content
from .prices import currency_iso, parse_price
from .structured import Found

MAX_ELEMENTS = 60_000
# Tag names are compared as they are: libxml2's HTML parser (``page.parse_tree``) lower-cases them.
_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "head",
        "title",
        "meta",
        "link",
        "option",
        "select",
        "textarea",
        "iframe",
        "path",
        "canvas",
        "video",
        "audio",
        "picture",
        "source",
        "map",
        "object",
    }
)
_EXCLUDE_TAGS = frozenset({"footer", "nav", "header", "aside"})
_HEAD_TAGS = frozenset({"h2", "h3", "h4"})
# Elements up to this many visible characters keep their text (labels, prices, buttons, promo tags).
_SMALL_TEXT = 200

_EXCLUDE_ATTR = re.compile(
    r"recommend|related|similar|also[-_]?(bought|viewed|like)|you[-_]?may|upsell|cross[-_]?sell|carousel|"
    r"sponsor|advert|\bads?\b|mini[-_]?cart|minicart|shopping[-_]?cart|cart[-_]?(drawer|flyout|popup)|"
    r"basket[-_]?(flyout|popup)|footer|\bnav\b|navbar|navigation|megamenu|menu|breadcrumb|header|"
    r"bundle|accessor|review|rating|comment|recently|guess|hot[-_]?sale|rank|compare|"
    r"\bcsl\b|sims|promo[-_]?banner|banner",
    re.I,
)
_EXCLUDE_TEXT = re.compile(
    r"猜你喜欢|看了又看|为你推荐|为您推荐|相关推荐|推荐商品|买了又买|热销|人气|店铺推荐|同类|排行|"
    r"you may also like|customers (who|also)|related (products|items)|similar (products|items)|"
    r"frequently bought|recently viewed|recommended|sponsored|more from|you might also|complete the look|"
    r"people also|compare with similar|inspired by",
    re.I,
)
_PRICE_ATTR = re.compile(
    r"price|preis|prix|prezzo|precio|preço|cena|hinta|pris|\bjg\b|p-price|tm-price|amount|cost|"
    r"\bsale|current|final|offer|now|value|money|valor",
    re.I,
)
_STRONG_ATTR = re.compile(
    r"(sale|current|final|special|actual|our|main|product|now|offer|big|large|deal|buying)"
    r"[-_]?price|price[-_]?(now|current|sale|final|value|actual|main|big|amount)|"
    r"p-price|tm-price|\bjg\b|price--?(large|big|main|current)",
    re.I,
)
_OLD_ATTR = re.compile(
    r"\bold|was|original|strike|regular|before|\bdel\b|crossed|compare|list[-_]?price|"
    r"market|retail|rrp|uvp|msrp|prev|line[-_]?through|through|initial|reference|"
    r"\bop\b|\bm-price|\bmkt",
    re.I,
)
_OLD_TEXT = re.compile(
    r"划线|原价|市场价|参考价|专柜价|吊牌价|was\b|\brrp\b|\buvp\b|list price|"
    r"statt|au lieu de|\bprev|before|regular price|retail|msrp|prezzo consigliato|"
    r"precio anterior|tidligere|originally|typical price",
    re.I,
)
# In a candidate's own text: instalments, per-unit prices, percentages, discount rates.
_BAD_OWN = re.compile(
    r"/\s*(mo|month|mes|monat|mois|week)|per month|x\s*\d+\s*(cuotas|meses|rate)|\d+\s*x\s|cuotas|"
    r"-\s*\d+\s*%|\d+\s*%|\d\s*折|/\s*(kg|l|m|100\s*g|100\s*ml|stk|piece|unit|m²|m2)\b|per\s+(kg|unit|item)",
    re.I,
)
# In the label around a candidate: shipping, savings, instalments, tax notes, coupons, points.
_BAD_LABEL = re.compile(
    r"/\s*(mo|month|mes|monat|mois|week)|per month|cuotas|每期|分期|"
    r"installment|rate da|raten|shipping|delivery|versand|lieferung|livraison|spedizione|envío|运费|邮费|運\s*費|"
    r"宅配|取貨|免基础运费|包邮|"
    r"save\b|you save|sparen|économisez|risparmi|ahorra|节省|省\d|現省|现省|off\b|"
    r"/\s*(kg|l|m|100\s*g|100\s*ml|stk|piece|unit|m²|m2)\b|per\s+(kg|unit|item)|"
    r"\bvat\b|tax|mwst|tva|iva|积分|積分|coupon|优惠券|满\d+|gift card|reward|points",
    re.I,
)
# Amounts of a promotion (立减10元, 满299减30, 补贴800元, 省50, 返20, 券50, 定金): never a price.
_PROMO_AMOUNT = re.compile(
    r"立减|直减|满\s*\d+(?:\.\d+)?\s*[元件]?\s*[减享]|每满|减\s*[¥￥]?\s*\d|补贴|[省返]\s*[¥￥$]?\s*\d|"
    r"[省返]\s*$|券\s*[¥￥]?\s*\d|\d\s*元?\s*券|定金|订金|红包",
)
# A price label that announces the lowest price of a range.
_FROM_PRICE = re.compile(r"最低|起$|^\S*\s*起|\bfrom\b|\bab\b|starting at|as low as|à partir de|desde", re.I)
_RATE_AFTER = re.compile(r"\s*(折|%|％|pct\b|percent)", re.I)
_POINTS = re.compile(r"[點点]数?$|^\D*[點点]|积分|積分|\bpoints?\b|\bpts\b", re.I)
# A conditional price wins only when it beats every unconditional candidate by this much
# (that is, when no other main price is shown).
_MAIN_PRICE_MARGIN = 2.0
_CONDITIONAL = re.compile(r"券后|到手价?|用券|coupon price|after coupon|会员价|plus价", re.I)
# Other sellers' / used offers shown next to the main offer.
_OTHER_OFFER = re.compile(
    r"occasion|\bused\b|gebraucht|usato|usado|refurbished|reconditionn|other sellers|autres vendeurs|"
    r"weitere angebote|altre offerte|new\s*&\s*used|neufs|nuevos|二手|其他卖家|"
    # "New (4) from 8,32 €", "Neu (4) ab", "Nuevos (3) desde": a count of other offers, then "from"
    r"\(\d+\)\s*(ab|from|desde|à partir de|a partir de|da)\b",
    re.I,
)
_CURRENCY_TOKEN = re.compile(
    r"[€£$¥￥₩₹₪₽₺฿₫₱]|元|\b(eur|usd|gbp|cny|rmb|chf|pln|zł|kč|kn|lei|ron|rs\.?|ft|kr|sek|nok|dkk|brl|r\$|"
    r"ars|clp|mxn|cad|aud|nt\$|руб|грн|byn|sar|aed|ils|try|tl)\b|ر\.س|원|円",
    re.I,
)
_NUMBER = re.compile(r"\d")
_FONT = re.compile(r"font(?:-size)?\s*:[^;]*?(\d+(?:\.\d+)?)\s*(px|pt|em|rem)", re.I)
_LETTER = re.compile(r"[^\W\d_]", re.U)
_HIDDEN = re.compile(r"(?<![-\w])(display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
_CSS_CLASS = re.compile(r"\.[\w-]+")
_CSS_TAG = re.compile(r"[a-z]+")
_PLAIN_AMOUNT = re.compile(r"\s*\d+(?:[.,]\d+)?\s*")
_NON_DIGIT = re.compile(r"\D")
_NUMBER_CHARS = re.compile(r"[\d\s.,'’\-]")
_LEAD_SPLIT = re.compile(r"[\d¥￥$]")
_LABEL_END = re.compile(r"[\s¥￥:：]+$")
_HIDDEN_CLASS = re.compile(r"\b(hidden|d-none|hide|is-hidden|visually-hidden|sr-only|invisible)\b", re.I)


def _attrs(el: Any) -> str:
    return " ".join(
        filter(
            None,
            (
                el.get("class"),
                el.get("id"),
                el.get("itemprop"),
                el.get("data-testid"),
                el.get("data-test"),
                el.get("data-qa"),
                el.get("aria-label"),
            ),
        )
    )


@lru_cache(maxsize=32768)
def _attr_kind(attrs: str) -> int:
    """1: an excluded block (recommendations, nav ...); 2: maybe a block heading; 0: neither.
    Cached: pages repeat the same class strings thousands of times."""
    if not attrs:
        return 0
    if _EXCLUDE_ATTR.search(attrs):
        return 1
    low = attrs.lower()
    return 2 if "title" in low or "hd" in low else 0


@lru_cache(maxsize=32768)
def _hidden_attrs(style: str, cls: str) -> bool:
    return bool((style and _HIDDEN.search(style)) or (cls and _HIDDEN_CLASS.search(cls)))


_ATTR_KEYS = ("class", "id", "itemprop", "data-testid", "data-test", "data-qa", "aria-label")
_INFO_KEYS = frozenset((*_ATTR_KEYS, "hidden", "aria-hidden", "style"))


@lru_cache(maxsize=65536)
def _attr_info(items: tuple[tuple[str, str], ...]) -> tuple[int, bool]:
    """(``_attr_kind`` of the element's attributes, hidden by its attributes) from the attributes
    that decide either, as ``el.items()`` lists them: one call into lxml per element instead of
    ten ``get``s, and cached, as pages repeat the same class and style strings."""
    d = dict(items)
    attrs = " ".join(filter(None, (d.get(k) for k in _ATTR_KEYS)))
    hidden = (
        d.get("hidden") is not None
        or d.get("aria-hidden") == "true"
        or _hidden_attrs(d.get("style") or "", d.get("class") or "")
    )
    return _attr_kind(attrs), hidden


def _is_hidden(el: Any) -> bool:
    get = el.get
    return (
        get("hidden") is not None
        or get("aria-hidden") == "true"
        or _hidden_attrs(get("style") or "", get("class") or "")
    )


_SKIP_TAG_NAMES = tuple(sorted(_SKIP_TAGS))


def _count_iter(items: Any) -> int:
    # counted without a Python step per item (zip with a counter, drained by a zero-length deque)
    counter = counter_from()
    deque(zip(items, counter, strict=False), maxlen=0)
    return next(counter)


def _count_elements(root: Any) -> int:
    # lxml's C iterator, filtered to elements, counted in C; an XPath count() cost far more per call
    return _count_iter(root.iter(etree.Element))


def _subtree_stats(root: Any) -> tuple[int, int]:
    """(elements the walk would visit, visible text length) of a subtree it does not enter.

    The count is exact (script/style/svg ... subtrees left out), from lxml's element iterator; the length
    (texts and tails stripped, skipped subtrees and comments left out) is exact up to
    ``_SMALL_TEXT`` and only known to be larger beyond: every reader compares it with a bound
    no larger than that, so the text of a big block is not read to its end."""
    if not len(root):
        return 1, len((root.text or "").strip())
    # One pass of lxml's element iterator, the root first: a skip-tag element is measured and its
    # descendants, which follow it at once, are passed over by their number. (Counting every
    # element, then finding the skip-tag ones with a second iterator filtered on 21 tag names,
    # cost more: that filter's setup and tests ran per block, and most blocks hold few or none.)
    elements = root.iter(etree.Element)
    next(elements)
    count = 1
    skipped_len = 0
    skip_tags = _SKIP_TAGS
    for el in elements:
        if el.tag not in skip_tags:
            count += 1
        elif len(el):
            inner = _count_elements(el)
            if inner > 1:
                deque(islice(elements, inner - 1), maxlen=0)
            skipped_len += sum(map(len, map(str.strip, el.itertext())))
        else:  # a leaf (<script>, <style>, <path> ...): its text is all of it
            skipped_len += len((el.text or "").strip())
    bound = _SMALL_TEXT + skipped_len
    length = 0
    # the stripped lengths summed in C, 32 pieces at a time; the running sum only grows, so it
    # passes the bound within a batch exactly when it would have after one of its pieces
    lengths = map(len, map(str.strip, root.itertext()))
    while True:
        batch = list(islice(lengths, 32))
        length += sum(batch)
        if length > bound:
            return count, _SMALL_TEXT + 1
        if len(batch) < 32:
            return count, length - skipped_len


def _subtree_raw(el: Any) -> tuple[int, str]:
    """(visible text length, raw text) of a subtree, as the walk computes them bottom-up."""
    own = el.text or ""
    total = len(own.strip())
    parts = [own]
    for child in el:
        tail = child.tail or ""
        if isinstance(child.tag, str) and child.tag not in _SKIP_TAGS:
            clen, ctext = _subtree_raw(child)
            total += clen
            if clen:
                parts.append(ctext)
        total += len(tail.strip())
        parts.append(tail)
    return total, "".join(parts)


class _Doc:
    """Document-order index of the visible, non-excluded part of the body, built once per page.

    One walk prunes whole subtrees that cannot hold the product's visible text (script, style,
    svg, templates ...) and whole excluded blocks (recommendations, nav, footers ...: most of a
    big page's elements, and no pass ever reads inside them), marks hidden subtrees, and computes
    bottom-up the visible text length of every walked element and the text itself of small
    elements, so later passes never call ``text_content()`` on big containers. An excluded block
    still takes its place in the document order (positions count its elements) and its text
    still counts in its container's length, both read by lxml's C iterators.
    """

    def __init__(self, page: Page) -> None:
        body = page.tree.find("body")
        root = body if body is not None else page.tree
        # The containers of the product title are the product block: never excluded, whatever
        # their class names say (shops name page wrappers "...history", "...menu-open" ...).
        self.title_el = _main_title(page)
        self.immune: set[Any] = set(self.title_el.iterancestors()) if self.title_el is not None else set()
        self.order: dict[Any, int] = {}
        #: excluded elements: the roots of the excluded blocks (not walked inside) and what a
        #: heading excluded after it was walked; see :meth:`is_excluded` for any element
        self.excluded: set[Any] = set()
        self.hidden: set[Any] = set()
        #: walked elements (not inside an excluded block), in document order
        self.elements: list[Any] = []
        self.text_len: dict[Any, int] = {}
        self._raw: dict[Any, str] = {}
        self._text: dict[Any, str] = {}
        self._pruned: set[Any] = set()
        self._hidden_roots: list[Any] = []
        self._all: list[Any] | None = None
        self._buys: list[Any] | None = None
        self._small: list[Any] | None = None
        self._walk(root)

    def _walk(self, root: Any) -> None:
        self._walk_frames([(iter((root,)), None, False)], 0, True, self.elements)
        self._bottom_up()

    def _walk_frames(
        self, frames: list[tuple[Any, Any, bool]], n: int, prune_hidden: bool, elements: list[Any]
    ) -> None:
        # A depth-first walk with a stack of child iterators (lxml iterates children in C), so a
        # skipped, excluded or hidden subtree is never entered; hiddenness is inherited down the
        # stack, exclusion is read from the parent (a heading can exclude its parent mid-walk).
        # A hidden subtree holding the title is walked (the title keeps its position).
        immune = self.immune
        excluded = self.excluded
        hidden = self.hidden
        order = self.order
        text_len = self.text_len
        pruned = self._pruned
        while frames:
            it, parent, hid_parent = frames[-1]
            for el in it:
                tag = el.tag
                if not isinstance(tag, str):
                    continue
                # (libxml2's HTML parser gives lower-case tag names)
                if tag in _SKIP_TAGS:
                    continue
                if n >= MAX_ELEMENTS:
                    frames.clear()
                    break
                excl = parent is not None and parent in excluded
                hid = hid_parent
                items = el.items()
                if items:
                    kind, hid_attr = _attr_info(tuple([kv for kv in items if kv[0] in _INFO_KEYS]))
                    if not excl and el not in immune:
                        if tag in _EXCLUDE_TAGS or kind == 1:
                            excl = True
                        elif tag in _HEAD_TAGS or kind == 2:
                            excl = self._exclude_by_heading(el)
                    if not hid:
                        hid = hid_attr
                elif not excl and el not in immune:
                    if tag in _EXCLUDE_TAGS:
                        excl = True
                    elif tag in _HEAD_TAGS:
                        excl = self._exclude_by_heading(el)
                order[el] = n
                if excl or (hid and prune_hidden and el not in immune):
                    if excl:
                        excluded.add(el)
                    else:
                        hidden.add(el)
                        self._hidden_roots.append(el)
                    pruned.add(el)
                    count, length = _subtree_stats(el)
                    n += count
                    text_len[el] = length
                    continue
                n += 1
                elements.append(el)
                if hid:
                    hidden.add(el)
                if len(el):  # (a leaf has nothing to walk: its siblings follow at once)
                    frames.append((iter(el), el, hid))
                    break
            else:
                frames.pop()

    def _bottom_up(self) -> None:
        text_len = self.text_len
        elements = self.elements
        # Visible text length of every walked element (and the raw text of small ones),
        # bottom-up in one pass: text_content() per element would be quadratic on deep pages.
        raw = self._raw
        get_len = text_len.get
        get_raw = raw.get
        for el in reversed(elements):
            own = el.text or ""
            total = len(own.strip())
            if not len(el):  # a leaf (most elements): its own text is all of it
                text_len[el] = total
                if total <= _SMALL_TEXT:
                    raw[el] = own
                continue
            # one pass over the children (each tail read once: lxml makes a new str per read),
            # collecting the pieces of the raw text on the way; a child's raw text not known yet
            # (an excluded block, computed on demand) is only asked for when the element is small
            parts: list[Any] = [own]
            pending = False
            for child in el:
                clen = get_len(child, 0)
                tail = child.tail or ""
                total += clen + len(tail.strip())
                if clen:
                    got = get_raw(child)
                    if got is None:
                        pending = True
                        got = child
                    parts.append(got)
                parts.append(tail)
            text_len[el] = total
            if total <= _SMALL_TEXT:
                # every child with text is then small too, so its raw text is known
                if pending:
                    parts = [p if p.__class__ is str else self._raw_text(p) for p in parts]
                raw[el] = "".join(parts)

    def _raw_text(self, el: Any) -> str:
        """Raw text of a small walked element or excluded block (blocks computed on demand)."""
        got = self._raw.get(el)
        if got is None and el in self._pruned and self.text_len.get(el, 0) <= _SMALL_TEXT:
            got = self._raw[el] = _subtree_raw(el)[1]
        return got if got is not None else ""

    def all_elements(self) -> list[Any]:
        """Every element with a position that is not in an excluded block, hidden ones included
        (hidden subtrees are walked now, once; only the rare fallbacks without a title ask)."""
        if self._all is None:
            extra: list[Any] = list(self._hidden_roots)
            for root in self._hidden_roots:
                self._walk_frames([(iter(root), root, True)], self.order[root] + 1, False, extra)
            self._all = sorted(self.elements + extra, key=self.order.__getitem__)
        return self._all

    def is_excluded(self, el: Any) -> bool:
        """Whether any element is in an excluded block (hidden subtrees walked first)."""
        self.all_elements()
        excluded = self.excluded
        return el in excluded or any(a in excluded for a in el.iterancestors())

    @property
    def small(self) -> list[Any]:
        """Usable (not excluded, not hidden) walked elements with at most 60 visible characters:
        the only ones the price, stock, buy-button and promo passes look at."""
        if self._small is None:
            text_len = self.text_len
            excluded = self.excluded
            hidden = self.hidden
            self._small = [
                el for el in self.elements if text_len.get(el, 0) <= 60 and el not in excluded and el not in hidden
            ]
        return self._small

    def _exclude_by_heading(self, el: Any) -> bool:
        head = _limited_text(el, 80)
        if head and _EXCLUDE_TEXT.search(head):
            parent = el.getparent()
            if parent is not None and parent not in self.immune:
                # mark the parent and its already-visited descendants (siblings before el)
                for d in parent.iter():
                    self.excluded.add(d)
            return True
        return False

    def text(self, el: Any) -> str:
        """Visible text of an element, whitespace collapsed (script/style contents left out)."""
        got = self._text.get(el)
        if got is None:
            raw = self._raw.get(el)
            if raw is None and el in self._pruned and self.text_len.get(el, 0) <= _SMALL_TEXT:
                raw = self._raw_text(el)
            got = " ".join(raw.split()) if raw is not None else _own_text(el)
            self._text[el] = got
        return got

    def usable(self, el: Any) -> bool:
        return el not in self.excluded and el not in self.hidden

    def buy_elements(self) -> list[Any]:
        if self._buys is None:
            self._buys = _buy_elements(self)
        return self._buys


def get_doc(page: Page) -> _Doc:
    """The page's :class:`_Doc`, built on first use and shared by price, stock and promo passes."""
    doc = page.__dict__.get("_doc")
    if doc is None:
        doc = page.__dict__["_doc"] = _Doc(page)
    return doc


def _limited_text(el: Any, limit: int) -> str:
    """The first ``limit`` characters of an element's text, without walking all of a big subtree."""
    out: list[str] = []
    size = 0
    for piece in el.itertext():
        out.append(piece)
        size += len(piece)
        if size >= limit * 3:
            break
    return " ".join("".join(out).split())[:limit]


def _own_text(el: Any) -> str:
    """Visible text of an element (script/style contents left out)."""
    if el.find(".//script") is not None or el.find(".//style") is not None:
        parts = el.xpath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")
        return " ".join(" ".join(parts).split())
    return " ".join(text_content(el).split())


def _px(value: str, unit: str) -> float:
    size = float(value)
    return size * 16 if unit.lower() in ("em", "rem") else size


def _font_rules(css: str) -> Any:
    """(selector, body) of the rules whose body holds "font", in order: the same pairs as
    ``chunk.rpartition("{")`` over every chunk of ``css.split("}")`` filtered on the body, found
    from each "font" outwards instead of splitting every rule of a big style sheet."""
    find, rfind = css.find, css.rfind
    pos = 0
    while True:
        at = find("font", pos)
        if at < 0:
            return
        start = rfind("}", 0, at) + 1
        end = find("}", at)
        if end < 0:
            end = len(css)
        brace = rfind("{", start, end)
        body = css[brace + 1 : end] if brace >= 0 else css[start:end]
        if "font" in body:
            yield (css[start:brace] if brace >= 0 else ""), body
        pos = end + 1


def css_font_sizes(page: Page) -> dict[str, float]:
    """Class name -> font size from the page's <style> rules whose last selector part is ``.cls`` or
    ``.cls tag`` (a cheap approximation of the cascade, enough to tell a big price from a small one)."""
    cached = page.__dict__.get("_css_sizes")
    if cached is not None:
        return cached
    sizes: dict[str, float] = {}
    for style in page.tagged["style"][:50]:  # (the first 50 of "//style", without an XPath)
        css = style.text or ""
        if len(css) > 500_000:
            continue
        for selector, body in _font_rules(css):
            m = _FONT.search(body)
            if not m:
                continue
            size = _px(m.group(1), m.group(2))
            for sel in selector.split(","):
                parts = sel.strip().split()
                if not parts:
                    continue
                last = parts[-1]
                key = None
                if last.startswith(".") and _CSS_CLASS.fullmatch(last):
                    key = last[1:]
                elif len(parts) >= 2 and _CSS_TAG.fullmatch(last) and _CSS_CLASS.fullmatch(parts[-2]):
                    key = f"{parts[-2][1:]} {last}"
                if key:
                    sizes[key] = size
    page.__dict__["_css_sizes"] = sizes
    return sizes


def _font_size(el: Any, sizes: dict[str, float]) -> float:
    """Font size of the element, or of its biggest direct child (the number is often in a child)."""
    own = _font_size_of(el, sizes)
    for child in list(el)[:6]:
        if isinstance(child.tag, str):
            own = max(own, _font_size_of(child, sizes))
    return own


@lru_cache(maxsize=16384)
def _style_px(style: str) -> float | None:
    """The font size an inline style sets, in px (cached: pages repeat their inline styles)."""
    m = _FONT.search(style)
    return _px(m.group(1), m.group(2)) if m else None


def _font_size_of(el: Any, sizes: dict[str, float]) -> float:
    for node in (el, el.getparent()):
        if node is None:
            continue
        style = node.get("style")
        if style:
            px = _style_px(style)
            if px is not None:
                return px
    if sizes:
        for cls in (el.get("class") or "").split():
            if cls in sizes:
                return sizes[cls]
        parent = el.getparent()
        if parent is not None:
            for cls in (parent.get("class") or "").split():
                key = f"{cls} {el.tag}"
                if key in sizes:
                    return sizes[key]
    return 0.0


def _main_title(page: Page) -> Any:
    """The <h1> that best matches the page's <title>/og:title (the first <h1> if none does)."""
    from .state import _title_match, page_titles

    h1s = [h for h in page.tagged["h1"][:20] if _own_text(h)]
    if not h1s:
        return None
    refs = [t for t in page_titles(page, with_h1=False)]
    best = max(h1s, key=lambda h: (_title_match(_own_text(h), refs) if refs else 0.0, -h1s.index(h)))
    return best


def _title_anchor(page: Page, doc: _Doc) -> int | None:
    if doc.title_el is not None and doc.title_el in doc.order:
        return doc.order[doc.title_el]
    cached = doc.__dict__.get("_anchor", False)
    if cached is not False:
        return cached
    anchor = None
    # The walked elements in document order, not an XPath over the whole tree: only walked
    # elements have a position, and attribute predicates over every node were slow in libxml2.
    for el in doc.all_elements():
        if not el.attrib:
            continue
        cls = el.get("class") or ""
        named = el.get("itemprop") == "name" or "title" in cls or "name" in cls
        if named and el not in doc.excluded and len(_own_text(el)) > 8:
            anchor = doc.order[el]
            break
    doc.__dict__["_anchor"] = anchor
    return anchor


_BUY_TAGS = frozenset({"button", "a", "input", "span", "div", "em", "b", "strong"})
_BUY_ATTR = re.compile(r"add[-_]?to[-_]?(cart|basket|bag)|buy[-_]?now|btn[-_]?buy|InitCartUrl|append", re.I)


def _buy_elements(doc: _Doc) -> list[Any]:
    out = []
    text_len = doc.text_len
    for el in doc.small:
        tag = el.tag
        if tag not in _BUY_TAGS or el in doc.excluded or el in doc.hidden:
            continue
        if tag == "input":
            text = el.get("value") or ""
            if not text:
                continue
        else:
            if not 2 <= text_len.get(el, 0) <= 40:
                continue
            text = doc.text(el)
            if not 2 <= len(text) <= 40:
                continue
        if avail.is_out_text(text):
            continue
        if avail.is_buy_text(text) or (el.attrib and _BUY_ATTR.search(_attrs(el))):
            out.append(el)
    return out


def _in_struck(el: Any, stop: int = 4) -> bool:
    node = el
    for _ in range(stop):
        if node is None or not isinstance(node.tag, str):
            return False
        if node.tag in ("del", "s", "strike"):
            return True
        if "line-through" in (node.get("style") or ""):
            return True
        node = node.getparent()
    return False


def _fragments(el: Any) -> list[tuple[str, bool]]:
    """(text, inside <del>/<s>/line-through) pieces of an element in document order."""
    out: list[tuple[str, bool]] = []
    _visit_fragments(el, False, out)
    return out


_STRUCK_TAGS = ("del", "s", "strike")


def _visit_fragments(node: Any, struck: bool, out: list[tuple[str, bool]]) -> None:
    # a module function rather than a closure made per call, each text and tail read once (lxml
    # makes a new str per read)
    if len(out) > 40:
        return
    tag = node.tag
    if tag.__class__ is not str:
        tag = ""  # a comment: its text is a fragment too, its tail the parent's
    elif tag in _SKIP_TAGS:
        return
    if not struck:
        struck = tag in _STRUCK_TAGS or "line-through" in (node.get("style") or "")
    text = node.text
    if text:
        out.append((text, struck))
    for child in node:
        _visit_fragments(child, struck, out)
        tail = child.tail
        if tail:
            out.append((tail, struck))


_NO_CANDIDATE_TAGS = frozenset(
    {"body", "html", "form", "table", "ul", "ol", "section", "main", "article", "tbody", "tr"}
)


def _candidate_text(el: Any) -> tuple[str, bool] | None:
    """The price text of an element and whether its number is crossed out.

    Fragments are joined without separators (``¥``,``1``,``99``,``.00`` -> ``¥199.00``) until a
    fragment with letters follows the number (``$400`` + ``5 bids`` stops before the bids).
    """
    tag = el.tag
    if el.attrib:
        content = el.get("content") if el.get("itemprop") in ("price", "lowPrice") else None
        if content and _NUMBER.search(content):
            return content, False
        for attr in ("data-price", "data-price-amount", "data-value"):
            v = el.get(attr)
            if v and _PLAIN_AMOUNT.fullmatch(v):
                return v, False
    if tag in _NO_CANDIDATE_TAGS:
        return None
    parts: list[str] = []
    struck = False
    seen_digit = False
    total = 0
    for text, in_del in _fragments(el):
        total += len(text.strip())
        if total > 60:
            return None
        if seen_digit and (
            _LETTER.search(_CURRENCY_TOKEN.sub("", text))
            or _CURRENCY_TOKEN.search(text)
            or "[" in text
            or "(" in text
            or "/" in text
        ):
            if _RATE_AFTER.match(text):
                return None  # "72 折", "20 %": the number is a discount rate
            break  # letters or a second price after the number: the price text ended
        parts.append(text)
        if _NUMBER.search(text):
            if not seen_digit:
                struck = in_del
            seen_digit = True
    text = " ".join("".join(parts).split())
    if not seen_digit or len(text) > 40:
        return None
    return text, struck


def _text_before(el: Any, doc: _Doc, limit: int = 24) -> str:
    """The visible text right before ``el`` inside its parent (and grandparent when that is empty):
    the label of a price ("到手价", "Preis:", "Neu (4) ab", "运费", "You save")."""
    out = ""
    node = el
    for _ in range(2):
        parent = node.getparent()
        if parent is None:
            break
        pieces: list[str] = []
        size = 0
        sib = node.getprevious()
        while sib is not None and size < limit:
            tail = sib.tail or ""
            pieces.append(tail)
            size += len(tail.strip())
            if isinstance(sib.tag, str) and sib.tag not in _SKIP_TAGS:
                if doc.text_len.get(sib, 0) <= _SMALL_TEXT:
                    t = doc.text(sib)
                    pieces.append(t)
                    size += len(t)
                else:
                    size = limit  # a big block before: the label cannot be further away
            sib = sib.getprevious()
        if size < limit:
            pieces.append(parent.text or "")
        out = " ".join("".join(reversed(pieces)).split()) + (" " + out if out else "")
        if len(out.strip()) >= 2 or size >= limit:
            break
        node = parent
    return out.strip()[-limit:]


def _text_after(el: Any, doc: _Doc, limit: int = 10) -> str:
    tail = " ".join((el.tail or "").split())
    if not tail:
        nxt = el.getnext()
        if nxt is not None and isinstance(nxt.tag, str) and doc.text_len.get(nxt, 0) <= _SMALL_TEXT:
            tail = doc.text(nxt)
    return tail[:limit]


# The price hierarchy (issue 11): a label saying "the price now" (促销价, 活动价, 秒杀价, 拼团价 ...) beats
# a plain or list-price label (价格, 原价, 单独购买, 日常价, 定价 ...), which then becomes ``original_price``.
_SALE_LABEL = re.compile(
    r"促销价|活动价|秒杀价|拼团价|团购价|特卖价|预售价|折后价|限时价|闪购价|特价|"
    r"sale price|now\s*[:：]?$|deal price",
    re.I,
)
_LIST_LABEL = re.compile(
    r"(?<![促活秒团卖售后限购折特])价\s*格|原价|单独购买|日常价|定价|淘宝价|吊牌价|"
    r"list price",
    re.I,
)


class _Candidate:
    __slots__ = ("score", "amount", "currency", "via", "sig", "conditional", "kind")

    def __init__(
        self,
        score: float,
        amount: Decimal,
        currency: str | None,
        via: str,
        sig: tuple[str, ...],
        conditional: bool,
        kind: str,
    ) -> None:
        self.score, self.amount, self.currency, self.via = score, amount, currency, via
        self.sig, self.conditional, self.kind = sig, conditional, kind


@lru_cache(maxsize=32768)
def _attr_flags(attrs: str) -> tuple[bool, bool, bool]:
    """(price hint, strong price hint, crossed-out hint) of a candidate's attribute words: cached,
    as a page's price candidates repeat the same class strings."""
    return bool(_PRICE_ATTR.search(attrs)), bool(_STRONG_ATTR.search(attrs)), bool(_OLD_ATTR.search(attrs))


def _candidate_price_text(el: Any, doc: _Doc) -> tuple[str, bool] | None:
    """The price text of a small usable element that can be a price candidate (a digit in its
    text or a price attribute), and whether its number is crossed out: the scorer's first test,
    also the unit check's (``pipeline._candidate_in_unit``)."""
    if doc.text_len.get(el, 0) > 60:
        return None
    if not _NUMBER.search(doc._raw.get(el, "")) and not (
        el.attrib
        and (el.get("itemprop") in ("price", "lowPrice") or el.get("data-price") or el.get("data-price-amount"))
    ):
        return None
    if el in doc.excluded or el in doc.hidden:
        return None
    return _candidate_text(el)


def _price_signals(
    el: Any, parent: Any, text: str, after: str, before: str, sizes: dict[str, float]
) -> tuple[bool, bool, bool, bool, bool, float] | None:
    """(price hint, strong price hint, crossed-out hint, currency next to the number, itemprop
    price, font size) of a price text, or None when it is no price candidate at all (neither a
    currency next to it, a price class, itemprop nor a big font): the scorer's entry test, also
    the unit check's (``pipeline._candidate_in_unit``), so both take the same elements."""
    attrs = " ".join(_attrs(a) for a in (el, parent) if a is not None)
    hinted, strong, old_attr = _attr_flags(attrs)
    has_cur = bool(_CURRENCY_TOKEN.search(text))
    if not has_cur:
        # a currency word right next to the number (<span>2320</span><span>元</span>)
        has_cur = bool(_CURRENCY_TOKEN.match(after[:6])) or bool(before and _CURRENCY_TOKEN.search(before[-2:]))
    itemprop = el.get("itemprop") in ("price", "lowPrice")
    size = _font_size(el, sizes)
    if not (has_cur or hinted or itemprop or size >= 20):
        return None
    return hinted, strong, old_attr, has_cur, itemprop, size


def _score_prices(
    page: Page, doc: _Doc
) -> tuple[
    list[tuple[float, Decimal, str | None, str]],
    list[tuple[float, Decimal, str]],
    list[tuple[float, Decimal, str | None, str]],
]:
    """(prices, crossed-out prices, conditional prices), each scored; higher is better."""
    cached = page.__dict__.get("_scored_prices")
    if cached is not None:
        return cached
    title_pos = _title_anchor(page, doc)
    buy_pos = [doc.order[b] for b in doc.buy_elements()]
    sizes = css_font_sizes(page)
    sigs: dict[tuple[str, ...], int] = {}
    cands: list[_Candidate] = []
    # element -> digits of its price text; children holding part of those digits are skipped
    seen_parents: dict[Any, str] = {}
    old_parents: set[Any] = set()  # candidates read as a struck price: a child may hold the real one
    text_len = doc.text_len
    from_vias: set[str] = page.__dict__.setdefault("_from_vias", set())
    for el in doc.small:
        cand = _candidate_price_text(el, doc)
        if cand is None:
            continue
        text, struck = cand
        tl = text_len.get(el, 0)
        # Prefer the outermost small element that holds the whole price: skip if the parent is
        # itself a candidate with the same digits (split spans ¥ 1 99 .00 are joined by the parent).
        parent = el.getparent()
        digits = _NON_DIGIT.sub("", text)
        if (
            parent is not None
            and parent in seen_parents
            and (
                digits in seen_parents[parent]
                or (
                    text_len.get(parent, 0) <= 40
                    and parent not in old_parents
                    and _font_size_of(el, sizes) <= _font_size_of(parent, sizes)
                    and not struck
                    and not _attr_flags(_attrs(el))[2]
                    and not _OLD_TEXT.search(text)
                )
            )
        ):
            # the parent already holds this price (split spans, "$" + "12.99", "12.99 + VAT" labels)
            seen_parents[el] = seen_parents[parent]
            continue
        # Conversion notes ("1點=1元", "1 EUR = 7.8 CNY") and point balances are not prices.
        after = _text_after(el, doc)
        if "=" in text or _POINTS.search(text) or after[:1] in ("點", "点"):
            continue
        if _RATE_AFTER.match(after):
            continue  # "72 折", "20 %", "30% off": a discount rate, not an amount
        before = _text_before(el, doc)
        label = before[-8:]
        own_and_label = f"{label} {text}"
        # Amounts in promo phrases (立减10元, 满299减30, 补贴800元, 省50, 返20, 券50, 定金) describe
        # a discount or a deposit, never what the product costs: not price candidates at all.
        if _PROMO_AMOUNT.search(own_and_label):
            continue
        amount, cur = parse_price(text)
        if amount is None:
            continue
        signals = _price_signals(el, parent, text, after, before, sizes)
        if signals is None:
            continue
        hinted, strong, old_attr, has_cur, itemprop, size = signals
        if len(text) * 2 < tl and tl > 25:
            continue  # a container whose text merely starts with a price
        # Text that is mostly something else (a sentence containing a number) is not a price.
        digits_etc = _NUMBER_CHARS.sub("", text)
        if len(digits_etc) > 12 and not itemprop:
            continue
        conditional = bool(_CONDITIONAL.search(own_and_label))
        if _FROM_PRICE.search(f"{label} {text} {after[:4]}"):
            from_vias.add(_describe(el))
        seen_parents[el] = digits
        score = 0.0
        score += 3.0 if itemprop else 0.0
        score += 1.5 if hinted else 0.0
        score += 1.5 if strong else 0.0
        score += 1.5 if has_cur else 0.0
        if size:
            score += min(size, 40) / 20
        # What the number is, judged from its own text and its label (not from the whole
        # parent: a "(36 €/kg)" or "72 折" next to the price says nothing about the price itself).
        if _BAD_OWN.search(text) or _BAD_LABEL.search(f"{before[-16:]} {text} {after}"):
            score -= 2.5
        if _OTHER_OFFER.search(f"{before} {text}"):
            score -= 1.5
        pos = doc.order[el]
        if title_pos is not None:
            dist = pos - title_pos
            score -= math.log1p(abs(dist)) * (0.35 if dist >= 0 else 0.6)
        if buy_pos:
            bd = min(abs(pos - b) for b in buy_pos)
            score -= math.log1p(bd) * 0.25
        else:
            score -= math.log1p(pos) * 0.1
        is_old = struck or _in_struck(el) or old_attr or bool(_OLD_TEXT.search(f"{label} {text}"))
        kind = "old" if is_old else "price"
        if is_old:
            old_parents.add(el)
        if not is_old and not conditional:
            lead = _LEAD_SPLIT.split(text, maxsplit=1)[0]
            near = (lead if _LETTER.search(lead) else _LABEL_END.sub("", label))[-6:]
            if _SALE_LABEL.search(near):
                kind, score = "sale", score + 2.0
            elif _LIST_LABEL.search(near):
                kind = "listed"
        sig = _signature(el)
        sigs[sig] = sigs.get(sig, 0) + 1
        cands.append(_Candidate(score, amount, cur, _describe(el), sig, conditional, kind))
    if any(c.kind == "sale" for c in cands):
        # A 促销价 is shown: the 价格 / 单独购买 beside it is the list price.
        for c in cands:
            if c.kind == "listed":
                c.kind = "old"
    # Repeated structures (the same class path holding 3+ prices) are listings: recommendations,
    # "customers also bought", variant grids. They lose to a one-off price block.
    prices, olds, conds = [], [], []
    for c in cands:
        sc = c.score - (2.0 if sigs[c.sig] >= 3 else 0.0)
        if c.kind == "old":
            olds.append((sc, c.amount, c.via))
        elif c.conditional:
            conds.append((sc, c.amount, c.currency, c.via))
        else:
            prices.append((sc, c.amount, c.currency, c.via))
    result = (prices, olds, conds)
    page.__dict__["_scored_prices"] = result
    return result


def best_price(page: Page) -> tuple[float, Decimal, str | None, str] | None:
    """The best-scored visible price candidate.

    券后价/到手价 (conditional prices) are not ``price`` when another main price is shown; when the
    page's only main displayed price carries such a label, it IS the price (see ``pipeline``).
    """
    prices, _olds, conds = _score_prices(page, get_doc(page))
    best = max(prices, key=lambda p: p[0]) if prices else None
    best_cond = max(conds, key=lambda p: p[0]) if conds else None
    if best_cond is not None and (best is None or best_cond[0] - best[0] > _MAIN_PRICE_MARGIN):
        return best_cond
    return best


def visible_from_price(page: Page) -> tuple[Decimal, str] | None:
    """(amount, via) when the page's best visible price is a "from" price (最低价 ¥99 起, from $9,
    ab 8 €): the lowest price of a range of variants or pack sizes."""
    best = best_price(page)
    if best is None or best[3] not in page.__dict__.get("_from_vias", ()):
        return None
    return best[1], best[3]


def _signature(el: Any) -> tuple[str, ...]:
    parts = []
    node = el
    for _ in range(3):
        if node is None or not isinstance(node.tag, str):
            break
        parts.append(f"{node.tag}.{node.get('class') or ''}")
        node = node.getparent()
    return tuple(parts)


def _describe(el: Any) -> str:
    tag = el.tag
    if el.get("itemprop"):
        return f'{tag}[itemprop="{el.get("itemprop")}"]'
    if el.get("id"):
        return f"{tag}#{el.get('id')}"
    cls = (el.get("class") or "").split()
    if cls:
        return f"{tag}." + ".".join(cls[:3])
    parent = el.getparent()
    return f"{_describe(parent)} > {tag}" if parent is not None and parent.tag != "body" else tag


def _availability(page: Page, doc: _Doc, title_pos: int | None) -> tuple[str | None, str]:
    """Out-of-stock labels near the title beat buy buttons; buy buttons beat far-away labels."""
    best_out: tuple[int, str] | None = None
    best_pre: tuple[int, str] | None = None
    text_len = doc.text_len
    for el in doc.small:
        tl = text_len.get(el, 0)
        if tl > 60 or (tl == 0 and el.tag != "input"):
            continue
        if el in doc.excluded or el in doc.hidden:
            continue
        tag = el.tag
        if tag in ("body", "html", "main", "form") or el is doc.title_el:
            continue
        if tag == "input":
            text = el.get("value") or ""
        else:
            # the element's own words (its text and its children's tails), not its children's
            text = (el.text or "") + " ".join((c.tail or "") for c in el)
            if not text.strip() and len(el) == 1 and isinstance(el[0].tag, str) and el[0].tag not in _SKIP_TAGS:
                text = doc.text(el)
        text = " ".join(text.split())
        if not text:
            continue
        dist = abs(doc.order[el] - title_pos) if title_pos is not None else doc.order[el]
        if avail.is_mixed_text(text):
            continue  # a widget holding every state's label (CSS shows one): not evidence
        if avail.is_out_text(text):
            if best_out is None or dist < best_out[0]:
                best_out = (dist, _describe(el))
        elif (
            avail.is_pre_text(text)
            and tag in ("button", "a", "input", "span", "em", "strong", "b", "label")
            and (best_pre is None or dist < best_pre[0])
        ):
            best_pre = (dist, _describe(el))
    buys = [b for b in doc.buy_elements() if not b.get("disabled")]
    buy_dist = (
        min((abs(doc.order[b] - title_pos) if title_pos is not None else doc.order[b]) for b in buys) if buys else None
    )
    if best_pre is not None and (buy_dist is None or best_pre[0] <= buy_dist + 30):
        return "PreOrder", f"text near title: {best_pre[1]}"
    if best_out is not None and (buy_dist is None or best_out[0] < buy_dist):
        return "OutOfStock", f"label: {best_out[1]}"
    if buys:
        return "InStock", f"buy button: {_describe(buys[0])}"
    if best_out is not None:
        return "OutOfStock", f"label: {best_out[1]}"
    return None, ""


def page_currency(page: Page) -> str | None:
    """The currency named by the page's own currency meta tags, if any."""
    for xp in (
        '//meta[@itemprop="priceCurrency"]/@content',
        '//*[@itemprop="priceCurrency"]/@content',
        '//meta[contains(@property,"currency")]/@content',
    ):
        vals = page.tree.xpath(xp)
        if vals and vals[0].strip():
            return vals[0].strip()
    return None


_NAMED_TITLE = ("sku-name", "product-name", "product-title", "goods-name", "item-name", "goods-title")


def _named_title_elements(page: Page, doc: _Doc) -> list[Any]:
    """Elements whose class names a product title, in document order (only asked when no <h1>)."""
    out = []
    for el in page.tree.iter():
        cls = el.get("class") if isinstance(el.tag, str) else None
        if cls and any(k in cls for k in _NAMED_TITLE) and not doc.is_excluded(el) and 4 <= len(_own_text(el)) <= 200:
            out.append(el)
    return out


def heuristic_fields(page: Page, so_far: ProductExtraction) -> Found:
    found = Found()
    need_doc = (
        so_far.title is None or so_far.price is None or so_far.original_price is None or so_far.availability is None
    )
    doc = get_doc(page) if need_doc else None
    if so_far.title is None and doc is not None:
        named = [] if doc.title_el is not None else _named_title_elements(page, doc)
        if doc.title_el is not None:
            found.put("title", _own_text(doc.title_el)[:300], "h1")
        elif named:
            found.put("title", _own_text(named[0]), _describe(named[0]))
        else:
            titles = page.tagged["title"]  # (the same as "//title")
            if titles and _own_text(titles[0]):
                found.put("title", _own_text(titles[0])[:300], "title")
    if (
        doc is not None
        and (so_far.price is None or so_far.original_price is None)
        and not page.__dict__.get("price_selector_empty")
    ):
        _prices, olds, _conds = _score_prices(page, doc)
        best = best_price(page) if so_far.price is None else None
        if best is not None:
            found.put("price", best[1], best[3])
            if best[2]:
                found.put("currency", currency_iso(best[2], page.url, page.lang), best[3])
        price = so_far.price if so_far.price is not None else found.values.get("price")
        if olds and price is not None:
            higher = [o for o in olds if o[1] > price]
            if higher:
                best_old = max(higher, key=lambda o: o[0])
                found.put("original_price", best_old[1], best_old[2])
    if so_far.availability is None and doc is not None:
        state, via = _availability(page, doc, _title_anchor(page, doc))
        found.put("availability", state, via)
    if so_far.sku is None:
        for el in [e for e in page.itemprops if e.get("itemprop") in ("sku", "productID")][:1]:
            found.put("sku", (el.get("content") or _own_text(el)) or None, f'[itemprop="{el.get("itemprop")}"]')
    if so_far.brand is None:
        for el in [e for e in page.itemprops if e.get("itemprop") == "brand"][:1]:
            found.put("brand", (el.get("content") or _own_text(el))[:100] or None, '[itemprop="brand"]')
    return found
