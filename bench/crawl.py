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
import os
import resource
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

#: What a crawl leaves out of Scrapy's extensions (jingshao.crawlers.settings.LEFT_OUT_EXTENSIONS), left out of
#: the bare spider too: RemoteControl imports aiohttp and serves code execution on localhost.
BARE_LEFT_OUT = ("scrapy.extensions.remote_control.RemoteControl",)


def tree_cpu() -> float:
    """CPU seconds (user + system) of this process and of its children that have ended and were waited
    for (a crawl's extraction workers are joined when it closes)."""
    own, done = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds a running process used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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

    from scrapy.settings.default_settings import EXTENSIONS_BASE

    extensions = {path: order for path, order in EXTENSIONS_BASE.items() if path not in BARE_LEFT_OUT}
    process = CrawlerProcess(
        {**COMMON, "ROBOTSTXT_OBEY": True, "TELNETCONSOLE_ENABLED": False, "EXTENSIONS_BASE": extensions}
    )
    t0, c0, r0 = time.perf_counter(), tree_cpu(), time.thread_time()
    process.crawl(JsonLdPriceSpider)
    process.start()
    elapsed = time.perf_counter() - t0
    return {
        "pages": n,
        "ok": len(found),
        "seconds": elapsed,
        "cpu": tree_cpu() - c0,
        "reactor": time.thread_time() - r0,
    }


def _config(base: str, urls: list[str], db: str, *, render: bool, block: bool, workers: int | None = None):
    from jingshao.config import parse_config

    crawl = {
        "download_delay": 0,
        "concurrency": 16,
        "concurrency_per_domain": 16 if not render else 4,
        "autothrottle": False,
        "retry_times": 1,
    }
    if workers is not None:  # else the default of [crawl] extract_workers
        crawl["extract_workers"] = workers
    return parse_config(
        {
            "database": {"url": f"sqlite:///{db}"},
            "crawl": crawl,
            "browser": {"block_resources": ["image", "font", "media"] if block else []},
            "competitors": [{"name": "基准店", "products": [{"url": u, "render": render} for u in urls]}],
        },
        "<bench>",
    )


def child_products(
    base: str, n: int, db: str, render: bool, block: bool, conditional: bool = True, workers: int | None = None
) -> dict:
    from jingshao.crawlers.runner import ProgressHook, crawl_products
    from jingshao.demo.catalog import bench_product_urls, bench_render_urls

    urls = (bench_render_urls if render else bench_product_urls)(base, n)
    cfg = _config(base, urls, db, render=render, block=block, workers=workers)

    class Timer(ProgressHook):
        def start(self, total: int) -> None:
            self.t0, self.c0, self.r0 = time.perf_counter(), tree_cpu(), time.thread_time()

        def stop(self) -> None:  # after the spider closed: the extraction workers were joined
            self.elapsed, self.cpu = time.perf_counter() - self.t0, tree_cpu() - self.c0
            self.reactor = time.thread_time() - self.r0

    timer = Timer()
    summary = crawl_products(
        cfg,
        progress=timer,
        log_level="ERROR",
        extra_settings=dict(COMMON)
        | ({"CONCURRENT_REQUESTS_PER_DOMAIN": 4} if render else {})
        | {"JINGSHAO_CONDITIONAL_REQUESTS": conditional},
    )
    return {
        "pages": n,
        "ok": summary.pages,
        "failures": summary.failures,
        "seconds": timer.elapsed,
        "cpu": timer.cpu,
        "reactor": timer.reactor,
    }


