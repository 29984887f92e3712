"""`jingshao worker`: a long-running crawl worker over the Redis queue (see `crawlers/distributed.py`).

Each served spider is a scrapy-redis crawl in one CrawlerProcess. Three components make a
queued request safe to lose a worker over:

- :class:`QueuedSpiderMixin` wraps the callback and errback of every request taken from the
  queue; after the spider's own output it yields an :class:`AckItem`. Follow-up requests inherit
  the crawl run, and the run's pending count grows before they are pushed.
- :class:`ReliableStoragePipeline` is the usual storage pipeline; with `CONCURRENT_ITEMS = 1` the
  AckItem reaches it after every item of the response was stored, so acknowledging then (after
  flushing buffered reviews and mentions) means "stored". A storage error gives the request
  back to the queue instead (at most `MAX_ATTEMPTS` times).
- :class:`WorkerPresence` beats the worker's heartbeat, reaps the work of dead workers, keeps the
  spider open while idle, and on a clean stop hands whatever is still taken back to the queue.

All of them, for every served spider, talk to Redis through ONE client (one connection pool) per
worker process: :func:`shared_client`. (scrapy-redis's Scheduler keeps its own for the queue.)
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from scrapy import Request, signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.misc import arg_to_iter
from twisted.internet import task
from twisted.python.failure import Failure

from jingshao.crawlers.config import CrawlerInputs
from jingshao.crawlers.distributed import (
    CALLBACK,
    ERRBACK,
    MAX_ATTEMPTS,
    RUN,
    TOKEN,
    QueueKeys,
    acknowledge,
    finish_queued_run,
    give_back,
    outcome_field,
    reap,
    reap_dead_workers,
    redis_client,
    redis_url_of,
    run_key,
    worker_settings,
)
from jingshao.crawlers.failures import request_of
from jingshao.crawlers.items import BlockedPageItem, FailedPageItem, ProductObservationItem
from jingshao.crawlers.pipelines import StoragePipeline
from jingshao.crawlers.registry import SPIDERS, spider_kind
from jingshao.crawlers.runner import BLOCKED, CHANGED, FAILED, UNCHANGED, outcome_of_failure
from jingshao.nlp.settings import NlpConfig

log = logging.getLogger(__name__)

ITEM_TOKEN = "_jingshao_token"  # set on items: which queue entry they came from
ITEM_RUN = "_jingshao_run"
ITEM_COMPETITOR = "_jingshao_competitor"  # the product page's competitor (per-competitor outcomes, issue 12)

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def shared_client(url: str) -> redis.Redis:
    """The worker process's Redis client for ``url``, shared by the tracking spiders, the storage pipelines
    and the presence extensions of every served spider (one connection pool instead of three per spider)."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis_client(url)
        return client


