"""Backing off from a domain that answers with walls (issue 12): a downloader middleware.

After a blocked page the domain's requests are spaced at least ``first_delay`` seconds apart, growing by
``slow_factor`` with every further block up to ``max_delay`` (a floor under AutoThrottle: AutoThrottle
still adapts above it, and the download slot's delay is raised too). After ``pause_after`` blocked pages in
a row the domain is paused for ``pause_minutes``: its requests are not made (each page is a ``blocked``
result "domain paused until ..."), in this crawl and in the next ones, until the pause ends by itself. A
page read fine resets the count and halves the delay. The state lives in ``domain_backoff`` so the next crawl
(another process) starts from it.

Own code rather than a library: Scrapy's AutoThrottle only reacts to latency, and no maintained Scrapy
extension pauses a domain across crawls on content-level signals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from jingshao.crawlers.blocking import BlockingConfig
from jingshao.crawlers.items import BlockedPageItem, ProductObservationItem
from jingshao.storage.blocking import DomainState, load_domain_states, save_domain_state
from jingshao.storage.db import Database
from jingshao.storage.models import utcnow

log = logging.getLogger(__name__)

#: Request / response meta: the order in which the back-off middleware saw the page's response (issue 15).
RESPONSE_SEQ = "jingshao_backoff_seq"


class DomainPaused(IgnoreRequest):
    """The request's domain is paused after blocked pages; nothing was sent."""


def domain_of(url_or_request: str | Request) -> str:
    request = url_or_request if isinstance(url_or_request, Request) else Request(url_or_request)
    parts = urlparse_cached(request)
    return parts.netloc.lower()


class BackoffState:
    """Every domain's back-off in one crawl; pure bookkeeping (the middleware does the waiting and saving)."""

    def __init__(self, config: BlockingConfig, states: dict[str, DomainState] | None = None) -> None:
        self.config = config
        self.states = states or {}

    def get(self, domain: str) -> DomainState:
        return self.states.setdefault(domain, DomainState(domain))

    def blocked(self, domain: str, reason: str, now: datetime) -> DomainState:
        s = self.get(domain)
        s.blocks_in_row += 1
        s.last_block_at, s.last_reason = now, reason
        grown = s.delay * self.config.slow_factor if s.delay else self.config.first_delay
        s.delay = min(self.config.max_delay, max(grown, self.config.first_delay))
        if s.blocks_in_row >= self.config.pause_after and not s.paused(now):
            s.paused_until = now + timedelta(minutes=self.config.pause_minutes)
        return s

    def read_fine(self, domain: str) -> DomainState | None:
        """A page of ``domain`` was the product: the streak ends and the delay halves. None: nothing changed."""
        s = self.states.get(domain)
        if s is None or (not s.blocks_in_row and not s.delay):
            return None
        s.blocks_in_row = 0
        s.delay = s.delay / 2 if s.delay / 2 >= self.config.first_delay / 4 else 0.0
        return s


