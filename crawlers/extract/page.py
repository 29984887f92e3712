"""One parsed page, shared by every layer (the tree is built once per page)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree
from lxml import html as lxml_html

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def parse_tree(text: str) -> lxml_html.HtmlElement:
    """lxml's forgiving HTML parser; returns an empty <html> when nothing parses."""
    text = _XML_DECL.sub("", text, count=1).replace("\x00", "")
    try:
        tree = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        tree = None
    if tree is None:
        tree = lxml_html.document_fromstring("<html><body></body></html>")
    return tree


@dataclass
class Page:
    text: str
    url: str
    tree: lxml_html.HtmlElement
    notes: list[str] = field(default_factory=list)

    @cached_property
    def lang(self) -> str:
        value = self.tree.get("lang") or ""
        if not value:
            metas = self.tree.xpath('//meta[translate(@http-equiv,"LANGUAGE","language")="content-language"]/@content')
            value = metas[0] if metas else ""
        return value.strip().lower()

    @cached_property
    def scripts(self) -> list[Any]:
        return self.tree.xpath("//script")