def close_shared_clients() -> None:
    """Close the shared clients (the worker is stopping)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


@dataclass
class AckItem:
    """The response of a queued request was handled: acknowledge it once everything before is stored."""

    token: bytes
    run_id: int | None
    url: str


# ---------------------------------------------------------------- spider side


class QueuedSpiderMixin:
    """Mixed into a jingshao spider for the worker (`worker_spider`)."""

    server: redis.Redis | None = None

    def track(self, request: Request) -> Request:
        """Route a request taken from the queue through the tracking callback and errback."""
        if request.callback != self.tracked_callback:
            request.meta[CALLBACK] = getattr(request.callback, "__name__", None) or "parse"
            request.meta[ERRBACK] = getattr(request.errback, "__name__", None)
            request.callback, request.errback = self.tracked_callback, self.tracked_errback
        return request

    def tracked_callback(self, response) -> Iterator[Any]:
        callback = getattr(self, response.meta[CALLBACK])
        return self._tracked(response.request, lambda: callback(response))

    def tracked_errback(self, failure: Failure) -> Iterator[Any]:
        request = request_of(failure)
        name = request.meta.get(ERRBACK)
        if name is None:
            self.logger.warning("%s failed: %s", request.url, failure.value)  # type: ignore[attr-defined]
            return self._tracked(request, lambda: ())
        return self._tracked(request, lambda: getattr(self, name)(failure))

    def _tracked(self, request: Request, produce: Callable[[], Iterable[Any] | None]) -> Iterator[Any]:
        token, run_id = request.meta.get(TOKEN), request.meta.get(RUN)
        competitor = (request.meta.get("target") or {}).get("competitor") or ""
        try:
            for out in arg_to_iter(produce()):
                if isinstance(out, Request):
                    self._follow_up(out, run_id)
                elif not isinstance(out, dict):
                    setattr(out, ITEM_TOKEN, token)
                    setattr(out, ITEM_RUN, run_id)
                    setattr(out, ITEM_COMPETITOR, competitor)
                yield out
        except Exception:
            # A parsing bug fails every time: acknowledge (failed for good), then let Scrapy report it.
            if token is not None:
                yield AckItem(token, run_id, request.url)
            raise
        if token is not None:
            yield AckItem(token, run_id, request.url)

    def _follow_up(self, request: Request, run_id: int | None) -> None:
        request.meta.pop(TOKEN, None)  # its own entry gets its own token
        request.meta[RUN] = run_id
        if run_id is not None:  # counted before it is pushed, so the run cannot look finished early
            self._redis().hincrby(run_key(run_id), "pending", 1)

    def _redis(self) -> redis.Redis:
        if self.server is None:
            self.server = shared_client(self.settings.get("REDIS_URL"))  # type: ignore[attr-defined]
        return self.server


def worker_spider(name: str) -> type:
    """The spider class `name` (products, reviews, mentions) with queue tracking mixed in."""
    base = spider_kind(name).spider_class()
    return type(f"Queued{base.__name__}", (QueuedSpiderMixin, base), {"__module__": __name__})


# ---------------------------------------------------------------- pipeline side


class _RunStats:
    """Crawler stats that also count pages per queued crawl run (the run row is written at the end)."""

    def __init__(self, stats, pipeline: ReliableStoragePipeline) -> None:
        self.stats = stats
        self.pipeline = pipeline

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.stats.inc_value(key, count, start)
        run_id = self.pipeline.run_id
        if run_id is not None and key.startswith("jingshao/") and count:
            try:
                self.pipeline.server.hincrby(run_key(run_id), key.removeprefix("jingshao/"), count)
            except redis.RedisError as exc:  # the page is stored; only the run's totals are short
                log.warning("cannot count %s for run %d (%s)", key, run_id, exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stats, name)


class ReliableStoragePipeline(StoragePipeline):
    """StoragePipeline that acknowledges queued requests only once their items are stored."""

    review_batch = 1_000_000  # reviews and mentions are flushed at each acknowledgement instead
    product_batch = 1  # a product page is stored before its request is acknowledged (and counted for its run)

    def __init__(self, *args: Any, server: redis.Redis, spider_name: str, worker_id: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.keys = QueueKeys(spider_name, worker_id)
        self.spider_name = spider_name
        self.failed: set[bytes | None] = set()  # tokens of items whose storage failed
        self.unsettled: list[AckItem] = []  # acknowledgements Redis did not take yet (it was down)
        self.stats = _RunStats(self.stats, self)
        self.retry_loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(
            s.get("JINGSHAO_DATABASE_URL"),
            None,
            crawler.stats,
            s.get("JINGSHAO_NLP") or NlpConfig(),
            server=shared_client(s.get("REDIS_URL")),
            spider_name=crawler.spidercls.name,
            worker_id=s.get("JINGSHAO_WORKER_ID"),
        )

    def open_spider(self, spider=None) -> None:
        super().open_spider(spider)
        self.retry_loop = task.LoopingCall(self.settle)
        self.retry_loop.start(2.0, now=False)

    def close_spider(self, spider=None) -> None:
        if self.retry_loop and self.retry_loop.running:
            self.retry_loop.stop()
        super().close_spider(spider)
        self.settle()

    def process_item(self, item, spider=None):
        if isinstance(item, AckItem):
            self.finish_request(item)
            return item
        self.run_id = getattr(item, ITEM_RUN, None)
        try:
            stored = super().process_item(item, spider)
        except Exception:
            self.failed.add(getattr(item, ITEM_TOKEN, None))
            raise
        self.count_competitor_outcome(item)
        return stored

    def count_competitor_outcome(self, item: Any) -> None:
        """A product page's outcome, counted per competitor in its run's ledger: the run's
        ``crawl_competitor_outcomes`` rows (抓取健康, `status`, the report) are written when it finishes,
        as a crawl in one process writes them."""
        competitor, run_id = getattr(item, ITEM_COMPETITOR, ""), self.run_id
        if not competitor or run_id is None or self.spider_name != "products":
            return
        if isinstance(item, ProductObservationItem):  # stored already (product_batch = 1)
            outcome, reason = item.stored_as, ""
        elif isinstance(item, FailedPageItem):
            outcome = BLOCKED if isinstance(item, BlockedPageItem) else outcome_of_failure(item.reason)
            reason = item.reason if outcome == BLOCKED else ""
        else:
            return
        if outcome not in (CHANGED, UNCHANGED, FAILED, BLOCKED):
            return
        try:
            self.server.hincrby(run_key(run_id), outcome_field(competitor, outcome, reason), 1)
        except redis.RedisError as exc:  # the page is stored; only the run's per-competitor totals are short
            log.warning("cannot count %s's page for run %d (%s)", competitor, run_id, exc)

    def flush_reviews(self) -> None:
        self._flush_by_run("pending_reviews", super().flush_reviews)

    def flush_mentions(self) -> None:
        self._flush_by_run("pending_mentions", super().flush_mentions)

    def _flush_by_run(self, attr: str, flush: Callable[[], None]) -> None:
        """Flush buffered items one crawl run at a time, so each row names its own run."""
        groups: dict[int | None, list[Any]] = {}
        for item in getattr(self, attr):
            groups.setdefault(getattr(item, ITEM_RUN, None), []).append(item)
        setattr(self, attr, [])
        for run_id, items in groups.items():
            setattr(self, attr, items)
            self.run_id = run_id
            try:
                flush()
            except Exception:
                self.failed |= {getattr(i, ITEM_TOKEN, None) for i in items}
                raise

    def finish_request(self, ack: AckItem) -> None:
        try:
            self.flush_reviews()
            self.flush_mentions()
        except Exception:
            log.exception("could not store the reviews/mentions of %s", ack.url)
        self.unsettled.append(ack)
        self.settle()

    def settle(self) -> None:
        """Acknowledge (or give back) every finished request Redis has not taken yet."""
        while self.unsettled:
            ack = self.unsettled[0]
            try:
                if ack.token in self.failed:
                    outcome, pending = give_back(self.server, self.keys, ack.token, ack.run_id)
                    if outcome < 0:
                        log.error("giving up on %s: storing it failed %d times", ack.url, MAX_ATTEMPTS)
                        if pending == 0 and ack.run_id is not None:
                            self.finish_run(ack.run_id)
                    elif outcome > 0:
                        log.warning("storing %s failed: re-queued (attempt %d)", ack.url, outcome)
                    else:
                        log.info("storing %s failed; a reaper had re-queued it already", ack.url)
                else:
                    pending = acknowledge(self.server, self.keys, ack.token, ack.run_id)
                    if pending == 0 and ack.run_id is not None:
                        self.finish_run(ack.run_id)
            except redis.RedisError as exc:
                log.warning("cannot acknowledge %s yet (%s); will retry", ack.url, exc)
                return
            self.failed.discard(ack.token)
            self.unsettled.pop(0)

    def finish_run(self, run_id: int) -> None:
        """The last request of a queued run is done (stored, or given up): write the run's totals."""
        assert self.db is not None, "open_spider opens the database first"
        finish_queued_run(self.server, self.db, run_id)


