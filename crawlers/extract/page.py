"""One parsed page, shared by every layer (the tree is built once per page)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from lxml import etree

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_KELVIN = "\u212a".encode()
_LANGUAGE_CASE = str.maketrans("LANGUAGE", "language")
# "//*[@itemprop]" on the descendant axis: the same elements, which libxml2 finds faster than
# through the abbreviation's descendant-or-self steps
_ITEMPROPS = etree.XPath("/descendant::*[@itemprop]")
#: The tags that several layers list (titles, metas, scripts, styles): one walk collects them all.
_INDEXED_TAGS = ("h1", "meta", "title", "script", "style")


# Plain lxml elements, not ``lxml.html.HtmlElement``: lxml.html decides the class of every
# element proxy through a Python callback, which made walking a big page several times slower.
# The decoded text is handed to libxml2 as UTF-8 bytes with the encoding stated: a Python str with
# any character beyond Latin-1 reaches libxml2 as UCS-2/UCS-4 and is converted again, which made
# parsing about a quarter slower; a stated encoding also wins over the page's own <meta charset>.
# ``collect_ids=False``: libxml2 does not build a hash table of the id attributes, which nothing
# reads on this tree (no XPath id(), no ``get_element_by_id``; extruct's microdata ``itemref``
# lookups run on ``Page.html_tree``): parsing about 5% cheaper.
_PARSER = etree.HTMLParser(recover=True, remove_pis=True, default_doctype=False, encoding="utf-8", collect_ids=False)


@lru_cache(maxsize=1)
def _html_parser() -> Any:
    """``lxml.html``'s parser (``HtmlElement``s) reading UTF-8 bytes (made on first use)."""
    from lxml import html as lxml_html

    return lxml_html.HTMLParser(encoding="utf-8")


def parse_tree(text: str) -> Any:
    """lxml's forgiving HTML parser; returns an empty <html> when nothing parses."""
    return parse_page_text(text)[0]


def parse_page_text(text: str, utf8: bytes | None = None) -> tuple[Any, bytes]:
    """(tree, the UTF-8 bytes handed to libxml2): the bytes are kept for the cheap gates
    (:attr:`Page.ascii_lower`), so the page is encoded once.

    ``utf8``: the page's own bytes when they are known to be exactly ``text`` in UTF-8 (see
    :func:`utf8_body`); they are used as they are instead of encoding ``text`` again."""
    # NUL looked for in the bytes: UTF-8 writes it as the byte 0 and nothing else holds that byte,
    # while a str search for "\x00" in a page with any character beyond Latin-1 tests nearly every
    # character (CPython's search first finds the character's low byte, here the high byte of every
    # ASCII character): 0.4 ms a page, against a few microseconds.
    if utf8 is not None and b"\x00" not in utf8 and not _XML_DECL.match(text):
        data = utf8
    else:
        text = _XML_DECL.sub("", text, count=1).replace("\x00", "")
        data = text.encode("utf-8", "replace")
    try:
        # (a non-space character: ``text.strip()`` without the copy of the page it makes when
        # the page ends in a newline)
        tree = etree.fromstring(data, _PARSER) if text and not text.isspace() else None
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        tree = None
    if tree is None:
        tree = etree.fromstring(b"<html><body></body></html>", _PARSER)
    return tree, data


_UTF8_BOM = b"\xef\xbb\xbf"


def utf8_body(body: bytes | str, text: str, encoding: str | None) -> bytes | None:
    """``body`` when it is exactly ``text`` encoded as UTF-8, else None.

    True when the page was decoded as UTF-8 without a BOM (which the decoder strips) and without
    a replaced byte: then ``text.encode("utf-8")`` would give ``body`` back, and encoding a page
    of several hundred kilobytes again is skipped. A text holding U+FFFD (a replaced byte, or
    one the page wrote) is encoded as before."""
    if isinstance(body, bytes) and encoding == "utf-8" and not body.startswith(_UTF8_BOM) and "\ufffd" not in text:
        return body
    return None


def text_content(el: Any) -> str:
    """All text of an element (like ``lxml.html``'s ``text_content()``)."""
    return "".join(el.itertext())


@dataclass
class Page:
    text: str
    url: str
    tree: Any
    notes: list[str] = field(default_factory=list)
    #: the page as UTF-8, as it was parsed (see :func:`parse_page_text`); empty: encoded on demand
    data: bytes = b""

    @cached_property
    def lang(self) -> str:
        value = self.tree.get("lang") or ""
        if not value:
            # the first content of '//meta[translate(@http-equiv,"LANGUAGE","language")=
            # "content-language"]/@content', through lxml's iterator over the <meta>s only
            value = next(
                (
                    m.get("content")
                    for m in self.tagged["meta"]
                    if (m.get("http-equiv") or "").translate(_LANGUAGE_CASE) == "content-language"
                    and m.get("content") is not None
                ),
                "",
            )
        return value.strip().lower()

    @cached_property
    def html_tree(self) -> Any:
        """The page parsed again by ``lxml.html`` (``HtmlElement``s), which extruct's microdata and
        RDFa extractors need; only built for pages that carry those attributes."""
        from lxml import html as lxml_html

        # the UTF-8 bytes of the first parse (the same text: XML declaration and NULs removed),
        # encoding stated, rather than the str again (see ``_PARSER``)
        data = self.data or _XML_DECL.sub("", self.text, count=1).replace("\x00", "").encode("utf-8", "replace")
        try:
            return lxml_html.document_fromstring(data, parser=_html_parser())
        except (etree.ParserError, ValueError):
            return lxml_html.document_fromstring("<html><body></body></html>")

    @cached_property
    def ascii_lower(self) -> bytes:
        """The page's UTF-8 bytes with A-Z lower-cased, for case-insensitive gates on ASCII words
        (a literal search in it is far cheaper than a case-insensitive regex over the page, and
        ``bytes.lower`` is several times cheaper than ``str.lower`` on a page with CJK text).

        The same answers as a search in ``text.lower()`` for ASCII words without "k": the only
        non-ASCII characters that ``str.lower`` turns into ASCII letters are U+212A KELVIN SIGN
        (-> "k") and U+0130 (-> "i" + U+0307, which no word can match across). A page holding the
        Kelvin sign is lower-cased in full."""
        data = self.data or self.text.encode("utf-8", "replace")
        if _KELVIN in data:
            return self.text.lower().encode("utf-8", "replace")
        return data.lower()

    @cached_property
    def itemprops(self) -> list[Any]:
        """Elements with an ``itemprop``, in document order; none without the word in the page
        (attribute names are case-insensitive, hence the search ignoring case)."""
        # a literal search, then (rarely) a lower-cased copy: a case-insensitive regex over a
        # whole page was far slower than both
        if "itemprop" not in self.text and b"itemprop" not in self.ascii_lower:
            return []
        return _ITEMPROPS(self.tree)

    @cached_property
    def tagged(self) -> dict[str, list[Any]]:
        """The <h1>, <meta>, <title>, <script> and <style> elements, by tag, each list in document
        order: the same as ``list(tree.iter(tag))`` for each tag, from one walk of lxml's C iterator.
        A whole-tree ``iter(tag)`` costs about as much as one over all five tags (the walk over
        every node is the cost, not the tag test), and the layers asked for these tags in seven
        to eight separate walks of every page."""
        out: dict[str, list[Any]] = {tag: [] for tag in _INDEXED_TAGS}
        for el in self.tree.iter(*_INDEXED_TAGS):
            out[el.tag].append(el)
        return out

    @cached_property
    def scripts(self) -> list[Any]:
        return self.tagged["script"]  # the same as "//script", without an XPath
