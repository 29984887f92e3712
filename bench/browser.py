"""Browser crawls: pages/s and peak memory of `render = true` crawls at concurrency 1 / 4 / 8.

Two ways, in the same run, against one demo-shop process on 127.0.0.1 (``/bench/render/<n>.html``: the
price is filled by JavaScript from a JSON endpoint; each page loads 8 images, a font and CSS; assets
answer after 50 ms; resource blocking and blocked-page detection on, as configured by default):

* ``before``: scrapy-playwright's download handler as the product used it (a new page per request in
  one context, ``wait_until = networkidle``, ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 2 x concurrency``);
* ``pool``: :class:`jingshao.crawlers.browser.PooledBrowserHandler` (reused pages in a pool of contexts,
  ``[browser] concurrency_per_domain``, quiet-network wait), with the default ``recycle_after`` and,
  at concurrency 4, with ``recycle_after = 10`` (a context replaced every 10 pages).

Each measurement is one ``jingshao`` products crawl in its own child process (a fresh Chromium each);
the parent samples the child's whole process tree (the crawler and every Chromium process) every 50 ms
and reports the peak of the summed PSS (proportional set size: shared pages counted once in total, so
the sum does not double count Chromium's shared libraries). Repetitions are interleaved (before, pool,
before, ...); figures are min / median / max, and the ratio pool / before is per repetition. Every page's
stored price is checked against the shop's catalog, so a faster wait that missed the JavaScript price
would show as wrong prices, not as speed. The CPU per page is the whole tree's user + system time (the
crawler, Playwright's driver, every Chromium process) divided by the pages: on a shared machine it moves
less with the other load than pages/s does.

    python bench/browser.py [--pages 60] [--reps 3] [--concurrency 1,4,8]
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
import threading
import time
from pathlib import Path

from _shop import start_demo_shop  # bench/ is on sys.path: each bench runs as a script


def child(base: str, n: int, db: str, way: str, concurrency: int, recycle_after: int | None) -> dict:
    from sqlalchemy import select

    from jingshao.config import parse_config
    from jingshao.crawlers.runner import ProgressHook, crawl_products
    from jingshao.demo.catalog import bench_render_urls, expected_bench
    from jingshao.storage.db import open_database
    from jingshao.storage.models import Observation, Product

    urls = bench_render_urls(base, n)
    browser: dict = {"block_resources": ["image", "font", "media"], "concurrency_per_domain": concurrency}
    if recycle_after:
        browser["recycle_after"] = recycle_after
    cfg = parse_config(
        {
            "database": {"url": f"sqlite:///{db}"},
            "crawl": {
                "download_delay": 0,
                "concurrency": 16,
                "concurrency_per_domain": concurrency,
                "autothrottle": False,
                "retry_times": 1,
            },
            "browser": browser,
            "competitors": [{"name": "基准店", "products": [{"url": u, "render": True} for u in urls]}],
        },
        "<bench>",
    )
    extra: dict = {"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency}
    if way == "before":
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        extra |= {
            "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": max(2, concurrency * 2),
        }

    class Timer(ProgressHook):
        def start(self, total: int) -> None:
            self.t0 = time.perf_counter()

        def stop(self) -> None:
            self.elapsed = time.perf_counter() - self.t0

    timer = Timer()
    summary = crawl_products(cfg, progress=timer, log_level="ERROR", extra_settings=extra)
    db_ = open_database(f"sqlite:///{db}")
    with db_.session() as s:
        rows = s.execute(select(Product.url, Observation.price).join(Observation.product)).all()
    prices = {url: price for url, price in rows}
    right = sum(1 for i, u in enumerate(urls) if prices.get(u) == expected_bench(i).price)
    return {"pages": n, "ok": summary.pages, "right": right, "seconds": timer.elapsed}


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def run_child(*args: str) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = {"total": 0, "processes": 0}

    def sample() -> None:
        while proc.poll() is None:
            pids = _tree(proc.pid)
            total = sum(_pss_kb(p) for p in pids)
            if total > peak["total"]:
                peak["total"], peak["processes"] = total, len(pids)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The child's whole tree (crawler, Playwright's driver, every Chromium process), once reaped.
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return result | {"peak_mb": peak["total"] / 1024, "procs": peak["processes"], "cpu_s": cpu}


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    v = sorted(values)
    return " / ".join(fmt.format(x) for x in (v[0], statistics.median(v), v[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--child", nargs="*")
    args = ap.parse_args()
    if args.child:
        base, n, db, way, conc, recycle = args.child
        print(json.dumps(child(base, int(n), db, way, int(conc), int(recycle) or None)))
        return

    shop, base = start_demo_shop()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="jingshao-bench-browser-"))
        print(f"browser benchmark: {args.pages} render pages per crawl, {args.reps} interleaved repetitions")
        print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            "  way                         conc  pages/s (min / med / max)   right prices   peak PSS MB (tree)"
            "                 CPU ms/page (tree)"
        )
        runs = 0
        for conc in (int(c) for c in args.concurrency.split(",")):
            ways = [("before", 0), ("pool", 0)] + ([("pool", 10)] if conc == 4 else [])
            results: dict[tuple[str, int], list[dict]] = {w: [] for w in ways}
            for _rep in range(args.reps):
                for way, recycle in ways:
                    runs += 1
                    db = str(tmp / f"r{runs}.db")
                    results[(way, recycle)].append(run_child(base, str(args.pages), db, way, str(conc), str(recycle)))
            for (way, recycle), rs in results.items():
                label = way + (f", recycle_after={recycle}" if recycle else "")
                right = min(r["right"] for r in rs)
                print(
                    f"  {label:<27} {conc:>4}  {spread([r['pages'] / r['seconds'] for r in rs]):<26}"
                    f"  {right:>4}/{args.pages}      {spread([r['peak_mb'] for r in rs], '{:.0f}')}"
                    f"  ({max(r['procs'] for r in rs)} processes)"
                    f"  {spread([1000 * r['cpu_s'] / r['pages'] for r in rs], '{:.0f}')}"
                )
            ratio = [
                b["seconds"] / p["seconds"] for b, p in zip(results[("before", 0)], results[("pool", 0)], strict=True)
            ]
            print(f"  ratio pool / before, pages/s per repetition at concurrency {conc}: {spread(ratio, '{:.2f}')}")
            cpu = [b["cpu_s"] / p["cpu_s"] for b, p in zip(results[("before", 0)], results[("pool", 0)], strict=True)]
            print(f"  ratio before / pool, CPU per page per repetition at concurrency {conc}: {spread(cpu, '{:.2f}')}")
            print(f"  load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        shop.terminate()
        shop.wait()


if __name__ == "__main__":
    main()
