"""Scaled-out crawls: a real redis-server, a throwaway PostgreSQL, worker processes and the demo shop.

Every page is crawled exactly once by two workers; a worker killed with SIGKILL loses nothing
(its taken requests are re-queued: at-least-once fetches, rows exactly once); Redis killed and
restarted with its append-only file loses no queued work.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jingshao.demo.catalog import DemoProduct, expected_bench, slow_product_url
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation, Product

from .conftest import REPO, free_port, skip_or_fail, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HEARTBEAT = "2"  # seconds: a killed worker's requests are re-queued this long after its death


class RedisServer:
    """redis-server on a free port in a temp dir, with an fsync-always append-only file."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
        if self.binary is None:
            raise FileNotFoundError("redis-server not found")
        self.dir = Path(tempfile.mkdtemp(prefix="jingshao-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=15)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: nothing is flushed at exit; only what the append-only file already holds survives."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
        server.start()
    except (FileNotFoundError, TimeoutError) as exc:
        skip_or_fail(f"cannot start a throwaway redis-server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def client(redis_server):
    from jingshao.crawlers.distributed import redis_client

    return redis_client(redis_server.url)


def scale_config(
    shop,
    tmp_path: Path,
    db_url: str,
    redis_url: str,
    pages: list[str],
    concurrency_per_domain: int = 4,
    concurrency: int = 16,
) -> Path:
    products = [DemoProduct(f"b{i}", "压测店", f"压测商品{i}", url) for i, url in enumerate(pages)]
    cfg = write_demo_config(
        shop.base_url, tmp_path, with_browser=False, products=products, database_url=db_url, mentions=False
    )
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('timezone = "Asia/Shanghai"\n', f'timezone = "Asia/Shanghai"\nredis_url = "{redis_url}"\n')
    text = text.replace(
        "concurrency_per_domain = 8", f"concurrency_per_domain = {concurrency_per_domain}\nconcurrency = {concurrency}"
    )
    cfg.write_text(text, encoding="utf-8")
    return cfg


class Worker:
    def __init__(self, cfg: Path, log: Path, spiders: str = "products") -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jingshao.cli", "worker", "--config", str(cfg), "--spiders", spiders],
            cwd=str(REPO),
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            start_new_session=True,
            env={**os.environ, "JINGSHAO_WORKER_HEARTBEAT": HEARTBEAT},
        )

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def pages_stored(self) -> int:
        """From the stats Scrapy logs when the spider closes."""
        m = re.search(r"'jingshao/pages': (\d+)", self.log.read_text(errors="replace"))
        return int(m.group(1)) if m else 0


def enqueue(cfg: Path, spider: str = "products", *, force: bool = False) -> int:
    from jingshao.config import load_config
    from jingshao.crawlers.distributed import enqueue_crawl

    return enqueue_crawl(load_config(cfg), spider, force=True) if force else enqueue_crawl(load_config(cfg), spider)


def observations(db) -> dict[str, list[Observation]]:
    with db.session() as s:
        rows = s.execute(select(Product.url, Observation).join(Observation.product)).all()
    out: dict[str, list[Observation]] = {}
    for url, obs in rows:
        out.setdefault(url, []).append(obs)
    return out


def stored_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count(func.distinct(Observation.product_id))))


def check_every_page_once(db, pages: list[str]) -> None:
    obs = observations(db)
    assert sorted(obs) == sorted(pages)
    doubled = {u: len(rows) for u, rows in obs.items() if len(rows) != 1}
    assert not doubled, f"pages stored more than once: {doubled}"
    for i, url in enumerate(pages):
        assert obs[url][0].price == expected_bench(i).price, url


def runs(db) -> list[CrawlRun]:
    with db.session() as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def wait_until_done(db, client, n: int, timeout: float = 60) -> None:
    wait_for(
        lambda: (
            stored_count(db) >= n
            and client.llen("jingshao:products:requests") == 0
            and all(r.status == "finished" for r in runs(db))
        ),
        timeout=timeout,
        interval=0.2,
    )


