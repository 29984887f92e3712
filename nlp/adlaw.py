"""Ad-law words: absolute and forbidden claims in titles and promo copy, with positions and context.

The list is ``data/adlaw.txt`` (word + category per line, ``!phrase`` lines are allowances). Rule,
kept simple on purpose so a merchandiser can predict it:

- fold the text character by character (full-width -> half-width, traditional -> simplified, lower
  case), so positions stay those of the original text;
- at each position the longest listed word wins (最低价, not 最);
- a hit lying entirely inside an occurrence of an allowed phrase is dropped (最近, 第一次, 最后: time
  and order words, not claims). Everything else is reported: a reviewer decides, we point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from jingshao.core.textfold import fold

CONTEXT_CHARS = 10


@dataclass(frozen=True)
class AdlawHit:
    word: str  # the listed word that matched
    category: str  # absolute / authority / efficacy / guarantee / urgency / custom
    start: int  # offsets into the original text, end exclusive
    end: int
    context: str  # up to CONTEXT_CHARS characters either side, from the original text

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AdlawList:
    words: dict[str, str]  # folded word -> category
    allowed: tuple[str, ...]  # folded allowed phrases


def parse_adlaw_list(text: str, source: str = "adlaw.txt") -> AdlawList:
    words: dict[str, str] = {}
    allowed: list[str] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("!") else raw.strip()
        if not line:
            continue
        if line.startswith("!"):
            allowed.append(fold(line[1:].strip()))
            continue
        parts = re.split(r"\t+|\s{2,}", line)
        word = parts[0].strip()
        if len(parts) > 2:
            raise ValueError(f"{source}:{line_no}: expected 'WORD<TAB>CATEGORY', got {raw!r}")
        words[fold(word)] = parts[1].strip() if len(parts) == 2 else "custom"
    return AdlawList(words, tuple(allowed))


@lru_cache(maxsize=1)
def default_list() -> AdlawList:
    text = resources.files("jingshao.nlp").joinpath("data", "adlaw.txt").read_text(encoding="utf-8")
    return parse_adlaw_list(text)


@lru_cache(maxsize=32)
def _compiled(
    extra: tuple[str, ...], allow: tuple[str, ...]
) -> tuple[re.Pattern[str], dict[str, str], tuple[str, ...]]:
    base = default_list()
    words = dict(base.words)
    for w in extra:
        word, _, cat = w.partition(":")  # "word" or "word:category"
        if word.strip():
            words.setdefault(fold(word.strip()), cat.strip() or "custom")
    allowed = base.allowed + tuple(fold(a) for a in allow if a)
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(alternation), words, allowed


def scan_adlaw(text: str, extra_words: Iterable[str] = (), allow: Iterable[str] = ()) -> list[AdlawHit]:
    """All ad-law hits in ``text``, left to right, non-overlapping.

    ``extra_words``: more words, each ``"词"`` or ``"词:category"``. ``allow``: more allowed phrases
    (a word listed there exactly, or any phrase containing a hit, silences it).
    """
    if not text:
        return []
    pattern, words, allowed = _compiled(tuple(extra_words), tuple(allow))
    folded = fold(text)
    allowed_spans = [
        (m.start(), m.start() + len(phrase)) for phrase in allowed for m in re.finditer(re.escape(phrase), folded)
    ]
    hits: list[AdlawHit] = []
    for m in pattern.finditer(folded):
        s, e = m.span()
        if any(a <= s and e <= b for a, b in allowed_spans):
            continue
        ctx = text[max(0, s - CONTEXT_CHARS) : e + CONTEXT_CHARS]
        hits.append(AdlawHit(m.group(), words[m.group()], s, e, ctx))
    return hits
