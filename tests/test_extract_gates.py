"""The shortcuts of the extractor's hot path give the answers of the slow forms they replace.

Each gate or cheaper query is compared with the plain form it stands for (a ``str.lower()``
search, a whole-tree XPath) on the 70 shared benchmark pages and on every HTML fixture, plus the
Unicode corner cases the cheap forms have to get right (issue 15)."""

from __future__ import annotations

import json
import re
from itertools import islice
from pathlib import Path

import pytest
from lxml import etree

from jingshao.crawlers.extract import pipeline, scoring, structured, variants
from jingshao.crawlers.extract.decode import decode_html
from jingshao.crawlers.extract.page import Page, parse_page_text, text_content
from jingshao.crawlers.extract.state import page_titles

REPO = Path(__file__).resolve().parents[1]
FOLDER = scoring.benchmark_dir(scoring.shared_dir(REPO))


def _pages() -> list[tuple[str, bytes]]:
    out = [(str(p.relative_to(REPO)), p.read_bytes()) for p in sorted((REPO / "tests" / "fixtures").rglob("*.html"))]
    if (FOLDER / "ground-truth.json").exists():
        out += [(p.page_id, p.read()) for p in scoring.load_pages(FOLDER)]
    return out


PAGES = _pages()


def _page(body: bytes | str) -> Page:
    text = decode_html(body)[0] if isinstance(body, bytes) else body
    tree, data = parse_page_text(text)
    return Page(text=text, url="", tree=tree, data=data)


# The forms the gates replaced, as they were.
_OLD_LIST_KEY_AT = re.compile(r"(?:sku_?list|skus|sku_?infos?|variants|speclist)[\"']?\s*:")


def _old_names_variant_list(low: str) -> bool:
    return any(_OLD_LIST_KEY_AT.match(low, m.start()) for m in re.finditer("sku|variants|speclist", low))


def test_the_pages_are_there() -> None:
    assert len(PAGES) >= 20


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_gates_and_queries_agree_with_the_slow_forms(name: str, body: bytes) -> None:
    page = _page(body)
    low = page.text.lower()
    assert (b"itemprop" in page.ascii_lower) == ("itemprop" in low)
    assert (b"data-price" in page.ascii_lower) == ("data-price" in low)
    assert variants._names_variant_list(page.ascii_lower) == _old_names_variant_list(low)
    tree = page.tree
    old_visible = etree.XPath("//body//text()[not(parent::script) and not(parent::style)]", smart_strings=False)
    assert pipeline._VISIBLE_TEXT(tree) == old_visible(tree)
    old_scripts = tree.xpath('//script[contains(translate(@type,"JSONLD","jsonld"),"ld+json")]')
    assert structured.jsonld_items(tree, page.scripts) == structured.jsonld_items(tree) == _jsonld_of(old_scripts)
    old_titles = []
    for xp in ("//h1", '//meta[@property="og:title"]/@content', "//title"):
        for v in tree.xpath(xp)[:2]:
            s = " ".join((v if isinstance(v, str) else text_content(v)).split())
            if s:
                old_titles.append(s)
    assert page_titles(page) == old_titles
    old_meta = tree.xpath("//meta[@property and @content] | //meta[@name and @content]")
    # (the loop of structured.opengraph_fields)
    new_meta = [
        m
        for m in tree.iter("meta")
        if m.get("content") is not None and (m.get("property") is not None or m.get("name") is not None)
    ]
    assert new_meta == old_meta
    assert list(islice(tree.iter("h1"), 20)) == tree.xpath("//h1")[:20]
    assert page.itemprops == (tree.xpath("//*[@itemprop]") if "itemprop" in low else [])
    old_options = tree.xpath("//*[@data-price][@data-sku or @data-spec or @data-value or @data-sku-id]")
    assert variants._PRICED_OPTIONS(tree) == old_options
    if not any(name in page.ascii_lower for name in variants._PRICED_OPTION_PAIRS):
        assert old_options == []  # the variant gate's second test
    _assert_language(page)


def _jsonld_of(scripts: list[object]) -> list[dict[str, object]]:
    from extruct.jsonld import JsonLdExtractor

    out: list[dict[str, object]] = []
    for script in scripts:
        try:
            out.extend(structured.walk(list(JsonLdExtractor()._extract_items(script))))
        except Exception:
            continue
    return out