def slow_pages(shop, n: int, delay: float) -> list[str]:
    return [slow_product_url(shop.base_url, i, delay) for i in range(n)]


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?")[0]


# ---------------------------------------------------------------- tests


def test_two_workers_crawl_every_page_exactly_once(shop, tmp_path, postgres_server, redis_server, client):
    db_url = postgres_server.new_database()
    pages = slow_pages(shop, 60, 0.05)
    cfg = scale_config(shop, tmp_path, db_url, redis_server.url, pages)
    # The scheduler's crawl job queues the crawl instead of running it when redis_url is set.
    from jingshao.scheduler import crawl_job

    assert crawl_job(str(cfg), "products") == {"queued": 60}
    db = open_database(db_url)
    assert [r.status for r in runs(db)] == ["queued"]
    workers = [Worker(cfg, tmp_path / f"w{i}.log") for i in range(2)]
    try:
        wait_until_done(db, client, 60)
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0]  # SIGTERM is a clean stop
    hits = shop.hits()
    assert {p: hits.get(path_of(p), 0) for p in pages} == {p: 1 for p in pages}
    check_every_page_once(db, pages)
    [run] = runs(db)
    assert (run.status, run.pages, run.changes, run.unchanged, run.failures) == ("finished", 60, 60, 0, 0)
    from jingshao.storage.blocking import CompetitorOutcome, latest_competitor_outcomes

    with db.session() as s:  # 抓取健康 and `status` see a scaled-out crawl per competitor too
        rows = [replace(o, at=None) for o in latest_competitor_outcomes(s)]
    assert rows == [CompetitorOutcome("压测店", changed=60, crawl_run_id=run.id)]
    assert all(w.pages_stored() > 0 for w in workers), "both workers should have taken work"
    assert client.llen("jingshao:products:requests") == 0
    assert not client.smembers("jingshao:processing")  # clean stops leave no processing lists


def test_same_product_seen_by_two_workers_is_stored_once(shop, tmp_path, postgres_server, redis_server, client):
    """The same crawl queued twice: both workers fetch the same pages at the same time; the row lock
    keeps one observation per product (change-only) and each run counts what it saw."""
    db_url = postgres_server.new_database()
    pages = slow_pages(shop, 40, 0.05)
    cfg = scale_config(shop, tmp_path, db_url, redis_server.url, pages)
    assert enqueue(cfg) == 40 and enqueue(cfg, force=True) == 40  # forced: the first is still queued
    db = open_database(db_url)
    workers = [Worker(cfg, tmp_path / f"w{i}.log") for i in range(2)]
    try:
        wait_until_done(db, client, 40)
    finally:
        for w in workers:
            w.stop()
    hits = shop.hits()
    assert all(hits.get(path_of(p)) == 2 for p in pages)
    check_every_page_once(db, pages)
    done = runs(db)
    assert [r.status for r in done] == ["finished", "finished"]
    assert sum(r.changes for r in done) == 40 and sum(r.unchanged for r in done) == 40


def test_worker_killed_mid_crawl_loses_nothing(shop, tmp_path, postgres_server, redis_server, client):
    db_url = postgres_server.new_database()
    pages = slow_pages(shop, 60, 0.3)
    cfg = scale_config(shop, tmp_path, db_url, redis_server.url, pages, concurrency_per_domain=2)
    enqueue(cfg)
    db = open_database(db_url)
    doomed, survivor = Worker(cfg, tmp_path / "doomed.log"), Worker(cfg, tmp_path / "survivor.log")
    try:
        wait_for(lambda: stored_count(db) >= 10, timeout=60)
        taken = {
            k.decode(): client.llen(k)
            for k in client.smembers("jingshao:processing")
            if client.get(k.decode() + ":alive") == str(doomed.proc.pid).encode()
        }
        doomed.kill()
        assert sum(taken.values()) > 0, "the killed worker held no requests: nothing was tested"
        assert stored_count(db) < 60
        wait_until_done(db, client, 60)
    finally:
        survivor.stop()
        if doomed.proc.poll() is None:
            doomed.kill()
    hits = shop.hits()
    assert all(hits.get(path_of(p), 0) >= 1 for p in pages)  # at-least-once fetches
    check_every_page_once(db, pages)  # exactly-once rows
    [run] = runs(db)
    # A worker killed between storing a page and counting it leaves that page to be counted as
    # unchanged on its re-fetch: the run's counts cover every page, the rows are exact.
    assert run.status == "finished" and run.changes + run.unchanged >= 60 and run.changes <= 60
    assert not client.smembers("jingshao:processing")