# ---------------------------------------------------------------- the worker's presence


class WorkerPresence:
    """Heartbeat, reaper and keep-alive of one served spider (a Scrapy extension).

    The heartbeat runs on the reactor: a worker stuck for longer than the heartbeat period looks
    dead and its requests are re-queued (fetched twice; stored once). Choose the period well
    above the slowest page's processing time.
    """

    def __init__(self, crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.heartbeat = s.getfloat("JINGSHAO_HEARTBEAT_SECONDS", 30.0)
        self.idle_timeout = s.getfloat("JINGSHAO_IDLE_TIMEOUT", 0.0)
        self.keys = QueueKeys(crawler.spidercls.name, s.get("JINGSHAO_WORKER_ID"))
        self.server = shared_client(s.get("REDIS_URL"))
        self.loop: task.LoopingCall | None = None
        self.idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.busy, signal=signals.response_received)
        return ext

    def opened(self, spider) -> None:
        self.beat()
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(max(self.heartbeat / 3, 0.2), now=False)

    def beat(self) -> None:
        with self.server.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.alive, os.getpid(), px=int(self.heartbeat * 1000))
            pipe.sadd("jingshao:processing", self.keys.processing)
            pipe.execute()

    def tick(self) -> None:
        try:
            self.beat()
            reap_dead_workers(self.server)
        except redis.RedisError as exc:
            log.warning("Redis unreachable (%s); retrying", exc)

    def busy(self, *args: Any, **kwargs: Any) -> None:
        self.idle_since = None

    def idle(self, spider) -> None:
        now = time.monotonic()
        self.idle_since = self.idle_since or now
        if self.idle_timeout and now - self.idle_since >= self.idle_timeout:
            log.info("idle for %.0f s: stopping", now - self.idle_since)
            return
        raise DontCloseSpider

    def closed(self, spider, reason: str) -> None:
        """Hand back what this worker took but did not finish, then disappear from the registry."""
        if self.loop and self.loop.running:
            self.loop.stop()
        try:
            self.server.delete(self.keys.alive)
            n = reap(self.server, self.keys.processing)
            if n > 0:
                log.warning("handed %d unfinished request(s) back to the queue", n)
        except redis.RedisError as exc:
            log.error("could not hand back unfinished requests (%s); another worker's reaper will", exc)