@pytest.mark.parametrize(
    "html,has_list",
    [
        # U+212A KELVIN SIGN lower-cases to "k": the one character that can make an ASCII key
        ('<script>var s = {"s\u212au_list": [1]}</script>', True),
        ('<script>var s = {"S\u212aUS": [1]}</script>', True),
        # U+0130 lower-cases to "i" + U+0307: no key can match across it
        ('<script>var s = {"sku_\u0130nfo": [1]}</script>', False),
        # whitespace a str pattern's \s takes before the colon, ASCII and not
        ("<script>var s = {skuList\u3000: [1]}</script>", True),
        ("<script>var s = {skus\u00a0\u2003 : [1]}</script>", True),
        ("<script>var s = {variants\x1c: [1]}</script>", True),
        ("<script>var s = {SpecList\n\t: [1]}</script>", True),
        ("<script>var s = {skuListX: [1]}</script>", False),
        ("<p>sku list: none</p>", False),
    ],
)
def test_variant_list_gate_on_unicode_corner_cases(html: str, has_list: bool) -> None:
    page = _page(html)
    assert _old_names_variant_list(page.text.lower()) is has_list  # the case is what it says
    assert variants._names_variant_list(page.ascii_lower) is has_list


def test_ascii_lower_with_and_without_the_parsed_bytes() -> None:
    text = "<div ITEMPROP=name>\u212a \u6ee1300\u51cf30</div>"
    page = _page(text)
    assert page.data  # the bytes handed to libxml2 are kept, not encoded again
    bare = Page(text=text, url="", tree=page.tree)
    assert page.ascii_lower == bare.ascii_lower == text.lower().encode()
    plain = _page("<div ITEMPROP=name>\u6ee1300\u51cf30 Data-Price</div>")
    assert plain.ascii_lower == plain.data.lower()
    assert b"itemprop" in plain.ascii_lower and b"data-price" in plain.ascii_lower


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_the_second_parse_from_the_kept_bytes_is_the_same_tree(name: str, body: bytes) -> None:
    from lxml import html as lxml_html

    from jingshao.crawlers.extract import state

    page = _page(body)
    if "itemscope" in page.text or "typeof=" in page.text:
        text = page.text.replace("\x00", "")
        assert etree.tostring(page.html_tree) == etree.tostring(lxml_html.document_fromstring(text))
    # A literal whose strict parse at its bracket failed is never strict JSON (so _loads_js does
    # not try it again).
    for script in page.scripts:
        text = script.text or ""
        for eq in state._ASSIGN_EQ.finditer(text):
            try:
                state._JSON_AT(text, eq.end())
            except ValueError:
                literal = state._balanced(text, eq.end())
                if literal:
                    with pytest.raises(ValueError):
                        json.loads(literal)


def _old_font_rules(css: str) -> list[tuple[str, str]]:
    out = []
    for chunk in css.split("}"):
        selector, _, body = chunk.rpartition("{")
        if "font" in body:
            out.append((selector, body))
    return out


