"""One worker thread per request: the router every page and API module uses.

FastAPI runs each sync dependency, the sync handler and then the response model's validation in
separate thread-pool calls. Every call hands the GIL from the event loop to a worker and back, and a
thread that wants the GIL may wait up to the interpreter's switch interval (5 ms) for it: with four
or five hops a request, that was most of the 10-20 ms a small page or API call cost.

So the shared dependencies (``web.deps``) are async and do no blocking I/O on the event loop (the
database session is created lazily; auth lookups that need the database take one hop of their own),
and :class:`Router` wraps every sync handler so that its one worker thread also commits the
request's session and serializes the answer through pydantic with the route's response model (the
model still describes the route in ``/api/docs``). An async handler is left as FastAPI runs it.

A handler marked :func:`inline_read` (a bounded read: one row by key, or one page of a list of at most
``limit`` rows) skips even that hop when the database is SQLite: it runs on the event loop, as a
sub-millisecond local file read costs less than the hand-off to a worker and back (~0.1-0.2 ms,
bench/web.py). On a server database (network waits) it keeps its worker thread; pages (templates,
unbounded aggregates) always do.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

# The request's session, set by ``web.deps.get_db`` while the request runs (a contextvar, so the
# worker thread of the same request sees it and no other request does).
REQUEST_SESSION: ContextVar[Session | None] = ContextVar("jingshao_request_session", default=None)


def _response_model(endpoint: Callable[..., Any], declared: Any) -> Any:
    if declared is not None and not isinstance(declared, DefaultPlaceholder):
        return declared
    try:
        return typing.get_type_hints(endpoint).get("return")
    except (NameError, TypeError):  # an annotation only importable for type checkers: let FastAPI handle it
        return None


def _adapter(model: Any) -> TypeAdapter | None:
    if model is None or model is Any:
        return None
    if isinstance(model, type) and issubclass(model, Response):
        return None
    return TypeAdapter(model)


_INLINE = "_jingshao_inline_read"


def inline_read(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a sync handler as a bounded read that may run on the event loop on SQLite (see above)."""
    setattr(endpoint, _INLINE, True)
    return endpoint


def _on_sqlite() -> bool:
    session = REQUEST_SESSION.get()
    return session is not None and session.get_bind().dialect.name == "sqlite"


def one_thread(endpoint: Callable[..., Any], *, response_model: Any = None, status_code: int | None = None):
    """``endpoint`` wrapped to commit the request's session and render its JSON in the same thread.

    The wrapper keeps the endpoint's signature (``functools.wraps``), so FastAPI sees the same
    parameters, dependencies and response model as before.
    """
    adapter = _adapter(_response_model(endpoint, response_model))

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        session = REQUEST_SESSION.get()
        if session is not None and session.in_transaction():
            session.commit()
        if adapter is None or isinstance(result, Response):
            return result
        body = adapter.dump_json(adapter.validate_python(result, from_attributes=True))
        return Response(body, status_code=status_code or 200, media_type="application/json")

    if not getattr(endpoint, _INLINE, False):
        return run

    @functools.wraps(endpoint)
    async def run_inline(*args: Any, **kwargs: Any) -> Any:
        if _on_sqlite():
            return run(*args, **kwargs)
        return await run_in_threadpool(run, *args, **kwargs)

    return run_inline


class Router(APIRouter):
    """An ``APIRouter`` whose sync handlers run (and commit, and serialize) in one worker thread."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = one_thread(
                endpoint, response_model=kwargs.get("response_model"), status_code=kwargs.get("status_code")
            )
        super().add_api_route(path, endpoint, **kwargs)


def _first_segment(path: str) -> str | None:
    """``"/products/{id}"`` -> ``"products"``; None when the first segment is a parameter (or empty)."""
    seg = path.lstrip("/").split("/", 1)[0]
    return None if not seg or "{" in seg else seg


class SegmentDispatch:
    """An ASGI app that routes by the path's first segment, then tries only that group's routes.

    A FastAPI router tries its routes in order, each match costing several microseconds of scope
    bookkeeping (FastAPI 0.16x): a call near the end of the API's ~35 routes spent ~0.2 ms just
    finding its route. Routes whose first segments differ can never both match, so trying only the
    routes that share the request's first segment (plus any whose first segment is a parameter, in
    their original order) picks the same route as trying them all.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        segments = {_first_segment(getattr(r, "path", "")) for r in routes}
        self.groups = {
            seg: APIRouter(routes=[r for r in routes if _first_segment(getattr(r, "path", "")) in (seg, None)])
            for seg in segments
            if seg is not None
        }
        self.other = APIRouter(routes=[r for r in routes if _first_segment(getattr(r, "path", "")) is None])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.other
        if scope["type"] in ("http", "websocket"):
            router = self.groups.get(get_route_path(scope).lstrip("/").split("/", 1)[0], self.other)
        await router(scope, receive, send)


__all__ = ["REQUEST_SESSION", "Router", "SegmentDispatch", "inline_read", "one_thread"]
