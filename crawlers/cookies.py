"""Cookies and sessions per competitor (issue 12): load, send, never log, track their health.

The open-source price monitors that still work on big shops do so with a logged-in cookie. A competitor
(or one domain of it) may name where its cookies come from::

    [competitors.cookies]
    file = "cookies/jd.txt"       # Netscape cookies.txt, or the JSON a browser extension exports
    # env = "JD_COOKIE"           # or a `Cookie` header value in an environment variable
    # domain = "item.jd.com"      # only requests to this domain (default: the competitor's product hosts)

Loaded cookies are sent by plain HTTP (:class:`CookieHeaderMiddleware`, after Scrapy's cookie middleware,
merges them into the ``Cookie`` header) and by the browser (a Playwright context per jar, its
``storage_state`` holding the cookies). Every value is registered with :mod:`jingshao.core.redaction`, so no
log line, error or stored row shows it. The earliest expiry is tracked (``cookie_jars``); a login wall met
after the jar's cookies were sent marks it expired, which ``jingshao status`` and the admin channel report with
the command that refreshes it.

Own parsers rather than ``http.cookiejar.MozillaCookieJar``: that one refuses files without the
"# Netscape HTTP Cookie File" line, which several exporters leave out, and there is no stdlib reader for
the extensions' JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jingshao.core.redaction import register_secret


class CookieSourceConfig(BaseModel):
    """``[competitors.cookies]``: where a competitor's cookies come from (exactly one of file / env)."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = Field(default=None, description="Netscape cookies.txt or a browser extension's JSON export")
    env: str | None = Field(default=None, description="an environment variable holding a Cookie header value")
    domain: str | None = Field(default=None, description="only requests to this domain (default: the product hosts)")

    @model_validator(mode="after")
    def _one_source(self) -> CookieSourceConfig:
        if bool(self.file) == bool(self.env):
            raise ValueError(
                "cookies need exactly one of `file` (cookies.txt / JSON export) or `env` (a Cookie header)"
            )
        return self


class CookieError(ValueError):
    """A cookie source cannot be read; the message names the source, never a cookie value."""


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str = field(repr=False)
    domain: str
    path: str = "/"
    secure: bool = False
    expires: datetime | None = None  # None: a session cookie

    def matches(self, host: str) -> bool:
        d = self.domain.lstrip(".").lower()
        host = host.lower()
        return host == d or host.endswith("." + d)

    def playwright(self) -> dict:
        out = {
            "name": self.name,
            "value": self.value,
            "domain": self.domain,
            "path": self.path or "/",
            "secure": self.secure,
            "httpOnly": False,
            "sameSite": "Lax",
        }
        out["expires"] = self.expires.timestamp() if self.expires else -1
        return out


def _expiry(value: object) -> datetime | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def parse_netscape(text: str, where: str) -> list[Cookie]:
    """Netscape cookies.txt: seven tab-separated fields; ``#HttpOnly_`` lines are cookies too."""
    cookies = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_") :]
        elif not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 7:
            raise CookieError(f"{where}: line {n} is not a cookies.txt line (7 tab-separated fields expected)")
        domain, _flag, path, secure, expires, name, value = parts
        cookies.append(Cookie(name, value, domain, path or "/", secure.upper() == "TRUE", _expiry(expires)))
    return cookies


def parse_json_export(text: str, where: str) -> list[Cookie]:
    """The JSON of cookie extensions (EditThisCookie, Cookie-Editor: a list) or Playwright's storage state."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CookieError(f"{where}: not valid JSON (line {exc.lineno})") from None
    items = data.get("cookies") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CookieError(f"{where}: expected a list of cookies (or an object with `cookies`)")
    cookies = []
    for i, c in enumerate(items):
        if not isinstance(c, dict) or not c.get("name") or "value" not in c or not c.get("domain"):
            raise CookieError(f"{where}: cookie #{i + 1} lacks name, value or domain")
        expires = c.get("expirationDate", c.get("expires"))
        session = c.get("session") is True
        cookies.append(
            Cookie(
                str(c["name"]),
                str(c["value"]),
                str(c["domain"]),
                str(c.get("path") or "/"),
                bool(c.get("secure")),
                None if session else _expiry(expires),
            )
        )
    return cookies


def parse_header(header: str, domain: str) -> list[Cookie]:
    """A ``Cookie`` header value (``a=1; b=2``) for ``domain``; no expiry is known."""
    cookies = []
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if name and eq:
            cookies.append(Cookie(name.strip(), value.strip(), domain))
    return cookies


@dataclass
class CookieJar:
    """One competitor's (or domain's) cookies, where they came from, and what requests they are for."""

    scope: str  # the competitor's name (and domain, when one is given)
    source: str  # "file cookies/jd.txt" / "env JD_COOKIE": never the values
    cookies: list[Cookie]
    hosts: tuple[str, ...]  # requests to these hosts (and their subdomains) carry the cookies
    competitor: str = ""

    @property
    def expires_at(self) -> datetime | None:
        dated = [c.expires for c in self.cookies if c.expires is not None]
        return min(dated) if dated else None

    @property
    def fingerprint(self) -> str:
        """A digest of the jar's names and values: a refreshed jar has another (the values are never stored)."""
        material = "\x1f".join(f"{c.domain}\x1e{c.name}\x1e{c.value}" for c in self.cookies)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def applies_to(self, host: str) -> bool:
        host = host.lower()
        return any(host == h or host.endswith("." + h) for h in self.hosts)

    def header_for(self, host: str, *, now: datetime | None = None) -> str | None:
        """The ``Cookie`` header for a request to ``host`` (expired cookies left out), or None."""
        now = now or datetime.now(UTC)
        pairs = [
            f"{c.name}={c.value}" for c in self.cookies if c.matches(host) and (c.expires is None or c.expires > now)
        ]
        return "; ".join(pairs) or None

    def refresh_hint(self, config_path: str | None = None) -> str:
        where = f" -c {config_path}" if config_path else ""
        if self.source.startswith("env "):
            var = self.source[4:]
            return f"登录后从浏览器复制 Cookie 请求头，更新环境变量 {var}，再运行 jingshao cookies check{where}"
        return (
            f"登录后用浏览器扩展导出 cookies.txt 或 JSON 覆盖 {self.source[5:]}，再运行 jingshao cookies check{where}"
        )


