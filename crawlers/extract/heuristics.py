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
from decimal import Decimal
from typing import Any

from . import availability as avail
from .model import ProductExtraction
from .page import Page
from .prices import currency_iso, parse_price
from .structured import Found

MAX_ELEMENTS = 60_000
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "title", "meta", "link", "option",
              "select", "textarea", "iframe", "path"}

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
_STRONG_ATTR = re.compile(r"(sale|current|final|special|actual|our|main|product|now|offer|big|large|deal|buying)"
                          r"[-_]?price|price[-_]?(now|current|sale|final|value|actual|main|big|amount)|"
                          r"p-price|tm-price|\bjg\b|price--?(large|big|main|current)", re.I)
_OLD_ATTR = re.compile(r"\bold|was|original|strike|regular|before|\bdel\b|crossed|compare|list[-_]?price|"
                       r"market|retail|rrp|uvp|msrp|prev|line[-_]?through|through|initial|reference|"
                       r"\bop\b|\bm-price|\bmkt", re.I)
_OLD_TEXT = re.compile(r"划线|原价|市场价|参考价|专柜价|吊牌价|was\b|\brrp\b|\buvp\b|list price|"
                       r"statt|au lieu de|\bprev|before|regular price|retail|msrp|prezzo consigliato|"
                       r"precio anterior|tidligere|originally|typical price", re.I)
