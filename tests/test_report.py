"""The daily report: figures from stored rows, escaping, size budget, charts, and a phone render."""

from __future__ import annotations

import os
import re
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from jingshao.reports import ReportConfig, build_report
from jingshao.storage.db import open_database
from jingshao.storage.models import (
    AdlawHit,
    Alert,
    AlertEvent,
    ChannelState,
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    Observation,
    Product,
    Review,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 24)
EVIL = '<script>alert("x")</script> **限时** [点我](javascript:alert(1)) 耳机'
SECTIONS = (
    "今日要点",
    "竞品价格变动",
    "促销与广告法",
    "库存变化",
    "买家评价",
    "竞品拆解",
    "品牌声量",
    "告警",
    "数据源与通道健康",
)


def at(hour: float, day: date = DAY) -> datetime:
    """A local time on `day` (hours may be negative or past 24), as an aware datetime."""
    return datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=hour)


def obs(
    product_id: int,
    when: datetime,
    price: str,
    *,
    promo: str | None = None,
    stock: str = "InStock",
    title: str = "t",
    until: datetime | None = None,
) -> Observation:
    return Observation(
        product_id=product_id,
        title=title,
        price=Decimal(price),
        currency="CNY",
        availability=stock,
        in_stock=stock == "InStock",
        promo=promo,
        content_hash=f"{product_id}-{when}-{price}",
        first_seen_at=when,
        last_seen_at=until or when,
    )


def seed(db) -> None:
    with db.session() as s:
        a, b = Competitor(name="优品数码旗舰店"), Competitor(name="三只松鼠官方旗舰店")
        s.add_all([a, b])
        s.flush()
        p1 = Product(competitor_id=a.id, url="https://shop.example.com/item/1.html", name="华为 FreeBuds Pro 3")
        p2 = Product(competitor_id=a.id, url="javascript:alert(2)", name=EVIL)
        p3 = Product(competitor_id=b.id, url="https://shop.example.com/item/3.html", name="三只松鼠 每日坚果")
        p4 = Product(competitor_id=b.id, url="https://shop.example.com/item/4.html", name="late change")
        s.add_all([p1, p2, p3, p4])
        s.flush()
        s.add_all(
            [
                # p1: 1499 for weeks, 1299 on the day, with a new promo
                obs(p1.id, at(-24 * 20), "1499.00", promo="满2000减200", until=at(-1)),
                obs(p1.id, at(9), "1299.00", promo="到货特惠 | 领券立减200元", until=at(20)),
                # p2 (malicious title): goes out of stock on the day, price unchanged, ad-law word in its title
                obs(p2.id, at(-24 * 3), "99.00", title=EVIL, until=at(-2)),
                obs(p2.id, at(10), "99.00", stock="OutOfStock", title=EVIL),
                # p3: up 10% on the day
                obs(p3.id, at(-24 * 40), "129.90", until=at(-3)),
                obs(p3.id, at(11), "142.89"),
                # p4: changed at 00:30 the day after (local): not in this report
                obs(p4.id, at(-24 * 2), "50.00", until=at(23)),
                obs(p4.id, at(24.5), "40.00"),
            ]
        )
        s.flush()
        evil_obs = s.query(Observation).filter_by(product_id=p2.id, availability="OutOfStock").one()
        s.add(
            AdlawHit(
                observation_id=evil_obs.id,
                product_id=p2.id,
                field="title",
                word="最",
                category="absolute",
                start=0,
                end=1,
                context="<b>全网最低</b>",
            )
        )
        tags_pos = [
            {"aspect": "物流", "aspect_text": "快递", "opinion": "很快", "polarity": "pos", "opinion_norm": "快"}
        ]
        tags_neg = [
            {"aspect": "质量", "aspect_text": "做工", "opinion": "一般", "polarity": "neg", "opinion_norm": "一般"}
        ]
        for i in range(10):
            pos = i < 7
            s.add(
                Review(
                    product_id=p1.id,
                    fingerprint=f"f{i}",
                    text="快递很快" if pos else "做工一般",
                    posted_at=at(-24 * 2 - i),
                    first_seen_at=at(8),
                    sentiment=0.9 if pos else 0.1,
                    label="pos" if pos else "neg",
                    tags=tags_pos if pos else tags_neg,
                )
            )
        for i in range(6):
            neg = i < 2
            s.add(
                Mention(
                    brand="蜜橙",
                    source="微博搜索",
                    url=f"https://weibo.example.com/{i}",
                    url_key=f"u{i}",
                    content_key=f"c{i}",
                    title=f"蜜橙 讨论 {i}" if not neg else "<img src=x onerror=alert(3)>",
                    text="...",
                    posted_at=at(12 - i * 24 * (i % 3 == 0)),
                    sentiment=0.1 if neg else 0.8,
                    label="neg" if neg else "pos",
                )
            )
        alert = Alert(
            fingerprint="a1",
            family="price_drop",
            subject="华为 FreeBuds Pro 3",
            subject_key="p:1",
            level="red",
            max_level="red",
            state="firing",
            rule="price_drop",
            summary="降价 13.3%",
            started_at=at(9),
            level_since=at(9),
            last_active_at=at(9),
        )
        s.add(alert)
        s.flush()
        s.add_all(
            [
                AlertEvent(alert_id=alert.id, kind="opened", level="yellow", at=at(9)),
                AlertEvent(alert_id=alert.id, kind="escalated", level="red", at=at(10)),
                AlertEvent(alert_id=alert.id, kind="repeated", level="red", at=at(11)),
            ]
        )
        s.add_all(
            [
                FailedObservation(
                    url="https://shop.example.com/item/9.html", reason="no price found", http_status=200, at=at(h)
                )
                for h in (3, 6, 9)
            ]
        )
        s.add(
            CrawlRun(
                spider="reviews",
                started_at=at(7),
                finished_at=at(7.1),
                status="failed",
                failures=4,
                errors=["HTTP 503 from reviews API"],
            )
        )
        s.add(ChannelState(name="dingtalk-ops", state="broken", reason="310000 关键词不匹配", since=at(5)))


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(f"sqlite:///{tmp_path / 'report.db'}")
    seed(database)
    yield database
    database.dispose()


