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
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import Response
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

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

    return run


class Router(APIRouter):
    """An ``APIRouter`` whose sync handlers run (and commit, and serialize) in one worker thread."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = one_thread(
                endpoint, response_model=kwargs.get("response_model"), status_code=kwargs.get("status_code")
            )
        super().add_api_route(path, endpoint, **kwargs)


__all__ = ["REQUEST_SESSION", "Router", "one_thread"]
