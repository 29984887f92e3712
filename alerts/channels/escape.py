"""Escaping crawled text for each message format.

Anything in a :class:`~jingshao.alerts.channels.base.Notification` may come from a crawled page
(titles, quotes, brand aliases, URLs), so it must not be able to format the message, hide a link
behind other text, or mention the whole group. The approach is the same everywhere:

- text is made one line (newlines would start headings, lists or quotes);
- markdown control characters become their full-width twins (``*`` -> ``＊``, ``[`` -> ``［`` ...):
  readable in Chinese text, inert in every renderer, and they need no renderer-specific escape syntax
  (WeCom's markdown has none);
- ``@`` becomes ``＠`` so ``@all`` / ``@所有人`` / ``@13800000000`` in a quote mentions nobody;
- formats that parse HTML-ish tags (Feishu ``lark_md``: ``<at id=all>``; Slack ``mrkdwn``:
  ``<!channel>``) get ``&``, ``<`` and ``>`` as entities; markdown formats get full-width ``<`` ``>``.

The fixed prefix and mentions the channel adds itself are *not* passed through here.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

_WHITESPACE = re.compile(r"[\s\u2028\u2029\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_MARKDOWN_CHARS = {
    "\\": "＼",
    "*": "＊",
    "_": "＿",
    "`": "｀",
    "[": "［",
    "]": "］",
    "#": "＃",
    "~": "～",
    "|": "｜",
    "@": "＠",
}
_MARKDOWN = str.maketrans({**_MARKDOWN_CHARS, "<": "＜", ">": "＞"})
_ENTITY_MARKDOWN = str.maketrans(_MARKDOWN_CHARS)
_PLAIN = str.maketrans({"@": "＠"})


def one_line(text: str) -> str:
    """Control characters removed, every run of whitespace (newlines included) one space, stripped."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", str(text))).strip()


def markdown(text: str) -> str:
    """For DingTalk and WeCom markdown."""
    return one_line(text).translate(_MARKDOWN)


def lark_md(text: str) -> str:
    """For Feishu ``lark_md`` (entities for ``& < >``, full-width markdown characters)."""
    return _entities(one_line(text)).translate(_ENTITY_MARKDOWN)


def mrkdwn(text: str) -> str:
    """For Slack ``mrkdwn`` and the fallback ``text`` (Slack's three entities, full-width markup)."""
    return _entities(one_line(text)).translate(_ENTITY_MARKDOWN)


def plain(text: str) -> str:
    """For plain-text fields (WeCom text, Feishu/Slack ``plain_text``): one line, no ``@`` mentions."""
    return one_line(text).translate(_PLAIN)


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str | None:
    """An http(s) URL that cannot break out of ``[text](url)`` or ``<url|text>``, else ``None``.

    ``javascript:`` and other schemes are refused; parentheses, brackets, ``|``, ``<``, ``>``,
    quotes, spaces and non-ASCII characters are percent-encoded (existing escapes are kept).
    """
    url = one_line(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=":/?#@$&+,;=%~-._!")
