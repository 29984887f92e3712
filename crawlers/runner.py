"""Run one crawl in this process (Twisted's reactor cannot restart: one crawl per process).

`crawl_products` is what `jingshao crawl products` runs in the foreground and what the
scheduler's child process runs; it returns a `CrawlSummary`.

A crawl always ends by itself:

- SIGTERM / SIGINT (:class:`ShutdownGuard`): the first closes the spider gracefully (every page stored
  stays), a second stops the reactor, and past a deadline the process exits whatever it is doing;
- the scheduler's child watches its parent (:func:`watch_parent`: Linux ``PR_SET_PDEATHSIG`` through
  ctypes, plus a watchdog on the parent's pid elsewhere): a parent killed with ``kill -9`` takes its
  crawl with it within seconds instead of leaving an orphan writing into a pipe nobody reads;
- output never blocks (the CLI writes through a non-blocking :class:`~jingshao.core.redaction.RedactingStream`);
- an item that cannot be stored (the database is gone, locked, full) stops the crawl with that error
  instead of waiting on the database page after page.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from sqlalchemy.exc import SQLAlchemyError

from jingshao.crawlers.config import CrawlerInputs
from jingshao.crawlers.registry import spider_kind
from jingshao.storage.blocking import CompetitorOutcome, record_competitor_outcomes
from jingshao.storage.db import open_database
from jingshao.storage.repository import (
    finish_run,
    mark_interrupted_runs,
    record_failure,
    start_run,
)

from .catalog import watched_products
from .items import BlockedPageItem, FailedPageItem, ProductObservationItem, StoredAs
from .parent_death import die_with_parent
from .settings import build_settings
from .spiders.products import ProductsSpider

log = logging.getLogger(__name__)


#: Outcome of one page of a crawl, as the summary table groups them.
CHANGED, UNCHANGED, FAILED, BLOCKED = "changed", "unchanged", "failed", "blocked"

#: `jingshao crawl` exit codes (README, "Crawl outcomes and exit codes").
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_ALL_FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class PageOutcome:
    """What became of one page: changed / unchanged (stored) or failed / blocked, with the reason."""

    url: str
    outcome: str
    reason: str = ""
    competitor: str = ""


def outcome_of_failure(reason: str) -> str:
    """A page refused by robots.txt (or a 403/429 wall) is *blocked*: the site said no, nothing broke."""
    text = reason.lower()
    if text.startswith("blocked:"):
        return BLOCKED
    return BLOCKED if "robots.txt" in text or "http 403" in text or "http 429" in text else FAILED


@dataclass
class CrawlSummary:
    run_id: int
    spider: str
    targets: int
    pages: int = 0
    changes: int = 0
    unchanged: int = 0
    failures: int = 0  # pages without data, blocked ones included
    blocked: int = 0  # of which blocked (a wall: login, captcha, 403/412/429, empty shell, paused domain)
    errors: list[str] = field(default_factory=list)
    finish_reason: str = ""
    #: One entry per product page (products crawl), in the order they finished.
    outcomes: list[PageOutcome] = field(default_factory=list)

    @property
    def hard_failures(self) -> int:
        """Failed pages, not counting pages the site refused (robots.txt, 403/429: *blocked*)."""
        if self.outcomes:
            return sum(1 for o in self.outcomes if o.outcome == FAILED)
        return self.failures

    @property
    def ok(self) -> bool:
        return not self.errors and self.finish_reason == "finished" and not self.hard_failures

    @property
    def exit_code(self) -> int:
        """0 all fine (blocked pages are listed, not failures), 1 some pages failed (or the crawl did
        not finish), 3 every page failed or was blocked."""
        if self.pages == 0 and (self.failures or self.errors):
            return EXIT_ALL_FAILED
        return EXIT_OK if self.ok else EXIT_SOME_FAILED

    def failed_pages(self) -> list[PageOutcome]:
        return [o for o in self.outcomes if o.outcome in (FAILED, BLOCKED)]

    def by_outcome(self) -> list[tuple[str, str, int]]:
        """(outcome, reason, pages) rows: stored pages by outcome, failures by outcome and reason."""
        counts: dict[tuple[str, str], int] = {}
        for o in self.outcomes:
            key = (o.outcome, o.reason if o.outcome in (FAILED, BLOCKED) else "")
            counts[key] = counts.get(key, 0) + 1
        order = {CHANGED: 0, UNCHANGED: 1, FAILED: 2, BLOCKED: 3}
        return sorted(((k[0], k[1], n) for k, n in counts.items()), key=lambda r: (order.get(r[0], 9), -r[2], r[1]))

    def by_competitor(self) -> list[CompetitorOutcome]:
        """Pages changed / unchanged / failed / blocked per competitor (issue 12), with the main block reason."""
        counts: dict[str, dict[str, int]] = {}
        reasons: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            if not o.competitor:
                continue
            c = counts.setdefault(o.competitor, {CHANGED: 0, UNCHANGED: 0, FAILED: 0, BLOCKED: 0})
            c[o.outcome] = c.get(o.outcome, 0) + 1
            if o.outcome == BLOCKED:
                r = reasons.setdefault(o.competitor, {})
                r[o.reason] = r.get(o.reason, 0) + 1
        return [
            CompetitorOutcome(
                name,
                c[CHANGED],
                c[UNCHANGED],
                c[FAILED],
                c[BLOCKED],
                max(reasons[name].items(), key=lambda kv: kv[1])[0] if name in reasons else None,
            )
            for name, c in sorted(counts.items())
        ]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Environment variable the scheduler sets for its crawl children: the pid they must not outlive.
PARENT_PID_ENV = "JINGSHAO_PARENT_PID"
#: Seconds a crawl may take to close after SIGTERM before it exits anyway (the scheduler waits 30).
STOP_GRACE = 20.0
#: Seconds after the parent died before the crawl exits anyway.
ORPHAN_GRACE = 4.0


#: Seconds a crawl that cannot store gets to close before its reactor is stopped.
STORE_FAILED_GRACE = 3.0


def _stop_reactor_if_running() -> None:
    from twisted.internet import reactor

    if reactor.running:
        log.warning("the crawl did not close in time after a storage failure; stopping now")
        reactor.stop()  # type: ignore[misc]  # Twisted types the module-level reactor's stop as unbound


def _hard_exit(code: int) -> None:
    """Exit now. A scheduler child leads its own session: its browser and helpers go with it."""
    try:
        sys.stderr.flush()
    except Exception:
        pass
    if os.environ.get(PARENT_PID_ENV) and os.getpgid(0) == os.getpid():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            os.killpg(os.getpid(), signal.SIGKILL)  # ourselves included
        except OSError:
            pass
    os._exit(code)


def _exit_after(seconds: float, code: int) -> None:
    def wait_then_exit() -> None:
        time.sleep(seconds)
        _hard_exit(code)

    threading.Thread(target=wait_then_exit, name="jingshao-stop-deadline", daemon=True).start()


class ShutdownGuard:
    """SIGTERM and SIGINT for a crawl process, in place of Scrapy's handlers.

    Scrapy's own handlers close the spider gracefully but wait forever; this one does the same on the
    first signal, stops the reactor on the second, and exits after ``grace`` seconds in any case. The
    handler only schedules work on the reactor (logging in a signal handler could deadlock on a stream).
    """

    def __init__(self, process: CrawlerProcess, grace: float = STOP_GRACE) -> None:
        self.process, self.grace, self.received = process, grace, 0

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        from twisted.internet import reactor

        self.received += 1
        if self.received == 1:
            _exit_after(self.grace, 128 + signum)
            reactor.callFromThread(self._graceful, signum)
        else:
            reactor.callFromThread(self._force, signum)

    def _graceful(self, signum: int) -> None:
        log.warning(
            "received %s: closing the crawl (pages stored so far stay); again to force", signal.Signals(signum).name
        )
        self.process.stop()

    @staticmethod
    def _force(signum: int) -> None:
        from twisted.internet import reactor

        log.warning("received %s again: stopping now", signal.Signals(signum).name)
        if reactor.running:
            reactor.stop()  # type: ignore[misc]  # Twisted types the module-level reactor's stop as unbound


def watch_parent(parent_pid: int | None = None, *, interval: float = 0.5, grace: float = ORPHAN_GRACE) -> bool:
    """Stop this process when ``parent_pid`` (default: ``$JINGSHAO_PARENT_PID``) dies.

    On Linux the kernel sends SIGTERM at the parent's death (``prctl(PR_SET_PDEATHSIG)``); a watchdog
    thread also polls ``getppid()`` (other systems, and a parent gone before prctl ran) and sends
    SIGTERM itself, then exits ``grace`` seconds later if the crawl has not closed. Returns whether a
    parent is watched.
    """
    if parent_pid is None:
        value = os.environ.get(PARENT_PID_ENV, "")
        if not value.isdigit():
            return False
        parent_pid = int(value)
    if sys.platform.startswith("linux") and not die_with_parent(signal.SIGTERM):
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable; the watchdog alone watches the parent")

    def watchdog() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        _hard_exit(128 + signal.SIGTERM)

    threading.Thread(target=watchdog, name="jingshao-parent-watchdog", daemon=True).start()
    return True


class QuietCrawlLog(logging.Filter):
    """Without ``-v`` a failed page is one line of the crawl's summary (reason included), so the log's
    own per-page failure lines are dropped and tracebacks are cut to their message."""

    DROPPED = (
        ("jingshao.crawlers.pipelines", "no data from"),
        ("scrapy.downloadermiddlewares.retry", "Gave up retrying"),
        ("scrapy.core.scraper", "Spider error processing"),
        ("scrapy.core.scraper", "Error downloading"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if any(record.name.startswith(name) and str(record.msg).startswith(prefix) for name, prefix in self.DROPPED):
            return False
        if record.exc_info:
            record.exc_info, record.exc_text = None, None
        return True


class ProgressHook(Protocol):
    """Receives per-page events; the CLI plugs a rich progress bar in here."""

    def start(self, total: int) -> None: ...

    def advance(self, description: str) -> None: ...

    def stop(self) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, description: str) -> None:
        pass

    def stop(self) -> None:
        pass


class CrawlGarbageCollection:
    """The garbage collector while a crawl runs (issue 15).

    With CPython's defaults a crawl spent 15-20 % of its reactor thread in collections (2,000 demo pages: ~2 s
    of ~11 s). Its heap is large (Scrapy, Twisted, SQLAlchemy, the config and targets) and each full collection
    walked all of it; each page's requests, responses and Deferreds outlive a few hundred allocations, so the
    youngest generation (700) was collected, and its survivors promoted, several times a page. Once the engine
    has started, everything made until then is frozen (:func:`gc.freeze`: never walked again, never freed
    during the crawl) and the youngest generation collected after ``threshold`` new objects, which a page's
    short-lived objects seldom reach; cycles are still collected. Both are undone when the crawl ends."""

    threshold = 10_000

    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self.saved is not None:
            return
        self.saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(self.threshold, self.saved[0]), *self.saved[1:])

    def stop(self) -> None:
        if self.saved is None:
            return
        gc.set_threshold(*self.saved)
        self.saved = None
        gc.unfreeze()  # what was frozen can be collected again (this process may go on: the scheduler's)


def build_targets(config: CrawlerInputs, spider: str, db) -> list[dict]:
    """Sync the configured catalog into the database and return the spider's targets.

    Shared by a crawl in this process and by a scaled-out crawl queued in Redis, so both
    crawl exactly the same things."""
    kind = spider_kind(spider)
    return kind.targets(config, watched_products(config, db) if kind.uses_catalog else [], db)


def crawl(
    config: CrawlerInputs,
    spider: str = "products",
    *,
    progress: ProgressHook | None = None,
    log_level: str = "WARNING",
    extra_settings: dict | None = None,
) -> CrawlSummary:
    """Run one crawl of `spider` ("products" or "reviews") over the configured products."""
    progress = progress or _NoProgress()
    spider_cls = spider_kind(spider).spider_class()
    db = open_database(config.database_url)
    with db.session() as s:
        mark_interrupted_runs(s, _pid_alive)
    targets = build_targets(config, spider, db)
    with db.session() as s:
        run_id = start_run(s, spider, os.getpid())
    needs_browser = any(t.get("render") or t.get("source", {}).get("render") for t in targets)
    settings = build_settings(config, needs_browser=needs_browser, log_level=log_level)
    settings.update(
        {
            "JINGSHAO_TARGETS": targets,
            "JINGSHAO_RUN_ID": run_id,
            "JINGSHAO_NLP": config.nlp,
            "JINGSHAO_TIMEZONE": config.timezone,
        }
    )
    settings.update(extra_settings or {})
    summary = CrawlSummary(run_id=run_id, spider=spider, targets=len(targets))

    process = CrawlerProcess(settings)
    # Issue 15: Scrapy logs two DEBUG lines a page ("Crawled (200) ...", "Scraped from ..."): each a record
    # built (and redacted lazily) only for its root handler to drop it below LOG_LEVEL, ~2 % of a crawl's
    # reactor. At LOG_LEVEL on Scrapy's loggers (CrawlerProcess has just configured them) they are not built;
    # what is printed is the same. Restored when the crawl ends.
    scrapy_log = logging.getLogger("scrapy")
    scrapy_level = scrapy_log.level
    wanted = settings.get("LOG_LEVEL") or log_level  # what Scrapy's root handler lets through
    wanted = wanted if isinstance(wanted, int) else logging.getLevelName(str(wanted).upper())
    if isinstance(wanted, int) and scrapy_log.getEffectiveLevel() < wanted:
        scrapy_log.setLevel(wanted)
    quiet = QuietCrawlLog() if logging.getLevelName(log_level) > logging.INFO else None
    # On the loggers that write per-page failures, and on whatever handlers Scrapy has installed
    # once the engine runs (it may reinstall its root handler when the crawl starts).
    quiet_on: list[logging.Filterer] = []
    if quiet is not None:
        quiet_on += [logging.getLogger(name) for name, _ in QuietCrawlLog.DROPPED]
        for target in quiet_on:
            target.addFilter(quiet)

    def quiet_handlers() -> None:
        if quiet is None:
            return
        for handler in logging.getLogger().handlers:
            handler.addFilter(quiet)
            quiet_on.append(handler)

    crawler = process.create_crawler(spider_cls)
    # Progress counts products: a product page (or its failure), or a product's review list done.
    progress_items = spider_cls.progress_items

    competitor_of = {t["url"]: t.get("competitor", "") for t in targets} if spider == "products" else {}
    # Pages in the order they finished; a product page's outcome is known once its batch is stored
    # (issue 15: pages are written in batches), so it is resolved when the crawl ends.
    # An observation's entry keeps its URL and outcome cell, not the item (issue 15: see StoredAs).
    finished: list[PageOutcome | tuple[str, StoredAs, str]] = []

    def on_item(item, response=None, spider=None):
        if isinstance(item, progress_items):
            progress.advance(getattr(item, "url", "") or f"product #{getattr(item, 'product_id', '')}")
        if spider_cls is not ProductsSpider:
            return
        who = competitor_of.get(getattr(item, "url", ""), "")
        if isinstance(item, BlockedPageItem):
            finished.append(PageOutcome(item.url, BLOCKED, item.reason, who))
        elif isinstance(item, FailedPageItem):
            finished.append(PageOutcome(item.url, outcome_of_failure(item.reason), item.reason, who))
        elif isinstance(item, ProductObservationItem):
            finished.append((item.url, item.outcome, who))

    def resolve_outcomes() -> list[PageOutcome]:
        out = []
        for entry in finished:
            if isinstance(entry, PageOutcome):
                out.append(entry)
                continue
            url, stored, who = entry
            if stored.value in (CHANGED, UNCHANGED):  # what the pipeline stored this very page as
                out.append(PageOutcome(url, stored.value, competitor=who))
            else:  # its batch could not be stored (the crawl stopped with that error)
                out.append(PageOutcome(url, FAILED, "could not store", who))
        return out

    def on_item_error(item, response, spider, failure):
        progress.advance(getattr(item, "url", ""))
        storage = isinstance(failure.value, SQLAlchemyError)
        if storage and stop_reason:  # already stopping: the pages in flight cannot be stored either
            return
        detail = str(failure.value).splitlines()[0][:300] if storage else str(failure.value)
        summary.errors.append(f"{getattr(item, 'url', '?')}: could not store: {detail}")
        if storage and crawler.engine is not None:
            # Every later page would wait on the same database (a busy timeout each): stop, say why.
            stop_reason.append("store_failed")
            log.error(
                "cannot store into the database (%s: %s); stopping the crawl", type(failure.value).__name__, detail
            )
            crawler.engine.close_spider(spider, "store_failed")
            from twisted.internet import reactor

            reactor.callLater(STORE_FAILED_GRACE, _stop_reactor_if_running)

    def on_spider_error(failure, response, spider):
        # A page whose parsing raised: a failed page with the reason (the traceback only with -v),
        # recorded like any other failure so `status` and the report see it.
        reason = f"extraction error: {type(failure.value).__name__}: {failure.value}"[:300]
        target = (getattr(response, "meta", None) or {}).get("target") or {}
        url = target.get("url") or response.url
        summary.errors.append(f"{url}: {reason}")
        if spider_cls is ProductsSpider:
            finished.append(PageOutcome(url, FAILED, reason, competitor_of.get(url, "")))
            progress.advance(url)
        try:
            with db.session() as s:
                record_failure(
                    s,
                    url,
                    reason,
                    product_id=target.get("product_id"),
                    http_status=getattr(response, "status", None),
                    crawl_run_id=run_id,
                )
        except SQLAlchemyError:
            pass  # the storage failure is reported by the items that could not be stored

    stop_reason: list[str] = []
    crawler.signals.connect(on_item, signal=signals.item_scraped)
    crawler.signals.connect(on_item_error, signal=signals.item_error)
    crawler.signals.connect(on_spider_error, signal=signals.spider_error)
    if quiet:
        crawler.signals.connect(quiet_handlers, signal=signals.engine_started)
    collection = CrawlGarbageCollection()
    crawler.signals.connect(collection.start, signal=signals.engine_started)
    progress.start(len(targets))
    status = "failed"
    own_signals = threading.current_thread() is threading.main_thread()
    if own_signals:
        ShutdownGuard(process).install()  # instead of Scrapy's handlers, which can wait forever
    try:
        process.crawl(crawler)
        process.start(install_signal_handlers=not own_signals)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        summary.outcomes = resolve_outcomes()
        if stats.get("jingshao/store_error") and not summary.errors:  # a batch written on close or by the timer
            summary.errors.append(f"could not store: {stats['jingshao/store_error']}")
        summary.pages = stats.get("jingshao/pages", 0)
        summary.changes = stats.get("jingshao/changes", 0)
        summary.unchanged = stats.get("jingshao/unchanged", 0)
        # Pages without data: failed and blocked ones (blocked: issue 12; they are also counted apart).
        summary.blocked = stats.get("jingshao/blocked", 0)
        summary.failures = stats.get("jingshao/failures", 0) + summary.blocked
        if spider_cls is ProductsSpider:  # pages whose parsing raised are failures too
            summary.failures += sum(1 for o in summary.outcomes if o.reason.startswith("extraction error:"))
        summary.finish_reason = stats.get("finish_reason", "")
        status = "finished" if summary.finish_reason == "finished" and not summary.errors else "failed"
    finally:
        collection.stop()
        scrapy_log.setLevel(scrapy_level)
        summary.outcomes = resolve_outcomes()
        progress.stop()
        if quiet is not None:
            for target in quiet_on:
                target.removeFilter(quiet)
        try:
            with db.session() as s:
                finish_run(
                    s,
                    run_id,
                    status=status,
                    pages=summary.pages,
                    changes=summary.changes,
                    unchanged=summary.unchanged,
                    failures=summary.failures,
                    errors=summary.errors[:50],
                )
                if spider_cls is ProductsSpider:  # issue 12: per-competitor outcomes (status, report, admin)
                    record_competitor_outcomes(s, run_id, summary.by_competitor())
        except SQLAlchemyError as exc:  # the database that failed the items; the next crawl marks the run
            summary.errors.append(f"could not record the end of crawl #{run_id}: {type(exc).__name__}")
        db.dispose()
    return summary


def crawl_products(config: CrawlerInputs, **kwargs) -> CrawlSummary:
    return crawl(config, "products", **kwargs)
