"""Crawl throughput on the demo shop over HTTP on 127.0.0.1.

Prints pages/s for
  * baseline: a bare Scrapy spider that only parses the JSON-LD price (same settings),
  * products: the full `products` pipeline (layered extraction + change-only SQLite writes),
  * re-crawl: the same `products` crawl again on the same database with nothing changed (the demo shop
    sends ETags, so the pages come back as 304 Not Modified),
  * re-crawl without conditional requests: the same again, every page downloaded and matched by its
    fingerprint (what a shop without ETag / Last-Modified costs),
and the ratios (products / baseline, re-crawl / first crawl), min / median / max over ``--reps``
interleaved repetitions (baseline, products, both re-crawls, baseline, ...); then pages/s for
`render = true` pages through headless Chromium with and without resource blocking. Every measurement runs in its own
child process (Twisted's reactor cannot restart; each child imports what it needs before its timer
starts) against one demo-shop process, all in the same run, so the ratios are fair on a noisy shared
machine while the absolute figures are not.

    python bench/crawl.py [--pages 2000] [--reps 3] [--render-pages 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shop import start_demo_shop  # bench/ is on sys.path: each bench runs as a script

COMMON = {
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "LOG_LEVEL": "ERROR",
}


def child_baseline(base: str, n: int) -> dict:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from jingshao.demo.catalog import bench_product_urls

    urls = bench_product_urls(base, n)
    found = []

    class JsonLdPriceSpider(scrapy.Spider):
        name = "baseline"

        async def start(self):
            for u in urls:
                yield scrapy.Request(u, dont_filter=True)

        def parse(self, response):
            for raw in response.xpath('//script[@type="application/ld+json"]/text()').getall():
                data = json.loads(raw)
                offers = data.get("offers") if isinstance(data, dict) else None
                if isinstance(offers, dict) and "price" in offers:
                    found.append(offers["price"])
                    return

    process = CrawlerProcess({**COMMON, "ROBOTSTXT_OBEY": True, "TELNETCONSOLE_ENABLED": False})
    t0 = time.perf_counter()
    process.crawl(JsonLdPriceSpider)
    process.start()
    elapsed = time.perf_counter() - t0
    return {"pages": n, "ok": len(found), "seconds": elapsed}


def _config(base: str, urls: list[str], db: str, *, render: bool, block: bool):
    from jingshao.config import parse_config

    return parse_config(
        {
            "database": {"url": f"sqlite:///{db}"},
            "crawl": {
                "download_delay": 0,
                "concurrency": 16,
                "concurrency_per_domain": 16 if not render else 4,
                "autothrottle": False,
                "retry_times": 1,
            },
            "browser": {"block_resources": ["image", "font", "media"] if block else []},
            "competitors": [{"name": "基准店", "products": [{"url": u, "render": render} for u in urls]}],
        },
        "<bench>",
    )


def child_products(base: str, n: int, db: str, render: bool, block: bool, conditional: bool = True) -> dict:
    from jingshao.crawlers.runner import ProgressHook, crawl_products
    from jingshao.demo.catalog import bench_product_urls, bench_render_urls

    urls = (bench_render_urls if render else bench_product_urls)(base, n)
    cfg = _config(base, urls, db, render=render, block=block)

    class Timer(ProgressHook):
        def start(self, total: int) -> None:
            self.t0 = time.perf_counter()

        def stop(self) -> None:
            self.elapsed = time.perf_counter() - self.t0

    timer = Timer()
    summary = crawl_products(
        cfg,
        progress=timer,
        log_level="ERROR",
        extra_settings=dict(COMMON)
        | ({"CONCURRENT_REQUESTS_PER_DOMAIN": 4} if render else {})
        | {"JINGSHAO_CONDITIONAL_REQUESTS": conditional},
    )
    return {"pages": n, "ok": summary.pages, "failures": summary.failures, "seconds": timer.elapsed}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--render-pages", type=int, default=50)
    ap.add_argument("--child", nargs="*")
    args = ap.parse_args()
    if args.child:
        kind, base, n, *rest = args.child
        if kind == "baseline":
            res = child_baseline(base, int(n))
        else:
            res = child_products(
                base,
                int(n),
                rest[0],
                render=kind.startswith("render"),
                block=kind == "render-blocked",
                conditional=kind != "products-unconditional",
            )
        print(json.dumps(res))
        return

    shop, base = start_demo_shop()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="jingshao-bench-"))
        print(
            f"crawl benchmark: {args.pages} demo product pages over HTTP on 127.0.0.1 "
            f"(16 concurrent requests, no delay)"
        )
        runs: dict[str, list[dict]] = {"baseline": [], "products": [], "recrawl": [], "recrawl-fp": []}
        for rep in range(max(1, args.reps)):
            db = str(tmp / f"products-{rep}.db")
            runs["baseline"].append(run_child("baseline", base, str(args.pages)))
            runs["products"].append(run_child("products", base, str(args.pages), db))
            runs["recrawl"].append(run_child("products", base, str(args.pages), db))
            runs["recrawl-fp"].append(run_child("products-unconditional", base, str(args.pages), db))
        labels = {
            "baseline": "baseline: bare Scrapy, JSON-LD price only",
            "products": "products: extraction + SQLite change-only writes",
            "recrawl": "re-crawl: nothing changed (304 Not Modified)",
            "recrawl-fp": "re-crawl without conditional requests (fingerprints)",
        }

        def spread(values: list[float], fmt: str = "{:.1f}") -> str:
            v = sorted(values)
            return " / ".join(fmt.format(x) for x in (v[0], statistics.median(v), v[-1]))

        print(f"  pages/s, min / median / max of {len(runs['baseline'])} interleaved repetitions:")
        for key, label in labels.items():
            rs = runs[key]
            ok = min(r["ok"] for r in rs)
            print(f"  {label:<52} {ok:>5}/{rs[0]['pages']} ok  {spread([r['pages'] / r['seconds'] for r in rs])}")
        speed = [b["seconds"] / p["seconds"] for b, p in zip(runs["baseline"], runs["products"], strict=True)]
        again = [r["seconds"] / p["seconds"] for p, r in zip(runs["products"], runs["recrawl"], strict=True)]
        print(f"  ratio products / baseline (pages/s, per repetition): {spread(speed, '{:.2f}')}")
        print(f"  ratio re-crawl time / first crawl time (per repetition): {spread(again, '{:.2f}')}")
        again_fp = [r["seconds"] / p["seconds"] for p, r in zip(runs["products"], runs["recrawl-fp"], strict=True)]
        print(f"  ratio re-crawl without conditional requests / first crawl: {spread(again_fp, '{:.2f}')}")

        if args.render_pages:
            print(
                f"render = true: {args.render_pages} pages through headless Chromium "
                "(price filled by JavaScript; each page loads 8 images, a font and CSS; assets take 50 ms)"
            )
            blocked = run_child("render-blocked", base, str(args.render_pages), str(tmp / "r1.db"))
            unblocked = run_child("render-unblocked", base, str(args.render_pages), str(tmp / "r2.db"))
            for label, r in (("with resource blocking", blocked), ("without resource blocking", unblocked)):
                print(
                    f"  {label:<52} {r['ok']:>5}/{r['pages']} ok  {r['seconds']:7.2f} s  "
                    f"{r['pages'] / r['seconds']:8.1f} pages/s"
                )
            ratio = (blocked["pages"] / blocked["seconds"]) / (unblocked["pages"] / unblocked["seconds"])
            print(f"  ratio blocked / unblocked: {ratio:.2f}")
    finally:
        shop.terminate()
        shop.wait()


if __name__ == "__main__":
    main()
