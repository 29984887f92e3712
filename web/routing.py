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
bench/web.py). On a server database (network waits) it keeps its worker thread. Pages whose reads
are bounded so (an alert, a page of alerts or products) may be marked too: their template renders
in about a millisecond; pages over unbounded aggregates keep their worker thread.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from anyio import CancelScope
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute, request_response
from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter, ValidationError, create_model
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
_ANSWERS_RESPONSE = "_jingshao_answers_response"
_LEAN = "_jingshao_lean"


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
    declared = _response_model(endpoint, response_model)
    adapter = _adapter(declared)

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

    # Every answer of the wrapper is a Response when it renders through the model, or when the
    # endpoint is declared to return one (``lean_handler`` relies on it).
    answers_response = adapter is not None or (isinstance(declared, type) and issubclass(declared, Response))
    if not getattr(endpoint, _INLINE, False):
        setattr(run, _ANSWERS_RESPONSE, answers_response)
        return run

    @functools.wraps(endpoint)
    async def run_inline(*args: Any, **kwargs: Any) -> Any:
        if _on_sqlite():
            return run(*args, **kwargs)
        return await run_in_threadpool(run, *args, **kwargs)

    setattr(run_inline, _ANSWERS_RESPONSE, answers_response)
    return run_inline


_REQUEST = "_jingshao_request"

# ParamParser builds on FastAPI internals (0.16x: the body-limit wrapper, the sequence test, Dependant as a
# dataclass). pyproject allows older and newer FastAPI: where they are not as expected, routes keep
# FastAPI's own parameter handling (slower, same answers) instead of the app failing to start.
try:
    from fastapi._body_limit import wrap_app_with_body_limit
    from fastapi._compat import field_annotation_is_sequence

    FAST_PARAMS = dataclasses.is_dataclass(Dependant)
except ImportError:  # pragma: no cover - depends on the installed FastAPI
    FAST_PARAMS = False
# lean_handler also hands errors to the app's handlers the way Starlette's request_response does,
# through a private helper of Starlette's; without it, routes keep FastAPI's handler.
try:
    from starlette._exception_handler import wrap_app_handling_exceptions

    LEAN = FAST_PARAMS
except ImportError:  # pragma: no cover - depends on the installed Starlette
    LEAN = False


