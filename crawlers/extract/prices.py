"""Price and currency parsing on top of price-parser.

price-parser does the hard part (thousand/decimal separators in every locale, currency tokens).
We add: CNY tokens (¥ ￥ 元 RMB 人民币), ISO-code normalisation of symbols using page signals
(``¥`` is CNY unless the page is Japanese; ``$`` follows the country of the URL), and the rule
that a zero or negative amount is "no price".
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from price_parser import Price

# Symbols and words -> ISO 4217. Ambiguous symbols ($, ¥, kr) are resolved in ``currency_iso``.
_SYMBOLS: dict[str, str] = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "￥": "CNY",
    "元": "CNY",
    "rmb": "CNY",
    "人民币": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "円": "JPY",
    "jpy": "JPY",
    "₩": "KRW",
    "원": "KRW",
    "krw": "KRW",
    "₹": "INR",
    "rs": "PKR",
    "rs.": "PKR",
    "₨": "PKR",
    "₪": "ILS",
    "ils": "ILS",
    "nis": "ILS",
    "zł": "PLN",
    "zl": "PLN",
    "pln": "PLN",
    "lei": "RON",
    "ron": "RON",
    "kn": "HRK",
    "hrk": "HRK",
    "kč": "CZK",
    "czk": "CZK",
    "ft": "HUF",
    "huf": "HUF",
    "₽": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "р.": "RUB",
    "rub": "RUB",
    "₴": "UAH",
    "грн": "UAH",
    "chf": "CHF",
    "fr.": "CHF",
    "sfr": "CHF",
    "r$": "BRL",
    "brl": "BRL",
    "nt$": "TWD",
    "ntd": "TWD",
    "twd": "TWD",
    "hk$": "HKD",
    "hkd": "HKD",
    "us$": "USD",
    "usd": "USD",
    "ca$": "CAD",
    "c$": "CAD",
    "cad": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "aud": "AUD",
    "s$": "SGD",
    "sgd": "SGD",
    "ر.س": "SAR",
    "sar": "SAR",
    "د.إ": "AED",
    "aed": "AED",
    "₺": "TRY",
    "tl": "TRY",
    "try": "TRY",
    "฿": "THB",
    "thb": "THB",
    "₫": "VND",
    "vnd": "VND",
    "₱": "PHP",
    "br": "BYN",
    "byn": "BYN",
    "ars": "ARS",
    "clp": "CLP",
    "mxn": "MXN",
    "cop": "COP",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
}

# Country-code top-level domain -> local currency, used for "$", "kr" and "¥".
_TLD_CURRENCY: dict[str, str] = {
    "cn": "CNY",
    "jp": "JPY",
    "tw": "TWD",
    "hk": "HKD",
    "sg": "SGD",
    "ca": "CAD",
    "au": "AUD",
    "nz": "NZD",
    "mx": "MXN",
    "ar": "ARS",
    "cl": "CLP",
    "co": "COP",
    "br": "BRL",
    "us": "USD",
    "se": "SEK",
    "no": "NOK",
    "dk": "DKK",
    "is": "ISK",
    "kr": "KRW",
    "pk": "PKR",
    "in": "INR",
}
_LANG_CURRENCY: dict[str, str] = {"zh-cn": "CNY", "zh-hans": "CNY", "ja": "JPY", "zh-tw": "TWD", "zh-hk": "HKD"}

_CNY_HINT = re.compile(r"[￥元]|RMB|人民币", re.I)
_DIGITS = re.compile(r"\d")
_ISO_WORD = re.compile(r"[a-z]{3}")
_PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?")


def page_country_currency(url: str = "", lang: str = "") -> str | None:
    """The currency the page's URL country (or language) suggests, if any."""
    host = (urlsplit(url).hostname or "") if url else ""
    tld = host.rsplit(".", 1)[-1] if "." in host else ""
    if tld in _TLD_CURRENCY:
        return _TLD_CURRENCY[tld]
    lang = (lang or "").lower().replace("_", "-")
    if lang in _LANG_CURRENCY:
        return _LANG_CURRENCY[lang]
    if lang.startswith("ja"):
        return "JPY"
    return None


def currency_iso(raw: str | None, url: str = "", lang: str = "") -> str | None:
    """Normalise a currency token (symbol, word or code) to an ISO 4217 code."""
    if not raw:
        return None
    token = raw.strip().lower()
    if not token:
        return None
    local = page_country_currency(url, lang)
    if token in ("¥", "yen"):
        # ¥ is both yuan and yen: Japanese pages mean yen, everything else (this is a tool for
        # Chinese shops) yuan.
        return "JPY" if local == "JPY" else "CNY"
    if token == "$":
        if local in ("CAD", "AUD", "NZD", "MXN", "ARS", "CLP", "COP", "TWD", "HKD", "SGD", "USD"):
            return local
        return "USD"
    if token in ("kr", "kr."):
        return local if local in ("SEK", "NOK", "DKK", "ISK") else "SEK"
    if token in _SYMBOLS:
        return _SYMBOLS[token]
    if _ISO_WORD.fullmatch(token):
        return token.upper()
    return None


def to_decimal(value: object) -> Decimal | None:
    """A positive Decimal from a JSON number or a plain numeric string, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount > 0 else None
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN_NUMBER.fullmatch(text):
            amount = Decimal(text)
            return amount if amount > 0 else None
        return parse_price(text)[0]
    return None


def parse_price(text: str | None, currency_hint: str | None = None) -> tuple[Decimal | None, str | None]:
    """``(amount, raw currency token)`` from a price text; amount is None when absent or <= 0."""
    if not text or not _DIGITS.search(text):
        return None, None
    return _parse_price(text, currency_hint)


@lru_cache(maxsize=32768)
def _parse_price(text: str, currency_hint: str | None) -> tuple[Decimal | None, str | None]:
    # Cached: price-parser is the costliest step per candidate, and a shop's pages repeat the
    # same price texts (every candidate of the visible-text pass is parsed). Decimals are immutable.
    text = text.replace("\xa0", " ").replace("\u202f", " ").strip()
    if len(text) > 200:
        text = text[:200]
    try:
        parsed = Price.fromstring(text, currency_hint=currency_hint)
    except Exception:
        return None, None
    amount = parsed.amount
    currency = parsed.currency
    if currency is None:
        hint = _CNY_HINT.search(text)
        if hint:
            currency = hint.group(0)
    if amount is None or amount <= 0:
        return None, currency
    return amount, currency
