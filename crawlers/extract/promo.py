"""Promo copy: coupons, 满减, 限时/秒杀, 券后价/到手价 with an amount, gifts, 以旧换新, 免息,
会员专享, "x% off", "Save ...".

Concise snippets (the innermost element that says it), each once, in page order. Service
guarantees (正品保障 · 七天无理由退货 ...), delivery and stock lines (有货 · 99元免基础运费 · 211限时达)
and plain price labels (促销价 ¥459.00) are not promotions: they are on every page and would make
every crawl look like a promo change.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .heuristics import get_doc
from .page import Page
from .structured import Found

_PROMO = re.compile(
    r"满\s*\d+\s*[元件]?\s*减\s*\d+|每满\s*\d+|(?:券后|到手)价?\s*[:：]?\s*[¥￥]?\s*\d|领券|优惠券|店铺券|"
    r"限时(?!达)|秒杀|直降|立减|赠品|赠送|买\s*\d+\s*送|第\s*[二2]\s*件|半价|\d+(?:\.\d+)?\s*折|跨店|"
    r"百亿补贴|补贴|以旧换新|免息|会员专享|专享|特惠|拼团|新人价|会员价|plus价|"
    r"\bcoupon\b|\bsave\s+\S*\d|\b\d+\s*%\s*off\b|limited[-\s]time|free\s+gift|buy\s+\d+\s+get|\bdeal\b",
    re.I,
)
# One character or word that every alternative of _PROMO contains: a set test that rejects most
# texts at a fraction of the cost of the long alternation above (re does not optimise alternations).
_PROMO_HINT = re.compile(r"[满券到限秒直立赠买第半折跨补旧免享惠拼价]|coupon|save|off|limited|gift|get|deal", re.I)
_PROMO_ATTR = re.compile(r"promo|coupon|quan|activity|discount|prom\b|sale-?tag|badge", re.I)
# Service guarantees and delivery/stock promises: shown on every product, not a promotion.
_NOT_PROMO = re.compile(
    r"服务承诺|正品保障|无理由|退货|退款|价格保护|运费|配送|送达|发货|限时达|京准达|有货|无货|现货|发票|"
    r"全国联保|售后|free\s+(shipping|delivery|returns)|returns?\b|warranty",
    re.I,
)
# A bare price with its label ("促销价￥459.00", "价格 ¥329"): the price itself, not a promotion.
_PRICE_LABEL = re.compile(
    r"^[^\d¥￥$€£]{0,6}(价|價|price|preis|prix)\s*[:：]?\s*[¥￥$€£]?\s*\d[\d,]*(?:\.\d+)?\s*元?$", re.I
)
# The price box (class/id "price"): its 到手价/促销价 label is the price's, not a promotion's.
_PRICE_BOX = re.compile(r"price|\bjg\b", re.I)
_CONDITIONAL = re.compile(r"券后|到手")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")
MAX_SNIPPET = 60


def _promo_text(text: str) -> bool:
    return _PROMO_HINT.search(text) is not None and _PROMO.search(text) is not None


@lru_cache(maxsize=16384)
def _is_promo(text: str, attrs: str) -> bool:
    """Cached: a block's text is tested again at each nesting level, and pages repeat snippets."""
    promo_text = _promo_text(text)
    if not promo_text and not (attrs and _PROMO_ATTR.search(attrs)):
        return False  # the common case first: one cheap search and done
    if _NOT_PROMO.search(text):
        return False
    if attrs and _PRICE_BOX.search(attrs) and not _PROMO_ATTR.search(attrs):
        return False
    if _PRICE_LABEL.match(text) and not _CONDITIONAL.search(text):
        return False
    return promo_text or bool(attrs and _PROMO_ATTR.search(attrs) and len(text) >= 4 and _LETTER.search(text))


def promo_fields(page: Page, limit: int = 6) -> Found:
    """Short visible texts that look like promotions, deduplicated, in page order."""
    found = Found()
    doc = get_doc(page)
    matches = []
    for el in doc.small:
        tl = doc.text_len.get(el, 0)
        if not tl or tl > MAX_SNIPPET or el in doc.excluded or el in doc.hidden:
            continue
        if el.tag in ("option", "title"):
            continue
        text = doc.text(el)
        if not text or len(text) > MAX_SNIPPET:
            continue
        attrs = f"{el.get('class') or ''} {el.get('id') or ''}" if el.attrib else ""
        if _is_promo(text, attrs.strip()):
            matches.append((el, text))
    # Keep the innermost matching elements: a block holding several promos yields each of them.
    matched = {el for el, _ in matches}
    snippets: list[str] = []
    keys: list[str] = []
    for el, text in matches:
        if len(snippets) >= limit:
            break
        if any(d in matched for d in el.iterdescendants()):
            continue
        key = _SPACES.sub("", text)
        if any(key in k for k in keys):
            continue
        keys.append(key)
        snippets.append(text)
    if snippets:
        found.put("promo", " | ".join(snippets), "promo text")
    return found
