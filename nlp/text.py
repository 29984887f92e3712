"""Text normalisation shared by every NLP function.

Reviews arrive in every shape: full-width punctuation, traditional characters (HK/TW shoppers and
re-posted Weibo text), emoji, English, stray BOMs and walls of text. Everything that scores or tags
text first goes through :func:`normalize` so the model and the lexicons only ever see one form.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from jingshao.core.textfold import fold

#: Texts longer than this are cut to their first and last ``MAX_CHARS // 2`` characters before
#: scoring. Reviews put their verdict at the start ("差评!") or at the end ("总之不推荐"), so the middle
#: of a very long text is the part that carries least; 1,024 characters covers 99% of the training
#: reviews whole (the hotel corpus's 99th percentile is about 700) and bounds the cost of one text.
MAX_CHARS = 1024

_WS = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\ufe0f\ufe0e"), None)


def _data_text(name: str) -> str:
    return resources.files("jingshao.nlp").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def emoji_table() -> dict[int, str]:
    """A few very common review emoji mapped to a Chinese word with the same sentiment (``data/emoji.json``)."""
    mapping: dict[str, str] = json.loads(_data_text("emoji.json"))
    return {ord(k): v for k, v in mapping.items() if len(k) == 1}


def normalize(text: str | None) -> str:
    """Canonical form for scoring and tagging.

    Zero-width characters and BOMs removed, then the shared fold (:func:`jingshao.core.textfold.fold`:
    NFKC, case, traditional -> simplified), common emoji -> a word, runs of whitespace -> one space.
    Never raises; ``None`` becomes ``""``.
    """
    if not text:
        return ""
    text = fold(str(text).translate(_ZERO_WIDTH)).translate(emoji_table())
    return _WS.sub(" ", text).strip()


def truncate(text: str, max_chars: int = MAX_CHARS) -> str:
    """Keep the head and the tail of an over-long text (see :data:`MAX_CHARS`)."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + " " + text[-half:]


def has_content(text: str) -> bool:
    """True when the text has at least one letter, digit or CJK character (not only emoji/punctuation)."""
    return any(ch.isalnum() for ch in text)
