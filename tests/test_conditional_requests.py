"""Conditional requests (issue 15): the last stored page's ETag / Last-Modified are sent back, a 304 is
"seen unchanged" (no row, no extraction), a changed page is fetched and stored; the page state is read
when a request is sent, not when it was queued. Real HTTP servers on 127.0.0.1, real SQLite."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from scrapy import Request
from sqlalchemy import select

from jingshao.crawlers.middlewares import CONDITIONAL, PAGE_STATE, VALIDATED, ConditionalRequestMiddleware
from jingshao.demo.catalog import DemoProduct
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation, Product
from jingshao.storage.repository import CatalogEntry, PageWrite, page_states, sync_catalog, write_pages

from .conftest import run_cli

LAST_MODIFIED = "Tue, 01 Dec 2026 08:00:00 GMT"


def page(name: str, price: str) -> bytes:
    return (
        f"<html><head><title>{name}</title><script type='application/ld+json'>"
        f'{{"@context":"https://schema.org","@type":"Product","name":"{name}","offers":{{"@type":"Offer",'
        f'"price":"{price}","priceCurrency":"CNY","availability":"https://schema.org/InStock"}}}}</script></head>'
        f"<body><h1>{name}</h1><span class='price'>¥{price}</span><button>加入购物车</button></body></html>"
    ).encode()


class Shop:
    """Pages with an ETag (/etag/...), with Last-Modified only (/lm/...) and with neither (/none/...)."""

    def __init__(self) -> None:
        self.pages = {
            "/etag/1.html": page("带ETag的商品", "99.00"),
            "/lm/1.html": page("带修改时间的商品", "59.00"),
            "/none/1.html": page("没有校验器的商品", "19.00"),
        }
        self.statuses: dict[str, list[int]] = defaultdict(list)
        self.asked: dict[str, list[dict[str, str]]] = defaultdict(list)
        shop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = shop.pages.get(self.path)
                headers = {"Content-Type": "text/html; charset=utf-8"}
                status = 200 if body is not None else 404
                if body is not None:
                    shop.asked[self.path].append(dict(self.headers.items()))
                    etag = f'"v{hash(body) & 0xFFFFFF:x}"'
                    if self.path.startswith("/etag/"):
                        headers["ETag"] = etag
                        status = 304 if self.headers.get("If-None-Match") == etag else 200
                    elif self.path.startswith("/lm/"):
                        headers["Last-Modified"] = LAST_MODIFIED
                        status = 304 if self.headers.get("If-Modified-Since") == LAST_MODIFIED else 200
                    shop.statuses[self.path].append(status)
                data = body if status == 200 and body is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def validating_shop():
    shop = Shop()
    yield shop
    shop.close()


def crawl(cfg) -> None:
    run_cli("crawl", "products", "--config", str(cfg), "--no-progress")


def observations(db) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = defaultdict(list)
    with db.session() as s:
        for url, obs in s.execute(select(Product.url, Observation).join(Observation.product).order_by(Observation.id)):
            out[url.split("/", 3)[3]].append(obs)
    return out


@pytest.mark.slow
def test_a_304_stores_no_row_and_counts_as_unchanged(validating_shop, tmp_path):
    shop = validating_shop
    paths = list(shop.pages)
    products = [DemoProduct(f"p{i}", "校验店", p, shop.base_url + p) for i, p in enumerate(paths)]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")

    crawl(cfg)
    assert {p: s for p, s in shop.statuses.items()} == {p: [200] for p in paths}
    with db.session() as s:
        stored = {url.split("/", 3)[3]: v for url, v in s.execute(select(Product.url, Product.page_validators))}
    assert stored["etag/1.html"]["etag"].startswith('"v') and stored["lm/1.html"]["last_modified"] == LAST_MODIFIED
    assert stored["none/1.html"] is None
    first = observations(db)

    crawl(cfg)  # nothing changed: the two pages with validators answer 304
    assert shop.statuses["/etag/1.html"] == [200, 304] and shop.statuses["/lm/1.html"] == [200, 304]
    assert shop.statuses["/none/1.html"] == [200, 200]
    assert shop.asked["/etag/1.html"][-1]["If-None-Match"] == stored["etag/1.html"]["etag"]
    assert shop.asked["/lm/1.html"][-1]["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in shop.asked["/none/1.html"][-1]
    again = observations(db)
    assert {p: len(rows) for p, rows in again.items()} == {p: 1 for p in first}  # no row added
    assert again["etag/1.html"][0].last_seen_at > first["etag/1.html"][0].last_seen_at  # seen again
    with db.session() as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
    assert (run.pages, run.unchanged, run.changes, run.failures) == (3, 3, 0, 0)

    shop.pages["/etag/1.html"] = page("带ETag的商品", "89.00")  # the page changes: its ETag too
    crawl(cfg)
    assert shop.statuses["/etag/1.html"] == [200, 304, 200]
    rows = observations(db)["etag/1.html"]
    assert [str(r.price) for r in rows] == ["99.00", "89.00"]
    db.dispose()


def test_the_demo_shop_answers_304_to_its_own_etag(shop):
    url = shop.base_url + "/bench/product/3.html"
    first = httpx.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    again = httpx.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


class _Spider:
    targets: list = []  # a queue worker's spider: no targets of its own


def test_a_queued_request_reads_the_page_state_when_it_is_sent(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    db = open_database(url)
    with db.session() as s:
        pid = sync_catalog(s, [CatalogEntry("校验店", "https://shop.example.com/1.html")])[
            "https://shop.example.com/1.html"
        ]
    target = {"url": "https://shop.example.com/1.html", "product_id": pid}

    def store(fp: str, etag: str, fetched: datetime | None = None) -> None:
        with db.session() as s:
            validators = queued_validators(target, etag, fetched)
            write_pages(s, [PageWrite(pid, {"price": "9.90"}, fingerprint=fp, validators=validators)])

    store("a" * 64, '"old"')
    queued = Request(target["url"], meta={"target": target, CONDITIONAL: True})  # queued now ...
    store("b" * 64, '"new"')  # ... and another crawl stores a newer page before it goes out
    middleware = ConditionalRequestMiddleware(url)
    middleware.opened(_Spider())
    try:
        middleware.process_request(queued)
    finally:
        middleware.closed(_Spider())
    assert queued.meta[PAGE_STATE].fingerprint == "b" * 64
    assert queued.headers["If-None-Match"] == b'"new"' and queued.meta[VALIDATED]
    assert 304 in queued.meta["handle_httpstatus_list"]
    # Read another way now (other selectors): the stored validators are not sent.
    other = {**target, "selectors": {"price": ".p"}}
    middleware = ConditionalRequestMiddleware(url)
    middleware.opened(_Spider())
    try:
        request = Request(target["url"], meta={"target": other, CONDITIONAL: True})
        middleware.process_request(request)
    finally:
        middleware.closed(_Spider())
    assert "If-None-Match" not in request.headers and not request.meta.get(VALIDATED)
    with db.session() as s:
        [(_, state)] = page_states(s, [pid]).items()
    assert state.fingerprint == "b" * 64 and state.validators["etag"] == '"new"'
    # Last downloaded in full more than full_fetch_hours ago: downloaded in full again (a wrong ETag can't hide it).
    store("c" * 64, '"newer"', datetime.now(UTC) - timedelta(hours=25))
    assert not sent_validators(url, target)
    store("d" * 64, '"newest"', datetime.now(UTC) - timedelta(hours=23))
    assert sent_validators(url, target)
    db.dispose()


def sent_validators(url: str, target: dict) -> bool:
    middleware = ConditionalRequestMiddleware(url, full_fetch_hours=24)
    middleware.opened(_Spider())
    try:
        request = Request(target["url"], meta={"target": target, CONDITIONAL: True})
        middleware.process_request(request)
    finally:
        middleware.closed(_Spider())
    return bool(request.meta.get(VALIDATED)) and "If-None-Match" in request.headers


def queued_validators(target: dict, etag: str, fetched: datetime | None = None) -> dict:
    from jingshao.crawlers.spiders.products import page_reading

    at = (fetched or datetime.now(UTC)).isoformat()
    return {"etag": etag, "last_modified": None, "reading": page_reading(target), "fetched_at": at}


def test_extraction_workers_start_with_the_spider_only_when_a_product_has_no_stored_page(tmp_path):
    from jingshao.crawlers.spiders.products import first_pages_ahead

    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    db = open_database(url)
    with db.session() as s:
        ids = sync_catalog(s, [CatalogEntry("校验店", f"https://shop.example.com/{i}.html") for i in range(3)])
    targets = [{"url": u, "product_id": pid} for u, pid in ids.items()]
    assert first_pages_ahead(url, targets)  # a first crawl: every page is extracted
    with db.session() as s:
        write_pages(s, [PageWrite(t["product_id"], {"price": "9.90"}, fingerprint="a" * 64) for t in targets[:2]])
    assert first_pages_ahead(url, targets)  # one product still has no page
    assert not first_pages_ahead(url, targets[:2])  # a re-crawl of known products: workers start on demand
    assert not first_pages_ahead(url, []) and not first_pages_ahead(None, targets)
    db.dispose()


def test_an_unchanged_page_whose_state_is_stored_already_is_marked_kept():
    from scrapy.http import HtmlResponse

    from jingshao.crawlers.middlewares import READING
    from jingshao.crawlers.spiders.products import ProductsSpider, page_reading
    from jingshao.storage.repository import PageState

    target = {"url": "https://shop.example.com/1.html", "product_id": 7}
    validators = queued_validators(target, '"v1"')
    spider = ProductsSpider(targets=[target])

    def item(status: int, etag: str):
        request = Request(target["url"], meta={"target": target, CONDITIONAL: True})
        request.meta.update(
            {PAGE_STATE: PageState("f" * 64, validators), READING: page_reading(target), VALIDATED: True}
        )
        response = HtmlResponse(target["url"], status=status, headers={"ETag": etag}, body=b"", request=request)
        return spider.before_extraction(response)

    kept = item(304, '"v1"')
    assert kept.seen_unchanged and kept.not_modified and kept.state_kept and kept.validators == validators
    moved = item(304, '"v2"')  # a 304 naming another ETag: the new one is stored
    assert moved.seen_unchanged and not moved.state_kept and moved.validators["etag"] == '"v2"'