def test_redis_restarted_mid_crawl_loses_no_queued_work(shop, tmp_path, postgres_server, redis_server, client):
    db_url = postgres_server.new_database()
    pages = slow_pages(shop, 60, 0.25)
    # Two requests in flight per worker: most of the crawl waits in Redis when it dies.
    cfg = scale_config(shop, tmp_path, db_url, redis_server.url, pages, concurrency_per_domain=2, concurrency=2)
    enqueue(cfg)
    db = open_database(db_url)
    workers = [Worker(cfg, tmp_path / f"w{i}.log") for i in range(2)]
    try:
        wait_for(lambda: stored_count(db) >= 10, timeout=60)
        queued = client.llen("jingshao:products:requests")
        redis_server.kill()
        assert queued >= 20, "too little queued work: nothing was tested"
        time.sleep(1.5)
        assert stored_count(db) < 60
        redis_server.start()  # same port and directory: replays the append-only file
        wait_until_done(db, client, 60, timeout=90)
    finally:
        for w in workers:
            w.stop()
    assert all(shop.hits().get(path_of(p), 0) >= 1 for p in pages)
    check_every_page_once(db, pages)
    [run] = runs(db)
    assert run.status == "finished"


def test_enqueue_needs_redis_and_nothing_changes_without_it(shop, tmp_path, postgres_server, monkeypatch):
    from jingshao.config import load_config
    from jingshao.crawlers.distributed import RedisNotConfigured, enqueue_crawl, redis_url_of

    pages = slow_pages(shop, 2, 0)
    cfg = write_demo_config(
        shop.base_url,
        tmp_path,
        with_browser=False,
        mentions=False,
        products=[DemoProduct(f"b{i}", "店", f"商品{i}", u) for i, u in enumerate(pages)],
    )
    config = load_config(cfg)
    monkeypatch.delenv("JINGSHAO_REDIS_URL", raising=False)
    assert redis_url_of(config) is None
    with pytest.raises(RedisNotConfigured):
        enqueue_crawl(config, "products")
    assert shop.hits() == {}


# ---------------------------------------------------------------- the run ledger, without worker processes


class _Stats:
    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        pass


def queued_run(db, client, pending: int, **counts: int) -> int:
    from sqlalchemy import update

    from jingshao.crawlers.distributed import run_key
    from jingshao.storage.repository import start_run

    with db.session() as s:
        run_id = start_run(s, "products", None)
        s.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(status="queued"))
    client.hset(run_key(run_id), mapping={"pending": pending, "spider": "products", **counts})
    return run_id


