"""FastAPI dependencies shared by the API and the pages: config, database session, user, CSRF.

See ``jingshao.web.app`` for the contract pages build on.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBearer
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from jingshao.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    LOCAL_ADMIN,
    SESSION_COOKIE,
    Principal,
    auth_configured,
    check_token,
    load_session,
)
from jingshao.web.routing import REQUEST_SESSION
from jingshao.web.settings import is_loopback

if TYPE_CHECKING:
    from jingshao.config import Config

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})
_AUTH_CACHE_SECONDS = 5.0


def get_cfg(request: Request) -> Config:
    return request.app.state.cfg


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session in one transaction per request: committed when the handler returns, rolled back on error.

    GET and HEAD requests only read: they get the database's read session (on SQLite a deferred
    transaction, so a page never waits for a crawler's write lock); other methods the writer's.
    Creating the session does no I/O, so this runs on the event loop; a sync handler's worker thread
    commits it (``web.routing.Router``), and whatever is still open here is finished in a thread.
    """
    db = request.app.state.db
    maker = db.read_sessionmaker if request.method in READ_METHODS else db.sessionmaker
    session: Session = maker()
    reset = REQUEST_SESSION.set(session)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    else:
        if session.in_transaction():
            await run_in_threadpool(_finish, session, True)
        else:
            session.close()  # nothing open: no I/O
    finally:
        REQUEST_SESSION.reset(reset)


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def _auth_required(request: Request, db: Session) -> bool:
    state = request.app.state
    now = time.monotonic()
    cached = getattr(state, "auth_required_cache", None)
    if cached and now - cached[1] < _AUTH_CACHE_SECONDS:
        return cached[0]
    value = auth_configured(state.cfg.web, db)
    state.auth_required_cache = (value, now)
    return value


def _auth_required_cached(request: Request) -> bool | None:
    cached = getattr(request.app.state, "auth_required_cache", None)
    if cached and time.monotonic() - cached[1] < _AUTH_CACHE_SECONDS:
        return cached[0]
    return None


# A Host header's name is a loopback one or not, whatever the request: parsed once (ipaddress
# parses the address on every call), a bounded cache since the header is the client's to choose.
_loopback_host = functools.lru_cache(maxsize=64)(is_loopback)


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# Declares the bearer scheme in the OpenAPI document (the docs' "Authorize" button): a dependency of
# the routes of the app that only describes the API (web.app), not of the served ones, where it
# would be one more node to solve per request; the header is read below.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `jingshao users token NAME`")


async def current_user(request: Request, db: Session = Depends(get_db)) -> Principal | None:
    """The authenticated principal, or None. A bad bearer token is a 401 at once (never a fallback).

    Runs on the event loop; the database lookups (token, session, whether any user exists) take one
    worker-thread call, and a request without credentials in local mode usually needs none.
    """
    return await _principal(request, db)


async def _principal(request: Request, db: Session) -> Principal | None:
    """``current_user``'s work, done once a request (the answer is kept on ``request.state``).

    The guards below call it directly instead of through ``Depends(current_user)``: FastAPI solves
    every node of a route's dependency tree on each request, cached or not (``solve_dependencies``
    recurses before it looks at its cache), at ~15-20 us a node; with the guards each depending
    only on ``get_db`` an API read solves 6 nodes instead of 10.
    """
    state = request.state
    if hasattr(state, "principal"):
        return state.principal
    auth = request.headers.get("authorization", "")
    key = request.cookies.get(SESSION_COOKIE)
    if not auth and not key and _auth_required_cached(request) is False:
        principal = None
        required = False
    else:
        principal, required = await run_in_threadpool(_authenticate, request, db, auth, key)
    if principal is None and not required:
        # Local mode (no users, loopback only): refuse other Host names, so a DNS-rebinding page
        # served from elsewhere cannot drive this dashboard through the user's browser.
        if not _loopback_host(_host_name(request)):
            raise HTTPException(403, "local mode (no users configured) answers only to localhost / 127.0.0.1")
        principal = LOCAL_ADMIN
    state.principal = principal
    return principal


