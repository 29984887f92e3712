"""A tiny router for the demo server: ``(method, regex) -> handler`` with typed requests and responses.

Handlers are plain functions ``Request -> Response``; they know nothing about sockets, so demo sites
are easy to add (a module with a ``register_routes(router, shop)`` function, see
:mod:`jingshao.demo.shop`) and easy to test without a server.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

HTML_UTF8 = "text/html; charset=utf-8"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One HTTP request, already parsed. ``params`` holds the route regex's named groups."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_target(cls, method: str, target: str, **kwargs: object) -> Request:
        """Build a request from a request target such as ``/jd/api/price?skuIds=J_1``."""
        path, _, query = target.partition("?")
        return cls(method=method, path=path, query=parse_qs(query), **kwargs)  # type: ignore[arg-type]

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = HTML_UTF8
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def html(cls, body: str | bytes, *, charset: str = "utf-8", status: int = 200) -> Response:
        data = body.encode(charset) if isinstance(body, str) else body
        return cls(status, data, f"text/html; charset={charset}", {"Cache-Control": "no-cache"})

    @classmethod
    def json(cls, data: object, *, status: int = 200) -> Response:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, JSON_UTF8, {"Cache-Control": "no-cache"})

    @classmethod
    def text(cls, text: str, *, status: int = 200, content_type: str = TEXT_UTF8) -> Response:
        return cls(status, text.encode("utf-8"), content_type)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json({"error": message}, status=status)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Routes are tried in the order they were added; the first whose regex fully matches wins."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method`` (GET routes also answer HEAD) on paths fully matching ``pattern``."""
        self._routes.append(Route(method.upper(), re.compile(pattern), handler))

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``add("GET", pattern, handler)``."""
        return self._decorator("GET", pattern)

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("POST", pattern)

    def _decorator(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        """Answer ``request``: the handler's response, 404, 405 (with ``Allow``) or 500."""
        method = "GET" if request.method == "HEAD" else request.method
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            return self._call(route, request, match)
        if allowed:
            response = Response.error(405, f"{request.method} not allowed on {request.path}")
            return Response(405, response.body, response.content_type, {"Allow": ", ".join(sorted(set(allowed)))})
        return Response.html(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>404 页面不存在</title>'
            "</head><body><h1>404 页面不存在</h1></body></html>",
            status=404,
        )

    @staticmethod
    def _call(route: Route, request: Request, match: re.Match[str]) -> Response:
        scoped = Request(request.method, request.path, request.query, request.headers, request.body, match.groupdict())
        try:
            return route.handler(scoped)
        except Exception as exc:  # a bug in a demo handler: answer 500 and say why, keep serving
            log.exception("demo handler failed for %s %s", request.method, request.path)
            return Response.error(500, f"{type(exc).__name__}: {exc}")