def test_a_request_given_up_after_max_attempts_still_finishes_its_run(tmp_path, client):
    from jingshao.crawlers.distributed import MAX_ATTEMPTS, QueueKeys, run_key
    from jingshao.crawlers.worker import AckItem, ReliableStoragePipeline
    from jingshao.nlp.settings import NlpConfig

    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    db = open_database(db_url)
    run_id = queued_run(db, client, 2, pages=1, changes=1)
    keys = QueueKeys("products", "w1")
    good, bad = b"stored-entry", b"failing-entry"
    client.lpush(keys.processing, good, bad)
    pipeline = ReliableStoragePipeline(
        db_url, None, _Stats(), NlpConfig(), server=client, spider_name="products", worker_id="w1"
    )
    pipeline.db = db
    pipeline.finish_request(AckItem(good, run_id, "https://shop.example/ok"))
    assert int(client.hget(run_key(run_id), "pending")) == 1
    for attempt in range(1, MAX_ATTEMPTS + 1):  # storing fails every time; a worker takes it again each time
        pipeline.failed.add(bad)
        pipeline.finish_request(AckItem(bad, run_id, "https://shop.example/broken"))
        if attempt < MAX_ATTEMPTS:
            assert client.rpoplpush(keys.queue, keys.processing) == bad
    assert client.llen(keys.queue) == 0 and client.llen(keys.processing) == 0
    assert not client.exists(run_key(run_id))
    [run] = runs(db)
    assert (run.status, run.pages, run.changes, run.failures) == ("finished", 1, 1, 1)
    db.dispose()


def test_a_queued_run_records_its_pages_per_competitor_when_it_finishes(tmp_path, client):
    """Each worker counts its pages' outcomes per competitor in the run's ledger; the last
    acknowledgement writes them as the run's crawl_competitor_outcomes rows (the blocked reason
    most pages gave), and a page without a competitor or from another spider counts for none."""
    from jingshao.crawlers.distributed import QueueKeys
    from jingshao.crawlers.items import BlockedPageItem, FailedPageItem
    from jingshao.crawlers.worker import ITEM_COMPETITOR, ITEM_RUN, ITEM_TOKEN, AckItem, ReliableStoragePipeline
    from jingshao.nlp.settings import NlpConfig
    from jingshao.storage.blocking import CompetitorOutcome, latest_competitor_outcomes

    db_url = f"sqlite:///{tmp_path / 'outcomes.db'}"
    db = open_database(db_url)
    pages = [
        ("甲店", BlockedPageItem("https://a.example/1", "blocked: captcha")),
        ("甲店", BlockedPageItem("https://a.example/2", "blocked: captcha")),
        ("甲店", BlockedPageItem("https://a.example/3", "blocked: login wall")),
        ("甲店", FailedPageItem("https://a.example/4", "HTTP 500")),
        ("乙店", FailedPageItem("https://b.example/1", "robots.txt forbids this page")),
        ("", FailedPageItem("https://c.example/1", "HTTP 500")),
    ]
    run_id = queued_run(db, client, len(pages))
    keys = QueueKeys("products", "w1")
    pipeline = ReliableStoragePipeline(
        db_url, None, _Stats(), NlpConfig(), server=client, spider_name="products", worker_id="w1"
    )
    pipeline.db = db
    reviews = ReliableStoragePipeline(
        db_url, None, _Stats(), NlpConfig(), server=client, spider_name="reviews", worker_id="w1"
    )
    reviews.db = db
    other = FailedPageItem("https://a.example/reviews", "HTTP 500")
    for attr, value in ((ITEM_TOKEN, b"r"), (ITEM_RUN, run_id), (ITEM_COMPETITOR, "甲店")):
        setattr(other, attr, value)
    reviews.process_item(other)  # a reviews page of the same run id: not a product page's outcome
    for i, (competitor, item) in enumerate(pages):
        token = f"entry-{i}".encode()
        client.lpush(keys.processing, token)
        for attr, value in ((ITEM_TOKEN, token), (ITEM_RUN, run_id), (ITEM_COMPETITOR, competitor)):
            setattr(item, attr, value)
        pipeline.process_item(item)
        pipeline.finish_request(AckItem(token, run_id, item.url))
    [run] = runs(db)
    assert run.status == "finished"
    with db.session() as s:
        rows = [replace(o, at=None) for o in latest_competitor_outcomes(s)]
    assert rows == [
        CompetitorOutcome("乙店", blocked=1, blocked_reason="robots.txt forbids this page", crawl_run_id=run_id),
        CompetitorOutcome("甲店", failed=1, blocked=3, blocked_reason="blocked: captcha", crawl_run_id=run_id),
    ]
    db.dispose()


