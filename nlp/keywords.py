"""Selling points: key phrases of titles and promo copy, for product teardowns.

``jieba.analyse`` TF-IDF over all given texts joined (titles are short; one document per product
gives IDF nothing to work with, so the texts are scored together against jieba's IDF table), with
shop stop words (``data/stopwords.txt``: 包邮, 旗舰店, 新款 ... say nothing about the product) removed and
pure numbers/units dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
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
    doc = "\n".join(normalize(t) for t in texts if t)
    if not doc.strip():
        return []
    if method not in ("tfidf", "textrank"):
        raise ValueError(f"unknown method {method!r}; use 'tfidf' or 'textrank'")
    extra = frozenset(w.strip().lower() for w in extra_stop_words)
    return list(_selling_points(doc, topk, method, extra))


# A product's copy (its titles and promos) changes rarely and 评价洞察 shows the top products'
# selling points on every view: jieba's segmentation and part-of-speech tagging of the same copy
# (~0.1-0.2 ms a product) is done once. The result depends on the arguments alone (jieba's
# dictionary is loaded once per process); callers get their own list.
@lru_cache(maxsize=1024)
def _selling_points(doc: str, topk: int, method: str, extra: frozenset[str]) -> tuple[tuple[str, float], ...]:
    get_jieba()  # dictionary + shop words first, so jieba.analyse segments with them
    import jieba.analyse

    stops = stop_words() | extra
    extract = jieba.analyse.extract_tags if method == "tfidf" else jieba.analyse.textrank
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
    return tuple(out)


# Copy is cut into segments at punctuation and at blanks between Chinese words (a blank between two
# Latin words joins them: "AirPods Pro"); this is the sellers' own phrasing, so it is kept as written.
_SEGMENT_BREAK = re.compile(r"[\s]*[|｜/\\,，。;；:：!！?？、()（）\[\]【】《》<>\"“”'‘’~～·•*#]+[\s]*")
_LATIN = re.compile(r"^[A-Za-z0-9+.\-]+$")


def _segments(text: str) -> list[str]:
    out: list[str] = []
    for piece in _SEGMENT_BREAK.split(unicodedata.normalize("NFKC", text)):
        cur, latin = "", False
        for word in piece.split():
            is_latin = bool(_LATIN.match(word))
            if cur and latin and is_latin:
                cur += " " + word
            else:
                if cur:
                    out.append(cur)
                cur = word
            latin = is_latin
        if cur:
            out.append(cur)
    return out


def selling_phrases(
    texts: Iterable[str], topk: int = 8, *, max_chars: int = 12, extra_stop_words: Iterable[str] = ()
) -> list[tuple[str, float]]:
    """Selling points as short phrases of the copy itself (120W快充, 第二代骁龙8, 领券立减100元, 宽松透气),
    not single tokens (快充, 骁龙, 立减): the :func:`selling_points` keywords rank, and each keyword is
    shown as the phrase the sellers wrote around it, highest weight first.

    Candidates per keyword: a whole segment of the copy (between punctuation or blanks) of at most
    ``max_chars`` characters that contains it; else a run of two or three jieba words of a segment
    (纯棉短袖 out of 2024新款纯棉短袖T恤男) that cuts no keyword in two; else the keyword alone. Among
    them the one in most texts wins, then the shorter. No phrase contains a stop word (包邮, 旗舰店,
    新款 ...) or overlaps one already chosen.
    """
    texts = [t for t in dict.fromkeys(texts) if t and t.strip()]
    stops = stop_words() | {w.strip().lower() for w in extra_stop_words}
    ranked = selling_points(texts, topk=topk * 3, extra_stop_words=extra_stop_words)
    if not ranked:
        return []
    keys = [w for w, _ in ranked]
    jieba = get_jieba()
    whole: dict[str, set[int]] = defaultdict(set)  # candidate -> texts it occurs in
    runs: dict[str, set[int]] = defaultdict(set)
    for k, text in enumerate(texts):
        for seg in _segments(text):
            low = seg.lower()
            toks, pos = [], 0
            for w in jieba.lcut(seg, HMM=False):
                if w.strip():
                    toks.append((pos, pos + len(w), w.lower()))
                pos += len(w)
            has_stop = any(w in stops for _, _, w in toks)
            if not has_stop and len(seg) <= max_chars:
                whole[seg].add(k)
                continue
            spans = [(m.start(), m.end()) for kw in keys for m in re.finditer(re.escape(kw), low)]
            for i in range(len(toks)):
                for j in range(i + 2, min(i + 3, len(toks)) + 1):
                    a, b = toks[i][0], toks[j - 1][1]
                    if not 2 < b - a <= max_chars or any(w in stops for _, _, w in toks[i:j]):
                        continue
                    if any(s < b and a < e and not (a <= s and e <= b) for s, e in spans):
                        continue  # would cut a keyword in two (丝防晒衣 out of 冰丝防晒衣)
                    runs[seg[a:b]].add(k)
    out: list[tuple[str, float]] = []
    for word, weight in ranked:
        if any(word in p.lower() for p, _ in out):
            continue
        phrase = word
        for table in (whole, runs):
            hits = [(len(ids), -len(p), p) for p, ids in table.items() if word in p.lower()]
            if hits:
                phrase = max(hits)[2]
                break
        if any(phrase.lower() in p.lower() or p.lower() in phrase.lower() for p, _ in out):
            continue
        out.append((phrase, weight))
        if len(out) == topk:
            break
    return out
