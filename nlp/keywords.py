"""Selling points: key phrases of titles and promo copy, for product teardowns.

``jieba.analyse`` TF-IDF over all given texts joined (titles are short; one document per product
gives IDF nothing to work with, so the texts are scored together against jieba's IDF table), with
shop stop words (``data/stopwords.txt``: 包邮, 旗舰店, 新款 ... say nothing about the product) removed and
pure numbers/units dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from .jieba_setup import get_jieba
from .text import normalize

# Numbers with units (128gb, 5.5l, 65w), bare units and short Latin fragments (gb, mm) say nothing
# about a product on their own.
_NOISE = re.compile(r"^[\d.%+]+[a-z]*$|^[a-z]{1,3}$")
#: Parts of speech kept: nouns (n, nz, nr, ns, vn...), adjectives, verbs, English; the rest are
#: function words or numbers.
ALLOW_POS = ("n", "nz", "vn", "an", "a", "v", "eng", "nr", "ns", "nt", "l", "i")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    text = resources.files("jingshao.nlp").joinpath("data", "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for w in (line.split("#", 1)[0].strip().lower() for line in text.splitlines()) if w)


def selling_points(
    texts: Iterable[str], topk: int = 10, *, method: str = "tfidf", extra_stop_words: Iterable[str] = ()
) -> list[tuple[str, float]]:
    """Top ``topk`` (phrase, weight) pairs across ``texts``, highest weight first.

    ``method`` is ``"tfidf"`` (default; good for short titles) or ``"textrank"`` (co-occurrence graph;
    better for long promo copy).
    """
    get_jieba()  # dictionary + shop words first, so jieba.analyse segments with them
    import jieba.analyse

    doc = "\n".join(normalize(t) for t in texts if t)
    if not doc.strip():
        return []
    stops = stop_words() | {w.strip().lower() for w in extra_stop_words}
    if method == "tfidf":
        extract = jieba.analyse.extract_tags
    elif method == "textrank":
        extract = jieba.analyse.textrank
    else:
        raise ValueError(f"unknown method {method!r}; use 'tfidf' or 'textrank'")
    # Ask for more than topk: stop words are filtered afterwards (jieba's own stop-word list is global
    # state shared with every other caller in the process, so we do not touch it).
    raw = extract(doc, topK=topk * 4 + 20, withWeight=True, allowPOS=ALLOW_POS)
    out: list[tuple[str, float]] = []
    for word, weight in raw:
        w = word.strip().lower()
        if len(w) < 2 and not w.isascii() or w in stops or _NOISE.match(w):
            continue
        out.append((w, round(float(weight), 4)))
        if len(out) == topk:
            break
    return out