def test_an_undecodable_entry_is_dropped_as_a_failure_of_its_run(tmp_path, client):
    from scrapy.settings import Settings

    from jingshao.crawlers.distributed import QueueKeys, ReliableQueue, encode_payload, run_key

    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    db = open_database(db_url)
    run_id = queued_run(db, client, 1)

    class Spider:
        name = "products"
        settings = Settings({"JINGSHAO_WORKER_ID": "w1", "JINGSHAO_DATABASE_URL": db_url})

        def request_from_payload(self, data):
            raise KeyError("url")  # e.g. a payload from an older version

    queue = ReliableQueue(client, Spider(), "jingshao:%(spider)s:requests")
    client.lpush(queue.key, b"\x80 not a request")  # no run to count it for: just dropped
    assert queue.pop() is None and client.llen(queue.keys.processing) == 0
    client.lpush(queue.key, encode_payload("products", {"broken": True}, run_id))
    assert queue.pop() is None
    assert client.llen(queue.key) == 0 and client.llen(QueueKeys("products", "w1").processing) == 0
    assert not client.exists(run_key(run_id))
    [run] = runs(db)
    assert (run.status, run.failures) == ("finished", 1)
    db.dispose()


def test_enqueue_skips_while_the_previous_run_is_still_queued(shop, tmp_path, redis_server, client, monkeypatch):
    from jingshao.crawlers import distributed

    db_url = f"sqlite:///{tmp_path / 'skip.db'}"
    cfg = scale_config(shop, tmp_path, db_url, redis_server.url, slow_pages(shop, 3, 0))
    made: list = []
    closed: list = []

    def tracking_client(url: str):
        c = real_client(url)
        made.append(c)
        original = c.close
        c.close = lambda: (closed.append(c), original())
        return c

    real_client = distributed.redis_client
    monkeypatch.setattr(distributed, "redis_client", tracking_client)
    assert enqueue(cfg) == 3
    assert enqueue(cfg) == 0  # workers down: the first run is still queued, its requests still in Redis
    assert enqueue(cfg) == 0
    db = open_database(db_url)
    [first] = runs(db)
    assert first.status == "queued" and client.llen("jingshao:products:requests") == 3
    assert len(made) == 3 and [id(c) for c in closed] == [id(c) for c in made]  # every client made is closed
    assert enqueue(cfg, force=True) == 3
    assert len(runs(db)) == 2 and client.llen("jingshao:products:requests") == 6
    client.flushall()  # Redis lost its data: the queued runs' ledgers are gone and no longer block
    assert enqueue(cfg) == 3
    assert len(runs(db)) == 3
    assert len(closed) == len(made) == 5
    db.dispose()


def test_worker_components_share_one_redis_client(redis_server):
    from types import SimpleNamespace

    from scrapy.settings import Settings

    from jingshao.crawlers.worker import (
        QueuedSpiderMixin,
        ReliableStoragePipeline,
        WorkerPresence,
        close_shared_clients,
        shared_client,
        worker_spider,
    )

    settings = Settings(
        {"REDIS_URL": redis_server.url, "JINGSHAO_WORKER_ID": "w1", "JINGSHAO_DATABASE_URL": "sqlite://"}
    )
    try:
        clients = []
        for name in ("products", "reviews", "mentions"):
            crawler = SimpleNamespace(settings=settings, spidercls=worker_spider(name), stats=_Stats())
            spider = QueuedSpiderMixin()
            spider.settings = settings
            clients += [
                ReliableStoragePipeline.from_crawler(crawler).server,
                WorkerPresence(crawler).server,
                spider._redis(),
            ]
        assert all(c is clients[0] for c in clients) and clients[0] is shared_client(redis_server.url)
        assert clients[0].ping()
    finally:
        close_shared_clients()
    assert shared_client(redis_server.url) is not clients[0]  # closed and forgotten: a new one
    close_shared_clients()
