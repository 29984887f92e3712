"""Scrapy settings built from the validated config.

Behaviour is assembled from components named here (pipelines, middlewares, handlers), the
Scrapy way: add a component rather than a branch in a spider.
"""

from __future__ import annotations

from typing import Any

from jingshao.crawlers.config import CrawlerInputs

from .browser import CHROMIUM_ARGS, abort_blocked_resources, resolve_chromium
from .cookies import context_name, load_jars

RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Scrapy's extensions that a crawl leaves out. RemoteControl (Scrapy >= 2.19) serves HTTP on localhost that
#: runs the Python code sent to it (its token in a file of the user's profile): nothing a crawl of shops needs,
#: and loading it imports aiohttp and builds its SSL contexts, ~0.2 s of every crawl's start (issue 15).
LEFT_OUT_EXTENSIONS = frozenset({"scrapy.extensions.remote_control.RemoteControl"})


def extensions_base() -> dict[str, int]:
    """Scrapy's EXTENSIONS_BASE without :data:`LEFT_OUT_EXTENSIONS`. Left out of the base itself: Scrapy
    imports every class named in EXTENSIONS, even one set to None there, to compare it with the base's."""
    from scrapy.settings import default_settings

    return {path: order for path, order in default_settings.EXTENSIONS_BASE.items() if path not in LEFT_OUT_EXTENSIONS}


def build_settings(config: CrawlerInputs, *, needs_browser: bool, log_level: str = "WARNING") -> dict[str, Any]:
    crawl = config.crawl
    settings: dict[str, Any] = {
        "BOT_NAME": "jingshao",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots_txt,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": int(crawl.max_page_mb * 1024 * 1024),
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": crawl.retry_times > 0,
        "RETRY_TIMES": crawl.retry_times,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.6",
        },
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "EXTENSIONS_BASE": extensions_base(),
        # Issue 15: Scrapy's check for `return value` in generator callbacks reads and parses the
        # callback's source (inspect.getsource + ast.parse) for every response whose request holds a
        # new bound method (its cache is keyed by the method object): 13% of an unchanged re-crawl,
        # 6% of a first crawl. A development-time lint, not worth its cost on every page.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # Issue 15: Scrapy starts CONCURRENT_ITEMS (default 100) asyncio worker tasks for the output of
        # every response, however few items it holds; a product page yields one. Our item pipelines are
        # synchronous (each item is stored before the next is taken), so more workers only cost tasks.
        "CONCURRENT_ITEMS": 1,
        "LOG_LEVEL": log_level,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOADER_MIDDLEWARES": {
            "jingshao.crawlers.backoff.BlockBackoffMiddleware": 540,  # issue 12: slow down / pause on walls
            "jingshao.crawlers.cookies.CookieHeaderMiddleware": 720,  # issue 12: cookies (after CookiesMiddleware)
            "jingshao.crawlers.middlewares.RetryBackoffMiddleware": 560,
            "jingshao.crawlers.middlewares.ConditionalRequestMiddleware": 580,  # issue 15: ETag / 304
            # issue 15: the same meta refresh redirects, without decoding every page to find none
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "jingshao.crawlers.middlewares.CheapMetaRefreshMiddleware": 580,
        },
        "ITEM_PIPELINES": {
            "jingshao.crawlers.pipelines.StoragePipeline": 500,
            "jingshao.crawlers.pipelines_blocking.EvidencePipeline": 550,  # issue 12: snapshots of changes
            "jingshao.crawlers.pipelines_blocking.PageProfilePipeline": 600,  # issue 12: usual page sizes
            "jingshao.crawlers.pipelines_blocking.ListPricePipeline": 610,  # issue 12: list page prices
        },
        "JINGSHAO_DATABASE_URL": config.database_url,
        "JINGSHAO_CONDITIONAL_REQUESTS": crawl.conditional_requests,
        "JINGSHAO_FULL_FETCH_HOURS": crawl.full_fetch_hours,
        "JINGSHAO_EXTRACT_WORKERS": crawl.extract_workers,
        "JINGSHAO_BLOCKING": crawl.blocking,
        "JINGSHAO_BLOCKING_POLICY": crawl.blocking.policy(),
        "JINGSHAO_COOKIE_JARS": load_jars(config),
        "JINGSHAO_EVIDENCE": config.evidence,
    }
    if needs_browser:
        settings.update(browser_settings(config))
    return settings


def browser_settings(config: CrawlerInputs, *, block: bool | None = None) -> dict[str, Any]:
    """scrapy-playwright settings; the handler only acts on requests with meta playwright=True."""
    browser = config.browser
    launch: dict[str, Any] = {"headless": browser.headless, "args": CHROMIUM_ARGS}
    context = {
        "locale": "zh-CN",
        "timezone_id": config.timezone,
        "user_agent": config.crawl.user_agent,
        "viewport": {"width": 1366, "height": 900},
    }
    # Issue 12: one context per cookie jar, holding its cookies (CookieHeaderMiddleware picks it per request).
    contexts: dict[str, Any] = {"default": context}
    for i, jar in enumerate(load_jars(config)):
        contexts[context_name(i)] = {**context, "storage_state": {"cookies": [c.playwright() for c in jar.cookies]}}
    path = resolve_chromium(browser.executable_path)
    if path:
        launch["executable_path"] = path
    blocked = frozenset(browser.block_resources) if block is not False else frozenset()
    settings: dict[str, Any] = {
        "DOWNLOAD_HANDLERS": {
            "http": "jingshao.crawlers.browser.PooledBrowserHandler",
            "https": "jingshao.crawlers.browser.PooledBrowserHandler",
        },
        "JINGSHAO_BROWSER_POOL": {
            "concurrency_per_domain": browser.concurrency_per_domain,
            "contexts": browser.contexts,
            "pages_per_context": browser.pages_per_context,
            "recycle_after": browser.recycle_after,
            "network_quiet_ms": browser.network_quiet_ms,
            "block_resources": sorted(blocked),
        },
        # Scrapy's own per-domain cap must let the browser's through (render requests are also capped
        # per domain by the pool's handler).
        "CONCURRENT_REQUESTS_PER_DOMAIN": max(config.crawl.concurrency_per_domain, browser.concurrency_per_domain),
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": browser.navigation_timeout * 1000,
        "PLAYWRIGHT_CONTEXTS": contexts,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": max(2, config.crawl.concurrency_per_domain * 2),
    }
    if blocked:
        settings["PLAYWRIGHT_ABORT_REQUEST"] = abort_blocked_resources(blocked)
    return settings
