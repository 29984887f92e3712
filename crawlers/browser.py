"""Find a Chromium and build scrapy-playwright settings for it.

Order (DESIGN.md): the config's `browser.executable_path`, `$JINGSHAO_CHROMIUM`, a system
`chromium` / `chromium-browser` / `google-chrome`, then Playwright's own download
(`playwright install chromium`, for users whose machine can reach the download host).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Headers, HtmlResponse, Response
from scrapy.utils.misc import load_object

SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags for a headless crawler: no sandbox when running as root in containers, and no
# background networking (component updates, sync, safe browsing) that would call home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-blink-features=AutomationControlled",
]


# What Playwright's headless launch passes as --blink-settings (a desktop mouse: `(hover: hover)` and
# `(pointer: fine)` match, as in a headed browser). Chromium keeps only the last --blink-settings of
# its command line, so a launch that adds its own must repeat these, or pages see a device without a
# pointer (no hover, coarse/none pointer) and may serve their touch layout.
PLAYWRIGHT_HEADLESS_BLINK_SETTINGS = (
    "primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4"
)


def with_blink_settings(args: Sequence[str], setting: str, *, headless: bool = True) -> list[str]:
    """``args`` with ``setting`` added to their one --blink-settings switch (merged into an existing one,
    and keeping Playwright's headless settings, which a second switch would silently replace)."""
    prefix = "--blink-settings="
    kept = [a for a in args if not a.startswith(prefix)]
    values = [v for a in args if a.startswith(prefix) for v in a[len(prefix) :].split(",") if v]
    if headless:
        values = [*PLAYWRIGHT_HEADLESS_BLINK_SETTINGS.split(","), *values]
    values.append(setting)
    merged = list(dict.fromkeys(values))  # one copy of each, first position kept
    return [*kept, prefix + ",".join(merged)]


class BrowserNotFound(Exception):
    pass


def find_chromium(configured: str | None = None) -> str | None:
    """Path of the Chromium to launch, or None to let Playwright use its own download."""
    for candidate in (configured, os.environ.get("JINGSHAO_CHROMIUM")):
        if candidate:
            path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
            if not path:
                raise BrowserNotFound(f"configured Chromium {candidate!r} does not exist")
            return path
    for name in SYSTEM_BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def playwright_has_own_chromium() -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    try:
        with sync_playwright() as p:
            return Path(p.chromium.executable_path).exists()
    except Exception:
        return False


def resolve_chromium(configured: str | None = None) -> str | None:
    """Like `find_chromium`, but fails with advice when there is no browser at all."""
    path = find_chromium(configured)
    if path is None and not playwright_has_own_chromium():
        raise BrowserNotFound(
            "no Chromium found for render = true pages: install one (Debian: `apt-get install chromium`), "
            "set browser.executable_path or $JINGSHAO_CHROMIUM, or run `playwright install chromium`"
        )
    return path


def abort_blocked_resources(blocked: frozenset[str]):
    """A PLAYWRIGHT_ABORT_REQUEST predicate that drops the given resource types."""

    def should_abort(request) -> bool:
        return request.resource_type in blocked

    return should_abort


# ---------------------------------------------------------------- the context pool (issue 15)
#
# Own code rather than scrapy-playwright's handler, which opens and closes a page per request, routes
# every request of every page through a handler installed per page, waits for Playwright's
# ``networkidle`` (500 ms without traffic) and never replaces a context: a long render crawl keeps one
# context (and its renderer's memory) for its whole life. Here pages are kept and navigated again, the
# resource filter runs inside Chromium (installed once per page), a context is replaced after
# ``recycle_after`` pages, and the network counts as settled after ``network_quiet_ms`` without a
# request in flight (woken by the page's request events, not polled).


class PooledPage:
    """A page of the pool, with its requests in flight (for the quiet-network wait).

    The requests are kept as a set, not a count: a request of the page's previous navigation that ends
    after :meth:`forget_requests` leaves the set as it is, where a count would drop below the truth.
    ``activity`` is set whenever a request starts, so a waiter sleeps until traffic or its deadline
    instead of polling."""

    def __init__(self, page: Any, owner: PooledContext) -> None:
        self.page = page
        self.owner = owner
        self.pending: set[Any] = set()
        self.activity = asyncio.Event()
        self.crashed = False
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)
        page.on("crash", self._crash)

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def forget_requests(self) -> None:
        self.pending.clear()
        self.activity.clear()

    def _started(self, request: Any) -> None:
        self.pending.add(request)
        self.activity.set()

    def _ended(self, request: Any) -> None:
        self.pending.discard(request)
        if not self.pending:
            self.activity.set()  # wakes a waiter: the quiet window starts now

    def _crash(self, _page: Any) -> None:
        self.crashed = True
        self.activity.set()

    @property
    def usable(self) -> bool:
        return not self.crashed and not self.page.is_closed() and not self.owner.closed


