"""Human-readable reasons for failed requests (stored with failed observations)."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure


def describe_failure(failure: Failure) -> str:
    exc = failure.value
    if failure.check(HttpError):
        return f"HTTP {exc.response.status} (after retries)"
    if failure.check(IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text.lower() or "robots" in type(exc).__name__.lower() or "Forbidden by robots" in text:
            return "blocked by robots.txt"
        return f"request dropped: {text or type(exc).__name__}"
    if failure.check(DNSLookupError):
        return "DNS lookup failed"
    if failure.check(TimeoutError, TCPTimedOutError):
        return "timed out"
    if failure.check(ConnectionRefusedError):
        return "connection refused"
    text = str(exc)
    if "exceeded" in text.lower() and "size" in text.lower():
        return f"page too large: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
