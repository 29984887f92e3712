"""Open-vocabulary aspect and opinion spans: a character CRF, pairing, implicit aspects, normalisation.

The closed lexicon (:mod:`jingshao.nlp.tags`) only knows the aspects someone wrote down; buyers of a
phone talk about 续航, 发热, 握感, 外形设计. This module finds aspect and opinion *spans* with a linear-chain
CRF over characters (python-crfsuite), then pairs them the way the lexicon tagger pairs its words.

Features per character (11, few on purpose: building feature strings is most of the cost): the
character, its neighbours and the two bigrams through it, the word it sits in (the longest word of
jieba's dictionary, see :func:`_words`: word, B/M/E/S position, jieba's dictionary part of speech and
what the shipped lexicon says about the word (aspect, opinion, negator, degree, problem word), both
with the position), and the words either side. Labels:
``A`` aspect, ``P`` / ``N`` / ``U`` positive / negative / neutral opinion, BIO-encoded.

Trained by :mod:`jingshao.nlp.train_tags` on the Zhijiang Cup 2019 cosmetics reviews, DiaASQ Weibo phone
threads (MIT) and weak labels the lexicon tagger gives on shopping reviews. Shipped as plain data:

- ``data/tags-crf.crfsuite``: CRFsuite's own model file, written and memory-mapped by the C library.
  It is a flat table of feature strings and weights, not executable (unlike a pickle), loads in a few
  milliseconds and tags in C. Exporting the weights to JSON would mean re-implementing Viterbi in
  Python (10-50x slower) for no gain in safety or editability.
- ``data/tags-crf.json``: the learned aspect groups (surface -> normalised aspect), the implicit-aspect
  table (opinion -> aspect it names when none is written: 很好用 -> 整体, 不油腻 -> 使用体验), the
  sources and the held-out figures.

Polarity: an opinion whose head word the lexicon knows is read exactly as the lexicon tagger reads it
(negators flip, degree words keep: 不太好 -> neg); otherwise the CRF's own P/N label decides (it sees
the negator in its context window).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jingshao.core.textfold import fold

from .jieba_setup import get_jieba

MODEL_NAME = "tags-crf"
#: A text longer than this is tagged in pieces of this many characters (clause aligned where possible).
MAX_SEQ = 200

_PUNCT = set(",.!?;:~…\"'()[]{}<>|/\\，。！？；：～、 \n\t")
_SPLIT = re.compile(r"[,.!?;:~…\s\"'()\[\]{}<>|/\\，。！？；：～]+")


class TaggerModelError(ValueError):
    """A tagger model that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Span:
    kind: str  # "A" aspect, "P" / "N" / "U" opinion polarity
    start: int
    end: int  # exclusive
    text: str


# --- lexicon features -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def lexicon_roles() -> dict[str, str]:
    """word -> role letters from the shipped lexicon, every category merged (a = aspect, o = opinion,
    n = negator, d = degree, p = problem word, f = filler)."""
    from .tags import _shipped_raw

    raw = _shipped_raw()
    roles: dict[str, set[str]] = {}

    def add(words: Any, role: str) -> None:
        for w in words:
            roles.setdefault(fold(w), set()).add(role)

    for cat in raw.get("aspects", {}).values():
        for words in cat.values():
            add(words, "a")
    for cat in raw.get("problems", {}).values():
        for words in cat.values():
            add(words, "p")
    for pol in ("pos", "neg"):
        add(raw.get("opinions", {}).get(pol, []), "o" + pol[0])
        for table in raw.get("aspect_opinions", {}).values():
            add(table.get(pol, []), "o")
    add(raw.get("negators", []), "n")
    add(raw.get("degree", []), "d")
    add(raw.get("fillers", []), "f")
    return {w: "".join(sorted(r)) for w, r in roles.items()}


# --- features -----------------------------------------------------------------------------------------