@pytest.fixture
def built(db, tmp_path: Path):
    return build_report(db, "Asia/Shanghai", DAY, None, tmp_path / "out", now=datetime(2026, 11, 25, 0, 5, tzinfo=UTC))


@pytest.mark.slow
def test_figures_and_sections(built) -> None:
    data = built.data
    h = data.headline
    assert (h.competitors, h.products) == (2, 4)
    assert (h.price_changes, h.price_drops, h.price_rises) == (2, 1, 1)
    [drop] = [c for c in data.price_changes if c.is_drop]
    assert (drop.old, drop.new, round(drop.pct, 1)) == (Decimal("1499.00"), Decimal("1299.00"), -13.3)
    assert drop.trend[0].price == Decimal("1499.00") and drop.trend[-1].price == Decimal("1299.00")
    assert [c.product.name for c in data.promo_changes] == ["华为 FreeBuds Pro 3"]
    assert [(c.old, c.new) for c in data.stock_changes] == [("InStock", "OutOfStock")]
    assert "late change" not in {c.product.name for c in data.price_changes}  # 00:30 next day, local
    assert [f.word for f in data.adlaw] == ["最"]
    [s1] = [s for s in data.sentiment if s.product.name == "华为 FreeBuds Pro 3"]
    assert (s1.reviews, s1.new_reviews, s1.positive_share) == (10, 10, 0.7)
    assert s1.pros[0].label == "物流快" and s1.cons[0].label == "质量一般"
    assert (data.alerts.opened, data.alerts.escalated, data.alerts.resolved, data.alerts.firing_now) == (1, 1, 0, 1)
    assert [(f.count, f.reason) for f in data.failing_sources] == [(3, "no price found")]
    assert [r.status for r in data.crawl_problems] == ["failed"]
    assert [c.name for c in data.broken_channels] == ["dingtalk-ops"]
    [brand] = data.brands
    assert len(brand.days) == 14 and brand.days[-1].day == DAY
    assert (brand.total, brand.neg, brand.days[-1].total, brand.days[-4].total) == (5, 2, 5, 1)
    assert {t.name for t in data.teardowns} == {"优品数码旗舰店", "三只松鼠官方旗舰店"}

    assert built.subject == "【竞哨】竞品日报 2026-11-24"
    assert built.html_path.name == "jingshao-report-2026-11-24.html" and built.html_path.exists()
    for title in SECTIONS:
        assert title in built.html and title in built.text
    for needle in ("1,499.00", "1,299.00", "-13.3%", "+10.0%", "华为 FreeBuds Pro 3", "dingtalk-ops"):
        assert needle in built.html and needle in built.text


@pytest.mark.slow
def test_images_are_referenced_by_cid_and_embedded_in_the_saved_file(built) -> None:
    cids = set(re.findall(r'src="cid:([^"]+)"', built.html))
    assert cids == {img.cid for img in built.images} and len(cids) == 3  # two price charts, one brand
    for img in built.images:
        assert img.data.startswith(b"\x89PNG") and len(img.data) < 40_000
    saved = built.html_path.read_text(encoding="utf-8")
    assert "cid:" not in saved and saved.count("data:image/png;base64,") == 3


@pytest.mark.slow
def test_crawled_text_is_escaped(built) -> None:
    html = built.html
    assert "<script" not in html.lower()
    tree = lxml.html.fromstring(html.encode())
    assert not tree.xpath("//script | //img[@onerror] | //b[contains(., '全网最低')]")
    assert "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "<b>全网最低</b>" not in html and "&lt;b&gt;全网最低&lt;/b&gt;" in html
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html).__str__()
    assert 'href="#"' in html  # the javascript: product URL became an inert link
    assert "**限时" in html  # markdown stays literal text: nothing renders it
    assert '<script>alert("x")</script>' in built.text  # plain text part: shown as written, not executed


