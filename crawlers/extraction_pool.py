"""Product-page extraction in worker processes (issue 15, ``[crawl] extract_workers``).

Extraction is CPU-bound pure Python (lxml, regexes) and, in-process, runs on the reactor thread: while a
page is extracted nothing is downloaded or stored. With ``extract_workers = N`` the products spider sends
each page's bytes to a :class:`concurrent.futures.ProcessPoolExecutor` of N processes and awaits the
future under the asyncio reactor, so Scrapy's loop (downloads, middlewares, storage) runs on one core
while pages are extracted on another. The function the workers run (:func:`extract_page`: the extraction,
the observation's extras and the ad-law hits) is the very call of an in-process crawl, so the rows are the same.

Lifecycle and failures:

- the pool starts with the crawl's first page to extract (``spawn``ed workers: fresh interpreters, never a fork of the
  reactor's threads) and is shut down when the spider closes, after every page in flight was handled,
  which SIGTERM / SIGINT and a storage failure do too (:mod:`jingshao.crawlers.runner`);
- every worker asks the kernel for SIGKILL when the crawl process dies (``PR_SET_PDEATHSIG``: a crawl killed
  with kill -9 leaves no worker behind) and ignores SIGINT (Ctrl-C reaches the whole terminal's process
  group; the crawl closes the pool itself);
- a worker that dies (kill -9, out of memory, a crash in a C extension) breaks the pool
  (``BrokenProcessPool``): a new pool replaces it, and each page that was in the broken one is extracted
  again alone, one at a time, in a worker of its own; the page that kills that worker too is a failed page
  ("extraction worker died twice on this page"), the others were bystanders and are stored. After
  ``MAX_RESTARTS`` broken pools the crawl extracts in-process for the rest of the run (a warning says so).
  A crawl never hangs on a pool and no page is lost.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jingshao.crawlers.extract import extract_product
from jingshao.crawlers.extract.model import ProductExtraction, reading_basis
from jingshao.crawlers.extract.offers import final_price, parse_offers
from jingshao.crawlers.parent_death import die_with_parent

if TYPE_CHECKING:
    import asyncio

# asyncio is imported where the pool (the crawl's side) uses it, not at the top: every worker imports this
# module for extract_page and needs none of it (issue 15: 16-90 ms of a worker's start, before its first page).

log = logging.getLogger(__name__)

#: Broken pools after which a crawl extracts in-process for the rest of the run.
MAX_RESTARTS = 3


class WorkerDied(Exception):
    """The extraction worker holding this page died twice (the page is failed, with this reason)."""


#: Packages whose ``__init__`` imports far more than extraction uses (issue 15): extruct's imports every
#: syntax's extractor, mf2py (bs4, html5lib, requests, soupsieve) and pyRdfa (rdflib) among them, ~0.2 s of a
#: worker's start before its first page, while extraction imports ``extruct.jsonld`` and
#: ``extruct.w3cmicrodata`` (and ``extruct.rdfa`` for a page with RDFa attributes) by their own names.
DEFERRED_PACKAGES = ("extruct",)


def defer_package_init(name: str) -> None:
    """Make ``import name.sub`` load ``name/sub.py`` without running ``name/__init__.py`` first; the package's
    ``__init__`` runs, in the same module object, the first time one of its own names is looked up on it
    (``name.extract``, ``from name import X``), so everything that uses the package sees the same names.
    Nothing changes when the package is imported already, or is not installed."""
    import importlib.util

    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def run_init(attribute: str) -> Any:
        namespace = module.__dict__
        if namespace.pop("__getattr__", None) is not run_init:  # the __init__ ran meanwhile, or is running
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        loader.exec_module(module)
        try:
            return namespace[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    module.__dict__["__getattr__"] = run_init
    sys.modules[name] = module


def _exit_now() -> None:
    """A worker's last step, once the pool told it to stop (every result sent): it leaves without the
    interpreter's teardown of each loaded module and object (lxml, the extraction's caches ...), which the
    crawl's close waited for (issue 15: ~0.1-0.2 s at the end of every crawl that started workers)."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