class PooledContext:
    """One browser context: up to ``pages`` pages in use at once, retired after ``recycle_after`` pages."""

    def __init__(self, context: Any, name: str, serial: int) -> None:
        self.context = context
        self.name = name
        self.serial = serial
        self.idle: list[PooledPage] = []
        self.busy = 0
        self.served = 0
        self.retiring = False
        self.closed = False
        context.on("close", self._closed)

    def _closed(self, _context: Any) -> None:
        self.closed = True


class ContextPool:
    """Browser contexts per context name (``default``, one per cookie jar), each with reused pages.

    ``acquire(name)`` hands out a page: an idle one of a context that is not retiring, else a new page
    in a context with room, else a new context while there are fewer than ``contexts`` of that name,
    else it waits. ``release`` puts the page back (or drops it when it crashed or its context closed);
    a context that has served ``recycle_after`` pages takes no more and is closed when its last page
    comes back, which returns its renderer's memory. A crashed page or a closed context only fails the
    requests that were on it: every other page goes on.
    """

    def __init__(
        self,
        new_context: Callable[[str], Awaitable[Any]],
        *,
        prepare_page: Callable[[Any], Awaitable[None]] | None = None,
        contexts: int = 2,
        pages_per_context: int = 4,
        recycle_after: int = 200,
    ) -> None:
        if min(contexts, pages_per_context, recycle_after) < 1:
            raise ValueError("ContextPool needs contexts, pages_per_context and recycle_after >= 1")
        self._new_context = new_context
        self._prepare_page = prepare_page
        self.contexts_per_name = contexts
        self.pages_per_context = pages_per_context
        self.recycle_after = recycle_after
        self._live: dict[str, list[PooledContext]] = {}
        self._changed = asyncio.Condition()
        self.created = 0
        self.recycled = 0
        self.pages_created = 0
        self.pages_dropped = 0

    def live(self, name: str | None = None) -> list[PooledContext]:
        if name is not None:
            return list(self._live.get(name, ()))
        return [c for group in self._live.values() for c in group]

    async def acquire(self, name: str) -> PooledPage:
        async with self._changed:
            while True:
                group = self._live.setdefault(name, [])
                group[:] = [c for c in group if not c.closed]
                ready = [c for c in group if not c.retiring and c.busy < self.pages_per_context]
                chosen = next((c for c in ready if c.idle), None) or (ready[0] if ready else None)
                if chosen is None and len(group) < self.contexts_per_name:
                    self.created += 1
                    chosen = PooledContext(await self._new_context(name), name, self.created)
                    group.append(chosen)
                if chosen is not None:
                    chosen.busy += 1
                    chosen.served += 1
                    if chosen.served >= self.recycle_after:
                        chosen.retiring = True
                    break
                await self._changed.wait()
        while chosen.idle:
            page = chosen.idle.pop()
            if page.usable:
                return page
            self.pages_dropped += 1
        try:
            raw = await chosen.context.new_page()
            if self._prepare_page is not None:
                await self._prepare_page(raw)
            page = PooledPage(raw, chosen)
        except Exception:
            await self.release(None, chosen)
            raise
        self.pages_created += 1
        return page

    async def release(self, page: PooledPage | None, owner: PooledContext | None = None) -> None:
        ctx = page.owner if page is not None else owner
        assert ctx is not None
        close_context = False
        async with self._changed:
            ctx.busy -= 1
            if page is not None:
                if page.usable and not ctx.retiring:
                    page.forget_requests()
                    ctx.idle.append(page)
                else:
                    self.pages_dropped += 1
                    if not page.page.is_closed():
                        with suppress(Exception):  # a crashed page may never confirm its close
                            await asyncio.wait_for(page.page.close(), 10)
            if (ctx.retiring or ctx.closed) and ctx.busy == 0:
                group = self._live.get(ctx.name, [])
                if ctx in group:
                    group.remove(ctx)
                    close_context = ctx.retiring and not ctx.closed
                    self.recycled += ctx.retiring
            self._changed.notify_all()
        if close_context:
            with suppress(Exception):
                await ctx.context.close()

    async def close(self) -> None:
        for ctx in self.live():
            with suppress(Exception):
                await ctx.context.close()
        self._live.clear()


