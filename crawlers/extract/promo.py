"""Promo copy: coupons, 满减, 限时, 券后价/到手价, gifts, "x% off", "Save ..."."""

from __future__ import annotations

import re

from .page import Page
from .structured import Found

_PROMO = re.compile(
    r"满\s*\d+\s*减\s*\d+|每满\s*\d+|券后价?|到手价|领券|优惠券|店铺券|限时|秒杀|直降|立减|包邮|赠品|赠送|买\s*\d+\s*送|"
    r"第二件|\d+(?:\.\d+)?\s*折|跨店|百亿补贴|拼团|新人价|会员价|plus价|"
    r"\bcoupon\b|\bsave\s+\d|\b\d+\s*%\s*off\b|limited[-\s]time|free\s+gift|buy\s+\d+\s+get|\bdeal\b",
    re.I,
)
_PROMO_ATTR = re.compile(r"promo|coupon|quan|activity|discount|prom\b|sale-?tag|badge", re.I)
_SKIP = {"script", "style", "noscript", "template", "title", "head", "meta", "option"}
_EXCLUDE = re.compile(r"recommend|related|similar|猜你喜欢|看了又看|为你推荐|footer|\bnav\b|menu|cart", re.I)


def promo_fields(page: Page, limit: int = 5) -> Found:
    """Short visible texts that look like promotions, deduplicated, in page order."""
    found = Found()
    snippets: list[str] = []
    seen: set[str] = set()
    body = page.tree.find("body")
    if body is None:
        return found
    matches = []
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag.lower() in _SKIP:
            continue
        text = " ".join((el.text_content() or "").split())
        if not text or len(text) > 60:
            continue
        attrs = f"{el.get('class') or ''} {el.get('id') or ''}"
        if _PROMO.search(text) or (_PROMO_ATTR.search(attrs) and len(text) >= 4):
            matches.append((el, text))
    # Keep the innermost matching elements: a block holding several promos yields each of them.
    matched = {el for el, _ in matches}
    inner = [(el, text) for el, text in matches
             if not any(d in matched for d in el.iterdescendants() if d is not el)]
    for el, text in inner:
        if len(snippets) >= limit:
            break
        anc = el
        blocked = False
        for _ in range(8):
            anc = anc.getparent()
            if anc is None:
                break
            a = f"{anc.get('class') or ''} {anc.get('id') or ''}"
            if _EXCLUDE.search(a):
                blocked = True
                break
        if blocked:
            continue
        key = re.sub(r"\s+", "", text)
        if key in seen:
            continue
        seen.add(key)
        snippets.append(text)
    if snippets:
        found.put("promo", " | ".join(snippets), "promo text")
    return found
