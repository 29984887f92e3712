"""The crawl's meta refresh middleware rules a refresh out in the bytes, and otherwise answers as Scrapy's
(issue 15): every response below gets the very answer Scrapy's own MetaRefreshMiddleware gives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from jingshao.crawlers.middlewares import CheapMetaRefreshMiddleware

FIXTURES = Path(__file__).parent / "fixtures"

REFRESH = '<html><head><meta http-equiv="{word}" content="0; url=/moved"></head><body>{body}</body></html>'
CASES = [
    ("utf-8", REFRESH.format(word="refresh", body="新品")),
    ("utf-8", REFRESH.format(word="REFRESH", body="新品")),
    ("utf-8", REFRESH.format(word="Refresh", body="x" * 5000)),
    ("utf-8", "<html><body>" + "无" * 5000 + REFRESH.format(word="refresh", body="") + "</body></html>"),  # past 4096
    ("utf-8", "<html><body>" + "x" * 20000 + REFRESH.format(word="refresh", body="") + "</body></html>"),  # past 16 KiB
    ("utf-8", '<html><head><script>var s = \'<meta http-equiv="refresh" content="0;url=/x">\'</script></head></html>'),
    ("utf-8", "<html><body>refresh the page</body></html>"),
    ("utf-8", '<html><head><meta http-equiv="refre&#115;h" content="0; url=/moved"></head></html>'),
    ("utf-8", '<html><head><meta http-equiv="refreſh" content="0; url=/moved"></head></html>'),
    ("utf-8", "<html><head><meta http-equiv=REFRE&#X73;H content='0; url=/moved'></head></html>"),
    ("utf-8", "<html><head><meta HTTP-EQUIV = '&#114;efresh' content=\"0; url=/moved\"></head></html>"),
    ("utf-8", '<html><head><meta http-equiv content="0; url=/moved"></head><body>&amp;</body></html>'),
    ("utf-8", '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head></html>'),
    ("utf-8", "<html><body>价格 ¥199</body></html>"),
    ("gb18030", REFRESH.format(word="refresh", body="价格")),
    ("gbk", "<html><body>价格 ￥199</body></html>"),
    ("utf-16", REFRESH.format(word="refresh", body="价格")),
    ("utf-16", "<html><body>价格</body></html>"),
    ("latin-1", REFRESH.format(word="refresh", body="café")),
]


def pages() -> list[tuple[str, bytes]]:
    out = [(encoding, html.encode(encoding)) for encoding, html in CASES]
    for path in sorted(FIXTURES.rglob("*.html"))[:40]:
        out.append(("utf-8", path.read_bytes()))
    return out


def answer(result, request: Request):
    if isinstance(result, Request):
        return ("redirect", result.url, result.method)
    return ("response", result is not None)


@pytest.mark.parametrize("index", range(len(pages())))
def test_the_answer_is_scrapys(index):
    encoding, body = pages()[index]
    crawler = get_crawler()
    ours, scrapys = CheapMetaRefreshMiddleware.from_crawler(crawler), MetaRefreshMiddleware.from_crawler(crawler)
    for declared in (encoding, None):
        headers = {"Content-Type": f"text/html; charset={declared}"} if declared else {}
        request = Request("https://shop.example/p/1")
        response = HtmlResponse(request.url, body=body, headers=headers, request=request)
        mine = ours.process_response(request, response)
        again = HtmlResponse(request.url, body=body, headers=headers, request=request)
        theirs = scrapys.process_response(request, again)
        assert answer(mine, request) == answer(theirs, request)
        if not isinstance(mine, Request):
            assert mine is response  # the response goes on unchanged


def test_a_refresh_still_redirects():
    request = Request("https://shop.example/p/1")
    body = REFRESH.format(word="refresh", body="新品").encode()
    headers = {"Content-Type": "text/html; charset=utf-8"}
    response = HtmlResponse(request.url, body=body, headers=headers, request=request)
    result = CheapMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(request, response)
    assert isinstance(result, Request) and result.url == "https://shop.example/moved"


def test_the_gate_rules_out_what_cannot_refresh():
    """The gate must answer without Scrapy on the common pages (or it saves nothing), and leave every
    page that may declare a refresh to Scrapy."""
    from jingshao.crawlers.middlewares import _no_refresh_in

    assert _no_refresh_in(b'<meta http-equiv="content-type" content="text/html; charset=utf-8"><p>a &amp; b</p>')
    assert _no_refresh_in(b"<meta http-equiv='x-ua-compatible' content='ie=edge'>")
    assert not _no_refresh_in(b'<meta http-equiv="refresh" content="0; url=/x">')
    assert not _no_refresh_in(b'<meta http-equiv="refre&#115;h" content="0; url=/x">')
    assert not _no_refresh_in(b"<meta http-equiv=&#114;efresh content=0>")
    assert not _no_refresh_in(b'<meta http-equiv content="0; url=/x">')  # read by Scrapy
