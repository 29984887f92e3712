"""Price-compliance audits (issue 12): Articles 16, 17, 19 and 20 of 《明码标价和禁止价格欺诈规定》, each with a
positive and a negative case, worded as risks with evidence; `jingshao audit prices` over a stored history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from jingshao.alerts.rules.compliance import (
    AuditSubject,
    ListPrice,
    PricePoint,
    article16,
    article17,
    article19,
    article20,
    claimed_discounts,
)
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.evidence import attach_evidence
from jingshao.storage.models import ListPagePrice
from jingshao.storage.repository import CatalogEntry, record_observation, sync_catalog

from .conftest import run_cli

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ITEM = AuditSubject(7, "每日坚果 750g", "三只松鼠官方旗舰店")


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


def point(
    days_ago: float, price: str, original: str | None = None, promo: str | None = None, until: float | None = None
):
    return PricePoint(
        at(days_ago),
        Decimal(price),
        Decimal(original) if original else None,
        promo,
        at(until) if until is not None else None,
        snapshot=f"{int(days_ago * 10):064d}",
    )


def test_article16_comparison_price_above_the_7_day_low():
    history = [point(6, "99", until=2), point(1, "89", original="129")]
    (finding,) = article16(ITEM, history)
    assert finding.headline.startswith("可能违反《明码标价和禁止价格欺诈规定》第十六条")
    assert "¥129.00" in finding.summary and "¥99.00" in finding.summary
    assert dict(finding.facts)["前7日最低"] == "¥99.00" and finding.snapshots  # the 7-day prices and snapshots
    # Negative: the 划线价 is the price of the 7 days before (an honest comparison).
    assert article16(ITEM, [point(6, "129", until=2), point(1, "89", original="129")]) == []
    # No price in the 7 days before: the last price before them is the reference.
    assert article16(ITEM, [point(20, "129", until=15), point(1, "89", original="129")]) == []
    assert article16(ITEM, [point(20, "99", until=15), point(1, "89", original="129")])


def test_article17_raised_just_before_a_discount():
    raised = [point(10, "99", until=3), point(3, "139", until=1), point(1, "109", promo="限时直降30元")]
    (finding,) = article17(ITEM, raised)
    assert "第十七条" in finding.headline and "¥139.00" in finding.summary
    # Negative: the discounted price goes below the price before the raise.
    assert article17(ITEM, [point(10, "99", until=3), point(3, "139", until=1), point(1, "89")]) == []
    # Negative: the raise was long before the discount.
    assert article17(ITEM, [point(40, "99", until=30), point(30, "139", until=1), point(1, "109")]) == []


def test_article19_claimed_discount_not_in_the_prices():
    assert claimed_discounts("店铺满300减30 | 限时5折 | 直降200元") == [("zhe", Decimal(5)), ("cut", Decimal(200))]
    false_half = [point(5, "100", until=1), point(1, "80", promo="限时5折")]
    (finding,) = article19(ITEM, false_half)
    assert "第十九条" in finding.headline and "8折" in finding.summary
    assert article19(ITEM, [point(5, "100", until=1), point(1, "50", promo="限时5折")]) == []
    false_cut = [point(5, "500", until=1), point(1, "450", promo="直降200元")]
    assert article19(ITEM, false_cut)
    assert article19(ITEM, [point(5, "500", until=1), point(1, "300", promo="直降200元")]) == []
    # 满减 and coupons are checkout offers, not claims about the shown price.
    assert article19(ITEM, [point(5, "500", until=1), point(1, "500", promo="满300减30 领券立减200")]) == []


def test_article20_list_page_cheaper_than_the_detail_page():
    detail = [point(2, "199", until=0)]
    cheaper = [ListPrice(at(1), Decimal("179"), "https://shop.example.com/search?q=坚果")]
    (finding,) = article20(ITEM, detail, cheaper)
    assert "第二十条" in finding.headline and "¥179.00" in finding.summary
    assert article20(ITEM, detail, [ListPrice(at(1), Decimal("199"), "https://shop.example.com/list")]) == []
    # A list price from a time the detail page was not observed compares with nothing.
    assert article20(ITEM, detail, [ListPrice(at(30), Decimal("99"), "https://shop.example.com/list")]) == []


def test_audit_prices_command_over_stored_history(tmp_path):
    cfg = write_demo_config("http://127.0.0.1:9", tmp_path, with_browser=False, products=[], mentions=False)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    now = datetime.now(UTC)
    with db.session() as s:
        ids = sync_catalog(s, [CatalogEntry("三只松鼠官方旗舰店", "http://127.0.0.1:9/nuts.html", "每日坚果")])
        pid = ids["http://127.0.0.1:9/nuts.html"]
        record_observation(s, pid, {"price": Decimal("99"), "currency": "CNY"}, seen_at=now - timedelta(days=6))
        record_observation(s, pid, {"price": Decimal("99"), "currency": "CNY"}, seen_at=now - timedelta(days=2))
    with db.session() as s:
        attach_evidence(s, pid, "http://127.0.0.1:9/nuts.html", b"<html>99</html>", at=now - timedelta(days=6))
    with db.session() as s:
        fields = {"price": Decimal("89"), "original_price": Decimal("129"), "currency": "CNY", "promo": "限时5折"}
        record_observation(s, pid, fields, seen_at=now - timedelta(days=1))
        s.add(
            ListPagePrice(
                product_id=pid,
                page_url="http://127.0.0.1:9/list",
                price=Decimal("79"),
                seen_at=now - timedelta(hours=20),
            )
        )
    with db.session() as s:
        attach_evidence(s, pid, "http://127.0.0.1:9/nuts.html", b"<html>89 129</html>", at=now - timedelta(days=1))
    out = run_cli("audit", "prices", "--days", "30", "--config", str(cfg)).stdout
    assert "可能违反《明码标价和禁止价格欺诈规定》第十六条" in out and "第十九条" in out and "第二十条" in out
    assert "不构成违法认定" in out and "jingshao evidence export" in out
    rows = [json.loads(line) for line in run_cli("audit", "prices", "--json", "--config", str(cfg)).stdout.splitlines()]
    assert {r["article"] for r in rows} == {16, 19, 20} and all(r["snapshots"] for r in rows if r["article"] == 16)
    other = run_cli("audit", "prices", "--competitor", "别家", "--config", str(cfg)).stdout
    assert "未发现" in other

    # The daily report has a short section with the period's findings (HTML and plain text).
    from jingshao.reports import build_report

    local = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    built = build_report(db, "Asia/Shanghai", local - timedelta(days=2), local, tmp_path / "reports")
    assert "价格合规风险" in built.html and "第十六条" in built.html and "不构成违法认定" in built.html
    assert "第十六条" in built.text


def test_article20_from_a_crawled_list_page(shop, tmp_path):
    from jingshao.demo.catalog import demo_products
    from jingshao.demo.listing import LIST_PATH, list_price_selector

    product = next(p for p in demo_products(shop.base_url) if p.id == "youpin-10001")

    def crawl_and_audit(where):
        cfg = write_demo_config(shop.base_url, where, with_browser=False, products=[product], mentions=False)
        cfg.write_text(
            cfg.read_text(encoding="utf-8")
            + "    [competitors.products.list_page]\n"
            + f"    url = {json.dumps(shop.base_url + LIST_PATH + '?q=iPad')}\n"
            + f"    price = {json.dumps(list_price_selector(product.id))}\n",
            encoding="utf-8",
        )
        run_cli("crawl", "products", "--config", str(cfg))
        return run_cli("audit", "prices", "--json", "--config", str(cfg)).stdout

    honest = crawl_and_audit(tmp_path / "same")  # the list shows the detail page's price
    assert not [r for r in map(json.loads, honest.splitlines()) if r["article"] == 20]
    db = open_database(f"sqlite:///{tmp_path / 'same' / 'demo.db'}")
    with db.session() as s:
        assert len(s.query(ListPagePrice).all()) == 1  # the list price was read and stored

    shop.shop.list_prices[product.id] = Decimal("3999")
    cheaper = [r for r in map(json.loads, crawl_and_audit(tmp_path / "cheaper").splitlines()) if r["article"] == 20]
    assert cheaper and "¥3999.00" in cheaper[0]["summary"]