async def wait_for_quiet_network(page: PooledPage, quiet: float, timeout: float) -> None:
    """Return once no request of the page has been in flight for ``quiet`` seconds (or at ``timeout``).

    Event-driven: the page's request events wake the waiter (no polling step), and the wait ends
    ``quiet`` seconds after the last request in flight ended, not on a fixed grid."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not page.crashed:
        page.activity.clear()
        left = deadline - loop.time()
        if left <= 0:
            return
        if page.pending:  # traffic: sleep until it changes
            wait = left
        else:  # quiet: done unless a request starts within the window
            wait = min(quiet, left)
        try:
            await asyncio.wait_for(page.activity.wait(), wait)
        except TimeoutError:
            if not page.pending:
                return


class PooledBrowserHandler(HTTP11DownloadHandler):
    """Scrapy download handler: requests with ``meta["playwright"]`` are rendered by pooled pages of
    one Chromium, the rest go over plain HTTP. Reads the same ``PLAYWRIGHT_*`` settings and request
    meta as scrapy-playwright (``playwright_context``, ``playwright_page_goto_kwargs``,
    ``playwright_page_methods``), plus ``JINGSHAO_BROWSER_POOL`` (see :func:`pool_settings`)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler=crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self.launch_options = dict(settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"))
        self.context_kwargs: dict[str, dict] = dict(settings.getdict("PLAYWRIGHT_CONTEXTS"))
        self.navigation_timeout = settings.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", 30_000) / 1000
        pool = dict(settings.getdict("JINGSHAO_BROWSER_POOL"))
        # Resource types to drop, by Chromium itself (see _block_in_browser); a custom
        # PLAYWRIGHT_ABORT_REQUEST predicate still works, through a Playwright route per request.
        self.blocked_types = sorted(_CDP_RESOURCE_TYPES[t] for t in pool.get("block_resources") or ())
        abort = None if "block_resources" in pool else settings.get("PLAYWRIGHT_ABORT_REQUEST")
        self.abort_request: Callable[[Any], bool] | None = load_object(abort) if abort else None
        if "Image" in self.blocked_types:
            # Blink then never requests an image at all (no request, no Fetch pause, no events for
            # Python): about 10% less CPU per render page on the demo's 8-image pages.
            headless = bool(self.launch_options.get("headless", True))
            args = self.launch_options.get("args") or ()
            self.launch_options["args"] = with_blink_settings(args, "imagesEnabled=false", headless=headless)
        if "Font" in self.blocked_types:
            # Likewise web fonts: no font request, so no Fetch pause and no round trip through Python
            # for each font of each page (real shop pages load several, icon fonts included).
            self.launch_options["args"] = [*(self.launch_options.get("args") or ()), "--disable-remote-fonts"]
        self.per_domain = max(1, int(pool.get("concurrency_per_domain", 2)))
        self.quiet = max(0.0, float(pool.get("network_quiet_ms", 200)) / 1000)
        self.pool = ContextPool(
            self._new_context,
            prepare_page=self._block_in_browser if self.blocked_types else None,
            contexts=int(pool.get("contexts", 2)),
            pages_per_context=int(pool.get("pages_per_context", 4)),
            recycle_after=int(pool.get("recycle_after", 200)),
        )
        self._domains: dict[str, asyncio.Semaphore] = {}
        self._launch_lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None

    async def _ensure_browser(self) -> Any:
        async with self._launch_lock:
            if self._browser is None or not self._browser.is_connected():
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(**self.launch_options)
                self.stats.inc_value("jingshao/browser/launched")
            return self._browser

    async def _new_context(self, name: str) -> Any:
        browser = await self._ensure_browser()
        kwargs = self.context_kwargs.get(name) or self.context_kwargs.get("default") or {}
        context = await browser.new_context(**kwargs)
        context.set_default_navigation_timeout(self.navigation_timeout * 1000)
        if self.abort_request is not None:
            abort = self.abort_request

            async def route(route: Any, request: Any) -> None:
                with suppress(Exception):  # the page may be gone meanwhile
                    await (route.abort() if abort(request) else route.continue_())

            await context.route("**", route)
        self.stats.inc_value("jingshao/browser/contexts")
        return context

    async def _block_in_browser(self, page: Any) -> None:
        """Drop the blocked resource types inside Chromium: the DevTools Fetch domain pauses only
        requests of those types (``Fetch.enable`` with resource-type patterns), and each paused one is
        failed at once. Every other request of the page goes out untouched, with no round trip to
        Python, and the browser's HTTP cache stays on (a Playwright route sends each request of the
        page through a Python handler and turns the cache off)."""
        session = await page.context.new_cdp_session(page)

        async def drop(event: dict) -> None:
            self.stats.inc_value("jingshao/browser/blocked_by_fetch")
            with suppress(Exception):  # the page may be gone meanwhile
                await session.send(
                    "Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "BlockedByClient"}
                )

        session.on("Fetch.requestPaused", drop)
        await session.send(
            "Fetch.enable", {"patterns": [{"urlPattern": "*", "resourceType": t} for t in self.blocked_types]}
        )

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get("playwright"):
            return await super().download_request(request)
        domain = (urlsplit(request.url).hostname or "").lower()
        gate = self._domains.setdefault(domain, asyncio.Semaphore(self.per_domain))
        async with gate:
            for attempt in (1, 2):
                page = await self.pool.acquire(str(request.meta.setdefault("playwright_context", "default")))
                try:
                    response = await self._render(page, request)
                except Exception as exc:
                    page.crashed = page.crashed or _is_target_closed(exc)
                    await self.pool.release(page)
                    if attempt == 1 and page.crashed:  # the page or its context died: once more, on a fresh page
                        self.stats.inc_value("jingshao/browser/retried_crash")
                        continue
                    raise
                await self.pool.release(page)
                self.stats.inc_value("jingshao/browser/pages")
                return response
        raise AssertionError("unreachable")

    async def _render(self, pooled: PooledPage, request: Request) -> Response:
        page = pooled.page
        goto = dict(request.meta.get("playwright_page_goto_kwargs") or {})
        wait_until = goto.pop("wait_until", "load")
        settle = wait_until == "networkidle"
        started = asyncio.get_running_loop().time()
        pooled.forget_requests()
        # networkidle: the document is parsed (its inline scripts ran and started their requests), then
        # the page's own traffic decides; waiting for `load` as well would only add the slowest asset.
        nav = await page.goto(
            request.url,
            wait_until="domcontentloaded" if settle else wait_until,
            timeout=self.navigation_timeout * 1000,
            **goto,
        )
        if settle:  # content filled by XHR arrives later: wait until the page's traffic stops
            await wait_for_quiet_network(pooled, self.quiet, self.navigation_timeout)
        for method in request.meta.get("playwright_page_methods") or ():
            call = partial(method.method, page) if callable(method.method) else getattr(page, method.method)
            result = call(*method.args, **method.kwargs)
            method.result = await result if inspect.isawaitable(result) else result
        html = await page.content()
        request.meta["download_latency"] = asyncio.get_running_loop().time() - started
        headers = Headers(await nav.all_headers()) if nav is not None else Headers()
        headers.pop("Content-Encoding", None)
        headers.pop("Content-Length", None)
        body = html.encode("utf-8")
        headers["Content-Type"] = "text/html; charset=utf-8"
        return HtmlResponse(
            url=page.url,
            status=nav.status if nav is not None else 200,
            headers=headers,
            body=body,
            encoding="utf-8",
            request=request,
            flags=["playwright"],
        )

    async def close(self) -> None:
        await super().close()
        await self.pool.close()
        if self._browser is not None:
            with suppress(Exception):
                await self._browser.close()
        if self._playwright is not None:
            with suppress(Exception):
                await self._playwright.stop()
        for key, value in (
            ("contexts_recycled", self.pool.recycled),
            ("pages_created", self.pool.pages_created),
            ("pages_dropped", self.pool.pages_dropped),
        ):
            self.stats.set_value(f"jingshao/browser/{key}", value)


# Playwright's resource types (config `block_resources`) as the DevTools protocol names them.
_CDP_RESOURCE_TYPES = {"image": "Image", "font": "Font", "media": "Media", "stylesheet": "Stylesheet"}


def _is_target_closed(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return (
        "TargetClosed" in text or "Target page, context or browser has been closed" in text or "crash" in text.lower()
    )
