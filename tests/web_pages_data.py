"""Dashboard test data: the demo shop's catalog with a year of price history, reviews, mentions of the
demo brand, alerts, crawl runs and channel states, written straight into a real database.

A real crawl of the demo shop sees two shop states; the pages need a year of history (30/90/365-day
ranges), a crisis and alerts, which would take a long drill to produce. So the catalog is the demo
shop's (the same URLs, so the extraction preview and crawls still work against the real shop) and
the history is generated, deterministically. A few rows carry injection strings the way a hostile
shop or post would deliver them (titles, promo copy, mention text and links).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from jingshao.storage.db import open_database
from jingshao.storage.models import (
    Alert,
    AlertEvent,
    ChannelState,
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    Notification,
    Observation,
    Product,
    Review,
)

INJECTIONS = (
    "<script>window.__pwned=1;alert('xss')</script>",
    '<img src=x onerror="window.__pwned=2;alert(2)">',
    "@all 请立即处理",
)
JS_URL = "javascript:window.__pwned=3;alert(3)"
HOSTILE_TITLE = f"黑店 {INJECTIONS[0]} 特价 {INJECTIONS[1]} {INJECTIONS[2]}"

SOURCES = {
    "title": {"layer": "structured", "via": "json-ld"},
    "price": {"layer": "structured", "via": "json-ld offers.price"},
    "original_price": {"layer": "heuristic", "via": ".price-del"},
    "availability": {"layer": "structured", "via": "json-ld availability"},
    "promo": {"layer": "selector", "via": ".promo::text"},
}

TAGS = [
    ({"aspect": "物流", "opinion": "快", "polarity": "pos"}, "物流很快，第二天就到了"),
    ({"aspect": "质量", "opinion": "好", "polarity": "pos"}, "质量很好，做工扎实"),
    ({"aspect": "尺码", "opinion": "偏小", "polarity": "neg"}, "尺码偏小，建议拍大一码"),
    ({"aspect": "客服", "opinion": "差", "polarity": "neg"}, "客服态度差，回复慢"),
    ({"aspect": "价格", "opinion": "实惠", "polarity": "pos"}, "价格实惠，活动力度大"),
]


@dataclass
class Seeded:
    products: dict[str, int]  # url -> product id
    chart_product: int  # a product with a year of history and one anomaly in the last 30 days
    chart_points: dict[int, int]  # days -> confirmed priced observations in the window
    hostile_product: int
    void_target: int  # an observation id of chart_product that a test may void
    alerts: dict[str, int]  # name -> alert id ("crisis", "price", "resolved")
    evidence: str  # the SHA-256 of the chart product's page snapshot
    brand: str


def _tag_row(t: dict[str, str]) -> dict[str, str]:
    return {**t, "aspect_text": t["aspect"], "opinion_norm": t["opinion"]}


def seed(database_url: str, base_url: str, now: datetime | None = None) -> Seeded:
    """Write the data set into `database_url` (migrated already); returns what tests look for."""
    from jingshao.demo.catalog import demo_products
    from jingshao.demo.mentions_data import DEMO_BRAND

    now = now or datetime.now(UTC)
    rng = random.Random(20261202)
    db = open_database(database_url)
    brand = str(DEMO_BRAND["name"])
    with db.session() as s:
        comps: dict[str, int] = {}
        products: dict[str, int] = {}
        for p in demo_products(base_url):
            if p.render:
                continue
            if p.competitor not in comps:
                comps[p.competitor] = s.execute(
                    insert(Competitor).values(name=p.competitor, created_at=now).returning(Competitor.id)
                ).scalar_one()
            products[p.url] = s.execute(
                insert(Product)
                .values(competitor_id=comps[p.competitor], url=p.url, name=p.name, created_at=now)
                .returning(Product.id)
            ).scalar_one()
        hostile_comp = s.execute(
            insert(Competitor).values(name=f"可疑店铺 {INJECTIONS[1]}", created_at=now).returning(Competitor.id)
        ).scalar_one()
        hostile = s.execute(
            insert(Product)
            .values(competitor_id=hostile_comp, url=JS_URL, name=None, created_at=now)
            .returning(Product.id)
        ).scalar_one()
        run = s.execute(
            insert(CrawlRun)
            .values(
                spider="products",
                started_at=now - timedelta(minutes=30),
                finished_at=now - timedelta(minutes=29),
                status="finished",
                pages=len(products) + 1,
                changes=3,
                unchanged=len(products) - 3,
                failures=1,
            )
            .returning(CrawlRun.id)
        ).scalar_one()
        for spider in ("reviews", "mentions"):
            s.execute(
                insert(CrawlRun).values(
                    spider=spider,
                    started_at=now - timedelta(hours=1),
                    finished_at=now - timedelta(minutes=55),
                    status="finished",
                    pages=20,
                    changes=5,
                    unchanged=15,
                )
            )

        # A year of history: a change every 5 days (one product), every 20 days (the others).
        chart_pid = next(iter(products.values()))
        obs_rows = []
        for pid in products.values():
            every = 5 if pid == chart_pid else 20
            price = Decimal(rng.randrange(100, 5000))
            # Half a day off the grid, so no change sits on a 30/90/365-day boundary while a test runs.
            t = now - timedelta(days=400, hours=12)
            while t < now - timedelta(days=1):
                step = Decimal(rng.choice([-3, -2, -1, 1, 2, 3])) / 100 * price
                price = max(Decimal(10), (price + step).quantize(Decimal("0.01")))
                obs_rows.append(
                    dict(
                        product_id=pid,
                        crawl_run_id=None,
                        title=f"商品 {pid}",
                        price=price,
                        original_price=(price * Decimal("1.2")).quantize(Decimal("0.01")),
                        final_price=(price * Decimal("0.95")).quantize(Decimal("0.01")),
                        currency="CNY",
                        availability="InStock",
                        in_stock=True,
                        promo=f"满{int(price) // 10 * 10}减{rng.choice([10, 20, 50])}" if rng.random() < 0.5 else None,
                        sources=SOURCES,
                        content_hash=f"{pid}-{t.isoformat()}",
                        first_seen_at=t,
                        last_seen_at=t + timedelta(days=every) - timedelta(hours=1),
                        status="ok",
                    )
                )
                t += timedelta(days=every)
        # The chart product: one anomalous drop 10 days ago (far beyond 3σ) and a suspect spike 3 days ago.
        chart_rows = [r for r in obs_rows if r["product_id"] == chart_pid]
        drop = min(chart_rows, key=lambda r: abs(r["first_seen_at"] - (now - timedelta(days=10))))
        drop["price"] = (drop["price"] * Decimal("0.5")).quantize(Decimal("0.01"))
        spike = min(chart_rows, key=lambda r: abs(r["first_seen_at"] - (now - timedelta(days=3))))
        spike["status"] = "suspect"
        spike["price"] = spike["price"] * 5
        # The latest observations, seen by the last run (changes today for the overview).
        for pid in list(products.values())[:3]:
            last = max((r for r in obs_rows if r["product_id"] == pid), key=lambda r: r["first_seen_at"])
            obs_rows.append(
                {
                    **last,
                    "price": (last["price"] * Decimal("0.9")).quantize(Decimal("0.01")),
                    "status": "ok",
                    "crawl_run_id": run,
                    "promo": "限时秒杀 | 领券立减200元",
                    "content_hash": f"{pid}-today",
                    "first_seen_at": now - timedelta(minutes=29),
                    "last_seen_at": now - timedelta(minutes=29),
                }
            )
        obs_rows.append(
            dict(
                product_id=hostile,
                crawl_run_id=run,
                title=HOSTILE_TITLE,
                price=Decimal("9.90"),
                original_price=None,
                final_price=None,
                currency="CNY",
                availability="InStock",
                in_stock=True,
                promo=f"{INJECTIONS[2]} {INJECTIONS[0]}",
                sources={"title": {"layer": "heuristic", "via": INJECTIONS[1]}},
                content_hash="hostile",
                first_seen_at=now - timedelta(hours=2),
                last_seen_at=now - timedelta(minutes=29),
                status="ok",
            )
        )
        s.execute(insert(Observation), obs_rows)
        s.execute(
            insert(FailedObservation).values(
                product_id=list(products.values())[-1],
                crawl_run_id=run,
                url=list(products)[-1],
                reason="页面没有价格 no price found",
                http_status=200,
                at=now - timedelta(minutes=29),
            )
        )

        # Reviews: 40 per product over 60 days, tagged.
        rev = []
        for pid in products.values():
            for i in range(40):
                tag, text = TAGS[(pid + i) % len(TAGS)]
                at = now - timedelta(hours=rng.randrange(1, 24 * 60))
                pos = tag["polarity"] == "pos"
                rev.append(
                    dict(
                        product_id=pid,
                        fingerprint=f"r-{pid}-{i}",
                        rating=5 if pos else 2,
                        text=text if i % 7 else f"{text} {INJECTIONS[0]}",
                        posted_at=at,
                        sentiment=0.9 if pos else 0.1,
                        label="pos" if pos else "neg",
                        tags=[_tag_row(tag)],
                        scorer="test",
                        first_seen_at=at,
                    )
                )
        s.execute(insert(Review), rev)

        # Mentions of the demo brand: a quiet week, then a burst of negatives in the last two hours.
        men = []
        for i in range(300):
            at = now - timedelta(minutes=rng.randrange(130, 7 * 24 * 60))
            neg = rng.random() < 0.15
            men.append(
                dict(
                    brand=brand,
                    source=rng.choice(["微博", "知乎", "新闻"]),
                    authority=rng.choice([1, 1, 2]),
                    url=f"{base_url}/mention/{i}",
                    url_key=f"u{i}",
                    content_key=f"c{i}",
                    title=f"{brand} 的使用体验 {i}",
                    text=f"{brand} 最近怎么样 {i}",
                    posted_at=at,
                    label="neg" if neg else "pos",
                    sentiment=0.2 if neg else 0.8,
                    negative_prob=0.8 if neg else 0.2,
                    first_seen_at=at,
                )
            )
        for i in range(60):
            at = now - timedelta(minutes=rng.randrange(1, 120))
            men.append(
                dict(
                    brand=brand,
                    source="微博",
                    authority=3 if i == 0 else 1,
                    url=JS_URL if i == 0 else f"{base_url}/burst/{i}",
                    url_key=f"b{i}",
                    content_key=f"bc{i}",
                    title=HOSTILE_TITLE if i == 0 else f"{brand} 充电宝自燃 投诉 {i}",
                    text=f"{INJECTIONS[2]} {INJECTIONS[1]}" if i == 0 else f"{brand} 召回 维权 {i}",
                    posted_at=at,
                    label="neg",
                    sentiment=0.05,
                    negative_prob=0.95,
                    first_seen_at=at,
                )
            )
        s.execute(insert(Mention), men)

        # Alerts: a red brand crisis (firing), a yellow price drop (firing), a resolved blue one.
        def alert(name: str, **values) -> int:
            aid = s.execute(insert(Alert).values(**values).returning(Alert.id)).scalar_one()
            s.execute(
                insert(AlertEvent),
                [
                    dict(alert_id=aid, kind="opened", level="blue", at=values["started_at"], detail="开始"),
                    dict(alert_id=aid, kind="escalated", level=values["level"], at=values["level_since"], detail=None),
                ],
            )
            return aid

        alerts = {
            "crisis": alert(
                "crisis",
                fingerprint="fp-crisis",
                family="crisis",
                subject=brand,
                subject_key=f"brand:{brand}",
                level="red",
                max_level="red",
                state="firing",
                rule="red.sigma5",
                summary=f"{brand}：1小时负面声量 42 条，超过7日基线 5σ {INJECTIONS[0]}",
                facts=[["1小时负面", "42 条"], ["基线", "0.4 ± 0.7"], ["来源", INJECTIONS[1]]],
                evidence=[["微博", JS_URL]],
                is_crisis=True,
                started_at=now - timedelta(hours=3),
                level_since=now - timedelta(hours=1),
                last_active_at=now,
            ),
            "price": alert(
                "price",
                fingerprint="fp-price",
                family="price_drop",
                subject=f"优品数码旗舰店 / 商品 {chart_pid}",
                subject_key=f"product:{chart_pid}",
                level="yellow",
                max_level="yellow",
                state="firing",
                rule="price_drop",
                summary="降价 23.1%：¥129.90 → ¥99.90",
                facts=[["降幅", "23.1%"]],
                evidence=[],
                is_crisis=False,
                started_at=now - timedelta(hours=5),
                level_since=now - timedelta(hours=5),
                last_active_at=now,
            ),
            "resolved": alert(
                "resolved",
                fingerprint="fp-old",
                family="crisis",
                subject=brand,
                subject_key=f"brand:{brand}:old",
                level="blue",
                max_level="blue",
                state="resolved",
                rule="blue.sigma2",
                summary="旧的蓝色预警",
                facts=[],
                evidence=[],
                is_crisis=True,
                started_at=now - timedelta(days=3),
                level_since=now - timedelta(days=3),
                last_active_at=now - timedelta(days=2),
                resolved_at=now - timedelta(days=2),
            ),
        }
        s.execute(
            insert(Notification).values(
                alert_id=alerts["crisis"],
                channel="钉钉运营群",
                kind="escalated",
                level="red",
                payload={},
                status="sent",
                attempts=1,
                created_at=now - timedelta(hours=1),
                sent_at=now - timedelta(hours=1),
            )
        )
        s.execute(
            insert(ChannelState).values(name="钉钉运营群", state="ok", since=now - timedelta(days=1), last_sent_at=now)
        )
        # Evidence of the chart product's newest change, and the run's per-competitor outcome counts.
        from jingshao.storage.evidence import put_blob
        from jingshao.storage.models import CrawlCompetitorOutcome, ObservationEvidence

        s.flush()
        newest = s.scalars(
            select(Observation.id).where(Observation.product_id == chart_pid).order_by(Observation.first_seen_at.desc())
        ).first()
        digest = put_blob(s, f"<html><body>快照 {INJECTIONS[0]}</body></html>".encode(), "html")
        s.execute(
            insert(ObservationEvidence).values(
                observation_id=newest,
                product_id=chart_pid,
                url=next(iter(products)),
                html_sha256=digest,
                captured_at=now - timedelta(minutes=29),
            )
        )
        for comp, cid in comps.items():
            s.execute(
                insert(CrawlCompetitorOutcome).values(
                    crawl_run_id=run,
                    competitor=comp,
                    changed=1,
                    unchanged=2,
                    failed=0,
                    blocked=1 if cid == 1 else 0,
                    blocked_reason="滑块验证码 captcha" if cid == 1 else None,
                    at=now - timedelta(minutes=29),
                )
            )
        s.flush()
        ids = list(
            s.scalars(
                select(Observation.id)
                .where(Observation.product_id == chart_pid, Observation.status == "ok")
                .order_by(Observation.first_seen_at.desc())
            )
        )
    db.dispose()
    points = {}
    for days in (30, 90, 365):
        since = now - timedelta(days=days)
        rows = [r for r in obs_rows if r["product_id"] == chart_pid and r["status"] == "ok"]
        # One point per confirmed observation first seen in the window, plus the one in force at its start.
        points[days] = sum(1 for r in rows if r["first_seen_at"] >= since) + any(
            r["first_seen_at"] < since for r in rows
        )
    return Seeded(products, chart_pid, points, hostile, ids[1], alerts, digest, brand)