@pytest.mark.slow
def test_size_budget_caps_lists_and_says_so(db, tmp_path: Path) -> None:
    with db.session() as s:
        comp = Competitor(name="大卖场")
        s.add(comp)
        s.flush()
        for i in range(300):
            p = Product(competitor_id=comp.id, url=f"https://big.example.com/{i}", name=f"很长的商品名称 {i} " * 4)
            s.add(p)
            s.flush()
            s.add_all(
                [
                    obs(p.id, at(-30), "100.00", promo=f"满{i}减", until=at(-1)),
                    obs(p.id, at(8), f"{90 - i % 50}.00", promo=f"新促销 {i} " * 5, stock="OutOfStock"),
                ]
            )
    built = build_report(db, TZ, DAY, None, tmp_path / "big")
    assert built.size_bytes < 100 * 1024
    assert re.search(r"还有 \d+ 条价格变动", built.html) and re.search(r"还有 \d+ 条价格变动", built.text)
    assert len([i for i in built.images if i.cid.startswith("price-")]) == ReportConfig().max_charts


def test_date_range_and_empty_database(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    built = build_report(db, TZ, date(2026, 11, 20), date(2026, 11, 24), tmp_path)
    assert built.report_key == "2026-11-20_2026-11-24" and "2026-11-20 至 2026-11-24" in built.subject
    assert "本期没有竞品调价" in built.html and "所有数据源和通知通道正常" in built.text
    db.dispose()


@pytest.mark.slow
def test_charts_render_chinese_or_fall_back_to_ascii(built, monkeypatch) -> None:
    from jingshao.reports import charts

    brand = built.data.brands[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" would be a UserWarning
        png = charts.mention_chart(brand)
        assert png.startswith(b"\x89PNG")
        monkeypatch.setattr(charts, "cjk_font", lambda: None)
        assert charts._labels(False)["neg"] == "neg"
        assert charts.mention_chart(brand).startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.browser
def test_phone_render_in_chromium(built, chromium, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shot = Path(os.environ.get("JINGSHAO_ARTIFACTS") or tmp_path) / "report-phone.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page.goto(built.html_path.as_uri())
            for title in SECTIONS:
                heading = page.locator("h2", has_text=title).first
                heading.scroll_into_view_if_needed()
                assert heading.is_visible(), title
            # Nothing wider than the phone: no sideways scrolling.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            loaded = page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            assert loaded
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


# ---------------------------------------------------------------- when a report is due


def schedule_cfg(report: str, db: Path | None = None, **report_section):
    from jingshao.config import parse_config

    return parse_config(
        {
            "timezone": "Asia/Shanghai",
            "schedule": {"report": report},
            "report": report_section,
            "database": {"url": f"sqlite:///{db}"} if db else {},
        }
    )


@pytest.mark.parametrize(
    ("spec", "local_now", "due"),
    [
        ("0 8 * * *", "2026-11-25 07:59", "2026-11-23"),  # today's 08:00 not yet: the last one was yesterday's
        ("0 8 * * *", "2026-11-25 08:00", "2026-11-24"),
        ("every 1h", "2026-11-25 00:59", "2026-11-23"),  # fires once in any hour: by 01:00 it has for yesterday
        ("every 1h", "2026-11-25 01:00", "2026-11-24"),
        ("every 6h", "2026-11-25 05:59", "2026-11-23"),
        ("every 6h", "2026-11-25 06:00", "2026-11-24"),
        ("every 1d", "2026-11-25 23:59", "2026-11-23"),  # yesterday's may still be pending until midnight
        ("every 1d", "2026-11-26 00:00", "2026-11-24"),
        ("every 2d", "2026-11-25 12:00", None),  # skips days by design; its phase is unknown
        ("off", "2026-11-25 12:00", None),
    ],
)
def test_last_due_report_date_for_crontab_and_interval_schedules(spec: str, local_now: str, due: str | None) -> None:
    from jingshao.reports.service import last_due_report_date

    now = datetime.fromisoformat(local_now).replace(tzinfo=TZ).astimezone(UTC)
    got = last_due_report_date(schedule_cfg(spec), now)
    assert got == (date.fromisoformat(due) if due else None)


def test_report_enabled_and_a_disabled_report_is_never_caught_up(tmp_path: Path) -> None:
    from jingshao.reports.service import report_enabled, unsent_report_date

    smtp = {"host": "127.0.0.1", "port": 9, "from_addr": "r@example.com", "to": ["ops@example.com"]}
    assert report_enabled(schedule_cfg("0 8 * * *"))
    assert not report_enabled(schedule_cfg("0 8 * * *", enabled=False))
    assert not report_enabled(schedule_cfg("off"))
    assert unsent_report_date(schedule_cfg("0 8 * * *", tmp_path / "r.db", enabled=False, smtp=smtp)) is None
    assert unsent_report_date(schedule_cfg("off", tmp_path / "r.db", smtp=smtp)) is None
    enabled = schedule_cfg("0 8 * * *", tmp_path / "r.db", smtp=smtp)
    assert unsent_report_date(enabled) is not None  # nothing sent yet
