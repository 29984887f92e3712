"""The unit check's candidate gate (pipeline._candidate_in_unit) never changes a result: on every
fixture page the extraction is the same as with the full scoring on every page, and it does say
yes on a wrong-unit page and no on bare numbers near price / 100."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from crawlers.extract import pipeline
from crawlers.extract.page import Page, parse_page_text

CN_PAGES = Path(__file__).parent / "fixtures" / "cn-pages"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "product-pages" / "html"


def _page_html(price_json: str, visible: str, extra: str = "") -> str:
    ld = json.dumps(
        {"@type": "Product", "name": "电热水壶 1.7L", "offers": {"price": price_json, "priceCurrency": "CNY"}}
    )
    return (
        f'<html><head><script type="application/ld+json">{ld}</script></head><body>'
        f'<h1 class="sku-name">电热水壶 1.7L</h1>{visible}{extra}<a class="btn-buy">立即购买</a></body></html>'
    )


def _pages() -> list[tuple[str, bytes]]:
    out = [(p.name, p.read_bytes()) for p in sorted(CN_PAGES.glob("*.html"))]
    out += [(p.name, gzip.decompress(p.read_bytes())) for p in sorted(SHARED.glob("*.html.gz"))]
    out.append(("fen", _page_html("45900", '<div class="price">¥459.00</div>').encode()))
    out.append(("jiao", _page_html("4590", '<span class="p-price">459</span><span>元</span>').encode()))
    return out


def _dump(r) -> str:
    return repr(sorted(vars(r).items()))


@pytest.mark.parametrize(("name", "body"), _pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_gate_changes_no_result(name, body, monkeypatch) -> None:
    url = f"https://item.example.cn/{name}"
    gated = pipeline.extract_product(body, url)
    monkeypatch.setattr(pipeline, "_candidate_in_unit", lambda page, price: True)
    assert _dump(gated) == _dump(pipeline.extract_product(body, url))


def _page(html: str) -> Page:
    tree, data = parse_page_text(html, None)
    return Page(text=html, url="https://item.example.cn/1", tree=tree, notes=[], data=data)


def test_a_wrong_unit_price_passes_the_gate_and_is_fixed() -> None:
    html = _page_html("45900", '<div class="price">¥459.00</div>')
    assert pipeline._candidate_in_unit(_page(html), Decimal("45900"))
    result = pipeline.extract_product(html, "https://item.example.cn/1")
    assert result.price == Decimal("459.00")
    assert "wrong unit" in result.sources["price"]["via"]


def test_bare_numbers_near_a_hundredth_of_the_price_do_not_pass() -> None:
    spec = "".join(f"<tr><td>参数项{i}</td><td>规格说明 {i}</td></tr>" for i in range(18, 24))
    html = _page_html("2104.48", '<div class="price">¥2104.48</div>', f"<table>{spec}</table>")
    page = _page(html)
    assert pipeline._visible_in_unit(page, Decimal("2104.48"))  # the first gate does pass on "21"
    assert not pipeline._candidate_in_unit(page, Decimal("2104.48"))
    assert pipeline.extract_product(html, "https://item.example.cn/1").price == Decimal("2104.48")


@pytest.mark.parametrize("name", ["fen", "jiao"])
def test_both_gate_orders_fix_the_unit(name: str) -> None:
    # without a promo the candidate gate goes first (the promo pass builds the page index anyway);
    # with the promo given by a selector the visible-number gate does: the same fix either way
    body = dict(_pages())[name]
    url = "https://item.example.cn/1"
    plain = pipeline.extract_product(body, url)
    with_promo = pipeline.extract_product(body, url, selectors={"promo": "a.btn-buy"})
    assert with_promo.promo == "立即购买" and plain.promo != with_promo.promo
    assert plain.price == with_promo.price == Decimal("459")
    assert plain.sources["price"] == with_promo.sources["price"]
    assert "wrong unit" in plain.sources["price"]["via"]
