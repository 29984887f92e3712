"""Login and logout for browsers (``/login``, ``/logout``); API clients use bearer tokens instead."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from sqlalchemy.orm import Session

from jingshao.web.auth import SESSION_COOKIE, check_login, end_session, start_session
from jingshao.web.deps import csrf_field, csrf_protect, csrf_protect_login, get_cfg, get_db, page_context
from jingshao.web.routing import Router

router = Router(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site (``/x``), never ``//evil`` or ``https://evil``: no open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


_FALLBACK = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 · 竞哨</title></head>
<body><main><h1>竞哨 登录</h1>{error}
<form method="post" action="/login">{csrf}<input type="hidden" name="next" value="{next}">
<p><label>用户名 <input name="username" autocomplete="username" required></label></p>
<p><label>密码 <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">登录</button></p></form></main></body></html>"""

ERRORS = {"bad": "用户名或密码错误。", "limit": "登录失败次数过多，请稍后再试。"}


def render_login(request: Request, error: str | None, next_: str, status: int = 200) -> Response:
    message = ERRORS.get(error or "")
    try:
        from jingshao.web.pages import templates

        if templates.env.loader and "login.html" in templates.env.list_templates():
            return templates.TemplateResponse(
                request, "login.html", page_context(request, error=message, next=next_), status_code=status
            )
    except ImportError:
        pass
    html = _FALLBACK.format(
        error=f'<p role="alert">{escape(message)}</p>' if message else "",
        csrf=csrf_field(request),
        next=escape(next_),
    )
    return HTMLResponse(html, status_code=status)


@router.get("/login")
def login_page(request: Request, error: str | None = None, next: str | None = None) -> Response:
    return render_login(request, error, safe_next(next))


@router.post("/login", dependencies=[Depends(csrf_protect_login)])
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    next: str = Form("/"),
    db: Session = Depends(get_db),
) -> Response:
    cfg = get_cfg(request)
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else "?"
    wait = limiter.retry_after(client, username)
    if wait:
        response = render_login(request, "limit", safe_next(next), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    who = check_login(cfg.web, db, username, password)
    if who is None:
        limiter.failed(client, username)
        return render_login(request, "bad", safe_next(next), status=401)
    limiter.succeeded(client, username)
    key, _csrf = start_session(cfg.web, db, who)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=int(cfg.web.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=cfg.web.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request, db: Session = Depends(get_db)) -> Response:
    if key := request.cookies.get(SESSION_COOKIE):
        end_session(db, key)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
