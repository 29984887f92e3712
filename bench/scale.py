"""Scale-out throughput: the same queued products crawl with 1 and with 2 `jingshao worker`s.

Baseline: ONE worker process over the same Redis queue, the same PostgreSQL and the same demo
shop; the figure of interest is the ratio 2 workers / 1 worker. Every worker runs with the same
per-worker settings (concurrency, per-domain concurrency), so a second worker adds a second
Scrapy engine, extraction CPU and its own database connection, as a second machine would.

The shop runs in its own process and answers each page after `--delay` seconds (I/O bound, like
a real shop); `--delay 0` makes the crawl CPU bound instead (extraction and storage on the same
cores as the shop, Redis and PostgreSQL: expect less). Pages/s is measured from the first to the
last stored observation, so process start-up is not counted.

    python bench/scale.py [--pages 1000] [--delay 0.2] [--per-worker-concurrency 8]

Needs redis-server and the PostgreSQL server binaries (a throwaway cluster is started).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _shop import free_port  # bench/ is on sys.path: each bench runs as a script

REPO = Path(__file__).resolve().parents[1]


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def start_shop(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.demo.server", "--port", str(port)],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait(up, 20, "the demo shop")
    return proc


def start_redis(workdir: Path, port: int) -> subprocess.Popen:
    import redis

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    wait(up, 20, "redis-server")
    return proc


def write_config(
    workdir: Path, shop: str, db_url: str, redis_url: str, pages: int, delay: float, per_domain: int
) -> Path:
    from jingshao.demo.catalog import DemoProduct, slow_product_url
    from jingshao.demo.runner import write_demo_config

    products = [DemoProduct(f"b{i}", "压测店", f"压测商品{i}", slow_product_url(shop, i, delay)) for i in range(pages)]
    cfg = write_demo_config(shop, workdir, with_browser=False, products=products, database_url=db_url, mentions=False)
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('timezone = "Asia/Shanghai"\n', f'timezone = "Asia/Shanghai"\nredis_url = "{redis_url}"\n')
    text = text.replace(
        "concurrency_per_domain = 8", f"concurrency_per_domain = {per_domain}\nconcurrency = {per_domain}"
    )
    cfg.write_text(text, encoding="utf-8")
    return cfg


def measure(workers: int, cfg: Path, db_url: str, pages: int) -> float:
    """Queue the crawl, run `workers` workers until it is stored, return pages/s."""
    from sqlalchemy import func, select

    from jingshao.config import load_config
    from jingshao.crawlers.distributed import enqueue_crawl
    from jingshao.storage.db import open_database
    from jingshao.storage.models import CrawlRun, Observation

    assert enqueue_crawl(load_config(cfg), "products") == pages
    db = open_database(db_url)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jingshao.cli",
                "worker",
                "--config",
                str(cfg),
                "--spiders",
                "products",
            ],
            cwd=str(REPO),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:

        def finished() -> bool:
            with db.session() as s:
                return s.scalar(select(CrawlRun.status).order_by(CrawlRun.id.desc()).limit(1)) == "finished"

        wait(finished, 1800, "the crawl")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    with db.session() as s:
        first, last, n = s.execute(
            select(func.min(Observation.first_seen_at), func.max(Observation.first_seen_at), func.count())
        ).one()
    db.dispose()
    if n != pages:
        raise RuntimeError(f"{n} observations stored for {pages} pages")
    return (n - 1) / max((last - first).total_seconds(), 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the shop waits before each page")
    parser.add_argument("--per-worker-concurrency", type=int, default=8)
    args = parser.parse_args()

    from jingshao.tests.conftest import PostgresServer

    workdir = Path(tempfile.mkdtemp(prefix="jingshao-bench-scale-"))
    pg = PostgresServer()
    pg.start()
    shop_port, redis_port = free_port(), free_port()
    shop = start_shop(shop_port)
    rds = start_redis(workdir, redis_port)
    results: dict[int, float] = {}
    try:
        for n in (1, 2):
            db_url = pg.new_database()
            cfg = write_config(
                workdir / f"w{n}",
                f"http://127.0.0.1:{shop_port}",
                db_url,
                f"redis://127.0.0.1:{redis_port}/0",
                args.pages,
                args.delay,
                args.per_worker_concurrency,
            )
            results[n] = measure(n, cfg, db_url, args.pages)
            print(f"{n} worker{'s' if n > 1 else ' '}: {results[n]:8.1f} pages/s", flush=True)
    finally:
        for proc in (shop, rds):
            proc.terminate()
            proc.wait()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"baseline: 1 worker (same queue, database, shop and per-worker settings); "
        f"{args.pages} pages, shop delay {args.delay:g} s, per-worker concurrency {args.per_worker_concurrency}, "
        f"{os.cpu_count()} CPU cores"
    )
    print(f"ratio 2 workers / 1 worker: {results[2] / results[1]:.2f}x")


if __name__ == "__main__":
    main()