@pytest.mark.parametrize(
    "css",
    [
        ".a{font-size:12px}.b{color:red}.font-x{font:14px x}",
        "@media (max-width:1px){.a .b{font-size:2em}}.c{}font-size:9px",
        ".font-only{color:red}{}}}{font:1px}",
        "font",
        "",
        ".a{FONT-SIZE:12px}.b{font-weight:bold;font-size:13px}",
    ],
)
def test_font_rules_are_the_split_rules(css: str) -> None:
    from jingshao.crawlers.extract.heuristics import _font_rules

    assert list(_font_rules(css)) == _old_font_rules(css)


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_font_rules_and_scripts_on_the_pages(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract.heuristics import _font_rules

    page = _page(body)
    assert page.scripts == page.tree.xpath("//script")
    # one walk for the tags several layers list: each list what its own XPath finds, in order
    assert set(page.tagged) == {"h1", "meta", "title", "script", "style"}
    for tag, elements in page.tagged.items():
        assert elements == page.tree.xpath(f"//{tag}"), tag
    styles = list(page.tree.iter("style"))
    assert styles == page.tree.xpath("//style")
    for style in styles[:50]:
        css = style.text or ""
        assert list(_font_rules(css)) == _old_font_rules(css)


_OLD_JS_TOKEN = re.compile(
    r"""("(?:[^"\\]|\\.)*")|('(?:[^'\\]|\\.)*')|(/\*.*?\*/|//[^\n]*)|([A-Za-z_$][\w$]*)|(,\s*(?=[}\]]))""",
    re.S,
)

_JS_CASES = [
    """{a: 'it\\'s', "b": "say \\"hi\\"", c: [1, 2,], /* note */ d: undefined, // end
    e: "unterminated}""",
    """['x', "y\\\\", 'z\\\\\\'', {k: true}]""",
    # JSON-to-be up to the end, code after the first key, a non-JSON space after a trailing comma
    """{a: 1, b: [2, 3,\u00a0], 'c': "d" /* x */, e: -1.5e3}; f(1)""",
    """{init: function () { return {a: 1}; }, price: 2, name: 'long enough name'}""",
    """[{name: 'a b c d e f', price: 10},\u00a0]; var y = 1""",
]


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_state_literal_shortcuts(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract import state

    page = _page(body)
    for src in [script.text or "" for script in page.scripts] + [f"x = {case}" for case in _JS_CASES]:
        for eq in state._ASSIGN_EQ.finditer(src):
            start = eq.end()
            first = state._JSON_NEXT.match(src, start + 1).end()  # type: ignore[union-attr]
            if first >= len(src) or src[first] not in state._JSON_FIRST[src[start]]:
                with pytest.raises(ValueError):  # the shortcut only skips parses that fail
                    state._JSON_AT(src, start)
            literal = state._balanced(src, start)
            if literal:
                assert state._JS_TOKEN.findall(literal) == _OLD_JS_TOKEN.findall(literal)
            # the bracket scan bounded where the text stops being JSON-to-be reads the same data
            bounded = state._balanced(src, start, state._JS_AS_JSON.match(src, start).end())  # type: ignore[union-attr]
            assert bounded is None or bounded == literal
            old = state._loads_js(literal) if literal and len(literal) > 20 else None
            assert (state._loads_js(bounded) if bounded and len(bounded) > 20 else None) == old


def _old_subtree_stats(root: object) -> tuple[int, int]:
    from jingshao.crawlers.extract.heuristics import _SKIP_TAG_NAMES, _SMALL_TEXT

    def count(el: object) -> int:
        return sum(1 for _ in el.iter(etree.Element))  # type: ignore[attr-defined]

    if not len(root):  # type: ignore[arg-type]
        return 1, len((root.text or "").strip())  # type: ignore[attr-defined]
    n = count(root)
    skipped_len = 0
    seen: set[object] = set()
    for skip in root.iter(*_SKIP_TAG_NAMES):  # type: ignore[attr-defined]
        if skip is root or any(a in seen for a in skip.iterancestors()):
            continue
        seen.add(skip)
        n -= count(skip)
        skipped_len += sum(len(piece.strip()) for piece in skip.itertext())
    bound = _SMALL_TEXT + skipped_len
    length = 0
    for piece in root.itertext():  # type: ignore[attr-defined]
        length += len(piece.strip())
        if length > bound:
            return n, _SMALL_TEXT + 1
    return n, length - skipped_len


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_subtree_stats_of_the_pruned_blocks(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract.heuristics import _subtree_stats, get_doc

    page = _page(body)
    blocks = list(get_doc(page)._pruned) + [page.tree, page.tree.find("body")]
    for el in blocks:
        if el is not None:
            assert _subtree_stats(el) == _old_subtree_stats(el)


@pytest.mark.parametrize(
    "html",
    [
        # skip-tag elements nested in each other, in a row, at the block's top and deep inside it
        "<div>a<noscript>n<svg><path/>p<path/></svg>q</noscript>b<svg><g><path/></g></svg>c<script>s</script></div>",
        "<div><svg><svg><path/></svg><path/></svg><span>x<svg><path/></svg>y</span><style>.a{}</style>z</div>",
        "<div><template><template><p>t</p></template></template><object><map><area></map></object> w </div>",
        "<div>" + "<p>v<svg><path/><path/></svg></p>" * 40 + "</div>",
    ],
)
def test_subtree_stats_with_nested_skipped_elements(html: str) -> None:
    from jingshao.crawlers.extract.heuristics import _subtree_stats

    page = _page(f"<html><body>{html}</body></html>")
    for el in page.tree.iter(etree.Element):
        assert _subtree_stats(el) == _old_subtree_stats(el), etree.tostring(el)


@pytest.mark.parametrize(
    "html",
    [
        '<html><head><meta http-equiv="Content-Language" content=" ZH-cn "></head></html>',
        '<html><head><meta http-equiv="CONTENT-LANGUAGE" content="de"><meta http-equiv="content-language" content=fr>',
        '<html><head><meta http-equiv="content-language"><meta http-equiv="content-language" content="it">',
        '<html lang="EN"><head><meta http-equiv="content-language" content="fr">',
        "<html><head><meta charset=utf-8></head></html>",
    ],
)
def test_page_language_is_the_xpath_one(html: str) -> None:
    _assert_language(_page(html))


def _assert_language(page: Page) -> None:
    tree = page.tree
    value = tree.get("lang") or ""
    if not value:
        metas = tree.xpath('//meta[translate(@http-equiv,"LANGUAGE","language")="content-language"]/@content')
        value = metas[0] if metas else ""
    assert page.lang == value.strip().lower()


def _old_variant_walk(node: object, depth: int = 0):  # type: ignore[no-untyped-def]
    from jingshao.crawlers.extract.variants import _LIST_KEYS

    if depth > 12:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, list) and _LIST_KEYS.match(str(key)):
                yield value
            yield from _old_variant_walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node[:200]:
            yield from _old_variant_walk(value, depth + 1)


_DEEP: dict[str, object] = {"skus": [{"a": 1}]}
for _ in range(14):
    _DEEP = {"x": [_DEEP, "s", 1], "skuList": [1, {"k": [None]}]}


@pytest.mark.parametrize("name,body", PAGES, ids=[n for n, _ in PAGES])
def test_variant_list_walk_of_the_state_blobs(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract import state, variants

    page = _page(body)
    blobs = [data for _name, data in state.iter_state(page)] + [_DEEP, [list(range(300)), {"variants": []}]]
    for blob in blobs:
        assert [id(v) for v in variants._walk(blob)] == [id(v) for v in _old_variant_walk(blob)]


_MICRODATA_CORNERS = (
    # property text with script/style/comment/PI/image/link/meta inside (the cleaned subtrees),
    # a killed element carrying the property, nested items, upper-case attribute names
    """<html><body><div itemscope itemtype="http://schema.org/Product">
    <span itemprop="name">Shoe <!-- c --> Pro<script>var x=1;</script> Max</span>
    <div itemprop="description">Line1<br>Line2<style>.a{}</style><p>para</p> tail<image src="x.png">i</image></div>
    <span itemprop="brand">A<?php echo 1 ?>B</span><script itemprop="sku">SKU-1</script>
    <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
    <span itemprop="price" style="color:red">\u00a5 99.00</span><meta itemprop="priceCurrency" content="CNY">
    <link itemprop="availability" href="http://schema.org/InStock"></div>
    <span itemprop="color">\u7ea2\u8272 <b>\u5927</b>, <i>(L)</i></span></div></body></html>""",
    # itemref (id() lookups)
    """<html><body><div itemscope itemtype="http://schema.org/Product" itemref="x1 x2">
    <span itemprop="name">N</span></div><p id="x1"><span itemprop="sku">S1</span><!--c--></p>
    <div id="x2" itemprop="brand">B<script>1</script></div></body></html>""",
    """<html><body><div itemscope><div itemprop="x">a<div>b<script>s<!--c--></script>t</div><!--c2-->u
    <style>z</style><meta name=m content=c>v<link rel=l>w</div>
    <p itemprop="y"><!--c-->t<!--d--></p></div></body></html>""",
    """<html><body><ITEM itemscope><span ITEMPROP="name">x<meta content="y"></span><span itemprop=price>1</span>
    </ITEM><div itemscope><p itemprop="a">t<link rel=x>u</p></div></body></html>""",
)


@pytest.mark.parametrize(
    "name,body",
    [(n, b) for n, b in PAGES if b"itemscope" in b]
    + [(f"corner-{i}", t.encode()) for i, t in enumerate(_MICRODATA_CORNERS)],
    ids=[n for n, b in PAGES if b"itemscope" in b] + [f"corner-{i}" for i in range(len(_MICRODATA_CORNERS))],
)
def test_microdata_on_the_page_tree_is_extructs_on_the_lxml_html_tree(name: str, body: bytes) -> None:
    page = _page(body)
    got = structured.microdata_items(page.tree, "https://example.com/p", lambda: page.html_tree)
    assert got == structured.microdata_items(page.html_tree, "https://example.com/p")
    assert got or "corner" not in name


def test_microdata_falls_back_to_extruct_when_the_page_tree_reader_fails(monkeypatch) -> None:
    """An extruct whose internals the page-tree reader does not fit (pyproject allows newer ones) still
    gives the page's microdata, read by extruct on the lxml.html tree, never none."""

    class Unfit:
        def __init__(self, html_tree: object) -> None:
            pass

        def extract_items(self, document: object, base_url: object) -> list[object]:
            raise AttributeError("_xp_item")

    name, body = next((n, b) for n, b in PAGES if b"itemscope" in b)
    page = _page(body)
    expected = structured.microdata_items(page.html_tree, "https://example.com/p")
    monkeypatch.setattr(structured, "_plain_tree_extractor", lambda: Unfit)
    got = structured.microdata_items(page.tree, "https://example.com/p", lambda: page.html_tree)
    assert got == expected and got, name


_VARIANT_CORNERS = (
    # a variant list in the state, its key written as the gate finds it
    '<script>window.__S__ = {"skuList": [{"name": "a", "price": 1}, {"name": "b", "price": 2}]};</script>',
    # the key only as a JSON escape: the gate says no, so no variants, blobs read or not
    '<script>window.__S__ = {"sku\\u004cist": [{"name": "a", "price": 1}, {"name": "b", "price": 2}]};</script>',
    # the key after a comment (no colon right after it), another key elsewhere on the page
    "<p>skus: 2</p><script>var s = {skuList /* c */ : [{name: 'a', price: 1}, {name: 'b', price: 2}]};</script>",
    "<script>var s = {skuList /* c */ : [{name: 'a', price: 1}, {name: 'b', price: 2}]};</script>",
)


@pytest.mark.parametrize(
    "name,body",
    PAGES + [(f"corner-{i}", f"<html><body>{t}</body></html>".encode()) for i, t in enumerate(_VARIANT_CORNERS)],
    ids=[n for n, _ in PAGES] + [f"corner-{i}" for i in range(len(_VARIANT_CORNERS))],
)
def test_variants_from_read_blobs_are_the_gated_ones(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract import state, variants

    page = _page(body)
    gated = variants.page_variants(page)  # the blobs not read yet: the gate first
    assert "_state_blobs" not in page.__dict__ or variants._names_variant_list(page.ascii_lower)
    state.iter_state(page)
    assert variants.page_variants(page) == gated
    if name == "corner-0" or name == "corner-2":
        assert len(gated) == 2
    elif name.startswith("corner"):
        assert gated == [] and variants.from_state([d for _n, d in state.iter_state(page)])


_PRICE_KEY_CORNERS = (
    # a price only under the key "p" (JD's price API), JSON and JS literal, a comment before the colon
    '<script>window.__P__ = {"name": "Shoe", "p": "99.00"};</script>',
    "<script>var s = {name: 'Shoe', p /* c */ : 99};</script>",
    '<script type=\'application/json\' id=\'d\'>{"skus": [{"name": "a", "p": 1}, {"name": "b", "p": 2}]}</script>',
    # the key only as a JSON escape, and no price key at all (code, tracking data)
    '<script>window.__S__ = {"name": "Shoe", "\\u0070rice": 12};</script>',
    "<script>var cfg = {init: function (p) { return p ? 1 : 2; }, ua: 'x'}; var t = {a: 1, b: [1, 2, 3]};</script>",
)


@pytest.mark.parametrize(
    "name,body",
    PAGES + [(f"corner-{i}", f"<html><body>{t}</body></html>".encode()) for i, t in enumerate(_PRICE_KEY_CORNERS)],
    ids=[n for n, _ in PAGES] + [f"corner-{i}" for i in range(len(_PRICE_KEY_CORNERS))],
)
def test_priced_state_blobs_are_every_blob_a_price_can_come_from(name: str, body: bytes) -> None:
    """The blobs not parsed (no price key in their text) give neither a state product nor a variant
    list: the state layer and the variant lists read from all blobs what they read from the priced ones."""
    from jingshao.crawlers.extract import state

    def priced(node: object) -> bool:
        if isinstance(node, dict):
            return any(k in node for k in (*state.PRICE_KEYS, *variants._PRICE_KEYS)) or any(map(priced, node.values()))
        return isinstance(node, list) and any(map(priced, node))

    page = _page(body)
    every = state.all_state(page)
    kept = state.iter_state(page)
    assert [b for b in every if priced(b[1])] == [b for b in kept if priced(b[1])]
    assert all(b in every for b in kept)
    page.__dict__["_state_blobs"] = every  # the state layer and the variant lists on every blob
    fields = state.state_fields(page)
    found = variants.from_state([d for _n, d in every])
    page.__dict__["_state_blobs"] = kept
    assert (state.state_fields(page).values, state.state_fields(page).via) == (fields.values, fields.via)
    assert variants.from_state([d for _n, d in kept]) == found
    if name.startswith("corner-"):
        assert len(kept) == (1 if name != "corner-4" else 0), kept


def test_the_price_key_gate_passes_every_price_key() -> None:
    """The blob gate (``state._may_hold_price``) is written against the two key lists: a key added to
    either that the gate cannot see (no "rice" in it, not "p") must fail here, not skip its blobs."""
    from jingshao.crawlers.extract import state

    for key in (*state.PRICE_KEYS, *variants._PRICE_KEYS):
        for text in (json.dumps({"name": "x", key: 1}), f"{{name: 'x', {key}: 1}}", f"{{'{key}' : 1}}"):
            assert state._may_hold_price(text), (key, text)


_LIST_VALUE_CORNERS = (
    # (html, a list can be read): the value gate of a page naming a variant-list key
    ('<script>var s = {"skus": [], "sku": "a1"};</script>', False),
    ('<script>var s = {"skuList": [ /* none */ ], skus: 3};</script>', False),
    ('<script>var s = {"skuList":\n [{"name": "a", "price": 1}]};</script>', True),
    ("<script>var s = {skus /* c */ : // c\n [1], t: {skus: 1}};</script>", True),
    ("<script>var s = {'Variants' : [1]};</script>", True),
    # a key ending in an escaped newline ("$" in the key pattern lets it through)
    (
        '<script>s = {"skus\\n": [{"name": "a", "price": 1}, {"name": "b", "price": 2}], "t": {"skus": 1}};</script>',
        True,
    ),
    # a letter escaped, or a character that folds to a key letter: maybe
    ('<script>var s = {"sk\\u0075s": [{"name": "a", "price": 1}], "skus": 1};</script>', True),
    ('<script>var s = {"\u017fkus": [{"name": "a", "price": 1}], "skus": 1};</script>', True),
)


@pytest.mark.parametrize("html,may", _LIST_VALUE_CORNERS)
def test_variant_list_value_gate_corner_cases(html: str, may: bool) -> None:
    page = _page(f"<html><body>{html}</body></html>")
    assert variants._names_variant_list(page.ascii_lower)
    assert variants._may_list_variants(page) is may


@pytest.mark.parametrize(
    "name,body",
    PAGES
    + [(f"corner-{i}", f"<html><body>{t}</body></html>".encode()) for i, (t, _) in enumerate(_LIST_VALUE_CORNERS)],
    ids=[n for n, _ in PAGES] + [f"corner-{i}" for i in range(len(_LIST_VALUE_CORNERS))],
)
def test_a_page_the_value_gate_turns_away_has_no_variant_list(name: str, body: bytes) -> None:
    from jingshao.crawlers.extract import state

    page = _page(body)
    if not variants._may_list_variants(page):
        # every list under a variant-list key, whatever its items, and what from_state finds
        blobs = [d for _n, d in state.iter_state(page)] + [d for _n, d in state.all_state(page)]
        assert [v for b in blobs for v in variants._walk(b) if v] == []
        assert variants.from_state(blobs) == []
