"""Scaled-out crawls: the Redis side (keys, the reliable request queue, per-run ledger, enqueue).

The scheduler calls :func:`enqueue_crawl` instead of running a crawl when `redis_url` is set: it
syncs the catalog, records a `queued` CrawlRun and pushes one JSON payload per start request into
the spider's scrapy-redis request queue. `jingshao worker` processes (see `crawlers/worker.py`)
on any number of machines run scrapy-redis's Scheduler and RFPDupeFilter over that queue.

Why a queue class of our own: scrapy-redis pops a request and forgets it, so a worker killed
mid-crawl loses whatever it had taken. :class:`ReliableQueue` moves each request atomically from
the queue into a per-worker *processing* list (RPOPLPUSH); the request is acknowledged (removed
from that list) only after its response was handled and its items were stored, or it failed for
good. A worker's heartbeat key expires when it dies; every worker's reaper then moves the dead
worker's processing list back to the queue. Delivery is at-least-once; storage makes a repeat
harmless (change-only observations under a row lock, review and mention upserts).

Keys (spider = products | reviews | mentions)::

    jingshao:{spider}:requests                    the queue (LPUSH in, RPOPLPUSH out)
    jingshao:{spider}:requests:processing:{worker} taken by a worker, not yet acknowledged
    ...:processing:{worker}:alive                 heartbeat (expires after JINGSHAO_HEARTBEAT_SECONDS)
    jingshao:processing                           set of every processing list (for the reapers)
    jingshao:{spider}:dupefilter                  scrapy-redis fingerprints (our requests are dont_filter)
    jingshao:{spider}:attempts                    storage failures per request (hash), for the retry cap
    jingshao:run:{id}                             pending requests and page counts of a queued run
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from scrapy import Request
from scrapy_redis.queue import Base

from jingshao.crawlers.config import CrawlerInputs
from jingshao.crawlers.registry import spider_kind

if TYPE_CHECKING:
    from jingshao.storage.blocking import CompetitorOutcome
    from jingshao.storage.db import Database

log = logging.getLogger(__name__)

PREFIX = "jingshao"
REGISTRY_KEY = f"{PREFIX}:processing"
PAYLOAD_VERSION = 1
MAX_ATTEMPTS = 5  # storage failures of one request before it is given up (and logged)

# Request meta keys the queue and the worker share.
TOKEN = "jingshao_token"  # the raw queue entry: what acknowledging removes from the processing list
RUN = "jingshao_run"  # CrawlRun id the request belongs to (follow-up requests inherit it)
CALLBACK = "jingshao_callback"  # name of the spider's own callback (the worker wraps it)
ERRBACK = "jingshao_errback"


class RedisNotConfigured(ValueError):
    """No Redis URL: `redis_url` in the config or JINGSHAO_REDIS_URL."""


def redis_url_of(config: CrawlerInputs) -> str | None:
    """`JINGSHAO_REDIS_URL` wins over the file (like the database URL)."""
    return os.environ.get("JINGSHAO_REDIS_URL") or getattr(config, "redis_url", None) or None


def redis_client(url: str) -> redis.Redis:
    """A client that waits out a short Redis restart instead of failing the first call."""
    return redis.Redis.from_url(
        url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30, retry_on_timeout=True
    )


@dataclass(frozen=True)
class QueueKeys:
    spider: str
    worker: str = ""

    @property
    def queue(self) -> str:
        return f"{PREFIX}:{self.spider}:requests"

    @property
    def processing(self) -> str:
        return f"{self.queue}:processing:{self.worker}"

    @property
    def alive(self) -> str:
        return f"{self.processing}:alive"

    @property
    def attempts(self) -> str:
        return f"{PREFIX}:{self.spider}:attempts"


def _str(value: bytes | str) -> str:
    """redis-py types replies as bytes | str (it depends on decode_responses); ours are bytes."""
    return value.decode() if isinstance(value, bytes) else value


def run_key(run_id: int) -> str:
    return f"{PREFIX}:run:{run_id}"


#: Ledger fields that count a products run's pages per competitor, outcome and (blocked) reason.
OUTCOME_FIELD = "outcome:"


def outcome_field(competitor: str, outcome: str, reason: str = "") -> str:
    return OUTCOME_FIELD + json.dumps([competitor, outcome, reason], ensure_ascii=False)


def competitor_outcomes_of(ledger: dict[str, str]) -> list[CompetitorOutcome]:
    """The per-competitor outcome rows of a run from its ledger's counted fields."""
    from jingshao.crawlers.runner import CrawlSummary, PageOutcome  # the crawl's own grouping, not a copy

    pages: list[PageOutcome] = []
    for key, value in ledger.items():
        if key.startswith(OUTCOME_FIELD):
            competitor, outcome, reason = json.loads(key.removeprefix(OUTCOME_FIELD))
            pages += [PageOutcome("", outcome, reason, competitor)] * int(value)
    return CrawlSummary(0, "products", 0, outcomes=pages).by_competitor()


