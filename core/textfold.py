"""One text fold for every matcher: brand names, exclusion words, crisis words, ad-law words, dedup keys.

Folding is what makes ``消費者投訴`` match ``投诉``, ``ＡＰＰＬＥ`` match ``apple`` and ``３１５`` match ``315``:

- NFKC per character (full-width letters, digits and punctuation -> ASCII, compatibility forms);
- case folded per character;
- traditional -> simplified through a character table (``data/t2s.json``);
- zero-width characters and BOMs become a space (one character wide, so offsets hold); callers that
  need a compact form collapse spaces themselves.

The fold is length preserving: ``len(fold(t)) == len(t)`` and character ``i`` of the result comes from
character ``i`` of the input, so a match in the folded text is a match at the same offsets in the
original (the ad-law scanner reports positions and context from the original). That is why this is a
character table and not OpenCC's phrase conversion, which may change lengths; the table comes from the
same Wikipedia conversion data (see data/README.md).
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib import resources

_ZERO_WIDTH = "\ufeff\u200b\u200c\u200d\u2060\ufe0f\ufe0e"


@lru_cache(maxsize=1)
def trad_to_simp_table() -> dict[int, str]:
    """Character map traditional -> simplified (``data/t2s.json``)."""
    raw = resources.files("jingshao.core").joinpath("data", "t2s.json").read_text(encoding="utf-8")
    mapping: dict[str, str] = json.loads(raw)
    return {ord(k): v for k, v in mapping.items()}


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """One character in, one character out."""
    if ch in _ZERO_WIDTH:
        return " "
    n = unicodedata.normalize("NFKC", ch)
    if len(n) != 1:
        n = ch
    c = n.casefold()
    if len(c) != 1:
        c = n.lower() if len(n.lower()) == 1 else n
    return c.translate(trad_to_simp_table())


def fold(text: str | None) -> str:
    """The folded form of ``text`` (``None`` -> ``""``); same length as the input."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    return "".join(map(fold_char, text))


def to_simplified(text: str) -> str:
    """Traditional -> simplified only, character by character."""
    return text.translate(trad_to_simp_table())