def _authenticate(request: Request, db: Session, auth: str, key: str | None) -> tuple[Principal | None, bool]:
    """(principal or None, whether auth is required); the part of ``current_user`` that reads the database."""
    principal: Principal | None = None
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "Authorization must be 'Bearer <token>'", {"WWW-Authenticate": "Bearer"})
        # A GET's session only reads (deferred on SQLite): the token's last-use time, when due, is
        # written in a short transaction of its own.
        writer = request.app.state.db.session if request.method in READ_METHODS else None
        principal = check_token(request.app.state.cfg.web, db, token.strip(), writer=writer)
        if principal is None:
            raise HTTPException(401, "invalid or revoked API token", {"WWW-Authenticate": "Bearer"})
    elif key:
        row = load_session(db, key)
        if row is not None:
            principal = Principal(row.user_name, row.role, "session")  # type: ignore[arg-type]
            request.state.session_csrf = row.csrf_token
    return principal, principal is not None or _auth_required(request, db)


async def require_viewer(request: Request, db: Session = Depends(get_db)) -> Principal:
    user = await _principal(request, db)
    if user is None:
        raise HTTPException(401, "login required", {"WWW-Authenticate": "Bearer"})
    return user


async def require_admin(request: Request, db: Session = Depends(get_db)) -> Principal:
    user = await require_viewer(request, db)
    if not user.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return user


def csrf_token(request: Request) -> str:
    """The token a form or htmx request must send back (hidden field ``csrf_token`` or header ``X-CSRF-Token``).

    A logged-in browser's token belongs to its session; before login (and in local mode) it is the
    random value of the ``jingshao_csrf`` cookie, which the app sets on every response that lacks it.
    """
    session_csrf = getattr(request.state, "session_csrf", None)
    if session_csrf:
        return session_csrf
    token = getattr(request.state, "anon_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(32)
    request.state.anon_csrf = token
    return token


def csrf_field(request: Request) -> Markup:
    """``<input type="hidden" name="csrf_token" value="...">`` for a template's forms."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(csrf_token(request)))


async def _check_csrf(request: Request, user: Principal | None, *, anonymous_ok: bool) -> None:
    if request.method not in UNSAFE_METHODS or (user is not None and user.via == "token"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    session_csrf = getattr(request.state, "session_csrf", None)
    expected = [session_csrf] if session_csrf else []
    if anonymous_ok or not session_csrf:
        expected.append(request.cookies.get(CSRF_COOKIE))
    if not sent or not any(e and hmac.compare_digest(sent.encode(), e.encode()) for e in expected):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


async def csrf_protect(request: Request, db: Session = Depends(get_db)) -> None:
    """Reject an unsafe request from a browser (cookie or local mode) without the right CSRF token.

    A logged-in browser must send its session's token; before login (and in local mode) the
    ``jingshao_csrf`` cookie's. Bearer-token API calls are exempt: a browser never adds that header.
    """
    await _check_csrf(request, await _principal(request, db), anonymous_ok=False)


async def csrf_protect_login(request: Request, db: Session = Depends(get_db)) -> None:
    """The login form: the pre-login token is accepted even when an older session cookie is present."""
    await _check_csrf(request, await _principal(request, db), anonymous_ok=True)


async def require_viewer_csrf(request: Request, db: Session = Depends(get_db)) -> Principal:
    """``require_viewer`` and ``csrf_protect`` in one dependency (one node to solve): the pages' guard."""
    user = await require_viewer(request, db)
    await _check_csrf(request, user, anonymous_ok=False)
    return user


def page_context(request: Request, **extra: Any) -> dict[str, Any]:
    """What every template gets: request, user, cfg, csrf_token (str) and csrf_field (markup)."""
    return {
        "request": request,
        "user": getattr(request.state, "principal", None),
        "cfg": request.app.state.cfg,
        "csrf_token": csrf_token(request),
        "csrf_field": csrf_field(request),
        **extra,
    }