# ---------------------------------------------------------------- atomic steps (Lua: one round trip, no races)

# Acknowledge: drop the entry from the processing list; only if it was still there (a reaper may
# have re-queued it already: then the repeat will be counted) the run has one request less
# (and, with ARGV[3] = '1', one failure more: an entry dropped undecodable).
_ACK = """
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
if removed == 0 or KEYS[2] == '' then return {removed, -1} end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'failures', 1) end
return {removed, redis.call('HINCRBY', KEYS[2], 'pending', -1)}
"""

# Give back after a storage failure: to the consumer end of the queue, at most MAX_ATTEMPTS times.
# Given up, the request is done for its run: one failure more, one pending request less.
_NACK = """
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed == 0 then return {0, -1} end
local attempts = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
if attempts >= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[3], ARGV[2])
  if KEYS[4] == '' then return {-1, -1} end
  redis.call('HINCRBY', KEYS[4], 'failures', 1)
  return {-1, redis.call('HINCRBY', KEYS[4], 'pending', -1)}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {attempts, -1}
"""

# A retry or redirect replaces the request it came from: push it only while the parent is still
# ours (else the parent was re-queued and will be fetched again anyway).
_REPLACE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
"""

# Reap: a processing list whose heartbeat expired goes back to the consumer end of the queue.
_REAP = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = 0
local v = redis.call('RPOP', KEYS[1])
while v do
  redis.call('RPUSH', KEYS[3], v)
  n = n + 1
  v = redis.call('RPOP', KEYS[1])
end
redis.call('SREM', KEYS[4], KEYS[1])
return n
"""


