"""Downloader middlewares."""

from __future__ import annotations

import asyncio
import random

from scrapy import Request, Spider


class RetryBackoffMiddleware:
    """Delay a retried request exponentially (0.5 s, 1 s, 2 s ... capped, with jitter).

    Scrapy's RetryMiddleware re-schedules failed requests at once; a shop that answered 503 or
    429 needs a pause first. This runs before the download of any request that RetryMiddleware
    marked with `retry_times`.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.getfloat("RETRY_BACKOFF_BASE", 0.5), s.getfloat("RETRY_BACKOFF_MAX", 30.0))

    def delay_for(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        attempt = request.meta.get("retry_times", 0)
        if attempt:
            await asyncio.sleep(self.delay_for(attempt))
        return None
