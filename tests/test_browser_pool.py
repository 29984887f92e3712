"""The browser context pool (issue 15) with real headless Chromium against the demo shop on 127.0.0.1:
pages are reused, a context is replaced after N pages, and a crashed page or a closed context fails
only what was on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler
from scrapy_playwright.page import PageMethod

from jingshao.config import parse_config
from jingshao.crawlers.browser import (
    CHROMIUM_ARGS,
    ContextPool,
    PooledBrowserHandler,
    find_chromium,
    wait_for_quiet_network,
)
from jingshao.crawlers.settings import browser_settings
from jingshao.demo.catalog import bench_render_urls, expected_bench

pytestmark = pytest.mark.browser


def _price_shown(html: str, n: int) -> bool:
    return f'id="price">{expected_bench(n).price}' in html.replace(",", "")


async def _with_pool(chromium, body, **pool_kwargs):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        made: list = []

        async def new_context(name: str):
            made.append(name)
            return await browser.new_context(locale="zh-CN")

        pool = ContextPool(new_context, **pool_kwargs)
        try:
            return await body(pool), made
        finally:
            await pool.close()
            await browser.close()


async def _crash(page) -> None:
    """Kill the page's renderer, as an out-of-memory tab dies."""
    cdp = await page.context.new_cdp_session(page)
    with contextlib.suppress(Exception):  # the session dies with the renderer and may never answer
        await asyncio.wait_for(cdp.send("Page.crash"), 3)


async def _render(pool: ContextPool, url: str, name: str = "default"):
    page = await pool.acquire(name)
    try:
        await page.page.goto(url, wait_until="networkidle")
        return page, await page.page.content()
    finally:
        await pool.release(page)


def test_pages_are_reused_and_contexts_recycled(shop, chromium):
    urls = bench_render_urls(shop.base_url, 7)

    async def sequential(pool):
        seen = []
        for n, url in enumerate(urls):
            page, html = await _render(pool, url)
            assert _price_shown(html, n), html[:300]
            seen.append((id(page), page.owner.serial))
        return seen

    seen, made = asyncio.run(_with_pool(find_chromium(), sequential, contexts=1, pages_per_context=2))
    assert len({pid for pid, _ in seen}) == 1, "one page served every request in turn"
    assert made == ["default"]

    async def recycled(pool):
        seen = [(await _render(pool, url))[0].owner.serial for url in urls]
        return seen, pool.recycled, len(pool.live())

    (serials, recycled_count, live), made = asyncio.run(
        _with_pool(find_chromium(), recycled, contexts=1, pages_per_context=2, recycle_after=3)
    )
    assert serials == [1, 1, 1, 2, 2, 2, 3], "a context serves 3 pages, then a new one takes over"
    assert recycled_count == 2 and live == 1 and len(made) == 3


def test_concurrent_pages_share_contexts_up_to_the_limits(shop, chromium):
    urls = bench_render_urls(shop.base_url, 12)

    async def parallel(pool):
        results = await asyncio.gather(*(_render(pool, u) for u in urls))
        return [(page.owner.serial, _price_shown(html, n)) for n, (page, html) in enumerate(results)], pool

    (results, pool), made = asyncio.run(_with_pool(find_chromium(), parallel, contexts=2, pages_per_context=3))
    assert all(ok for _, ok in results)
    assert len(made) == 2 and pool.pages_created <= 6, (made, pool.pages_created)


def test_a_crashed_page_or_closed_context_loses_no_other_result(shop, chromium):
    urls = bench_render_urls(shop.base_url, 6)

    async def crash_one(pool):
        victim = await pool.acquire("default")
        others = [asyncio.create_task(_render(pool, u)) for u in urls[:3]]
        await victim.page.goto(urls[0])
        await _crash(victim.page)
        for _ in range(100):
            if victim.crashed:
                break
            await asyncio.sleep(0.05)
        assert victim.crashed
        await pool.release(victim)
        done = await asyncio.gather(*others)
        # a context dies under a page of another context: that one fails, the rest go on
        doomed = await pool.acquire("jar")
        await doomed.owner.context.close()
        await pool.release(doomed)
        after = [await _render(pool, u) for u in urls[3:]]
        return done, after, pool

    (done, after, pool), _ = asyncio.run(_with_pool(find_chromium(), crash_one, contexts=1, pages_per_context=4))
    assert [_price_shown(html, n) for n, (_, html) in enumerate(done)] == [True] * 3
    assert [_price_shown(html, n + 3) for n, (_, html) in enumerate(after)] == [True] * 3
    assert pool.pages_dropped >= 1 and pool.live("jar") == []


