"""Switchable walls in front of the demo shop's product pages (issue 12): what real shops answer crawlers.

Kinds (``WALL_KINDS``):

- ``captcha``: HTTP 200, a 安全验证 page with a slider (滑块, ``nc_`` widget) and no product;
- ``login``: 302 to ``/passport/login`` (a login page: 扫码登录 / 账号登录 and, as real ones do, no price);
  a request carrying the demo session cookie (``DEMO_SESSION_COOKIE`` = a value from ``valid_sessions``)
  gets the product instead, so cookie handling can be tested;
- ``too_many``: HTTP 429 访问过于频繁;
- ``shell``: HTTP 200, a near-empty JavaScript shell (no product block, a tiny body);
- ``soldout_login``: HTTP 200 with a login prompt that also says 已售罄 (a wall a stock parser would
  mistake for "out of stock").

In process: ``srv.walls.set(path, "captcha")`` / ``srv.walls.clear()``; over HTTP
``POST /_demo/wall?path=/item/1.html&kind=captcha`` (``path=*``: every product page; ``kind=off`` removes).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import quote

from jingshao.demo.router import Request, Response

WALL_KINDS = ("captcha", "login", "too_many", "shell", "soldout_login")
DEMO_SESSION_COOKIE = "demo_session"
ALL = "*"

CAPTCHA_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title>
<script src="/static/js/nc.js"></script></head><body>
<div class="sec-wrap"><h2>请完成安全验证</h2><p>为保障您的账号安全，请拖动下方滑块完成验证</p>
<div id="nc_1_wrapper" class="nc_wrapper"><div id="nc_1_n1z" class="nc_iconfont btn_slide">&gt;</div>
<span class="nc-lang-cnt">请按住滑块，拖动到最右边</span></div></div></body></html>"""

LOGIN_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>登录</title></head><body>
<div class="login-box"><div class="tabs"><a class="active">扫码登录</a><a>账号登录</a></div>
<form action="/passport/login" method="post"><input name="loginId" placeholder="手机号/会员名/邮箱">
<input name="password" type="password"><button type="submit">登录</button></form>
<p>打开手机App扫一扫登录，安全便捷</p></div></body></html>"""

TOO_MANY_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>访问受限</title></head><body>
<h1>访问过于频繁，请稍后再试</h1><p>您的访问过于频繁，系统已暂时限制访问。</p></body></html>"""

SHELL_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>商品详情</title></head>
<body><div id="root"></div><script src="/static/js/app.js"></script></body></html>"""

SOLDOUT_LOGIN_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>商品详情</title></head><body>
<div class="mask"><p>请登录后查看商品详情与价格</p><a href="/passport/login">立即登录</a></div>
<div class="status">该商品已售罄</div><button disabled>到货通知</button></body></html>"""


class Walls:
    """Which product paths answer with which wall; thread-safe. Valid demo sessions pass a login wall."""

    def __init__(self) -> None:
        self._walls: dict[str, str] = {}
        self._lock = threading.Lock()
        self.valid_sessions: set[str] = set()

    def set(self, path: str, kind: str) -> None:
        if kind not in WALL_KINDS:
            raise ValueError(f"wall kind must be one of {WALL_KINDS}, got {kind!r}")
        with self._lock:
            self._walls[path] = kind

    def remove(self, path: str) -> None:
        with self._lock:
            self._walls.pop(path, None)

    def clear(self) -> None:
        with self._lock:
            self._walls.clear()

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._walls)

    def kind_for(self, path: str) -> str | None:
        with self._lock:
            return self._walls.get(path) or self._walls.get(ALL)

    def has_session(self, headers: Mapping[str, str]) -> bool:
        cookies = next((v for k, v in headers.items() if k.lower() == "cookie"), "")
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == DEMO_SESSION_COOKIE and value in self.valid_sessions:
                return True
        return False

    def answer(self, request: Request) -> Response | None:
        """The wall for this request, or None (serve the product)."""
        kind = self.kind_for(request.path)
        if kind is None:
            return None
        if kind in ("login", "soldout_login") and self.has_session(request.headers):
            return None
        if kind == "captcha":
            return Response.html(CAPTCHA_PAGE)
        if kind == "login":
            target = "/passport/login?redirect=" + quote(request.path, safe="")
            return Response(302, b"", "text/html; charset=utf-8", {"Location": target, "Cache-Control": "no-cache"})
        if kind == "too_many":
            return Response.html(TOO_MANY_PAGE, status=429)
        if kind == "shell":
            return Response.html(SHELL_PAGE)
        return Response.html(SOLDOUT_LOGIN_PAGE)


def login_page(request: Request) -> Response:
    return Response.html(LOGIN_PAGE)
