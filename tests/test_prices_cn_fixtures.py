"""Issue 11: every field right on the Chinese shop-shaped fixture pages (tests/fixtures/cn-pages)."""

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TRUTH = json.loads((HERE / "fixtures" / "cn-pages" / "truth.json").read_text(encoding="utf-8"))
spec = importlib.util.spec_from_file_location("bench_extraction", HERE.parent / "bench" / "extraction.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_at_least_twenty_pages_of_every_shape() -> None:
    assert len(TRUTH) >= 20
    hosts = " ".join(t["url"] for t in TRUTH.values())
    for shop in (
        "jd.com",
        "tmall.com",
        "taobao.com",
        "yangkeduo.com",
        "dangdang.com",
        "suning.com",
        "vip.com",
        "jinritemai.com",
        "xiaohongshu.com",
    ):
        assert shop in hosts
    assert any(t["encoding"] != "utf-8" for t in TRUTH.values())


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_every_field_right(name: str) -> None:
    assert bench.chinese_field_errors(name, TRUTH[name]) == []


def test_variant_setting_picks_one() -> None:
    from decimal import Decimal

    from jingshao.crawlers.extract import extract_product

    body = (HERE / "fixtures" / "cn-pages" / "jd-variants.html").read_bytes()
    url = TRUTH["jd-variants"]["url"]
    r = extract_product(body, url, variant="512GB 黑色")
    assert (r.price, r.sources["price"]["layer"]) == (Decimal("5499.00"), "variant")
    missing = extract_product(body, url, variant="2TB 金色")
    assert missing.price == Decimal("4999.00") and "variant '2TB 金色' not found" in missing.error
