"""Extraction preview for the "add by pasting URLs" form: fetch one page, run the crawl's extraction
pipeline (``crawlers/extract``) and say, for each field, the value and the layer that found it.

Plain pages are fetched with httpx (the crawl's user agent and timeout, the page size limit);
``render = true`` pages are loaded in headless Chromium (the crawl's browser resolution). Only
http(s) URLs are fetched, redirects included; nothing is stored.

The preview fetches what an admin pastes, from the server's network: unless ``[web]
preview_allow_private = true``, a host that resolves to a loopback, private, link-local (cloud
metadata at 169.254.169.254), shared, multicast or reserved address is refused, on every redirect
and, in the browser, on every request the page makes. (The check resolves the name itself; a name
that resolves differently a moment later could still slip through: a deliberate DNS-rebinding race.)
Messages are Chinese: they are shown on 监控设置 as they are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from jingshao.crawlers.extract.model import FIELDS, decimal_text
from jingshao.crawlers.extract.pipeline import extract_product

if TYPE_CHECKING:
    from jingshao.config import Config

MAX_TIMEOUT_S = 20.0


class PreviewError(Exception):
    """The page could not be fetched (the message says why, for the form)."""


@dataclass(frozen=True)
class FieldPreview:
    name: str
    value: Any
    layer: str | None
    via: str | None


@dataclass(frozen=True)
class Preview:
    url: str
    final_url: str
    http_status: int | None
    fields: list[FieldPreview]
    variants: list[dict[str, Any]] = field(default_factory=list)
    price_is_range: bool = False
    error: str | None = None


def _http_url(url: str) -> str:
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https") or not url[len(scheme) + 1 :].startswith("//"):
        raise PreviewError("只能预览 http:// 或 https:// 开头的链接")
    return url


PRIVATE_HINT = "；如确需预览内网页面，请在配置文件的 [web] 中设置 preview_allow_private = true"


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_public(cfg: Config, url: str) -> None:
    """Refuse ``url`` when its host is (or resolves to) an internal address, unless the config allows it."""
    if cfg.web.preview_allow_private:
        return
    host = httpx.URL(url).host
    if not host:
        raise PreviewError("链接里没有主机名")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise PreviewError(f"无法解析主机名 {host}") from None
    for *_, sockaddr in infos:
        if _internal(str(sockaddr[0])):
            raise PreviewError(f"不能预览内网、本机或链路本地地址（{host} → {sockaddr[0]}）" + PRIVATE_HINT)


async def _fetch_http(cfg: Config, url: str) -> tuple[bytes, str | None, str, int]:
    limit = int(cfg.crawl.max_page_mb * 1024 * 1024)
    timeout = min(cfg.crawl.timeout, MAX_TIMEOUT_S)
    headers = {"User-Agent": cfg.crawl.user_agent, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}

    async def only_public_http(request: httpx.Request) -> None:  # the first request and every redirect
        if request.url.scheme not in ("http", "https"):
            raise PreviewError("页面跳转到了非 http(s) 链接")
        await check_public(cfg, str(request.url))

    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=True, headers=headers, event_hooks={"request": [only_public_http]}
    ) as client:
        try:
            async with client.stream("GET", url) as resp:
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise PreviewError(f"页面超过 crawl.max_page_mb 限制（{cfg.crawl.max_page_mb} MB）")
                    chunks.append(chunk)
                if resp.status_code >= 400:
                    raise PreviewError(f"网站返回 HTTP {resp.status_code}")
                return b"".join(chunks), resp.charset_encoding, str(resp.url), resp.status_code
        except httpx.HTTPError as exc:
            raise PreviewError(f"无法抓取页面：{type(exc).__name__}: {exc}") from None


async def _fetch_rendered(cfg: Config, url: str) -> tuple[bytes, str | None, str, int]:
    from playwright.async_api import async_playwright

    from jingshao.crawlers.browser import CHROMIUM_ARGS, resolve_chromium

    exe = resolve_chromium(cfg.browser.executable_path)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, headless=cfg.browser.headless, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(user_agent=cfg.crawl.user_agent, locale="zh-CN", timezone_id="Asia/Shanghai")
            refused: list[str] = []

            async def only_public(route: Any) -> None:  # every request the page makes, redirects included
                try:
                    await check_public(cfg, route.request.url)
                except PreviewError as exc:
                    refused.append(str(exc))
                    await route.abort("blockedbyclient")
                else:
                    await route.continue_()

            if not cfg.web.preview_allow_private:
                await page.route("**/*", only_public)
            try:
                resp = await page.goto(url, timeout=cfg.browser.navigation_timeout * 1000, wait_until="networkidle")
            except Exception as exc:
                if refused:
                    raise PreviewError(refused[0]) from None
                raise PreviewError(f"浏览器无法加载页面：{type(exc).__name__}: {exc}") from None
            if not page.url.startswith(("http://", "https://")):
                raise PreviewError("页面跳转到了非 http(s) 链接")
            html = await page.content()
            return html.encode("utf-8"), "utf-8", page.url, resp.status if resp else 200
        finally:
            await browser.close()


async def preview(
    cfg: Config,
    url: str,
    *,
    selectors: dict[str, str] | None = None,
    render: bool = False,
    variant: str | None = None,
) -> Preview:
    url = _http_url(url)
    await check_public(cfg, url)
    body, charset, final_url, status = await (_fetch_rendered(cfg, url) if render else _fetch_http(cfg, url))
    # Extraction is CPU work (lxml, extruct): keep it off the event loop.
    result = await asyncio.to_thread(
        extract_product, body, final_url, selectors=selectors or None, encoding=charset, variant=variant
    )
    fields = []
    for name in FIELDS:
        value = getattr(result, name)
        if name in ("price", "original_price"):
            value = decimal_text(value)
        src = result.sources.get(name) or {}
        fields.append(FieldPreview(name, value, src.get("layer"), src.get("via")))
    return Preview(
        url,
        final_url,
        status,
        fields,
        [{"name": v["name"], "price": decimal_text(v.get("price"))} for v in result.variants],
        result.price_is_range,
        result.error,
    )