def _init_worker() -> None:
    """Runs once in each worker: die with the crawl, leave Ctrl-C to the crawl, defer the heavy imports,
    exit without the interpreter's teardown."""
    import atexit

    for name in DEFERRED_PACKAGES:
        defer_package_init(name)
    # Registered last, so called first: multiprocessing's own exit steps ran already, before the interpreter's
    # exit (BaseProcess._bootstrap), and the results went out synchronously as each task ended.
    atexit.register(_exit_now)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)


@contextmanager
def _main_left_alone(function: Callable[..., Any]) -> Iterator[None]:
    """Processes spawned inside this block do not import the crawl's ``__main__`` module.

    spawn runs the parent's main module again in every child (as ``__mp_main__``) so that functions defined
    there can be unpickled; for ``python -m jingshao.cli`` (or the ``jingshao`` script) that is the whole CLI:
    about 1.3 s of CPU per worker before its first page, and a worker's first page waits for it. The
    workers only need ``function``'s own module, so while they are started the main module shows no spec and
    no file (what multiprocessing's spawn reads to decide; nothing else reads them on the reactor thread
    meanwhile). A function defined in ``__main__`` itself keeps the usual behaviour."""
    main = sys.modules.get("__main__")
    if main is None or getattr(function, "__module__", "__main__") == "__main__":
        yield
        return
    spec, file = getattr(main, "__spec__", None), main.__dict__.get("__file__")
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__spec__ = spec
        if file is not None:
            main.__file__ = file


#: What a worker extracts once when it starts (JSON-LD, microdata and a visible price): the code a page's first
#: extraction imports and the patterns it compiles are then loaded while the crawl sets up and fetches robots.txt
#: and its first pages, instead of while the first batch waits (issue 15).
_WARM_PAGE = (
    '<html lang="zh-CN"><head><title>预热</title><script type="application/ld+json">{"@type": "Product", "name":'
    ' "预热", "offers": {"@type": "Offer", "price": "1.00", "priceCurrency": "CNY"}}</script></head><body>'
    '<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">预热</h1><span itemprop="price"'
    ' content="1.00">¥1.00</span><del>¥2.00</del><p class="promo">满100减10</p></div></body></html>'
).encode()


def _warm(nlp: Any = None) -> int:
    import os

    try:
        extract_page(_WARM_PAGE, "http://warm.invalid/", "utf-8", {}, nlp)
    except Exception:  # a warm-up only: the first real page meets (and reports) whatever this met
        pass
    return os.getpid()