class ParamParser:
    """A route's path and query parameters (and those of the query-only dependencies it ends with,
    like the API's ``_window``), each read and validated by one pydantic model in one call.

    FastAPI validates each parameter on its own on every request (its aliases, whether its type is a
    sequence, a copy of its default, then the field's own validator): 20-170 us a call here for a
    list's filters and page (``request_params_to_args`` timed against this in one process), against
    4-15 us for one compiled model over the same types, constraints and defaults. Values and 422 errors are the same
    (``loc`` ``["query", name]``, pydantic's ``type``, ``msg``, ``input``, ``ctx``), in the same order:
    each dependency's parameters, then its call, then the route's own (tests/test_web_routing.py
    compares both ways URL by URL). The route's signature is untouched, so ``/api/docs`` documents
    the same parameters. Hand-made because FastAPI has no hook for it: its per-field path is internal.
    """

    def __init__(self, fields: list[Any]) -> None:
        self.targets: list[tuple[str, str, str, str]] = []  # (model key, "path" / "query", alias, name)
        spec: dict[str, Any] = {}
        for i, field in enumerate(fields):
            info = copy.copy(field.field_info)
            # The model reads its own keys (k0, k1, ...): the public name stays in the error's loc.
            info.alias = info.validation_alias = info.serialization_alias = None
            info.alias_priority = None
            key = f"k{i}"
            spec[key] = (field.field_info.annotation, info)
            self.targets.append((key, field.field_info.in_.value, field.alias, field.name))
        self.model: type[BaseModel] = create_model(
            "Params", __config__=ConfigDict(extra="ignore", arbitrary_types_allowed=True), **spec
        )
        self.model.model_rebuild(force=True, raise_errors=True)  # an unresolvable type fails here, not later
        self.where = {key: (where, alias) for key, where, alias, _ in self.targets}

    def values(self, request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(the parameters by name, []) or ({}, the errors FastAPI would report for them)."""
        query, path = request.query_params, request.path_params
        given = {}
        for key, where, alias, _ in self.targets:
            source = query if where == "query" else path
            if alias in source:
                given[key] = source[alias]
        try:
            parsed = self.model.model_validate(given).__dict__
        except ValidationError as exc:
            return {}, self._errors(exc)
        return {name: parsed[key] for key, _, _, name in self.targets}, []

    def _errors(self, exc: ValidationError) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        for detail in exc.errors(include_url=False):
            key, *rest = detail["loc"]
            where, alias = self.where[str(key)]
            err: dict[str, Any] = {**detail, "loc": (where, alias, *rest)}
            if err["type"] == "missing":
                err["input"] = None  # as FastAPI reports a missing parameter
            errors.append(err)
        return errors


def _simple(field: Any) -> bool:
    info = field.field_info
    return (
        getattr(info, "in_", None) is not None
        and info.in_.value in ("path", "query")
        and not field_annotation_is_sequence(info.annotation)  # lists come from getlist(): FastAPI's path
        and info.validation_alias in (None, field.alias)  # one name (no AliasChoices / AliasPath)
    )


def _query_only(s: Dependant) -> bool:
    """A dependency that takes nothing but path and query parameters and is a plain coroutine."""
    return (
        bool(s.query_params or s.path_params)
        and not (s.dependencies or s.body_params or s.header_params or s.cookie_params)
        and all(
            n is None
            for n in (
                s.request_param_name,
                s.websocket_param_name,
                s.http_connection_param_name,
                s.response_param_name,
                s.background_tasks_param_name,
                s.security_scopes_param_name,
            )
        )
        and s.name is not None
        and inspect.iscoroutinefunction(s.call)
        and not inspect.isasyncgenfunction(s.call)
        and all(_simple(f) for f in (*s.path_params, *s.query_params))
    )


def parse_params_at_once(route: APIRoute) -> None:
    """Give ``route`` (served, not documented) a :class:`ParamParser` for its path and query
    parameters when they are all plain (no lists; no body, header or cookie parameters, whose errors
    FastAPI reports together with these); otherwise leave it as FastAPI runs it."""
    d = route.dependant
    if not FAST_PARAMS or d.body_params or d.header_params or d.cookie_params or d.call is None:
        return
    is_async = inspect.iscoroutinefunction(d.call)
    # Query-only dependencies that come last (so nothing FastAPI still solves ran after them) move
    # into an async handler's wrapper; a sync one runs in a worker thread, where it cannot await them.
    n = len(d.dependencies)
    while is_async and n and _query_only(d.dependencies[n - 1]):
        n -= 1
    subs, kept = d.dependencies[n:], d.dependencies[:n]
    own = [*d.path_params, *d.query_params]
    if not (own or subs) or not all(_simple(f) for f in own):
        return
    if any(s.path_params or s.query_params for s in kept):
        return  # another dependency's parameters would be validated (and reported) apart
    try:
        parsers = [ParamParser([*s.path_params, *s.query_params]) for s in subs]
        parser = ParamParser(own)
    except (PydanticUserError, NameError):  # a type not resolvable here (a forward reference): FastAPI's way
        return
    call, request_name = d.call, d.request_param_name
    take_request = request_name or _REQUEST

    def request_of(values: dict[str, Any]) -> Request:
        return values[take_request] if request_name else values.pop(_REQUEST)

    if is_async:

        async def endpoint(**values: Any) -> Any:
            request = request_of(values)
            errors: list[dict[str, Any]] = []
            for sub, sub_parser in zip(subs, parsers, strict=True):
                given, wrong = sub_parser.values(request)
                if wrong:
                    errors += wrong
                    continue
                values[sub.name] = await sub.call(**given)  # type: ignore[index, misc]
            parsed, wrong = parser.values(request)
            if errors or wrong:
                raise RequestValidationError(errors + wrong)
            return await call(**values, **parsed)

    else:

        def endpoint(**values: Any) -> Any:  # type: ignore[misc]
            parsed, wrong = parser.values(request_of(values))
            if wrong:
                raise RequestValidationError(wrong)
            return call(**values, **parsed)

    try:
        route.dependant = dataclasses.replace(
            d, path_params=[], query_params=[], dependencies=kept, call=endpoint, request_param_name=take_request
        )
        route.app = wrap_app_with_body_limit(request_response(route.get_route_handler()), route.max_body_size)
    except (AttributeError, TypeError):  # pragma: no cover - a FastAPI whose route internals differ
        route.dependant = d


def _plain_dependency(d: Dependant) -> bool:
    """A dependency FastAPI would solve by awaiting it with the request and its own dependencies:
    a coroutine (or an async generator, entered for the request) taking no parameter of the request's
    path, query, headers, cookies or body, and none of FastAPI's other special ones."""
    return (
        d.call is not None
        and (inspect.iscoroutinefunction(d.call) or inspect.isasyncgenfunction(d.call))
        and not (d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params)
        and _only_request_param(d)
        and not (d.own_oauth_scopes or d.parent_oauth_scopes)
        and d.use_cache
        and d.scope in (None, "request")
        and getattr(d, "concurrency", None) is None
        and all(_plain_dependency(sub) for sub in d.dependencies)
    )


def _only_request_param(d: Dependant) -> bool:
    return all(
        n is None
        for n in (
            d.websocket_param_name,
            d.http_connection_param_name,
            d.response_param_name,
            d.background_tasks_param_name,
            d.security_scopes_param_name,
        )
    )


def _solve_order(root: Dependant) -> list[Dependant]:
    """The dependencies in the order FastAPI first calls them (depth first, each call once: its cache)."""
    order: list[Dependant] = []
    seen: set[int] = set()

    def visit(d: Dependant) -> None:
        for sub in d.dependencies:
            visit(sub)
            if id(sub.call) not in seen:
                seen.add(id(sub.call))
                order.append(sub)

    visit(root)
    return order


def _lean_applies(route: APIRoute) -> bool:
    """Whether FastAPI's handler would do nothing more for ``route`` than :func:`lean_handler`'s."""
    d = route.dependant
    return (
        getattr(route.endpoint, _ANSWERS_RESPONSE, False)
        and d.call is not None
        and not (d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params)
        and _only_request_param(d)
        and route.dependency_overrides_provider is None
        and all(_plain_dependency(sub) for sub in d.dependencies)
    )


def lean_handler(route: APIRoute) -> None:
    """Serve ``route`` with a lean request handler when FastAPI's general one would do nothing more.

    FastAPI's handler (0.16x) solves the dependency tree node by node on every request (cache keys,
    scope checks, an exit stack per dependency with yield, three exit stacks and a cancel scope a
    request, telemetry hooks), ~0.1-0.15 ms of a 0.3 ms API call here. For a route whose endpoint
    is one of :class:`Router`'s (its answer always a ``Response``, its path and query read by
    :class:`ParamParser`) and whose dependencies are all plain (:func:`_plain_dependency`: the
    guards and ``get_db`` of ``web.deps``), this handler does the same in the same order: it calls
    each dependency once, first-needed first, with the request and what it depends on; enters a
    dependency with yield for the request and leaves it after the response is sent (an error raised
    on the way is thrown into it first), shielded from cancellation as FastAPI does; errors go to
    the app's exception handlers as before. Any other route keeps FastAPI's handler. Own code
    because FastAPI offers no hook for it.
    """
    if not LEAN:
        return
    try:
        plain = _lean_applies(route)
    except AttributeError:  # pragma: no cover - a FastAPI whose Dependant has other fields
        plain = False
    if not plain:
        return
    d = route.dependant
    steps: list[tuple[Callable[..., Any], bool, str | None, tuple[tuple[str, Any], ...]]] = [
        (
            sub.call,
            inspect.isasyncgenfunction(sub.call),
            sub.request_param_name,
            tuple((s.name, s.call) for s in sub.dependencies if s.name is not None),
        )
        for sub in _solve_order(d)
        if sub.call is not None  # (always: _plain_dependency)
    ]
    call, request_name = d.call, d.request_param_name
    if call is None:  # (never: _lean_applies)
        return
    call_is_async = inspect.iscoroutinefunction(call)
    own = tuple((s.name, s.call) for s in d.dependencies if s.name is not None)

    async def handle(request: Request, send: Send) -> None:
        solved: dict[Any, Any] = {}
        opened: list[Any] = []  # the dependencies with yield, entered
        try:
            for dep, is_gen, dep_request, needs in steps:
                kwargs = {name: solved[c] for name, c in needs}
                if dep_request is not None:
                    kwargs[dep_request] = request
                if is_gen:
                    cm = asynccontextmanager(dep)(**kwargs)
                    solved[dep] = await cm.__aenter__()
                    opened.append(cm)
                else:
                    solved[dep] = await dep(**kwargs)
            values = {name: solved[c] for name, c in own}
            if request_name is not None:
                values[request_name] = request
            response = await call(**values) if call_is_async else await run_in_threadpool(call, **values)
            await response(request.scope, request.receive, send)
        except BaseException:
            exc_info = sys.exc_info()
            while opened:
                with CancelScope(shield=True):
                    if await opened.pop().__aexit__(*exc_info):
                        exc_info = (None, None, None)  # pragma: no cover - get_db re-raises
            if exc_info[1] is not None:
                raise
        else:
            while opened:
                with CancelScope(shield=True):
                    await opened.pop().__aexit__(None, None, None)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            await handle(request, send)  # as FastAPI's: the request as made, the response through ``send``

        await wrap_app_handling_exceptions(inner, request)(scope, receive, send)

    route.app = wrap_app_with_body_limit(app, route.max_body_size)
    setattr(route, _LEAN, True)


def is_lean(route: BaseRoute) -> bool:
    """Whether ``route`` is served by :func:`lean_handler`."""
    return getattr(route, _LEAN, False)


class Router(APIRouter):
    """An ``APIRouter`` whose sync handlers run (and commit, and serialize) in one worker thread,
    whose routes read their parameters with one :class:`ParamParser`, and are served by
    :func:`lean_handler` where it applies."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = one_thread(
                endpoint, response_model=kwargs.get("response_model"), status_code=kwargs.get("status_code")
            )
        super().add_api_route(path, endpoint, **kwargs)
        route = self.routes[-1]
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            parse_params_at_once(route)
            lean_handler(route)


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


__all__ = ["REQUEST_SESSION", "Router", "SegmentDispatch", "inline_read", "is_lean", "lean_handler", "one_thread"]