# ---------------------------------------------------------------- entry point


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _all_products(config: CrawlerInputs) -> list:
    """The file's products and those added in the web UI (a web product with render = true needs the browser)."""
    from jingshao.storage.db import open_database

    from .catalog import web_watched

    return [p for _, p, _ in config.iter_products()] + [
        w.product for w in web_watched(open_database(config.database_url))
    ]


def _needs_browser(config: CrawlerInputs, spiders: list[str]) -> bool:
    products = any(
        p.render or (p.reviews is not None and p.reviews.render and "reviews" in spiders)
        for p in _all_products(config)
        if "products" in spiders or "reviews" in spiders
    )
    mentions = "mentions" in spiders and any(s.kind == "render" for s in config.mention_sources)
    return products or mentions


def worker_main(
    config: CrawlerInputs,
    spiders: list[str],
    *,
    idle_timeout: float | None = None,
    heartbeat: float | None = None,
    log_level: str = "INFO",
) -> int:
    """Crawl queued requests of `spiders` until SIGTERM/SIGINT (or `idle_timeout` seconds idle).

    Returns the process exit code: 0 after a clean stop, 2 for bad arguments or no Redis.
    """
    from jingshao.storage.db import open_database

    from .settings import build_settings

    unknown = [s for s in spiders if s not in SPIDERS]  # the spider table (crawlers.registry)
    url = redis_url_of(config)
    if unknown or not spiders:
        log.error("unknown spider(s) %s; expected some of %s", unknown, ", ".join(SPIDERS))
        return 2
    if not url:
        log.error("no Redis: set redis_url in the config or JINGSHAO_REDIS_URL")
        return 2
    try:
        shared_client(url).ping()
    except redis.RedisError as exc:
        log.error("cannot reach Redis at %s: %s", redis.connection.parse_url(url).get("host", url), exc)
        close_shared_clients()
        return 2
    if config.database_url.startswith("sqlite"):
        log.warning(
            "workers share one database: use PostgreSQL (JINGSHAO_DATABASE_URL) when they run on several machines"
        )
    open_database(config.database_url).dispose()  # migrate once here, not in every pipeline
    heartbeat = heartbeat or float(os.environ.get("JINGSHAO_WORKER_HEARTBEAT", "30"))
    settings = build_settings(config, needs_browser=_needs_browser(config, spiders), log_level=log_level)
    settings.update({"JINGSHAO_NLP": config.nlp, "JINGSHAO_TIMEZONE": config.timezone})
    worker_id = new_worker_id()
    settings.update(worker_settings(url, worker_id, heartbeat=heartbeat))
    settings["JINGSHAO_IDLE_TIMEOUT"] = idle_timeout or 0.0
    process = CrawlerProcess(settings)
    for name in spiders:
        process.crawl(worker_spider(name))
    log.warning("worker %s serving %s", worker_id, ", ".join(spiders))
    try:
        process.start()  # Scrapy stops gracefully on SIGTERM/SIGINT (a second one forces)
    finally:
        close_shared_clients()
    return 0