def load_jar(
    competitor: str, source: CookieSourceConfig, product_urls: list[str], base_dir: Path | None = None
) -> CookieJar:
    """Read one cookie source; values are registered as secrets before anything can print them."""
    hosts = (
        (source.domain.lower().lstrip("."),)
        if source.domain
        else tuple(sorted({(urlsplit(u).hostname or "").lower() for u in product_urls} - {""}))
    )
    if source.env:
        header = os.environ.get(source.env)
        if header is None:
            raise CookieError(f"competitor {competitor!r}: cookies env variable {source.env} is not set")
        register_secret(header)
        cookies = [c for h in hosts for c in parse_header(header, h)]
        label = f"env {source.env}"
    else:
        assert source.file is not None  # the config requires exactly one of env and file
        path = Path(source.file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        label = f"file {source.file}"
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CookieError(f"competitor {competitor!r}: cannot read cookies file {path}: {exc.strerror}") from None
        stripped = text.lstrip()
        parse = parse_json_export if stripped.startswith(("[", "{")) else parse_netscape
        cookies = parse(text, str(path))
    for c in cookies:
        register_secret(c.value)
    scope = competitor if not source.domain else f"{competitor} ({source.domain})"
    if not cookies:
        raise CookieError(f"competitor {competitor!r}: {label} holds no cookies")
    return CookieJar(scope, label, cookies, hosts, competitor)


def load_jars(config) -> list[CookieJar]:
    """Every configured competitor's cookie jar (``config``: the validated :class:`~jingshao.config.Config`)."""
    base = config.source.parent if getattr(config, "source", None) else None
    jars = []
    for comp in config.competitors:
        if comp.cookies is not None:
            jars.append(load_jar(comp.name, comp.cookies, [p.url for p in comp.products], base))
    return jars


def context_name(jar_index: int) -> str:
    """The Playwright context that holds jar ``jar_index``'s cookies."""
    return f"cookies-{jar_index}"


def jar_for(jars: list[CookieJar], url: str) -> tuple[int, CookieJar] | None:
    host = (urlsplit(url).hostname or "").lower()
    for i, jar in enumerate(jars):
        if jar.applies_to(host):
            return i, jar
    return None


def merge_cookie_header(existing: bytes | str | None, ours: str) -> str:
    """Our jar's pairs, plus the ones Scrapy's cookie middleware added that the jar does not name."""
    if not existing:
        return ours
    text = existing.decode("latin-1") if isinstance(existing, bytes) else existing
    names = {p.split("=", 1)[0].strip() for p in ours.split(";")}
    kept = [p.strip() for p in text.split(";") if p.strip() and p.split("=", 1)[0].strip() not in names]
    return "; ".join([ours, *kept])


class CookieHeaderMiddleware:
    """Downloader middleware: requests to a jar's hosts carry its cookies (HTTP ``Cookie`` header; a rendered
    request is sent to the Playwright context holding the jar). A login wall met by such a request marks
    the jar expired (``cookie_jars``), for ``status`` and the admin channel."""

    def __init__(self, jars: list[CookieJar], database_url: str | None) -> None:
        self.jars = jars
        self.database_url = database_url
        self.sent: dict[str, str] = {}  # page url -> the scope of the jar it carried

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy import signals

        s = crawler.settings
        mw = cls(list(s.get("JINGSHAO_COOKIE_JARS") or []), s.get("JINGSHAO_DATABASE_URL"))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.item_scraped, signal=signals.item_scraped)
        return mw

    def _session(self):
        from jingshao.storage.db import open_database

        return open_database(self.database_url, upgrade=False)

    def spider_opened(self, spider=None) -> None:
        if not (self.jars and self.database_url):
            return
        from jingshao.storage.cookies import sync_jars

        db = self._session()
        try:
            with db.session() as s:
                sync_jars(s, self.jars)
        finally:
            db.dispose()

    def process_request(self, request, spider=None):
        found = jar_for(self.jars, request.url)
        if found is None:
            return None
        index, jar = found
        if request.meta.get("playwright"):
            request.meta.setdefault("playwright_context", context_name(index))
        else:
            header = jar.header_for((urlsplit(request.url).hostname or "").lower())
            if header:
                request.headers[b"Cookie"] = merge_cookie_header(request.headers.get(b"Cookie"), header).encode()
        target = request.meta.get("target") or {}
        self.sent[target.get("url") or request.url] = jar.scope
        return None

    def item_scraped(self, item, response=None, spider=None) -> None:
        from jingshao.crawlers.items import BlockedPageItem

        if not (isinstance(item, BlockedPageItem) and item.login_wall):
            return
        scope = self.sent.get(item.url)
        if scope is None or not self.database_url:
            return
        import logging

        from jingshao.storage.cookies import mark_expired

        logging.getLogger(__name__).warning(
            "cookies of %s met a login wall on %s: marked expired (refresh them, see `jingshao status`)",
            scope,
            item.url,
        )
        db = self._session()
        try:
            with db.session() as s:
                mark_expired(s, scope, item.reason)
        finally:
            db.dispose()