class BlockBackoffMiddleware:
    """Downloader middleware: waits out a domain's delay floor, drops requests to a paused domain, and
    learns from the crawl's items (a :class:`BlockedPageItem` is a block; an observation is a good page)."""

    def __init__(self, crawler, config: BlockingConfig, database_url: str | None, per_domain: int = 8) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.db: Database | None = None
        self.state = BackoffState(config)
        self.next_at: dict[str, float] = {}
        # Admission: Scrapy runs every downloader middleware when a request *enters* the downloader, long
        # before its slot sends it; a pause decided after the first walls would not stop requests already
        # queued. So requests are admitted per domain only as the slot frees (``per_domain`` in flight).
        self.per_domain = max(1, per_domain)
        self.in_flight: dict[str, set[int]] = {}
        self.waiting: dict[str, list[asyncio.Future]] = {}
        # Issue 15: with extraction workers a good page's observation can come after a wall whose response
        # came later (walls are told at once, on the reactor). Responses are numbered as they arrive; an
        # observation of a response older than the domain's latest block does not end that streak (in
        # response order, the one an in-process crawl follows, the good page came before the wall).
        self.seq = 0
        self.last_block_seq: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        config = s.get("JINGSHAO_BLOCKING") or BlockingConfig()
        mw = cls(crawler, config, s.get("JINGSHAO_DATABASE_URL"), s.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(mw.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(mw.request_left, signal=signals.request_left_downloader)
        return mw

    # ---------------------------------------------------------------- state in the database

    def spider_opened(self, spider: Spider | None = None) -> None:
        if not self.database_url:
            return
        from jingshao.storage.db import open_database

        self.db = open_database(self.database_url, upgrade=False)
        with self.db.session() as s:
            self.state.states = load_domain_states(s)

    def spider_closed(self, spider: Spider | None = None) -> None:
        if self.db is not None:
            self.db.dispose()
            self.db = None

    def save(self, state: DomainState) -> None:
        if self.db is None:
            return
        try:
            with self.db.session() as s:
                save_domain_state(s, state)
        except Exception as exc:  # back-off is advice; a storage error is reported by the pages themselves
            log.warning("could not save the back-off of %s: %s", state.domain, type(exc).__name__)

    # ---------------------------------------------------------------- learning from items

    def process_response(self, request: Request, response, spider: Spider | None = None):
        self.seq += 1
        request.meta[RESPONSE_SEQ] = self.seq  # response.meta is the request's
        return response

    def item_scraped(self, item, response=None, spider=None) -> None:
        meta = getattr(response, "meta", None) if response is not None and hasattr(response, "status") else None
        seq = meta.get(RESPONSE_SEQ) if meta is not None else None
        if isinstance(item, BlockedPageItem):
            if item.signal == "paused":
                return  # no request was made: not a new block
            domain = domain_of(item.url)
            block_seq = seq if seq is not None else self.seq  # an error's: the latest response seen
            self.last_block_seq[domain] = max(self.last_block_seq.get(domain, 0), block_seq)
            now = utcnow()
            was_paused = self.state.get(domain).paused(now)
            state = self.state.blocked(domain, item.reason, now)
            self.raise_slot_delay(domain, state.delay)
            if state.paused(now) and state.paused_until is not None and not was_paused:
                log.warning(
                    "%s answered %d blocked pages in a row (%s): paused until %s",
                    domain,
                    state.blocks_in_row,
                    item.reason,
                    state.paused_until.isoformat(timespec="seconds"),
                )
            else:
                log.warning("%s: %s; slowing down to one request every %.1f s", domain, item.reason, state.delay)
            self.save(state)
        elif isinstance(item, ProductObservationItem):
            domain = domain_of(item.url)
            if seq is not None and seq < self.last_block_seq.get(domain, 0):
                return  # read before the domain's latest wall (see __init__)
            fine = self.state.read_fine(domain)
            if fine is not None:
                self.save(fine)

    def raise_slot_delay(self, domain: str, delay: float) -> None:
        """Raise the download slot's delay too (AutoThrottle adapts from there; our wait is the floor)."""
        engine = getattr(self.crawler, "engine", None)
        slots = getattr(getattr(engine, "downloader", None), "slots", {}) or {}
        for key, slot in slots.items():
            if key == domain or key == domain.split(":")[0]:
                slot.delay = max(slot.delay, delay)

    # ---------------------------------------------------------------- requests

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        domain = domain_of(request)
        await self.admit(domain, request)
        try:
            self.check(domain)
            state = self.state.states.get(domain)
            if state is not None and state.delay > 0:
                # Reserve the next free moment for this domain, then wait for it (concurrent requests queue up).
                clock = time.monotonic()
                at = max(clock, self.next_at.get(domain, 0.0))
                self.next_at[domain] = at + state.delay
                if at > clock:
                    await asyncio.sleep(at - clock)
                    self.check(domain)  # paused meanwhile
        except BaseException:
            self.release(domain, request)
            raise
        return None

    def check(self, domain: str) -> None:
        state = self.state.states.get(domain)
        if state is not None and state.paused(utcnow()) and state.paused_until is not None:
            until = state.paused_until.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            raise DomainPaused(f"domain {domain} paused until {until} after {state.blocks_in_row} blocked pages")

    async def admit(self, domain: str, request: Request) -> None:
        flying = self.in_flight.setdefault(domain, set())
        while len(flying) >= self.per_domain:
            future = asyncio.get_running_loop().create_future()
            self.waiting.setdefault(domain, []).append(future)
            await future
        flying.add(id(request))

    def release(self, domain: str, request: Request) -> None:
        flying = self.in_flight.get(domain)
        if flying is None or id(request) not in flying:
            return
        flying.discard(id(request))
        queue = self.waiting.get(domain)
        while queue:
            future = queue.pop(0)
            if not future.done():
                future.set_result(None)
                break

    def request_left(self, request: Request, spider: Spider | None = None) -> None:
        self.release(domain_of(request), request)

    def process_exception(self, request: Request, exception: BaseException, spider: Spider | None = None) -> None:
        self.release(domain_of(request), request)  # a later middleware dropped it before the downloader
        return None