_BAD_TEXT = re.compile(
    r"/\s*(mo|month|mes|monat|mois|week)|per month|x\s*\d+\s*(cuotas|meses|rate)|\d+\s*x\s|cuotas|"
    r"installment|rate da|raten|shipping|delivery|versand|livraison|spedizione|envío|运费|邮费|運\s*費|宅配|取貨|"
    r"save\b|you save|sparen|économisez|risparmi|ahorra|节省|省\d|-\s*\d+\s*%|\d+\s*%|off\b|"
    r"/\s*(kg|l|m|100\s*g|100\s*ml|stk|piece|unit|m²|m2)\b|per\s+(kg|unit|item)|"
    r"\d\s*折|\bvat\b|tax|mwst|tva|iva|积分|coupon|优惠券|满\d+|券后|到手|gift card|reward|points",
    re.I,
)
_CONDITIONAL = re.compile(r"券后|到手价|用券|coupon price|after coupon|会员价|plus价|定金", re.I)
# Other sellers' / used offers shown next to the main offer.
_OTHER_OFFER = re.compile(
    r"occasion|\bused\b|gebraucht|usato|usado|refurbished|reconditionn|other sellers|autres vendeurs|"
    r"weitere angebote|altre offerte|new\s*&\s*used|neufs|nuevos|二手|其他卖家",
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
_HIDDEN_CLASS = re.compile(r"\b(hidden|d-none|hide|is-hidden|visually-hidden|sr-only|invisible)\b", re.I)


def _attrs(el: Any) -> str:
    return " ".join(filter(None, (el.get("class"), el.get("id"), el.get("itemprop"), el.get("data-testid"),
                                  el.get("data-test"), el.get("data-qa"), el.get("aria-label"))))


def _is_hidden(el: Any) -> bool:
    return bool(el.get("hidden") is not None or _HIDDEN.search(el.get("style") or "") or
                _HIDDEN_CLASS.search(el.get("class") or "") or el.get("aria-hidden") == "true")


class _Doc:
    """Document-order index of visible, non-excluded elements."""

    def __init__(self, page: Page) -> None:
        body = page.tree.find("body")
        root = body if body is not None else page.tree
        # The containers of the product title are the product block: never excluded, whatever
        # their class names say (shops name page wrappers "...history", "...menu-open" ...).
        self.title_el = _main_title(page)
        self.immune: set[Any] = set(self.title_el.iterancestors()) if self.title_el is not None else set()
        self.order: dict[Any, int] = {}
        self.excluded: set[Any] = set()
        self.hidden: set[Any] = set()
        self.elements: list[Any] = []
        self._walk(root)

    def _walk(self, root: Any) -> None:
        # Iterative DFS that prunes skipped subtrees and propagates exclusion/hiddenness.
        stack: list[tuple[Any, bool, bool]] = [(root, False, False)]
        n = 0
        while stack and n < MAX_ELEMENTS:
            el, excl, hid = stack.pop()
            tag = el.tag if isinstance(el.tag, str) else ""
            if not tag or tag.lower() in _SKIP_TAGS:
                continue
            tag = tag.lower()
            attrs = _attrs(el)
            if not excl and el not in self.immune:
                if tag in ("footer", "nav", "header", "aside") or (attrs and _EXCLUDE_ATTR.search(attrs)):
                    excl = True
                elif tag in ("h2", "h3", "h4") or "title" in attrs.lower() or "hd" in attrs.lower():
                    head = " ".join((el.text_content() or "").split())[:80]
                    if head and _EXCLUDE_TEXT.search(head):
                        parent = el.getparent()
                        if parent is not None and parent not in self.immune:
                            self.excluded.add(parent)
                            # mark already-visited descendants of the parent (siblings before el)
                            for d in parent.iter():
                                self.excluded.add(d)
                        excl = True
            hid = hid or _is_hidden(el)
            self.order[el] = n
            n += 1
            self.elements.append(el)
            if excl:
                self.excluded.add(el)
            if hid:
                self.hidden.add(el)
            stack.extend((c, excl, hid) for c in reversed(el))
        # Text length of every visited element, bottom-up in one pass (text_content() per element
        # would be quadratic on deep pages).
        self.text_len: dict[Any, int] = {}
        for el in reversed(self.elements):
            total = len((el.text or "").strip())
            for child in el:
                total += self.text_len.get(child, 0) + len((child.tail or "").strip())
            self.text_len[el] = total


def _own_text(el: Any) -> str:
    """Visible text of an element (script/style contents left out)."""
    if el.find(".//script") is not None or el.find(".//style") is not None:
        parts = el.xpath(".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")
        return " ".join(" ".join(parts).split())
    return " ".join((el.text_content() or "").split())


def _px(value: str, unit: str) -> float:
    size = float(value)
    return size * 16 if unit.lower() in ("em", "rem") else size


def css_font_sizes(page: Page) -> dict[str, float]:
    """Class name -> font size from the page's <style> rules whose last selector part is ``.cls`` or
    ``.cls tag`` (a cheap approximation of the cascade, enough to tell a big price from a small one)."""
    cached = page.__dict__.get("_css_sizes")
    if cached is not None:
        return cached
    sizes: dict[str, float] = {}
    for style in page.tree.xpath("//style")[:50]:
        css = style.text or ""
        if len(css) > 500_000:
            continue
        for chunk in css.split("}"):
            selector, _, body = chunk.rpartition("{")
            if "font" not in body:
                continue
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
                if last.startswith(".") and re.fullmatch(r"\.[\w-]+", last):
                    key = last[1:]
                elif len(parts) >= 2 and re.fullmatch(r"[a-z]+", last) and re.fullmatch(r"\.[\w-]+", parts[-2]):
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


def _font_size_of(el: Any, sizes: dict[str, float]) -> float:
    for node in (el, el.getparent()):
        if node is None:
            continue
        m = _FONT.search(node.get("style") or "")
        if m:
            return _px(m.group(1), m.group(2))
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

    h1s = [h for h in page.tree.xpath("//h1")[:20] if _own_text(h)]
    if not h1s:
        return None
    refs = [t for t in page_titles(page, with_h1=False)]
    best = max(h1s, key=lambda h: (_title_match(_own_text(h), refs) if refs else 0.0, -h1s.index(h)))
    return best


def _title_anchor(page: Page, doc: _Doc) -> int | None:
    if doc.title_el is not None and doc.title_el in doc.order:
        return doc.order[doc.title_el]
    for el in page.tree.xpath('//*[@itemprop="name" or contains(@class,"title") or contains(@class,"name")]'):
        if el in doc.order and el not in doc.excluded and len(_own_text(el)) > 8:
            return doc.order[el]
    return None


def _buy_elements(doc: _Doc) -> list[Any]:
    out = []
    for el in doc.elements:
        if el in doc.excluded or el in doc.hidden:
            continue
        tag = el.tag.lower()
        if tag in ("button", "a", "input", "span", "div", "em", "b", "strong"):
            text = (el.get("value") if tag == "input" else _own_text(el)) or ""
            if 2 <= len(text) <= 40 or (tag == "input" and text):
                attrs = _attrs(el)
                if avail.is_out_text(text):
                    continue
                if avail.is_buy_text(text) or re.search(r"add[-_]?to[-_]?(cart|basket|bag)|buy[-_]?now|btn[-_]?buy|"
                                                         r"InitCartUrl|append", attrs, re.I):
                    out.append(el)
    return out


def _in_struck(el: Any, stop: int = 4) -> bool:
    node = el
    for _ in range(stop):
        if node is None or not isinstance(node.tag, str):
            return False
        if node.tag.lower() in ("del", "s", "strike"):
            return True
        if "line-through" in (node.get("style") or ""):
            return True
        node = node.getparent()
    return False


def _fragments(el: Any) -> list[tuple[str, bool]]:
    """(text, inside <del>/<s>/line-through) pieces of an element in document order."""
    out: list[tuple[str, bool]] = []

    def visit(node: Any, struck: bool) -> None:
        if len(out) > 40:
            return
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if tag in _SKIP_TAGS:
            return
        struck = struck or tag in ("del", "s", "strike") or "line-through" in (node.get("style") or "")
        if node.text:
            out.append((node.text, struck))
        for child in node:
            visit(child, struck)
            if child.tail:
                out.append((child.tail, struck))

    visit(el, False)
    return out


def _candidate_text(el: Any) -> tuple[str, bool] | None:
    """The price text of an element and whether its number is crossed out.

    Fragments are joined without separators (``¥``,``1``,``99``,``.00`` -> ``¥199.00``) until a
    fragment with letters follows the number (``$400`` + ``5 bids`` stops before the bids).
    """
    tag = el.tag.lower()
    content = el.get("content") if el.get("itemprop") in ("price", "lowPrice") else None
    if content and _NUMBER.search(content):
        return content, False
    for attr in ("data-price", "data-price-amount", "data-value"):
        v = el.get(attr)
        if v and re.fullmatch(r"\s*\d+(?:[.,]\d+)?\s*", v):
            return v, False
    if tag in ("body", "html", "form", "table", "ul", "ol", "section", "main", "article", "tbody", "tr"):
        return None
    parts: list[str] = []
    struck = False
    seen_digit = False
    total = 0
    for text, in_del in _fragments(el):
        total += len(text.strip())
        if total > 60:
            return None
        if seen_digit and (_LETTER.search(_CURRENCY_TOKEN.sub("", text)) or _CURRENCY_TOKEN.search(text)
                           or "[" in text or "(" in text or "/" in text):
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


def _score_prices(page: Page, doc: _Doc) -> tuple[list[tuple[float, Decimal, str | None, str]],
                                                  list[tuple[float, Decimal, str]]]:
    title_pos = _title_anchor(page, doc)
    buys = _buy_elements(doc)
    buy_pos = [doc.order[b] for b in buys]
    sizes = css_font_sizes(page)
    sigs: dict[tuple[str, ...], int] = {}
    prices: list[Any] = []
    olds: list[Any] = []
    # element -> digits of its price text; children holding part of those digits are skipped
    seen_parents: dict[Any, str] = {}
    for el in doc.elements:
        if el in doc.excluded or el in doc.hidden or doc.text_len.get(el, 0) > 60:
            continue
        cand = _candidate_text(el)
        if cand is None:
            continue
        text, struck = cand
        # Prefer the outermost small element that holds the whole price: skip if the parent is
        # itself a candidate with the same digits (split spans ¥ 1 99 .00 are joined by the parent).
        parent = el.getparent()
        digits = re.sub(r"\D", "", text)
        if parent is not None and parent in seen_parents and (
            digits in seen_parents[parent]
            or (len(_own_text(parent)) <= 40 and _font_size_of(el, sizes) <= _font_size_of(parent, sizes)
                and not struck and not _OLD_ATTR.search(_attrs(el)) and not _OLD_TEXT.search(text))
        ):
            # the parent already holds this price (split spans, "$" + "12.99", "12.99 + VAT" labels)
            seen_parents[el] = seen_parents[parent]
            continue
        amount, cur = parse_price(text)
        if amount is None:
            continue
        attrs = " ".join(_attrs(a) for a in (el, parent) if a is not None)
        has_cur = bool(_CURRENCY_TOKEN.search(text))
        if not has_cur:
            # a currency word right next to the number (<span>2320</span><span>元</span>)
            nxt = el.getnext()
            nxt_text = nxt.text_content()[:6] if nxt is not None and isinstance(nxt.tag, str) else ""
            around = ((el.tail or "") + ("" if (el.tail or "").strip() else nxt_text)).strip()[:6]
            prev = el.getprevious()
            before = (prev.text_content()[-6:] if prev is not None and isinstance(prev.tag, str) else "").strip()
            has_cur = bool(_CURRENCY_TOKEN.match(around)) or bool(before and _CURRENCY_TOKEN.search(before[-2:]))
        hinted = bool(_PRICE_ATTR.search(attrs))
        itemprop = el.get("itemprop") in ("price", "lowPrice")
        size = _font_size(el, sizes)
        if not (has_cur or hinted or itemprop or size >= 20):
            continue
        if _CONDITIONAL.search(text) or (parent is not None and _CONDITIONAL.search(_own_text(parent)[:12])):
            continue  # 券后价/到手价: what a buyer pays only with a coupon -> promo, not price (see pipeline)
        if len(text) * 2 < doc.text_len.get(el, 0) and doc.text_len.get(el, 0) > 25:
            continue  # a container whose text merely starts with a price
        # Text that is mostly something else (a sentence containing a number) is not a price.
        digits_etc = re.sub(r"[\d\s.,'’\-]", "", text)
        if len(digits_etc) > 12 and not itemprop:
            continue
        seen_parents[el] = digits
        score = 0.0
        score += 3.0 if itemprop else 0.0
        score += 1.5 if hinted else 0.0
        score += 1.5 if _STRONG_ATTR.search(attrs) else 0.0
        score += 1.5 if has_cur else 0.0
        if size:
            score += min(size, 40) / 20
        context = text
        if parent is not None:
            context = _own_text(parent)[:80]
        if _BAD_TEXT.search(context):
            score -= 2.5
        if _OTHER_OFFER.search(context):
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
        is_old = struck or _in_struck(el) or bool(_OLD_ATTR.search(attrs)) or bool(_OLD_TEXT.search(context[:30]))
        via = _describe(el)
        sig = _signature(el)
        sigs[sig] = sigs.get(sig, 0) + 1
        if is_old:
            olds.append((score, amount, via, sig))
        else:
            prices.append((score, amount, cur, via, sig))
    # Repeated structures (the same class path holding 3+ prices) are listings: recommendations,
    # "customers also bought", variant grids. They lose to a one-off price block.
    prices = [(sc - (2.0 if sigs[sig] >= 3 else 0.0), a, c, v) for sc, a, c, v, sig in prices]
    olds = [(sc - (2.0 if sigs[sig] >= 3 else 0.0), a, v) for sc, a, v, sig in olds]
    return prices, olds


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
    tag = el.tag.lower()
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
    for el in doc.elements:
        if el in doc.excluded or el in doc.hidden:
            continue
        tag = el.tag.lower()
        if tag in ("body", "html", "main", "form") or el is doc.title_el or doc.text_len.get(el, 0) > 60:
            continue
        if tag == "input":
            text = el.get("value") or ""
        else:
            # the element's own words (its text and its children's tails), not its children's
            text = (el.text or "") + " ".join((c.tail or "") for c in el)
            if not text.strip() and len(el) == 1 and isinstance(el[0].tag, str) \
                    and el[0].tag.lower() not in _SKIP_TAGS:
                text = _own_text(el)
        text = " ".join(text.split())
        if not text:
            continue
        dist = abs(doc.order[el] - title_pos) if title_pos is not None else doc.order[el]
        if avail.is_mixed_text(text):
            continue  # a widget holding every state's label (CSS shows one): not evidence
        if avail.is_out_text(text):
            if best_out is None or dist < best_out[0]:
                best_out = (dist, _describe(el))
        elif (avail.is_pre_text(text) and tag in ("button", "a", "input", "span", "em", "strong", "b", "label")
              and (best_pre is None or dist < best_pre[0])):
            best_pre = (dist, _describe(el))
    buys = [b for b in _buy_elements(doc) if not b.get("disabled")]
    buy_dist = min((abs(doc.order[b] - title_pos) if title_pos is not None else doc.order[b]) for b in buys) \
        if buys else None
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
    for xp in ('//meta[@itemprop="priceCurrency"]/@content', '//*[@itemprop="priceCurrency"]/@content',
               '//meta[contains(@property,"currency")]/@content'):
        vals = page.tree.xpath(xp)
        if vals and vals[0].strip():
            return vals[0].strip()
    return None


def heuristic_fields(page: Page, so_far: ProductExtraction) -> Found:
    found = Found()
    doc = _Doc(page)
    title_pos = _title_anchor(page, doc)
    if so_far.title is None:
        named = page.tree.xpath(
            '//*[contains(@class,"sku-name") or contains(@class,"product-name") or contains(@class,"product-title")'
            ' or contains(@class,"goods-name") or contains(@class,"item-name") or contains(@class,"goods-title")]')
        named = [n for n in named if n not in doc.excluded and 4 <= len(_own_text(n)) <= 200]
        if doc.title_el is not None:
            found.put("title", _own_text(doc.title_el)[:300], "h1")
        elif named:
            found.put("title", _own_text(named[0]), _describe(named[0]))
        else:
            titles = page.tree.xpath("//title")
            if titles and _own_text(titles[0]):
                found.put("title", _own_text(titles[0])[:300], "title")
    if so_far.price is None or so_far.original_price is None:
        prices, olds = _score_prices(page, doc)
        if prices and so_far.price is None:
            best = max(prices, key=lambda p: p[0])
            found.put("price", best[1], best[3])
            if best[2]:
                found.put("currency", currency_iso(best[2], page.url, page.lang), best[3])
        price = so_far.price if so_far.price is not None else found.values.get("price")
        if olds and price is not None:
            higher = [o for o in olds if o[1] > price]
            if higher:
                best_old = max(higher, key=lambda o: o[0])
                found.put("original_price", best_old[1], best_old[2])
    if so_far.availability is None:
        state, via = _availability(page, doc, title_pos)
        found.put("availability", state, via)
    if so_far.sku is None:
        for el in page.tree.xpath('//*[@itemprop="sku" or @itemprop="productID"]')[:1]:
            found.put("sku", (el.get("content") or _own_text(el)) or None, f'[itemprop="{el.get("itemprop")}"]')
    if so_far.brand is None:
        for el in page.tree.xpath('//*[@itemprop="brand"]')[:1]:
            found.put("brand", (el.get("content") or _own_text(el))[:100] or None, '[itemprop="brand"]')
    return found

