"""Normalisation for social posts (Weibo, forums, feeds) before the mention model sees them.

Reviews and posts differ in what carries the stance. A post is full of scaffolding that says nothing
about the brand (``@someone``, ``http://t.cn/...`` short links, ``#话题#`` markers) and of signals a
review rarely has: Weibo's bracketed emoticons (``[怒]``, ``[泪]``, ``[哈哈]``) and emoji. Repost chains
``我的话//@甲: 甲的话//@乙: 乙的话`` put the reposter's own words first.

:func:`clean_post` turns a post into the text the model is trained and scored on:

- the reposter's own words come first and are kept whole; the quoted chain follows, since a bare
  "转发" or "[怒]" reads only with what it quotes (on validation folds dropping the chain lost a point
  of macro-F1; see nlp/data/README.md);
- each ``@name`` becomes ``@`` (the name is noise to the model, the fact of addressing someone is not);
- URLs become a space; ``#话题#`` keeps the topic words without the ``#``;
- each bracketed emoticon becomes ONE private-use character (U+E000..U+F0FF, from a stable hash of
  its name), so ``[怒]`` is a single feature instead of the characters 怒 and brackets, and its
  neighbours form n-grams with it;
- then the shared :func:`~jingshao.nlp.text.normalize` (NFKC, full-width -> half-width, traditional ->
  simplified, case, common emoji -> a word, whitespace).
"""

from __future__ import annotations

import re
import zlib

from .text import normalize, truncate

_URL = re.compile(r"(?:https?://|www\.)[^\s\u4e00-\u9fff，。！？]+", re.I)
_AT = re.compile(r"@[\w\u4e00-\u9fff\-·]{1,30}")
_EMOTICON = re.compile(r"\[([\u4e00-\u9fffA-Za-z0-9]{1,8})\]")
_TOPIC = re.compile(r"#([^#\n]{1,60})#")
_REPOST = re.compile(r"//\s*@")
_EMOTICON_BASE = 0xE000
_EMOTICON_SPAN = 0x1100  # stays inside the Private Use Area (U+E000..U+F8FF)


def emoticon_char(name: str) -> str:
    """The single character an emoticon ``[name]`` becomes (stable across runs and platforms)."""
    return chr(_EMOTICON_BASE + zlib.crc32(name.encode("utf-8")) % _EMOTICON_SPAN)


def split_repost(text: str) -> tuple[str, str]:
    """(the reposter's own words, the quoted chain) of ``我的话//@甲: 甲的话``; chain "" if none."""
    parts = _REPOST.split(text, maxsplit=1)
    if len(parts) == 1:
        return text, ""
    return parts[0], "@" + parts[1]


def _scrub(text: str) -> str:
    text = _URL.sub(" ", text)
    text = _AT.sub("@", text)
    text = _TOPIC.sub(lambda m: f" {m.group(1)} ", text)
    return _EMOTICON.sub(lambda m: emoticon_char(m.group(1)), text)


def clean_post(text: str | None) -> str:
    """The model's view of a post (see the module docstring); never raises, ``None`` -> ``""``."""
    if not text:
        return ""
    own, chain = split_repost(str(text))
    cleaned = _scrub(own)
    if chain:
        cleaned = f"{cleaned} // {_scrub(chain)}"
    return truncate(normalize(cleaned))
