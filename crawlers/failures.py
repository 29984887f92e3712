"""Human-readable reasons for failed requests (stored with failed observations)."""

from __future__ import annotations

import scrapy.exceptions as scrapy_exc
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tw
from twisted.python.failure import Failure


def _classes(*names: str, module=scrapy_exc) -> tuple[type[BaseException], ...]:
    # Newer Scrapy wraps Twisted's errors in its own classes; older releases raise Twisted's.
    return tuple(c for c in (getattr(module, n, None) for n in names) if isinstance(c, type))


REASONS: list[tuple[tuple[type[BaseException], ...], str]] = [
    (_classes("DNSLookupError", module=tw) + _classes("CannotResolveHostError"), "DNS lookup failed"),
    (_classes("TimeoutError", "TCPTimedOutError", module=tw) + _classes("DownloadTimeoutError"), "timed out"),
    (_classes("ConnectionRefusedError", module=tw) + _classes("DownloadConnectionRefusedError"), "connection refused"),
    (
        _classes("ConnectionLost", "ConnectionDone", module=tw) + _classes("ResponseDataLossError"),
        "connection lost before the page was complete",
    ),
]


def request_of(failure: Failure) -> Request:
    """The request an errback's failure is about: Scrapy sets ``failure.request``; Twisted's type has no such field."""
    return failure.request  # type: ignore[attr-defined]


def describe_failure(failure: Failure) -> str:
    exc = failure.value
    if failure.check(HttpError):
        return f"HTTP {exc.response.status} (after retries)"
    if failure.check(IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text.lower():
            return "blocked by robots.txt"
        return f"request dropped: {text or type(exc).__name__}"
    for classes, reason in REASONS:
        if classes and isinstance(exc, classes):
            return reason
    text = str(exc)
    if "maxsize" in text.lower() or ("exceed" in text.lower() and "size" in text.lower()):
        return f"page too large: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
