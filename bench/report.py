"""Daily report benchmark: build time and HTML size at 1,000 products, 90 days, 50,000 reviews.

    /tmp/venv/bin/python bench/report.py [--products 1000] [--days 90] [--reviews 50000] [--keep DIR]

Generates a SQLite database with bulk inserts (every product changes price on some days, so
observations pile up as they would in 90 days of crawling; reviews carry stored sentiment and tags;
brand mentions, alerts and failed fetches fill the other sections), then builds the report for the
last day. The baseline, measured in the same run on the same machine, is the same build on a database
a tenth the size: a ratio near 1 says the build follows what is shown, not how much history there is.
Imports (jieba, matplotlib) are warmed up first and reported separately.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from jingshao.reports import build_report
from jingshao.storage.db import Database, open_database
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
REPORT_DAY = date(2026, 11, 24)
WORDS = ["旗舰", "轻薄", "长续航", "降噪", "快充", "高刷屏", "大容量", "透气", "缓震", "坚果", "礼盒", "防水"]
PROMOS = ["满299减30", "领券立减50元", "限时秒杀 | 券后价", "第2件半价", "赠品: 原装保护壳", None]
TAGS = [
    {"aspect": "物流", "aspect_text": "快递", "opinion": "很快", "polarity": "pos", "opinion_norm": "快"},
    {"aspect": "物流", "aspect_text": "物流", "opinion": "太慢", "polarity": "neg", "opinion_norm": "慢"},
    {"aspect": "质量", "aspect_text": "做工", "opinion": "不错", "polarity": "pos", "opinion_norm": "不错"},
    {"aspect": "质量", "aspect_text": "质量", "opinion": "一般", "polarity": "neg", "opinion_norm": "一般"},
    {"aspect": "电池", "aspect_text": "续航", "opinion": "超级强", "polarity": "pos", "opinion_norm": "强"},
    {"aspect": "屏幕", "aspect_text": "屏幕", "opinion": "漏光", "polarity": "neg", "opinion_norm": "漏光"},
    {"aspect": "价格", "aspect_text": "性价比", "opinion": "高", "polarity": "pos", "opinion_norm": "高"},
]
TEXTS = ["快递很快，做工不错", "物流太慢了，质量一般", "续航超级强，性价比高", "屏幕漏光，失望", "做工不错，会回购"]


def generate(
    db: Database, *, products: int, days: int, reviews: int, change_rate: float = 0.4, seed: int = 7
) -> dict[str, int]:
    """Bulk-insert a realistic history ending on REPORT_DAY; returns row counts."""
    rnd = random.Random(seed)
    end = datetime.combine(REPORT_DAY + timedelta(days=1), datetime.min.time(), TZ).astimezone(UTC)
    start = end - timedelta(days=days)
    n_comp = max(1, products // 50)
    with db.session() as s:
        s.execute(
            insert(Competitor),
            [{"id": i + 1, "name": f"竞品店铺{i + 1:02d}", "created_at": start} for i in range(n_comp)],
        )
        s.execute(
            insert(Product),
            [
                {
                    "id": p + 1,
                    "competitor_id": p % n_comp + 1,
                    "url": f"https://shop{p % n_comp}.example.com/item/{p}.html",
                    "name": f"商品{p + 1} {rnd.choice(WORDS)} {rnd.choice(WORDS)} 2026新款",
                    "category": "electronics",
                    "created_at": start,
                    "active": True,
                    "render": False,
                }
                for p in range(products)
            ],
        )
        s.execute(
            insert(CrawlRun),
            [
                {
                    "id": d + 1,
                    "spider": "products",
                    "started_at": start + timedelta(days=d),
                    "finished_at": start + timedelta(days=d, minutes=5),
                    "status": "finished",
                }
                for d in range(days)
            ],
        )
        obs = []
        for p in range(products):
            price = Decimal(rnd.randrange(49, 9999)) + Decimal("0.90")
            promo = rnd.choice(PROMOS)
            stock = "InStock"
            title = f"商品{p + 1} {rnd.choice(WORDS)} {rnd.choice(WORDS)} 2026新款 正品"
            for d in range(days):
                if d and rnd.random() >= change_rate:  # change-only storage: an unchanged day moves last_seen_at
                    obs[-1]["last_seen_at"] = start + timedelta(days=d, hours=1)
                    continue
                if d:
                    price = max(Decimal("9.90"), price + Decimal(rnd.choice([-1, 1]) * rnd.randrange(1, 60)))
                    promo = rnd.choice(PROMOS) if rnd.random() < 0.3 else promo
                    stock = "OutOfStock" if rnd.random() < 0.05 else "InStock"
                at = start + timedelta(days=d, hours=1)
                obs.append(
                    {
                        "product_id": p + 1,
                        "crawl_run_id": d + 1,
                        "title": title,
                        "price": price,
                        "currency": "CNY",
                        "availability": stock,
                        "in_stock": stock == "InStock",
                        "promo": promo,
                        "content_hash": f"{p}-{d}",
                        "first_seen_at": at,
                        "last_seen_at": at,
                        "price_is_range": False,
                    }
                )
        s.execute(insert(Observation), obs)
        last_obs = (
            s.execute(
                insert(Observation).returning(Observation.id),
                [
                    {
                        "product_id": p + 1,
                        "title": f"商品{p + 1} 全网最低 国家级品质",
                        "price": Decimal("99.00"),
                        "currency": "CNY",
                        "availability": "InStock",
                        "in_stock": True,
                        "promo": "史上最低价",
                        "content_hash": f"adlaw-{p}",
                        "first_seen_at": end - timedelta(hours=3),
                        "last_seen_at": end - timedelta(hours=2),
                        "price_is_range": False,
                    }
                    for p in range(0, products, max(1, products // 40))
                ],
            )
            .scalars()
            .all()
        )
        s.execute(
            insert(AdlawHit),
            [
                {
                    "observation_id": oid,
                    "product_id": 1,
                    "field": "title",
                    "word": "最低",
                    "category": "absolute",
                    "start": 5,
                    "end": 7,
                    "context": "全网最低 国家级品质",
                }
                for oid in last_obs
            ],
        )
        rev = []
        for i in range(reviews):
            tags = rnd.sample(TAGS, rnd.randrange(0, 3)) or None
            s_pos = rnd.random()
            posted = start + timedelta(seconds=rnd.randrange(int((end - start).total_seconds())))
            rev.append(
                {
                    "product_id": rnd.randrange(products) + 1,
                    "fingerprint": f"r{i}",
                    "rating": 5,
                    "text": rnd.choice(TEXTS),
                    "posted_at": posted,
                    "sentiment": s_pos,
                    "label": "pos" if s_pos >= 0.65 else "neg" if s_pos <= 0.35 else "neutral",
                    "tags": tags,
                    "first_seen_at": posted + timedelta(hours=rnd.randrange(1, 30)),
                    "has_images": False,
                }
            )
        s.execute(insert(Review), rev)
        mentions = []
        for i in range(3000):
            brand = rnd.choice(["蜜橙", "蜜橙数码", "橙子家居"])
            posted = end - timedelta(seconds=rnd.randrange(14 * 86400))
            sc = rnd.random()
            mentions.append(
                {
                    "brand": brand,
                    "source": "微博搜索",
                    "authority": rnd.randrange(1, 4),
                    "url": f"https://weibo.example.com/{i}",
                    "url_key": f"u{i}",
                    "content_key": f"c{i}",
                    "title": f"{brand} 的第 {i} 条讨论",
                    "text": f"{brand} 用了一周，感觉还行 {i}",
                    "posted_at": posted,
                    "sentiment": sc,
                    "label": "pos" if sc >= 0.65 else "neg" if sc <= 0.35 else "neutral",
                }
            )
        s.execute(insert(Mention), mentions)
        for i in range(30):
            at = end - timedelta(hours=rnd.randrange(1, 23))
            aid = s.execute(
                insert(Alert).returning(Alert.id),
                [
                    {
                        "fingerprint": f"a{i}",
                        "family": "price_drop",
                        "subject": f"商品{i + 1}",
                        "subject_key": f"p:{i}",
                        "level": rnd.choice(["red", "yellow", "blue"]),
                        "max_level": "red",
                        "state": "firing",
                        "rule": "price_drop",
                        "summary": f"降价 {rnd.randrange(5, 30)}%",
                        "started_at": at,
                        "level_since": at,
                        "last_active_at": at,
                    }
                ],
            ).scalar_one()
            s.execute(insert(AlertEvent), [{"alert_id": aid, "kind": "opened", "level": "yellow", "at": at}])
        s.execute(
            insert(FailedObservation),
            [
                {
                    "url": f"https://shop{i % 7}.example.com/item/{i % 25}.html",
                    "reason": "no price found on the page",
                    "http_status": 200,
                    "at": end - timedelta(hours=rnd.randrange(1, 23)),
                }
                for i in range(200)
            ],
        )
        s.execute(
            insert(ChannelState),
            [
                {
                    "name": "dingtalk-ops",
                    "state": "broken",
                    "reason": "310000 keywords not in content",
                    "since": end - timedelta(hours=5),
                }
            ],
        )
    return {
        "products": products,
        "observations": len(obs) + len(last_obs),
        "reviews": reviews,
        "mentions": len(mentions),
    }


def timed_build(db: Database, out: Path, runs: int) -> tuple[float, int, int]:
    times = []
    built = None
    for _ in range(runs):
        t0 = time.perf_counter()
        built = build_report(db, TZ, REPORT_DAY, None, out)
        times.append(time.perf_counter() - t0)
    assert built is not None
    return statistics.median(times), built.size_bytes, len(built.images)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--reviews", type=int, default=50_000)
    ap.add_argument(
        "--change-rate",
        type=float,
        default=0.4,
        help="share of days a product changes (1.0: an observation row every day, the worst case)",
    )
    ap.add_argument("--runs", type=int, default=3, help="builds per size (median reported)")
    ap.add_argument("--keep", type=Path, help="keep the databases and reports in this directory")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="jingshao-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)

    sizes = {"baseline": (args.products // 10, args.reviews // 10), "full": (args.products, args.reviews)}
    dbs = {}
    for name, (n_products, n_reviews) in sizes.items():
        path = work / f"{name}.db"
        path.unlink(missing_ok=True)
        db = open_database(f"sqlite:///{path}")
        t0 = time.perf_counter()
        counts = generate(db, products=n_products, days=args.days, reviews=n_reviews, change_rate=args.change_rate)
        print(f"{name}: generated {counts} in {time.perf_counter() - t0:.1f}s")
        dbs[name] = db

    t0 = time.perf_counter()
    build_report(dbs["baseline"], TZ, REPORT_DAY, None, work / "warmup")
    print(f"first build (imports jieba, matplotlib, templates): {time.perf_counter() - t0:.2f}s")

    results = {name: timed_build(db, work / name, args.runs) for name, db in dbs.items()}
    for name, (secs, size, images) in results.items():
        n_products, n_reviews = sizes[name]
        print(
            f"{name:>8}: {n_products} products, {args.days} days, {n_reviews} reviews -> build {secs:.2f}s "
            f"(median of {args.runs}), HTML body {size / 1024:.1f} KB, {images} inline charts"
        )
    ratio = results["full"][0] / results["baseline"][0]
    print(f"ratio full/baseline build time: {ratio:.2f}x for 10x the data")
    print(f"HTML body under 100 KB: {'yes' if results['full'][1] < 100 * 1024 else 'NO'}")
    print(f"reports in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