def sequence_features(text: str, words: list[str] | None = None) -> list[list[bytes]]:
    """CRF features for each character of an already folded ``text`` (see module docstring).

    Built for speed (this is a third of the tagger's cost): the character features as whole lists, the
    word features per word from a cache (every B/M/E/S variant made once per word, not per character).
    All features are UTF-8 bytes: python-crfsuite copies bytes as they are but encodes a str again on
    every call; the attribute strings are the same, so the model's output is too. ``words``:
    ``_words(text)`` when the caller has it already."""
    n = len(text)
    words = _words(text) if words is None else words
    pad = "^" + text + "$"
    ub = [ch.encode("utf-8") for ch in pad]  # one encode per character, then bytes concatenation
    c = [b"c=" + ch for ch in ub[1:-1]]
    cm = [b"c-1=" + ch for ch in ub[:n]]
    cp = [b"c+1=" + ch for ch in ub[2:]]
    bm = [b"b-1=" + a + b for a, b in zip(ub[:n], ub[1:-1], strict=True)]
    bp = [b"b+1=" + a + b for a, b in zip(ub[1:-1], ub[2:], strict=True)]
    info = [_word_features(w) for w in words]
    last = len(info) - 1
    out: list[list[bytes]] = []
    append = out.append
    i = 0
    for k, (rows, _pw, _nw) in enumerate(info):
        prev = info[k - 1][1] if k else b"pw=^"
        nxt = info[k + 1][2] if k < last else b"nw=$"
        for r0, r1, r2, r3 in rows:
            append([c[i], cm[i], cp[i], bm[i], bp[i], r0, r1, r2, r3, prev, nxt])
            i += 1
    return out


_CUT_CACHE: dict[str, tuple[str, ...]] = {}


def _words(text: str) -> list[str]:
    """The words of ``text`` for the word features, clause by clause with a cache (reviews repeat clauses:
    物流很快, 好评); each punctuation character is a word of its own.

    Words are the longest word of jieba's dictionary (shop words included) at each word start, not
    jieba's own cut: its best-path search (a DAG of every dictionary word, then a log-probability
    Viterbi) was a third of the tagger's cost, while greedy longest match costs a fraction of it and
    gave the CRF as good features on a development fold of the training side (aspect recall 0.855 /
    0.492 against 0.844 / 0.488 on Zhijiang / DiaASQ). The same function cuts at training and at tagging
    time, which is what the CRF needs."""
    jieba = get_jieba()
    out: list[str] = []
    pos = 0
    for m in _SPLIT.finditer(text):
        if m.start() > pos:
            out.extend(_cut(jieba, text[pos : m.start()]))
        out.extend(m.group())
        pos = m.end()
    if pos < len(text):
        out.extend(_cut(jieba, text[pos:]))
    return out


_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _longest_words(freq: dict[str, int], clause: str) -> list[str]:
    """Greedy longest dictionary word from each word start (jieba's dictionary, where every prefix of a
    word is a key with frequency 0), Latin letters and digits in runs."""
    out: list[str] = []
    i, n = 0, len(clause)
    while i < n:
        if clause[i] in _ALNUM:
            j = i + 1
            while j < n and clause[j] in _ALNUM:
                j += 1
            out.append(clause[i:j])
            i = j
            continue
        best, j = i + 1, i + 2
        while j <= n:
            f = freq.get(clause[i:j])
            if f is None:
                break
            if f:
                best = j
            j += 1
        out.append(clause[i:best])
        i = best
    return out


def _cut(jieba: Any, clause: str) -> tuple[str, ...]:
    got = _CUT_CACHE.get(clause)
    if got is None:  # a tuple of str: the garbage collector stops tracking it, a list it walks every pass
        got = tuple(_longest_words(jieba.dt.FREQ, clause))
        if len(_CUT_CACHE) >= 50_000:
            _CUT_CACHE.clear()
        _CUT_CACHE[clause] = got
    return got


_WordRows = tuple[tuple[tuple[bytes, bytes, bytes, bytes], ...], bytes, bytes]
_WORD_CACHE: dict[str, _WordRows] = {}


def _word_features(w: str) -> _WordRows:
    """Per character of ``w``: (B/M/E/S position, word, POS+position, lexicon role+position) feature
    strings; then ``w`` as the previous and as the next word. Cached per word."""
    f = _WORD_CACHE.get(w)
    if f is None:
        n = len(w)
        marks = ["S"] if n == 1 else ["B", *(["M"] * (n - 2)), "E"]
        wp = "wp=" + _pos_table().get(w, "x")
        wr = "wr=" + lexicon_roles().get(w, "-")
        ww = ("w=" + w).encode("utf-8")
        rows = tuple((("p=" + b).encode(), ww, (wp + b).encode("utf-8"), (wr + b).encode()) for b in marks)
        f = (rows, ("pw=" + w).encode("utf-8"), ("nw=" + w).encode("utf-8"))
        if len(_WORD_CACHE) < 200_000:
            _WORD_CACHE[w] = f
    return f


@lru_cache(maxsize=1)
def _pos_table() -> dict[str, str]:
    """jieba's dictionary part of speech per word (loaded with jieba's dictionary, a plain lookup; much
    faster than running jieba.posseg's HMM over every text)."""
    get_jieba()
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab


