"""Dashboard benchmark: p50 / p95 of each page and API call against a bare SELECT of the same rows.

    python bench/web.py [--products 1000] [--days 90] [--reviews 50000] [--mentions 100000] [--runs 40]
                        [--keep DIR [--reuse]] [--only TEXT]

Generates a SQLite database with Core bulk inserts (1,000 products with a price observation a day for
90 days, 50,000 tagged reviews, 100,000 brand mentions over 30 days, alerts and crawl runs), serves it
with ``jingshao serve`` in its own process (127.0.0.1, local mode) and times each request over HTTP
with a keep-alive stdlib client. The baseline is a bare ``SELECT`` of the rows the page or call
shows (what names them, the aggregate where a page shows counts, the price 1 and 7 days ago where
it shows changes; no rendering), fetched through the read engine the app's GET requests use (on
SQLite a deferred transaction), with times bound as the columns store them. The client keeps the
cookies the server sets, as a browser does. Each request and its baseline are timed alternately in
the same run, so the machine's load falls on both. Goal: page p95 <= 5x the bare query's p95; the
ratio and the baseline's row count are printed for each. The first request of each URL is a warm-up (imports, jieba's
dictionary) and is not counted. No response is cached: every request reads the database.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote

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
# The id of product p's newest observation first seen before a time (the index on product and time).
LATEST = (
    "SELECT id FROM observations y WHERE y.product_id = p.id AND y.first_seen_at < {before} "
    "ORDER BY y.first_seen_at DESC, y.id DESC LIMIT 1"
)


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


def interleaved(
    request: Callable[[], object], bare: Callable[[], object], runs: int
) -> tuple[list[float], list[float]]:
    """Times of ``runs`` requests and ``runs`` bare queries, taken alternately so that the machine's
    load (a shared machine's other work) falls on both alike. One warm-up of each is not counted."""
    request()
    bare()
    req, base = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        bare()
        t1 = time.perf_counter()
        request()
        base.append(t1 - t0)
        req.append(time.perf_counter() - t1)
    return req, base


class Client:
    """A keep-alive HTTP/1.1 client (stdlib ``http.client``): the least client-side work per request,
    so the times are the server's, as a browser (native code) would see them. It keeps the cookies
    the server sets and sends them back, as a browser does (without, every page minted and set a
    new CSRF cookie, which no browser makes it do twice)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def get(self, path: str) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        try:
            self.conn.request("GET", quote(path, safe="/?=&"), headers=headers)
            r = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            raise
        for header in r.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return r.status, r.read()


def start_server(cfg_path: Path, port: int) -> subprocess.Popen:
    """``jingshao serve`` in its own process, as it runs in use (a client in the same process would
    share the server's GIL and slow it)."""
    code = "import sys; from jingshao.cli import main; sys.argv[0] = 'jingshao'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--config", str(cfg_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"jingshao serve exited with {proc.returncode}")
        try:
            if Client(port).get("/api/v1/health")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("jingshao serve did not answer within 60 s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--reviews", type=int, default=50_000)
    ap.add_argument("--mentions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--keep", type=Path, help="keep the database and config in this folder")
    ap.add_argument("--reuse", action="store_true", help="with --keep: use the database already there")
    ap.add_argument("--only", help="only the requests whose path contains this text")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="jingshao-bench-web-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "bench.db"
    url = f"sqlite:///{db_path.as_posix()}"
    if args.reuse and db_path.exists():
        with open_database(url).session() as s:
            last = datetime.fromisoformat(str(s.execute(text("SELECT max(last_active_at) FROM alerts")).scalar_one()))
            now = last if last.tzinfo else last.replace(tzinfo=UTC)
        print(f"data set: reused {db_path}", flush=True)
    else:
        if db_path.exists():
            db_path.unlink()
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        generate(url, args.products, args.days, args.reviews, args.mentions, now)
        print(
            f"data set: {args.products} products x {args.days} days, {args.reviews} reviews, "
            f"{args.mentions} mentions generated in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    cfg_path = work / "jingshao.toml"
    cfg_path.write_text(f'timezone = "Asia/Shanghai"\n[database]\nurl = "{url}"\n', encoding="utf-8")
    port = _free_port()
    server = start_server(cfg_path, port)
    client = Client(port)

    db = open_database(url, upgrade=False)
    pid, brand = 1, BRANDS[0]
    d1, d7, d30, d90 = (now - timedelta(days=n) for n in (1, 7, 30, 90))
    h48 = now - timedelta(hours=48)
    bare_sql: dict[str, tuple[str, dict]] = {
        # Each product's newest observation: one index seek a product (a scan of all observations by
        # last_seen_at would be the slower way to the same rows).
        "current rows": (
            "SELECT p.id, p.name, p.url, c.name, o.* FROM products p JOIN competitors c ON c.id = p.competitor_id "
            f"JOIN observations o ON o.id = ({LATEST.format(before=':now')})",
            {"now": now + timedelta(seconds=1)},
        ),
        # 竞品价格 also shows the change against 1 and 7 days ago: those two prices are its rows too.
        "price table": (
            "SELECT p.id, p.name, p.url, c.name, o.*, "
            f"(SELECT price FROM observations x WHERE x.id = ({LATEST.format(before=':d1')})), "
            f"(SELECT price FROM observations x WHERE x.id = ({LATEST.format(before=':d7')})) "
            "FROM products p JOIN competitors c ON c.id = p.competitor_id "
            f"JOIN observations o ON o.id = ({LATEST.format(before=':now')})",
            {"now": now + timedelta(seconds=1), "d1": d1, "d7": d7},
        ),
        # 概览's changes since yesterday: each new observation beside the one before it (old → new).
        "since yesterday": (
            "SELECT o.*, prev.price, prev.promo, prev.availability FROM observations o "
            "JOIN observations prev ON prev.id = (SELECT id FROM observations y WHERE y.product_id = o.product_id "
            "AND y.first_seen_at < o.first_seen_at ORDER BY y.first_seen_at DESC, y.id DESC LIMIT 1) "
            "WHERE o.first_seen_at >= :d1",
            {"d1": d1},
        ),
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
        # The day view shows 30 daily counts, not the mentions: the bare query is those counts.
        "brand 30 days": (
            "SELECT substr(posted_at, 1, 10) AS day, count(*), sum(label = 'neg') FROM mentions "
            "WHERE brand = :b AND posted_at >= :d30 GROUP BY day",
            {"b": brand, "d30": d30},
        ),
        "mentions page": (
            "SELECT * FROM mentions WHERE brand = :b ORDER BY posted_at DESC LIMIT 50",
            {"b": brand},
        ),
        "alerts": ("SELECT * FROM alerts", {}),
        "alert": ("SELECT * FROM alerts a JOIN alert_events e ON e.alert_id = a.id WHERE a.id = 2", {}),
        "runs": ("SELECT * FROM crawl_runs", {}),
        # 抓取健康 shows the runs and, per competitor, its products and when it was last seen.
        "runs and competitors": (
            "SELECT * FROM crawl_runs;\n"
            "SELECT c.name, count(*), max(o.last_seen_at) FROM products p JOIN competitors c ON c.id = p.competitor_id "
            f"JOIN observations o ON o.id = ({LATEST.format(before=':now')}) GROUP BY c.id",
            {"now": now + timedelta(seconds=1)},
        ),
        "products page": ("SELECT * FROM products ORDER BY id LIMIT 50", {}),
        "products page and competitors": (
            "SELECT p.*, c.name FROM products p JOIN competitors c ON c.id = p.competitor_id ORDER BY p.id LIMIT 50",
            {},
        ),
        "SELECT 1": ("SELECT 1", {}),
    }
    cases: list[tuple[str, str]] = [
        ("/api/v1/health", "SELECT 1"),  # the fixed cost of one request: HTTP, auth, one session
        ("/", "since yesterday"),
        ("/prices", "price table"),
        (f"/prices/{pid}?days=90", "product 90d"),
        (f"/prices/{pid}?days=365", "product 365d"),
        (f"/reviews?product={pid}", "product reviews"),
        ("/reviews?competitor=竞品店铺01", "competitor reviews 30d"),
        (f"/mentions?brand={brand}", "brand 48h"),
        (f"/mentions?brand={brand}&view=day", "brand 30 days"),
        ("/alerts?state=all", "alerts"),
        ("/alerts/2", "alert"),
        ("/health", "runs and competitors"),
        ("/settings", "products page and competitors"),
        ("/api/v1/prices", "current rows"),
        ("/api/v1/products?limit=50", "products page"),
        (f"/api/v1/products/{pid}/observations?limit=100", "product 90d"),
        (f"/api/v1/reviews?product_id={pid}&limit=50", "product reviews"),
        (f"/api/v1/mentions?brand={brand}&limit=50", "mentions page"),
        ("/api/v1/alerts?state=all", "alerts"),
        ("/api/v1/alerts/2", "alert"),
        ("/api/v1/crawl-runs", "runs"),
    ]
    if args.only:
        cases = [c for c in cases if args.only in c[0]]

    def bare(name: str) -> Callable[[], object]:
        sql, given = bare_sql[name]
        stmts = [text(part) for part in sql.split(";\n")]  # a page that shows two kinds of rows: both
        params = {k: stored_time(v) for k, v in given.items()}

        def run() -> object:
            # The read engine, as the app's GET requests read (on SQLite a deferred BEGIN, not the
            # writer's BEGIN IMMEDIATE): like is compared with like.
            with db.read_engine.connect() as conn:
                return [conn.execute(stmt, params).fetchall() for stmt in stmts]

        return run

    def stored_time(value: object) -> object:
        # Times bound as the models' UTCDateTime column stores them: naive UTC on SQLite. An aware
        # datetime would be compared as text with a "+00:00" suffix there, and match the wrong rows.
        if isinstance(value, datetime) and db.engine.dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def get(path: str) -> Callable[[], object]:
        def run() -> object:
            status, body = client.get(path)
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status} {body[:300]!r}")
            return body

        return run

    print(
        f"\n{'request':<46} {'p50 ms':>8} {'p95 ms':>8}   {'bare SELECT':<30} {'rows':>6} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'p95 ratio':>9}"
    )
    worst = 0.0
    misses = []
    try:
        for path, base_name in cases:
            baseline = bare(base_name)
            rows = sum(len(part) for part in baseline())  # type: ignore[attr-defined]
            req, base = interleaved(get(path), baseline, args.runs)
            (p50, p95), (b50, b95) = percentiles(req), percentiles(base)
            ratio = p95 / b95 if b95 else float("inf")
            worst = max(worst, ratio)
            flag = "" if ratio <= 5 else "  > 5x"
            if ratio > 5:
                misses.append(path)
            print(
                f"{path:<46} {p50 * 1000:8.1f} {p95 * 1000:8.1f}   {base_name:<30} {rows:6d} {b50 * 1000:7.2f} "
                f"{b95 * 1000:7.2f} {ratio:8.1f}x{flag}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(30)
        db.dispose()
    print(f"\nworst p95 ratio {worst:.1f}x (goal <= 5x); over the goal: {', '.join(misses) or 'none'}")
    print(
        "A bare SELECT under a few ms cannot be matched by any HTTP request: the first row "
        "(/api/v1/health against SELECT 1) is that fixed cost."
    )
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