def entry_id(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()


def acknowledge(
    server: redis.Redis, keys: QueueKeys, token: bytes, run_id: int | None, *, failed: bool = False
) -> int | None:
    """Remove a finished request; returns the run's pending count after it (None: not counted).

    ``failed``: the request is dropped without a result (undecodable): counted as a failure of its run.
    """
    removed, pending = server.eval(
        _ACK,
        3,
        keys.processing,
        run_key(run_id) if run_id else "",
        keys.attempts,
        token,
        entry_id(token),
        "1" if failed else "0",
    )
    return int(pending) if removed and pending >= 0 else None


def give_back(server: redis.Redis, keys: QueueKeys, token: bytes, run_id: int | None = None) -> tuple[int, int | None]:
    """Re-queue after a storage failure: ``(attempt, None)``; 0 if it was no longer ours.

    After MAX_ATTEMPTS the request is given up: ``(-1, pending)``, with the run's pending count after it
    (None without a run): it counts as a failure of the run, which is finished when pending reaches 0.
    """
    outcome, pending = server.eval(
        _NACK,
        4,
        keys.processing,
        keys.queue,
        keys.attempts,
        run_key(run_id) if run_id else "",
        token,
        entry_id(token),
        MAX_ATTEMPTS,
    )
    return int(outcome), (int(pending) if int(outcome) < 0 and int(pending) >= 0 else None)


def finish_queued_run(server: redis.Redis, db: Database, run_id: int) -> dict[str, int]:
    """The last request of a queued run is done: write the run's totals, drop its Redis ledger."""
    from jingshao.storage.blocking import record_competitor_outcomes
    from jingshao.storage.repository import finish_run

    ledger = {_str(k): _str(v) for k, v in server.hgetall(run_key(run_id)).items()}
    outcomes = competitor_outcomes_of(ledger)
    counts = {k: int(v) for k, v in ledger.items() if v.isdigit() and not k.startswith(OUTCOME_FIELD)}
    with db.session() as s:
        finish_run(
            s,
            run_id,
            status="finished",
            pages=counts.get("pages", 0),
            changes=counts.get("changes", 0),
            unchanged=counts.get("unchanged", 0),
            failures=counts.get("failures", 0),
        )
        if outcomes:
            record_competitor_outcomes(s, run_id, outcomes)
    server.delete(run_key(run_id))
    log.info("crawl run %d finished: %s", run_id, counts)
    return counts


def reap(server: redis.Redis, processing_key: str) -> int:
    """Re-queue a processing list whose worker stopped beating; -1 while it is alive."""
    queue = processing_key.split(":processing:", 1)[0]
    return int(server.eval(_REAP, 4, processing_key, f"{processing_key}:alive", queue, REGISTRY_KEY))


def reap_dead_workers(server: redis.Redis) -> int:
    """Run by every worker: re-queue the work of workers whose heartbeat expired."""
    moved = 0
    for key in server.smembers(REGISTRY_KEY):
        n = reap(server, _str(key))
        if n > 0:
            log.warning("re-queued %d request(s) of a worker that stopped: %s", n, key)
            moved += n
    return moved


# ---------------------------------------------------------------- the queue


def encode_payload(spider: str, data: dict[str, Any], run_id: int | None) -> bytes:
    return json.dumps(
        {"v": PAYLOAD_VERSION, "spider": spider, "run": run_id, "data": data}, ensure_ascii=False, sort_keys=True
    ).encode()


class ReliableQueue(Base):
    """scrapy-redis FIFO queue that never forgets a taken request (see the module docstring).

    Entries are either JSON payloads from :func:`enqueue_crawl` (start requests: the spider's
    `request_from_payload` builds the request) or scrapy-redis serialized requests (follow-up
    pages, retries). The entry's raw bytes are its acknowledgement token.
    """

    def __init__(self, server, spider, key, serializer=None) -> None:
        super().__init__(server, spider, key, serializer)
        worker = spider.settings.get("JINGSHAO_WORKER_ID") or f"{os.uname().nodename}:{os.getpid()}"
        self.keys = QueueKeys(spider.name, worker)
        if self.key != self.keys.queue:
            raise ValueError(f"SCHEDULER_QUEUE_KEY must give {self.keys.queue!r}, got {self.key!r}")

    def __len__(self) -> int:
        try:
            return self.server.llen(self.key)
        except redis.RedisError:
            return 0  # Redis restarting: look idle, the worker stays open and asks again

    def _encode_request(self, request: Request) -> bytes:
        request.meta.pop(TOKEN, None)  # a token belongs to one entry only
        return super()._encode_request(request)

    def push(self, request: Request) -> None:
        parent = request.meta.get(TOKEN)
        data = self._encode_request(request)
        if parent is None:
            self.server.lpush(self.key, data)
        elif not self.server.eval(_REPLACE, 2, self.keys.processing, self.key, parent, data):
            log.info("not re-queueing %s: its original was re-queued already", request.url)

    def pop(self, timeout: int = 0) -> Request | None:
        # Never block: this runs on the reactor thread.
        try:
            raw = self.server.rpoplpush(self.key, self.keys.processing)
        except redis.RedisError as exc:
            log.warning("cannot take a request from Redis (%s); retrying", exc)
            return None
        if raw is None:
            return None
        try:
            request = self.decode(raw)
        except Exception:
            log.exception("dropping an undecodable queue entry %r", raw[:200])
            self._drop(raw)
            return None
        request.meta[TOKEN] = raw
        return request

    def _drop(self, raw: bytes) -> None:
        """Acknowledge an entry that cannot be crawled, as a failure of its run (finished if it was the last)."""
        run_id = self._run_of(raw)
        try:
            pending = acknowledge(self.server, self.keys, raw, run_id, failed=True)
            if pending == 0 and run_id is not None:
                from jingshao.storage.db import open_database

                db = open_database(self.spider.settings.get("JINGSHAO_DATABASE_URL"), upgrade=False)
                try:
                    finish_queued_run(self.server, db, run_id)
                finally:
                    db.dispose()
        except Exception:
            log.exception("could not drop the undecodable queue entry %r", raw[:200])

    def _run_of(self, raw: bytes) -> int | None:
        """The crawl run an entry belongs to, as far as it can be read."""
        try:
            if raw[:1] == b"{":
                run = json.loads(raw).get("run")
            else:
                run = (self.serializer.loads(raw).get("meta") or {}).get(RUN)
            return int(run) if run is not None else None
        except Exception:
            return None

    def decode(self, raw: bytes) -> Request:
        if raw[:1] == b"{":
            payload = json.loads(raw)
            request = self.spider.request_from_payload(payload["data"])
            request.meta[RUN] = payload.get("run")
        else:
            request = self._decode_request(raw)
        track = getattr(self.spider, "track", None)  # the worker's spiders acknowledge what they finish
        return track(request) if track else request


# ---------------------------------------------------------------- settings


def worker_settings(redis_url: str, worker_id: str, *, heartbeat: float = 30.0) -> dict[str, Any]:
    """scrapy-redis settings of a worker (merged over `crawlers.settings.build_settings`)."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "SCHEDULER_QUEUE_CLASS": "jingshao.crawlers.distributed.ReliableQueue",
        "SCHEDULER_QUEUE_KEY": f"{PREFIX}:%(spider)s:requests",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": f"{PREFIX}:%(spider)s:dupefilter",
        "SCHEDULER_PERSIST": True,  # a worker that stops leaves the queue to the others
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor waiting for Redis
        "REDIS_URL": redis_url,
        "REDIS_PARAMS": {"socket_timeout": 30, "socket_connect_timeout": 10, "retry_on_timeout": True},
        # One item at a time per response: the acknowledgement, yielded last, is then handled only
        # after every item before it was stored.
        "CONCURRENT_ITEMS": 1,
        # The queue's tracking callback wraps the spider's synchronous callback (QueuedSpiderMixin): a
        # worker extracts in-process; run more workers to use more cores.
        "JINGSHAO_EXTRACT_WORKERS": 0,
        "ITEM_PIPELINES": {
            "jingshao.crawlers.pipelines.StoragePipeline": None,
            "jingshao.crawlers.worker.ReliableStoragePipeline": 500,
        },
        "EXTENSIONS": {"jingshao.crawlers.worker.WorkerPresence": 500},
        "JINGSHAO_WORKER_ID": worker_id,
        "JINGSHAO_HEARTBEAT_SECONDS": heartbeat,
        "JINGSHAO_TARGETS": [],
        "JINGSHAO_RUN_ID": None,
    }


# ---------------------------------------------------------------- the scheduler side


def enqueue_crawl(config: CrawlerInputs, spider: str, *, force: bool = False) -> int:
    """Queue one crawl of `spider` for the workers; returns the number of requests pushed.

    The same targets as a crawl in this process (the catalog is synced first); a CrawlRun is
    recorded as `queued` and marked finished by the worker that completes its last request.

    Nothing is queued (0 is returned, with a warning in the log) while an earlier run of the same
    spider is still `queued` and its requests are still in Redis (its `jingshao:run:{id}` ledger
    exists): with the workers down, each scheduler tick would otherwise add a full crawl and the
    queue and `crawl_runs` would grow without bound. A `queued` run whose ledger is gone from Redis
    (Redis lost its data) does not block. `force=True` queues regardless.
    """
    from sqlalchemy import select, update

    from jingshao.storage.db import open_database
    from jingshao.storage.models import CrawlRun
    from jingshao.storage.repository import start_run

    from .runner import build_targets

    url = redis_url_of(config)
    if not url:
        raise RedisNotConfigured("no Redis to queue the crawl in: set redis_url in the config or JINGSHAO_REDIS_URL")
    spider_cls = spider_kind(spider).spider_class()
    db = open_database(config.database_url)
    try:
        payloads = [p for t in build_targets(config, spider, db) for p in spider_cls.start_payloads(t)]
        if not payloads:
            return 0
        server = redis_client(url)
        try:
            server.ping()  # fail before recording a run nobody will crawl
            if not force:
                with db.session() as s:
                    queued = s.scalars(
                        select(CrawlRun.id)
                        .where(CrawlRun.spider == spider, CrawlRun.status == "queued")
                        .order_by(CrawlRun.id)
                    ).all()
                waiting = [r for r in queued if server.exists(run_key(r))]
                if waiting:
                    log.warning(
                        "not queueing another %s crawl: run %s is still queued (%s request(s) pending); "
                        "are the workers running?",
                        spider,
                        waiting[0],
                        _str(server.hget(run_key(waiting[0]), "pending") or b"?"),
                    )
                    return 0
            with db.session() as s:
                run_id = start_run(s, spider, None)
                s.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(status="queued"))
            keys = QueueKeys(spider)
            with server.pipeline(transaction=True) as pipe:
                pipe.hset(run_key(run_id), mapping={"pending": len(payloads), "spider": spider})
                for start in range(0, len(payloads), 500):
                    pipe.lpush(keys.queue, *(encode_payload(spider, p, run_id) for p in payloads[start : start + 500]))
                pipe.execute()
            log.info("queued crawl run %d: %d %s request(s)", run_id, len(payloads), spider)
            return len(payloads)
        finally:
            server.close()
    finally:
        db.dispose()


def queue_status(server: redis.Redis, spiders: tuple[str, ...] = ("products", "reviews", "mentions")) -> dict:
    """Queued and taken requests per spider, and the live workers (for `jingshao status`)."""
    out: dict[str, Any] = {}
    for spider in spiders:
        keys = QueueKeys(spider)
        taken = [_str(k) for k in server.smembers(REGISTRY_KEY) if _str(k).startswith(keys.queue + ":")]
        out[spider] = {
            "queued": server.llen(keys.queue),
            "taken": sum(server.llen(k) for k in taken),
            "workers": sum(1 for k in taken if server.exists(k + ":alive")),
        }
    return out