def spans_from_labels(text: str, labels: list[str]) -> list[Span]:
    marked = [i for i, lab in enumerate(labels) if lab != "O"]  # few: most characters are O
    spans: list[Span] = []
    start, kind, last = -1, "", -2
    for i in marked:
        lab = labels[i]
        if start >= 0 and (i != last + 1 or lab[0] == "B" or lab[2:] != kind):
            spans.append(Span(kind, start, last + 1, text[start : last + 1]))
            start = -1
        if start < 0:  # B-, or an I- with nothing open: a span starts here
            start, kind = i, lab[2:]
        last = i
    if start >= 0:
        spans.append(Span(kind, start, last + 1, text[start : last + 1]))
    return spans


def labels_from_spans(n: int, spans: list[tuple[int, int, str]]) -> list[str]:
    """BIO labels for ``n`` characters; earlier spans win over later overlapping ones."""
    labels = ["O"] * n
    for start, end, kind in spans:
        if start < 0 or end > n or start >= end or any(labels[i] != "O" for i in range(start, end)):
            continue
        labels[start] = "B-" + kind
        for i in range(start + 1, end):
            labels[i] = "I-" + kind
    return labels


# --- the model ----------------------------------------------------------------------------------------


def _data_path(name: str) -> Path:
    return Path(str(resources.files("jingshao.nlp").joinpath("data", name)))


class SpanTagger:
    """The CRF (``<base>.crfsuite``) and its tables (``<base>.json``)."""

    def __init__(self, base: str | Path | None = None) -> None:
        import pycrfsuite

        base = Path(base) if base else _data_path(MODEL_NAME)
        base = base.with_suffix("") if base.suffix in (".crfsuite", ".json") else base
        model = base.with_name(base.name + ".crfsuite")
        meta = base.with_name(base.name + ".json")
        try:
            self.meta: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TaggerModelError(f"{meta}: cannot read tagger tables ({exc.strerror or exc})") from exc
        except json.JSONDecodeError as exc:
            raise TaggerModelError(f"{meta}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        if not model.is_file():
            raise TaggerModelError(f"{model}: tagger model file missing (retrain: jingshao nlp train --kind tags)")
        self._tagger = pycrfsuite.Tagger()
        try:
            self._tagger.open(str(model))
        except Exception as exc:  # pycrfsuite raises ValueError / OSError with no file name
            raise TaggerModelError(f"{model}: not a CRFsuite model ({exc})") from exc
        self.path = model
        self.groups: dict[str, str] = self.meta.get("aspect_groups", {})
        self.implicit: dict[str, str] = self.meta.get("implicit", {})
        self.implicit_default: str = self.meta.get("implicit_default", "整体")
        self.mention_words: tuple[str, ...] = tuple(self.meta.get("mention_words", ()))

    def spans(self, text: str, cut: list[str] | None = None) -> list[Span]:
        """Aspect and opinion spans of an already normalised text; with ``cut``, a list, the words of the
        text (``_words(text)``) are added to it as well."""
        out: list[Span] = []
        pieces = _pieces(text)
        for off, piece in pieces:
            words = _words(piece)
            if cut is not None and len(pieces) == 1:  # one piece: its words are the text's
                cut.extend(words)
            labels = self._tagger.tag(sequence_features(piece, words))
            out.extend(Span(s.kind, s.start + off, s.end + off, s.text) for s in spans_from_labels(piece, labels))
        if cut is not None and len(pieces) > 1:  # pieces are cut apart: the text is cut whole
            cut.extend(_words(text))
        return out


def _pieces(text: str) -> list[tuple[int, str]]:
    """(offset, piece) with pieces no longer than MAX_SEQ, cut after punctuation where possible."""
    if len(text) <= MAX_SEQ:
        return [(0, text)] if text else []
    out, start = [], 0
    while start < len(text):
        end = min(start + MAX_SEQ, len(text))
        if end < len(text):
            cut = max((m.end() for m in _SPLIT.finditer(text, start, end)), default=end)
            end = cut if cut > start else end
        out.append((start, text[start:end]))
        start = end
    return out


@lru_cache(maxsize=4)
def get_span_tagger(path: str | None = None) -> SpanTagger:
    return SpanTagger(path)


def clause_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause (clauses end at punctuation, as in the lexicon tagger)."""
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _SPLIT.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def clause_ids(text: str, ranges: list[tuple[int, int]] | None = None) -> list[int]:
    """Clause number of every character (-1 on punctuation), numbered as :func:`clause_ranges`."""
    ids: list[int] = []
    pos = 0
    for c, (start, end) in enumerate(clause_ranges(text) if ranges is None else ranges):
        ids += [-1] * (start - pos)
        ids += [c] * (end - start)
        pos = end
    ids += [-1] * (len(text) - pos)
    return ids
