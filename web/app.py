"""The web app factory: ``create_app(cfg)`` builds the FastAPI app that ``jingshao serve`` runs.

Contract for pages (``jingshao.web.pages.router``, included here):

- **Database session**: ``db: Session = Depends(get_db)`` (``jingshao.web.deps``). One SQLAlchemy
  session, one transaction per request, committed when the handler returns. Read through
  ``jingshao.storage.queries.web`` (plain dataclasses), never by building SQL in a page.
- **Current user**: every page route already requires a logged-in user (the router is built with
  ``Depends(require_viewer_csrf)``); take it with ``user: Principal = Depends(require_viewer)`` and guard
  editing actions with ``Depends(require_admin)`` (``Principal.name``, ``.role``, ``.is_admin``).
  A page request without a login is redirected to ``/login?next=...``; a viewer's edit gets 403.
- **CSRF**: every POST/PUT/PATCH/DELETE of the pages router is checked (``require_viewer_csrf``, the
  router's one dependency, is ``require_viewer`` and ``csrf_protect`` in one). Forms put
  ``{{ csrf_field }}`` inside ``<form>``; htmx sends the header
  ``X-CSRF-Token: {{ csrf_token }}`` (e.g. ``hx-headers='{"X-CSRF-Token": "{{ csrf_token }}"}'`` on
  ``<body>``). Both come from ``page_context(request, **values)``, which every TemplateResponse should
  use as its context (it also gives ``user``, ``cfg`` and ``request``).
- **Config**: ``cfg = get_cfg(request)`` or ``page_context(...)["cfg"]`` (the validated ``Config``;
  ``cfg.tz`` for display times, ``cfg.web.public_url``). Never render a secret from it.
- **Login page**: ``GET /login`` renders ``templates/login.html`` when it exists, with ``error``
  (Chinese message or None) and ``next``; the form posts ``username``, ``password``, ``next`` and
  ``csrf_token`` to ``/login``. Logout is ``POST /logout`` (with the CSRF field).
- **Static files**: ``web/static`` is served at ``/static`` (``/static/vendor/echarts.min.js``).
- **Security headers**: a Content-Security-Policy allows scripts from this site only (no inline
  ``<script>``, no ``on...=`` attributes: put code in ``/static`` files); inline styles are allowed.

The API router (``jingshao.web.api``) lives under ``/api/v1``; OpenAPI docs at ``/api/docs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jingshao.storage.db import Database, open_database
from jingshao.web.auth import CSRF_COOKIE, LoginLimiter
from jingshao.web.deps import bearer_scheme
from jingshao.web.routing import SegmentDispatch

if TYPE_CHECKING:
    from jingshao.config import Config

STATIC = Path(__file__).parent / "static"
API_DOCS_ASSETS = Path(__file__).parent / "apidocs"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def create_app(cfg: Config, *, db: Database | None = None) -> FastAPI:
    from jingshao.web import api, api_files, login, pages

    app = FastAPI(
        title="竞哨 jingshao API",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.cfg = cfg
    app.state.db = db or open_database(cfg.database_url)
    app.state.login_limiter = LoginLimiter(cfg.web.login_attempts, cfg.web.login_window_seconds)

    # The API is mounted under its prefix, so a page request tries one route for the whole API
    # instead of each of its ~40 (FastAPI tries an app's routes in order, a few microseconds each),
    # and an API call never tries the pages'. Its OpenAPI document comes from an app that only
    # describes it (a mounted router is not in the app's own document).
    # Within it, a call tries only the routes that share its first path segment (SegmentDispatch).
    api_docs_app = FastAPI(title=app.title, version=app.version, openapi_url=None, docs_url=None, redoc_url=None)
    for part in (api.router, api_files.router):
        api_docs_app.include_router(part, prefix="/api/v1", dependencies=[Depends(bearer_scheme)])
    app.mount("/api/v1", SegmentDispatch([*api.router.routes, *api_files.router.routes]))
    app.openapi = api_docs_app.openapi  # type: ignore[method-assign]
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if API_DOCS_ASSETS.is_dir():
        app.mount("/api/docs-assets", StaticFiles(directory=API_DOCS_ASSETS), name="apidocs")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> Response:
        from fastapi.openapi.docs import get_swagger_ui_html

        # Served from the package (no CDN: the dashboard works offline).
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="竞哨 API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/api/docs-assets/favicon-32x32.png",
        )

    # The pages and the login form, last (after /static, /api/...): by first path segment, as the API.
    app.mount("", SegmentDispatch([*login.router.routes, *pages.router.routes]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_errors(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and not request.url.path.startswith("/api/") and request.method == "GET":
            return login.login_redirect(request)
        return await http_exception_handler(request, exc)

    app.add_middleware(SecurityHeaders, secure_cookies=cfg.web.secure_cookies)
    return app


class SecurityHeaders:
    """Security headers on every response, and the pre-login CSRF cookie when a page minted one.

    A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` runs each request in an extra task
    and stream: a fixed cost on every call).
    """

    def __init__(self, app: ASGIApp, *, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith("/api/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # What MutableHeaders.setdefault does for each of them, in one pass over the headers.
                raw = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _ in raw}
                raw.extend(h for h in (RAW_HEADERS if docs else RAW_HEADERS_CSP) if h[0] not in present)
                # The pre-login CSRF token (double-submit cookie); readable by nothing but this site's forms.
                anon = scope.get("state", {}).get("anon_csrf")
                if anon and Request(scope).cookies.get(CSRF_COOKIE) != anon:
                    cookie = Response()
                    cookie.set_cookie(
                        CSRF_COOKIE, anon, httponly=True, samesite="lax", secure=self.secure_cookies, path="/"
                    )
                    MutableHeaders(scope=message).append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


STATIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
# As MutableHeaders stores them: lower-case latin-1 names and values.
RAW_HEADERS = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in STATIC_HEADERS)
RAW_HEADERS_CSP = (*RAW_HEADERS, (b"content-security-policy", CSP.encode("latin-1")))


__all__ = ["HTTPException", "create_app"]
