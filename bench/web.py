"""Dashboard benchmark: p50 / p95 of each page and API call against a bare SELECT of the same rows.

    python bench/web.py [--products 1000] [--days 90] [--reviews 50000] [--mentions 100000] [--runs 20]

Generates a SQLite database with Core bulk inserts (1,000 products with a price observation a day for
90 days, 50,000 tagged reviews, 100,000 brand mentions over 30 days, alerts and crawl runs), serves it
with the real app (uvicorn on 127.0.0.1, local mode) and times each request over HTTP. The baseline,
measured in the same run, is a bare ``SELECT`` of the rows the page or call shows (no joins beyond
what names them, no aggregation, no rendering), fetched through the same engine. Goal: page p95 <=
5x the bare query's p95; the ratio is printed for each. The first request of each URL is a warm-up
(imports, jieba's dictionary) and is not counted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from jingshao.storage.db import open_database
from jingshao.storage.models import Alert, AlertEvent, Competitor, CrawlRun, Mention, Observation, Product, Review

BRANDS = ["蜜橙", "青柚", "白桃"]
TAGS = [
    {"aspect": "物流", "aspect_text": "快递", "opinion": "很快", "polarity": "pos", "opinion_norm": "快"},
    {"aspect": "物流", "aspect_text": "物流", "opinion": "太慢", "polarity": "neg", "opinion_norm": "慢"},
    {"aspect": "质量", "aspect_text": "做工", "opinion": "不错", "polarity": "pos", "opinion_norm": "不错"},
    {"aspect": "质量", "aspect_text": "质量", "opinion": "一般", "polarity": "neg", "opinion_norm": "一般"},
    {"aspect": "价格", "aspect_text": "性价比", "opinion": "高", "polarity": "pos", "opinion_norm": "高"},
]
TEXTS = ["快递很快，做工不错", "物流太慢了，质量一般", "性价比高，会回购", "做工不错", "质量一般，物流太慢"]
CHUNK = 10_000


def _chunks(rows: list[dict]) -> list[list[dict]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def generate(url: str, products: int, days: int, reviews: int, mentions: int, now: datetime) -> None:
    rng = random.Random(13)
    db = open_database(url)
    with db.session() as s:
        comps = 20
        s.execute(
            insert(Competitor), [{"id": c + 1, "name": f"竞品店铺{c + 1:02d}", "created_at": now} for c in range(comps)]
        )
        s.execute(
            insert(Product),
            [
                {
                    "id": p + 1,
                    "competitor_id": p % comps + 1,
                    "url": f"https://shop{p % comps}.example.com/item/{100000 + p}.html",
                    "name": f"商品 {p + 1} 旗舰款",
                    "created_at": now,
                }
                for p in range(products)
            ],
        )
        obs = []
        for p in range(products):
            price = Decimal(rng.randrange(50, 5000))
            for d in range(days, 0, -1):
                at = now - timedelta(days=d)
                price = max(Decimal(10), price + Decimal(rng.choice([-5, -1, 0, 1, 5])))
                obs.append(
                    {
                        "product_id": p + 1,
                        "title": f"商品 {p + 1} 旗舰款",
                        "price": price,
                        "original_price": price + 100,
                        "final_price": price - 10,
                        "currency": "CNY",
                        "availability": "InStock",
                        "in_stock": True,
                        "promo": "满299减30" if d % 7 == 0 else None,
                        "sources": {"price": {"layer": "structured", "via": "json-ld"}},
                        "content_hash": f"{p}-{d}",
                        "first_seen_at": at,
                        "last_seen_at": at + timedelta(hours=23),
                        "status": "ok",
                    }
                )
        for chunk in _chunks(obs):
            s.execute(insert(Observation), chunk)
        rev = []
        for i in range(reviews):
            t = TAGS[i % len(TAGS)]
            at = now - timedelta(minutes=rng.randrange(1, days * 24 * 60))
            rev.append(
                {
                    "product_id": i % products + 1,
                    "fingerprint": f"r{i}",
                    "rating": 5 if t["polarity"] == "pos" else 2,
                    "text": TEXTS[i % len(TEXTS)],
                    "posted_at": at,
                    "sentiment": 0.9 if t["polarity"] == "pos" else 0.1,
                    "label": t["polarity"],
                    "tags": [t],
                    "scorer": "bench",
                    "first_seen_at": at,
                }
            )
        for chunk in _chunks(rev):
            s.execute(insert(Review), chunk)
        men = []
        for i in range(mentions):
            at = now - timedelta(minutes=rng.randrange(1, 30 * 24 * 60))
            neg = rng.random() < 0.2
            men.append(
                {
                    "brand": BRANDS[i % len(BRANDS)],
                    "source": rng.choice(["微博", "知乎", "新闻", "论坛"]),
                    "authority": rng.choice([1, 1, 1, 2, 3]),
                    "url": f"https://news.example.com/{i}",
                    "url_key": f"u{i}",
                    "content_key": f"c{i}",
                    "title": f"关于{BRANDS[i % len(BRANDS)]}的讨论 {i}",
                    "text": "最近用了一下，感觉还行" if not neg else "充电宝发热，投诉无门",
                    "posted_at": at,
                    "label": "neg" if neg else "pos",
                    "sentiment": 0.1 if neg else 0.8,
                    "negative_prob": 0.9 if neg else 0.1,
                    "first_seen_at": at,
                }
            )
        for chunk in _chunks(men):
            s.execute(insert(Mention), chunk)
        for i in range(50):
            level = ["red", "yellow", "blue"][i % 3]
            aid = s.execute(
                insert(Alert)
                .values(
                    fingerprint=f"fp{i}",
                    family="price_drop",
                    subject=f"竞品店铺 / 商品 {i + 1}",
                    subject_key=f"product:{i + 1}",
                    level=level,
                    max_level=level,
                    state="firing" if i % 2 else "resolved",
                    rule="price_drop",
                    summary=f"降价 {i}%",
                    facts=[["降幅", f"{i}%"]],
                    evidence=[],
                    is_crisis=False,
                    started_at=now - timedelta(hours=i),
                    level_since=now - timedelta(hours=i),
                    last_active_at=now,
                )
                .returning(Alert.id)
            ).scalar_one()
            s.execute(insert(AlertEvent).values(alert_id=aid, kind="opened", level=level, at=now - timedelta(hours=i)))
        for spider in ("products", "reviews", "mentions"):
            s.execute(
                insert(CrawlRun).values(
                    spider=spider,
                    started_at=now - timedelta(hours=1),
                    finished_at=now - timedelta(minutes=50),
                    status="finished",
                    pages=products,
                    changes=10,
                    unchanged=products - 10,
                )
            )
    db.dispose()


def percentiles(samples: list[float]) -> tuple[float, float]:
    qs = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), qs[18]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up, not counted
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--reviews", type=int, default=50_000)
    ap.add_argument("--mentions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="keep the database and config in this folder")
    args = ap.parse_args(argv)

    from jingshao.config import load_config
    from jingshao.web.server import make_server, serve_in_thread

    work = args.keep or Path(tempfile.mkdtemp(prefix="jingshao-bench-web-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "bench.db"
    if db_path.exists():
        db_path.unlink()
    url = f"sqlite:///{db_path.as_posix()}"
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    generate(url, args.products, args.days, args.reviews, args.mentions, now)
    print(
        f"data set: {args.products} products x {args.days} days, {args.reviews} reviews, {args.mentions} mentions "
        f"generated in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    cfg_path = work / "jingshao.toml"
    cfg_path.write_text(f'timezone = "Asia/Shanghai"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    cfg = load_config(cfg_path)
    port = _free_port()
    server = make_server(cfg, "127.0.0.1", port)
    serve_in_thread(server)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=60)
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    db = open_database(url, upgrade=False)
    pid, brand = 1, BRANDS[0]
    d1, d7, d30, d90 = (now - timedelta(days=n) for n in (1, 7, 30, 90))
    h48 = now - timedelta(hours=48)
    bare_sql: dict[str, tuple[str, dict]] = {
        "current rows": (
            "SELECT p.id, p.name, p.url, c.name, o.* FROM observations o JOIN products p ON p.id = o.product_id "
            "JOIN competitors c ON c.id = p.competitor_id WHERE o.last_seen_at >= :d1",
            {"d1": d1},
        ),
        "since yesterday": ("SELECT * FROM observations WHERE first_seen_at >= :d1", {"d1": d1}),
        "product 90d": (
            "SELECT * FROM observations WHERE product_id = :pid AND first_seen_at >= :d90",
            {"pid": pid, "d90": d90},
        ),
        "product 365d": (
            "SELECT * FROM observations WHERE product_id = :pid AND first_seen_at >= :d",
            {"pid": pid, "d": now - timedelta(days=365)},
        ),
        "product reviews": (
            "SELECT * FROM reviews WHERE product_id = :pid AND posted_at >= :d90",
            {"pid": pid, "d90": d90},
        ),
        "competitor reviews 30d": (
            "SELECT r.* FROM reviews r JOIN products p ON p.id = r.product_id WHERE p.competitor_id = 1 "
            "AND r.posted_at >= :d30",
            {"d30": d30},
        ),
        "brand 48h": ("SELECT * FROM mentions WHERE brand = :b AND posted_at >= :h48", {"b": brand, "h48": h48}),
        "brand 30d": ("SELECT * FROM mentions WHERE brand = :b AND posted_at >= :d30", {"b": brand, "d30": d30}),
        "mentions page": (
            "SELECT * FROM mentions WHERE brand = :b ORDER BY posted_at DESC LIMIT 50",
            {"b": brand},
        ),
        "alerts": ("SELECT * FROM alerts", {}),
        "alert": ("SELECT * FROM alerts a JOIN alert_events e ON e.alert_id = a.id WHERE a.id = 2", {}),
        "runs": ("SELECT * FROM crawl_runs", {}),
        "products page": ("SELECT * FROM products ORDER BY id LIMIT 50", {}),
        "SELECT 1": ("SELECT 1", {}),
    }
    cases: list[tuple[str, str]] = [
        ("/api/v1/health", "SELECT 1"),  # the fixed cost of one request: HTTP, auth, one session
        ("/", "since yesterday"),
        ("/prices", "current rows"),
        (f"/prices/{pid}?days=90", "product 90d"),
        (f"/prices/{pid}?days=365", "product 365d"),
        (f"/reviews?product={pid}", "product reviews"),
        ("/reviews?competitor=竞品店铺01", "competitor reviews 30d"),
        (f"/mentions?brand={brand}", "brand 48h"),
        (f"/mentions?brand={brand}&view=day", "brand 30d"),
        ("/alerts?state=all", "alerts"),
        ("/alerts/2", "alert"),
        ("/health", "runs"),
        ("/settings", "current rows"),
        ("/api/v1/prices", "current rows"),
        ("/api/v1/products?limit=50", "products page"),
        (f"/api/v1/products/{pid}/observations?limit=100", "product 90d"),
        (f"/api/v1/reviews?product_id={pid}&limit=50", "product reviews"),
        (f"/api/v1/mentions?brand={brand}&limit=50", "mentions page"),
        ("/api/v1/alerts?state=all", "alerts"),
        ("/api/v1/alerts/2", "alert"),
        ("/api/v1/crawl-runs", "runs"),
    ]

    def bare(name: str) -> Callable[[], object]:
        sql, params = bare_sql[name]
        stmt = text(sql)

        def run() -> object:
            with db.engine.connect() as conn:
                return conn.execute(stmt, params).fetchall()

        return run

    def get(path: str) -> Callable[[], object]:
        def run() -> object:
            r = client.get(path)
            if r.status_code != 200:
                raise SystemExit(f"{path}: HTTP {r.status_code} {r.text[:300]}")
            return r

        return run

    bare_times = {name: percentiles(timed(bare(name), args.runs)) for name in dict.fromkeys(b for _, b in cases)}
    print(
        f"\n{'request':<46} {'p50 ms':>8} {'p95 ms':>8}   {'bare SELECT':<24} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'p95 ratio':>9}"
    )
    worst = 0.0
    misses = []
    for path, base_name in cases:
        p50, p95 = percentiles(timed(get(path), args.runs))
        b50, b95 = bare_times[base_name]
        ratio = p95 / b95 if b95 else float("inf")
        worst = max(worst, ratio)
        flag = "" if ratio <= 5 else "  > 5x"
        if ratio > 5:
            misses.append(path)
        print(
            f"{path:<46} {p50 * 1000:8.1f} {p95 * 1000:8.1f}   {base_name:<24} {b50 * 1000:7.2f} {b95 * 1000:7.2f} "
            f"{ratio:8.1f}x{flag}",
            flush=True,
        )
    print(f"\nworst p95 ratio {worst:.1f}x (goal <= 5x); over the goal: {', '.join(misses) or 'none'}")
    print(
        "A bare SELECT under a few ms cannot be matched by any HTTP request: the first row "
        "(/api/v1/health against SELECT 1) is that fixed cost."
    )
    server.should_exit = True
    client.close()
    db.dispose()
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