def run_child(*args: str, shop_pid: int | None = None) -> dict:
    shop0 = proc_cpu(shop_pid) if shop_pid else 0.0
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if shop_pid:
        result["shop_cpu"] = proc_cpu(shop_pid) - shop0
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--render-pages", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1, help="[crawl] extract_workers of the products runs")
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
                workers=0 if kind == "products-inprocess" else (int(rest[1]) if len(rest) > 1 else None),
            )
        print(json.dumps(res))
        return

    shop, base = start_demo_shop()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="jingshao-bench-"))
        print(
            f"crawl benchmark: {args.pages} demo product pages over HTTP on 127.0.0.1 "
            f"(16 concurrent requests, no delay); load average before: {os.getloadavg()}"
        )
        keys = ("baseline", "products", "recrawl", "recrawl-fp", "products-inprocess")
        runs: dict[str, list[dict]] = {key: [] for key in keys}
        for rep in range(max(1, args.reps)):
            db = str(tmp / f"products-{rep}.db")
            n = str(args.pages)
            w = () if args.workers is None else (str(args.workers),)
            runs["baseline"].append(run_child("baseline", base, n, shop_pid=shop.pid))
            runs["products"].append(run_child("products", base, n, db, *w, shop_pid=shop.pid))
            runs["recrawl"].append(run_child("products", base, n, db, *w, shop_pid=shop.pid))
            runs["recrawl-fp"].append(run_child("products-unconditional", base, n, db, *w, shop_pid=shop.pid))
            db0 = str(tmp / f"inprocess-{rep}.db")
            runs["products-inprocess"].append(run_child("products-inprocess", base, n, db0, shop_pid=shop.pid))
        labels = {
            "baseline": "baseline: bare Scrapy, JSON-LD price only",
            "products": f"products, extract_workers = {args.workers}",
            "recrawl": "re-crawl: nothing changed (304 Not Modified)",
            "recrawl-fp": "re-crawl without conditional requests (fingerprints)",
            "products-inprocess": "products, extract_workers = 0 (in-process)",
        }

        def spread(values: list[float], fmt: str = "{:.1f}") -> str:
            v = sorted(values)
            return " / ".join(fmt.format(x) for x in (v[0], statistics.median(v), v[-1]))

        reps = len(runs["baseline"])
        print(f"  min / median / max of {reps} interleaved repetitions: pages/s; CPU ms per page of the crawl's")
        print("  process tree (crawler + extraction workers), of its reactor thread alone, and of the demo shop")
        for key, label in labels.items():
            rs = runs[key]
            ok = min(r["ok"] for r in rs)
            print(
                f"  {label:<52} {ok:>5}/{rs[0]['pages']} ok  {spread([r['pages'] / r['seconds'] for r in rs])} p/s"
                f"  cpu {spread([1000 * r['cpu'] / r['pages'] for r in rs])} ms/p"
                f"  reactor {spread([1000 * r['reactor'] / r['pages'] for r in rs])} ms/p"
                f"  shop {spread([1000 * r['shop_cpu'] / r['pages'] for r in rs])} ms/p"
            )

        def ratio(num: str, den: str, of: str = "rate") -> str:
            if of == "rate":
                values = [d["seconds"] / n["seconds"] for n, d in zip(runs[num], runs[den], strict=True)]
            elif of == "time":
                values = [n["seconds"] / d["seconds"] for n, d in zip(runs[num], runs[den], strict=True)]
            elif of == "reactor":
                values = [n["reactor"] / d["reactor"] for n, d in zip(runs[num], runs[den], strict=True)]
            else:
                values = [n["cpu"] / d["cpu"] for n, d in zip(runs[num], runs[den], strict=True)]
            return spread(values, "{:.2f}")

        print(f"  ratio products / baseline (pages/s, per repetition): {ratio('products', 'baseline')}")
        print(f"  ratio products / baseline (CPU per page, per repetition): {ratio('products', 'baseline', 'cpu')}")
        print(f"  ratio in-process products / baseline (pages/s): {ratio('products-inprocess', 'baseline')}")
        print(
            "  ratio baseline / products, reactor thread CPU per page (the serial part: the pages/s ratio a crawl"
            f" could reach with the other work on other cores): {ratio('baseline', 'products', 'reactor')}"
        )
        print(f"  ratio re-crawl time / first crawl time (per repetition): {ratio('recrawl', 'products', 'time')}")
        print(f"  ratio re-crawl without conditional requests / first crawl: {ratio('recrawl-fp', 'products', 'time')}")
        print(f"  load average after: {os.getloadavg()}")

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