def _handler_main(base_url: str, db: str) -> None:
    """In a child process (the handler needs Twisted's asyncio reactor, which a test process must not
    install): five pages and one whose renderer crashes, through one context replaced every 2 pages,
    and one more that reports the pointer media queries."""
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    cfg = parse_config(
        {
            "database": {"url": f"sqlite:///{db}"},
            "browser": {"concurrency_per_domain": 3, "pages_per_context": 2, "contexts": 1, "recycle_after": 2},
        },
        "<test>",
    )
    crawler = get_crawler(settings_dict=browser_settings(cfg))
    urls = bench_render_urls(base_url, 5)

    async def crawl():
        handler = PooledBrowserHandler(crawler)
        try:
            meta = {"playwright": True, "playwright_page_goto_kwargs": {"wait_until": "networkidle"}}
            ok = [handler.download_request(Request(u, meta=dict(meta))) for u in urls]
            crash = {**meta, "playwright_page_methods": [PageMethod(_crash)]}
            bad = handler.download_request(Request(urls[0] + "?crash", meta=crash))
            media = PageMethod("evaluate", "['(hover: hover)', '(pointer: fine)'].map(q => matchMedia(q).matches)")
            asks = {**meta, "playwright_page_methods": [media]}
            device = handler.download_request(Request(urls[1] + "?media", meta=asks))
            results = await asyncio.gather(*ok, bad, device, return_exceptions=True)
            paused = crawler.stats.get_value("jingshao/browser/blocked_by_fetch", 0)
            return results[:-1], handler.pool.recycled, media.result, paused
        finally:
            await handler.close()

    results, recycled, media, paused = asyncio.get_event_loop().run_until_complete(crawl())
    print(
        json.dumps(
            {
                "failed_last": isinstance(results[-1], Exception),
                "prices": [_price_shown(r.text, n) for n, r in enumerate(results[:-1])],
                "flags": [("playwright" in r.flags, r.status) for r in results[:-1]],
                "recycled": recycled,
                "hover_and_fine_pointer": media,
                "paused_by_fetch": paused,
            }
        )
    )


def test_the_scrapy_handler_renders_blocks_and_fails_only_the_crashed_request(shop, chromium, tmp_path):
    shop.reset_hits()
    args = f"{shop.base_url!r}, {str(tmp_path / 'x.db')!r}"
    code = f"from jingshao.tests.test_browser_pool import _handler_main; _handler_main({args})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["failed_last"], out
    assert out["prices"] == [True] * 5
    assert out["flags"] == [[True, 200]] * 5
    assert out["recycled"] >= 2  # 5 pages (and the crashed one) through one context replaced every 2
    # Images blocked through --blink-settings, and pages still see Playwright's desktop mouse (a second
    # --blink-settings switch replaced it: no hover, no fine pointer, a touch layout on some sites).
    assert out["hover_and_fine_pointer"] == [True, True]
    # Images and fonts are never requested at all (Blink switches), so none reach the Fetch filter.
    assert out["paused_by_fetch"] == 0
    assert not [p for p in shop.hits() if p.startswith("/static/img/") or p.startswith("/static/font/")]


_CHAINED = b"""<!DOCTYPE html><html><body><p id="x"></p><script>
fetch("/first").then(function () {
  setTimeout(function () {
    fetch("/second").then(function (r) { return r.text(); }).then(function (t) {
      document.getElementById("x").textContent = t;
    });
  }, 80);
});
</script></body></html>"""


class _ChainedHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/second":
            time.sleep(0.3)  # longer than the quiet window: only the in-flight count covers it
        body = _CHAINED if self.path == "/page.html" else b"filled-by-second"
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.path == "/page.html" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


def test_quiet_network_wait_follows_requests_started_late(chromium):
    """A request that starts inside the quiet window, after the first ended, and stays in flight longer
    than the window: the event-driven wait sees it and returns only after the page used its answer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChainedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/page.html"

    async def render(pool):
        page = await pool.acquire("default")
        try:
            out = []
            for _ in range(2):  # the second time on the reused page, with the first's requests forgotten
                page.forget_requests()
                await page.page.goto(url, wait_until="domcontentloaded")
                await wait_for_quiet_network(page, 0.2, 10)
                out.append(await page.page.inner_text("#x"))
            return out, page.in_flight
        finally:
            await pool.release(page)

    try:
        (texts, in_flight), _ = asyncio.run(_with_pool(find_chromium(), render, contexts=1, pages_per_context=1))
    finally:
        server.shutdown()
        server.server_close()
    assert texts == ["filled-by-second"] * 2 and in_flight == 0
