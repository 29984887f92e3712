"""Availability from schema.org values and from button/label text (Chinese and English, plus a
few common European phrasings seen on real shops)."""

from __future__ import annotations

import re
from functools import lru_cache

_SCHEMA = {
    "instock": "InStock",
    "instoreonly": "InStock",
    "onlineonly": "InStock",
    "limitedavailability": "InStock",
    "outofstock": "OutOfStock",
    "soldout": "OutOfStock",
    "discontinued": "OutOfStock",
    "preorder": "PreOrder",
    "presale": "PreOrder",
    "backorder": "PreOrder",
}

# Free text. Order matters: "out of stock" must win over "in stock", "预售" over "立即购买".
_OUT_TEXT = re.compile(
    r"到货通知|无货|已售罄|售罄|已下架|下架|缺货|暂时缺货|暂无现货|已抢光|抢光了|补货中|商品已过期|"
    r"sold\s*out|out\s*of\s*stock|currently\s+unavailable|not\s+available|unavailable|no\s+longer\s+available|"
    r"notify\s+me|email\s+me\s+when|temporarily\s+out|nicht\s+verfügbar|derzeit\s+nicht|ausverkauft|"
    r"non\s+disponibile|épuisé|rupture\s+de\s+stock|agotado|esgotado|indisponível|niedostępny|"
    r"不可購買|已售完|售完|缺貨|無庫存|품절",
    re.I,
)
_PRE_TEXT = re.compile(r"预售|預售|预定|預定|支付定金|pre-?order|vorbestellen|précommande|reserva", re.I)
_IN_TEXT = re.compile(
    r"加入购物车|加入購物車|立即购买|立即購買|马上抢|立即抢购|现货|有货|库存充足|去购买|"
    r"add\s+to\s+(cart|basket|bag|trolley)|buy\s+(it\s+)?now|in\s+stock|(?<!un)(?<!not\s)\bavailable|ships\s+in|"
    r"in\s+den\s+warenkorb|auf\s+lager|lieferbar|sofort|ajouter\s+au\s+panier|en\s+stock|"
    r"aggiungi\s+al\s+carrello|disponibile|añadir\s+a\s+la\s+cesta|agregar\s+al\s+carro|comprar|"
    r"do\s+koszyka|dodaj|köp|lisää\s+ostoskoriin|in\s+winkelwagen|na\s+zalogi|skladem|"
    r"в\s+корзину|купить|장바구니|구매하기|放入購物車|直接購買",
    re.I,
)


# "Image not available", "Video unavailable", "图片暂无": a missing picture, not a stock statement.
_MEDIA_UNAVAILABLE = re.compile(
    r"(image|picture|photo|video|preview|bild|foto|imagen|immagine|图片|圖片)s?\s*"
    r"(is\s+)?(currently\s+)?(not\s+available|unavailable|nicht\s+verfügbar|non\s+disponibile|no\s+disponible)",
    re.I,
)


def _strip_media(text: str) -> str:
    return _MEDIA_UNAVAILABLE.sub(" ", text) if "vail" in text or "verf" in text or "dispon" in text else text


def from_schema(value: object) -> str | None:
    """``"http://schema.org/InStock"``, ``"InStock"``, ``"in stock"``, ``"oos"`` ... -> our value."""
    if isinstance(value, list):
        for item in value:
            got = from_schema(item)
            if got:
                return got
        return None
    if isinstance(value, bool):
        return "InStock" if value else "OutOfStock"
    if not isinstance(value, str):
        return None
    token = value.strip().rsplit("/", 1)[-1].replace(" ", "").replace("_", "").replace("-", "").lower()
    if token in _SCHEMA:
        return _SCHEMA[token]
    if token in ("oos", "out", "none", "unavailable", "false", "0"):
        return "OutOfStock" if token != "0" else None
    if token in ("in", "available", "true", "yes"):
        return "InStock"
    return from_text(value)


def from_text(text: str | None) -> str | None:
    """Availability stated by a short label or button text."""
    if not text:
        return None
    text = _strip_media(text)
    if _OUT_TEXT.search(text):
        return "OutOfStock"
    if _PRE_TEXT.search(text):
        return "PreOrder"
    if _IN_TEXT.search(text):
        return "InStock"
    return None


# The label tests below are pure and see the same short labels on every page of a shop: cached.
@lru_cache(maxsize=32768)
def is_out_text(text: str) -> bool:
    return bool(_OUT_TEXT.search(_strip_media(text)))


@lru_cache(maxsize=32768)
def is_pre_text(text: str) -> bool:
    return bool(_PRE_TEXT.search(text))


@lru_cache(maxsize=32768)
def is_buy_text(text: str) -> bool:
    return bool(_IN_TEXT.search(text))


@lru_cache(maxsize=32768)
def is_mixed_text(text: str) -> bool:
    """Both a buy label and a separate sold-out label ("Add to cart Out of stock"): a state widget."""
    text = _strip_media(text)
    return bool(_OUT_TEXT.search(text)) and bool(_IN_TEXT.search(_OUT_TEXT.sub(" ", text)))