def extract_batch(function: Callable[..., ExtractedPage], pages: list[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
    """What a worker runs for one batch of pages: ``function`` on each, each page's result or its own error
    (one page that raises fails alone, as in-process)."""
    out: list[tuple[bool, Any]] = []
    for args in pages:
        try:
            out.append((True, function(*args)))
        except Exception as exc:
            out.append((False, exc))
    return out


@dataclass
class ExtractedPage:
    """A page's extraction and what is derived from it alone: the observation's extras and the ad-law hits
    of its title and promo. ``extras`` / ``adlaw_hits`` are None when they were not computed (a page that
    gives no observation, or one whose extras raised: the reactor computes them again, so the error is the
    one an in-process crawl raises, at the same step)."""

    ext: ProductExtraction
    extras: dict[str, Any] | None = None
    adlaw_hits: list[dict[str, Any]] | None = None

    @property
    def price(self) -> Any:
        return self.ext.price


def extract_page(body: bytes, url: str, encoding: str | None, target: dict[str, Any], nlp: Any) -> ExtractedPage:
    """What a worker runs for one page (and an in-process crawl, the same call): the extraction, then the
    observation's extras and, with ``nlp`` (the crawl's NlpConfig), the ad-law hits.

    Issue 15: both cost about 1.5 ms a page each on the reactor after extraction (profile of a pooled crawl);
    here they run in the worker. The hits are found for every page that can become an observation (a price,
    or out of stock) and kept for a new or changed observation only. ``nlp`` None (an in-process crawl): no
    hits here; the storage pipeline scans the new or changed observations itself, as before, so an unchanged
    page costs no scan on the one core."""
    from jingshao.crawlers.enrichment import Enricher

    ext = extract_product(
        body, url, selectors=target.get("selectors") or None, encoding=encoding, variant=target.get("variant") or None
    )
    if ext.price is None and ext.availability != "OutOfStock":
        return ExtractedPage(ext)  # a failed page (or a wall): neither is stored
    try:
        extras: dict[str, Any] | None = observation_extras(ext, target)
    except Exception:
        extras = None  # raised again on the reactor, where an in-process crawl raises it
    if nlp is None:
        return ExtractedPage(ext, extras)
    return ExtractedPage(ext, extras, Enricher(nlp).adlaw_hits({"title": ext.title, "promo": ext.promo}))


def observation_extras(ext: Any, target: dict[str, Any]) -> dict[str, Any]:
    """What is stored beside the fields: 到手价 and its offers, variants, and the basis the values were
    read with (a new extractor version or new selectors start a new baseline: no alert compares across)."""
    offers = parse_offers(ext.promo)
    quantity = int(target.get("quantity") or 1)
    final = final_price(ext.price, offers, quantity)
    extras: dict[str, Any] = {
        "basis": reading_basis(target.get("selectors") or None),
        "final_price": final.unit if final is not None and final.used else None,
        "offers": [o.to_json() for o in final.used] if final is not None and final.used else None,
        "variants": [{"name": v["name"], "price": format(v["price"], "f")} for v in ext.variants] or None,
    }
    if target.get("plausibility_factor") is not None:
        extras["plausibility_factor"] = target["plausibility_factor"]
    return extras


class ExtractionPool:
    """``workers`` extraction processes for one crawl; ``workers = 0`` extracts in-process.

    ``function`` is what runs for a page (a module-level function: the workers import it by name)."""

    #: Pages per batch at most (a batch is one round-trip to a worker).
    max_batch = 16

    def __init__(self, workers: int, function: Callable[..., ExtractedPage] = extract_page, nlp: Any = None) -> None:
        self.workers = workers
        self.function = function
        self.nlp = nlp  # the crawl's NlpConfig (ad-law words), sent with every page (pickled once a batch)
        self.executor: ProcessPoolExecutor | None = None
        self.restarts = 0
        self.closed = False
        self.alone: ProcessPoolExecutor | None = None  # one worker for pages that were in a broken pool
        import asyncio

        self.alone_lock = asyncio.Lock()
        # Pages waiting for the next batch (their arguments and the future their crawl callback awaits), and
        # the batches in the workers now (see _pump).
        self.waiting: list[tuple[tuple[Any, ...], asyncio.Future[ExtractedPage]]] = []
        self.in_flight = 0

    @property
    def in_process(self) -> bool:
        return self.workers <= 0 or self.restarts >= MAX_RESTARTS

    def start(self) -> None:
        """Start the workers (on the first page to extract: a re-crawl that finds nothing changed starts none)."""
        if self.in_process or self.executor is not None or self.closed:
            return
        self.executor = self._executor(self.workers)
        # Every worker starts now (the executor starts them on demand, one per task in flight), importing
        # the extraction code while the reactor goes on; nothing waits for them here.
        with _main_left_alone(self.function):
            for _ in range(self.workers):
                self.executor.submit(_warm, self.nlp)

    @staticmethod
    def _executor(workers: int) -> ProcessPoolExecutor:
        # spawn, not fork: a fork of the crawl would copy the reactor's threads and locks mid-flight. The
        # workers are the crawl's own children (joined on close, so their CPU time is the crawl's).
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)

    def pids(self) -> list[int]:
        """The live workers' process ids."""
        executor = self.executor
        return sorted(getattr(executor, "_processes", None) or ()) if executor is not None else []

    def close(self) -> None:
        """Shut the workers down and wait for them (the spider closed: every page in flight was handled)."""
        self.closed = True
        executors, self.executor, self.alone = (self.executor, self.alone), None, None
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Replace ``broken`` once, however many pages saw it break."""
        if self.executor is not broken:
            return
        self.executor = None
        broken.shutdown(wait=False, cancel_futures=True)
        self.restarts += 1
        if self.in_process:
            log.warning("extraction workers died %d times; extracting in-process from now on", self.restarts)
            return
        log.warning("an extraction worker died; starting a new pool (%d of %d)", self.restarts, MAX_RESTARTS - 1)
        self.start()

    async def extract(
        self,
        body: bytes,
        url: str,
        *,
        encoding: str | None = None,
        target: dict[str, Any] | None = None,
    ) -> ExtractedPage:
        """``target``: the page's target (its selectors, variant, quantity ...; none: a page read plainly)."""
        args: tuple[Any, ...] = (body, url, encoding, target if target is not None else {}, self.nlp)
        if self.executor is None:
            self.start()
        if self.executor is None:  # in-process (extract_workers = 0, too many dead pools, or closed)
            return self.function(*args)
        import asyncio

        page: asyncio.Future[ExtractedPage] = asyncio.get_running_loop().create_future()
        self.waiting.append((args, page))
        self._pump()
        try:
            return await page
        except BrokenProcessPool:  # the pool broke with this page in it (_batch_done replaced the pool)
            pass
        return await self._alone(args, url)

    def _pump(self) -> None:
        """Send the waiting pages to the workers, in batches: at most ``workers + 1`` batches in flight (one
        being extracted per worker, one queued so no worker waits for the reactor), the pages that arrive
        meanwhile go together in the next batch.

        Issue 15: one task per page cost the reactor about as much as the download (profile of a 1-worker
        crawl: the executor's wake-up pipe write, its queue put and the result's hand-over to the loop per
        page, each waiting for the GIL behind the executor's own threads); a batch pays them once."""
        import asyncio

        while self.waiting and self.in_flight < self.workers + 1:
            executor = self.executor
            if executor is None:
                self.start()
                executor = self.executor
            if executor is None:  # in-process from now on (too many dead pools) or closed
                waiting, self.waiting = self.waiting, []
                for args, page in waiting:
                    if page.done():
                        continue
                    try:
                        page.set_result(self.function(*args))
                    except Exception as exc:  # the page's own error, as an in-process crawl raises it
                        page.set_exception(exc)
                return
            batch, self.waiting = self.waiting[: self.max_batch], self.waiting[self.max_batch :]
            try:
                with _main_left_alone(self.function):  # the executor may start a worker on submit
                    future = executor.submit(extract_batch, self.function, [args for args, _ in batch])
            except BrokenProcessPool:
                self._replace(executor)
                for _, page in batch:
                    if not page.done():
                        page.set_exception(BrokenProcessPool("the extraction pool broke"))
                continue
            self.in_flight += 1
            done = asyncio.wrap_future(future)
            done.add_done_callback(functools.partial(self._batch_done, batch, executor))

    def _batch_done(
        self,
        batch: list[tuple[tuple[Any, ...], asyncio.Future[ExtractedPage]]],
        executor: ProcessPoolExecutor,
        done: asyncio.Future[list[tuple[bool, Any]]],
    ) -> None:
        import asyncio

        self.in_flight -= 1
        if done.cancelled():
            error: BaseException | None = asyncio.CancelledError()
        else:
            error = done.exception()
        if isinstance(error, BrokenProcessPool):
            self._replace(executor)
        for i, (_, page) in enumerate(batch):
            if page.done():  # its crawl callback was cancelled meanwhile
                continue
            if error is not None:
                page.set_exception(error)
                continue
            ok, value = done.result()[i]
            if ok:
                page.set_result(value)
            else:
                page.set_exception(value)
        self._pump()

    async def _alone(self, args: tuple[Any, ...], url: str) -> ExtractedPage:
        """A page that was in a pool when it broke, extracted again in a worker of its own, one page at a
        time: the page that kills this worker too is the culprit (a failed page), the others were bystanders."""
        import asyncio

        async with self.alone_lock:
            if self.alone is None:
                self.alone = self._executor(1)
            alone = self.alone
            try:
                with _main_left_alone(self.function):
                    future = alone.submit(self.function, *args)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                self.alone = None
                alone.shutdown(wait=False, cancel_futures=True)
                raise WorkerDied(f"extraction worker died twice on this page ({url})") from None
