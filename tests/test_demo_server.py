"""The bundled demo shop, driven over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from jingshao.demo import catalog
from jingshao.demo.catalog import (
    FLAKY_FAILURES,
    FLAKY_URL_PATH,
    PRIVATE_URL_PATH,
    STATE_COUNT,
    DemoProduct,
    bench_product_urls,
    bench_render_urls,
    demo_products,
    expected,
    expected_bench,
    expected_bench_price,
    slow_product_url,
)
from jingshao.demo.router import Request, Response, Router
from jingshao.demo.server import DemoServer
from jingshao.demo.shop import ShopState

JD_ID = "jd-100012043978"
GBK_ID = "tmall-660123456789"
RECOMMEND_ID = "songshu-632145678901"
REMOVED_ID = "youpin-10005"
JSONLD_RE = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
PRICE_TEXT_RE = re.compile(r"[¥￥]\s*(\d+(?:\.\d+)?)")


@pytest.fixture(scope="module")
def running() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def srv(running: DemoServer) -> DemoServer:
    running.set_state(0)
    running.reset_hits()
    running.reset_flaky()
    return running


@pytest.fixture
def client(srv: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.base_url, timeout=10) as c:
        yield c


def products_by_id(srv: DemoServer) -> dict[str, DemoProduct]:
    return {p.id: p for p in demo_products(srv.base_url)}


def page_text(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.text


def jsonld_offer(html: str) -> dict[str, object]:
    blocks = [json.loads(b) for b in JSONLD_RE.findall(html)]
    products = [b for b in blocks if b.get("@type") == "Product"]
    assert len(products) == 1
    return products[0]["offers"]


def money(value: Decimal) -> str:
    return f"{value:.2f}"


# --- catalog and pages ---------------------------------------------------------------------------


def test_catalog_shape(srv: DemoServer) -> None:
    products = demo_products(srv.base_url)
    ids = [p.id for p in products]
    assert len(ids) == len(set(ids)) >= 8
    assert all(p.url.startswith(srv.base_url + "/") for p in products)
    assert [p.id for p in products if p.render] == [JD_ID]
    assert not any(p.url.endswith(PRIVATE_URL_PATH) for p in products)
    for p in products:
        for state in range(STATE_COUNT):
            exp = expected(p.id, state)
            assert exp.currency == "CNY" and exp.title == p.name
    with pytest.raises(ValueError):
        expected(JD_ID, STATE_COUNT)
    with pytest.raises(KeyError):
        expected("no-such-product", 0)


def test_every_catalog_page_is_served_and_realistic(srv: DemoServer, client: httpx.Client) -> None:
    for product in demo_products(srv.base_url):
        response = client.get(product.url)
        assert response.status_code == 200, product.id
        charset = "gbk" if product.id == GBK_ID else "utf-8"
        assert response.headers["content-type"] == f"text/html; charset={charset}"
        assert int(response.headers["content-length"]) == len(response.content)
        html = response.text
        assert product.name in html
        for part in ('class="breadcrumb"', "/static/img/", "<h1", 'class="footer"', 'class="nav"'):
            assert part in html, (product.id, part)
        if product.id != REMOVED_ID:
            assert "商品详情" in html and "立即购买" in html or "到货通知" in html


def test_pages_show_what_expected_says_in_every_state(srv: DemoServer, client: httpx.Client) -> None:
    products = products_by_id(srv)
    for state in range(STATE_COUNT):
        srv.set_state(state)
        for pid, product in products.items():
            exp = expected(pid, state)
            html = page_text(client, product.url)
            for snippet in exp.promo_contains:
                assert snippet in html, (pid, state, snippet)
            if pid == JD_ID:
                assert money(exp.price) not in html  # only the browser sees the JD price
                continue
            if exp.price is not None:
                assert money(exp.price) in html, (pid, state)
            if exp.original_price is not None:
                assert re.search(rf"<del[^>]*>[¥￥]{re.escape(money(exp.original_price))}</del>", html), pid
            if exp.price is None:
                continue
            cart, notify = "加入购物车" in html, "到货通知" in html
            assert (cart, notify) == (exp.in_stock, not exp.in_stock), (pid, state)


def test_jsonld_pages_carry_schema_offers(srv: DemoServer, client: httpx.Client) -> None:
    jsonld_ids = [i.id for i in catalog.ITEMS if i.kind == "jsonld"]
    assert len(jsonld_ids) >= 3
    products = products_by_id(srv)
    for state in range(STATE_COUNT):
        srv.set_state(state)
        for pid in jsonld_ids:
            offer = jsonld_offer(page_text(client, products[pid].url))
            exp = expected(pid, state)
            assert offer["priceCurrency"] == "CNY"
            assert Decimal(str(offer["price"])) == exp.price
            stock = "InStock" if exp.in_stock else "OutOfStock"
            assert offer["availability"] == f"https://schema.org/{stock}"
    assert any(not expected(pid, 0).in_stock for pid in jsonld_ids)


def test_gbk_page_is_gbk_bytes(srv: DemoServer, client: httpx.Client) -> None:
    response = client.get(products_by_id(srv)[GBK_ID].url)
    assert response.headers["content-type"] == "text/html; charset=gbk"
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    html = response.content.decode("gbk")
    assert '<meta charset="gbk">' in html
    assert '<span class="tm-price">￥459.00</span>' in html
    assert "<del" in html and "￥599.00" in html
    assert "满300减40" in html
    srv.advance()
    assert "满300减40" not in client.get(products_by_id(srv)[GBK_ID].url).content.decode("gbk")


def test_recommendation_block_is_full_of_other_prices(srv: DemoServer, client: httpx.Client) -> None:
    html = page_text(client, products_by_id(srv)[RECOMMEND_ID].url)
    own = expected(RECOMMEND_ID, 0).price
    assert own is not None
    others = [Decimal(p) for p in PRICE_TEXT_RE.findall(html) if Decimal(p) not in (own, Decimal("169.00"))]
    assert len(others) >= 10
    assert any(p < own for p in others) and any(p > own for p in others)
    assert "猜你喜欢" in html and "看了又看" in html
    assert html.index("看了又看") < html.index(money(own))  # a block of prices comes before the real one


def test_removed_page_has_no_price(srv: DemoServer, client: httpx.Client) -> None:
    html = page_text(client, products_by_id(srv)[REMOVED_ID].url)
    assert "该商品已下架" in html
    assert not PRICE_TEXT_RE.search(html)
    assert "ld+json" not in html and "加入购物车" not in html
    exp = expected(REMOVED_ID, 0)
    assert exp.price is None and not exp.in_stock


def test_robots_txt_and_private_page(srv: DemoServer, client: httpx.Client) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert "User-agent: *" in response.text and "Disallow: /private/" in response.text
    assert client.get(PRIVATE_URL_PATH).status_code == 200
    index = page_text(client, "/")
    for product in demo_products(srv.base_url):
        assert f'href="{product.url.removeprefix(srv.base_url)}"' in index


# --- JD-like page and API ------------------------------------------------------------------------


def test_jd_page_needs_javascript(srv: DemoServer, client: httpx.Client) -> None:
    product = products_by_id(srv)[JD_ID]
    assert product.render and product.selectors
    html = page_text(client, product.url)
    assert '<span class="price J-p-100012043978"></span>' in html
    assert "/jd/api/price?skuIds=" in html and "猜你喜欢" in html


def test_jd_price_api_follows_the_shop_state(srv: DemoServer, client: httpx.Client) -> None:
    seen = []
    for state in range(STATE_COUNT):
        srv.set_state(state)
        response = client.get("/jd/api/price", params={"skuIds": "J_100012043978,J_42"})
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        main, unknown = response.json()
        exp = expected(JD_ID, state)
        assert main == {"id": "J_100012043978", "p": money(exp.price), "op": money(exp.original_price)}
        assert unknown["p"] == "-1.00"
        seen.append(main["p"])
    assert len(set(seen)) == STATE_COUNT
    jsonp = client.get("/jd/api/price", params={"skuIds": "J_100012043978", "callback": "jQuery123"})
    assert jsonp.text.startswith("jQuery123([{") and jsonp.text.endswith(");")
    assert client.get("/jd/api/price", params={"skuIds": "J_1", "callback": "alert(1)//"}).status_code == 400


# --- shop states ---------------------------------------------------------------------------------


def test_state_transitions_cover_every_kind_of_change() -> None:
    ids = [i.id for i in catalog.ITEMS]
    before = {pid: expected(pid, 0) for pid in ids}
    after = {pid: expected(pid, 1) for pid in ids}
    changed_prices = [pid for pid in ids if before[pid].price != after[pid].price]
    assert len(changed_prices) >= 2
    assert any(after[p].price <= before[p].price * Decimal("0.9") for p in changed_prices)
    assert any(not before[p].in_stock and after[p].in_stock for p in ids)
    assert any(before[p].in_stock and not after[p].in_stock and before[p].price for p in ids)
    assert any(before[p].promo_contains != after[p].promo_contains for p in ids)
    assert JD_ID in changed_prices
    assert before[GBK_ID].promo_contains != after[GBK_ID].promo_contains
    assert any(before[p] == after[p] and before[p].price is not None for p in ids)
    later = {pid: expected(pid, 2) for pid in ids}
    assert sum(later[p] != after[p] for p in ids) >= 3


def test_advance_cycles_and_set_state_validates(srv: DemoServer) -> None:
    assert srv.state == 0
    assert [srv.advance() for _ in range(STATE_COUNT)] == [*range(1, STATE_COUNT), 0]
    assert srv.set_state(2) == 2 and srv.state == 2
    for bad in (-1, STATE_COUNT, "1"):
        with pytest.raises(ValueError):
            srv.set_state(bad)  # type: ignore[arg-type]
    assert srv.state == 2


def test_pages_change_when_the_shop_advances(srv: DemoServer, client: httpx.Client) -> None:
    url = products_by_id(srv)["youpin-10001"].url
    first = page_text(client, url)
    srv.advance()
    second = page_text(client, url)
    assert first != second and "4299.00" in second and "限时秒杀" in second
    unchanged = products_by_id(srv)["youpin-10002"].url
    srv.set_state(0)
    a = page_text(client, unchanged)
    srv.set_state(1)
    assert page_text(client, unchanged) == a


# --- hits, flaky, slow, control endpoints --------------------------------------------------------


def test_hits_count_gets_per_path(srv: DemoServer, client: httpx.Client) -> None:
    client.get("/youpin/item/10001.html")
    client.get("/youpin/item/10001.html?utm=1")
    client.head("/youpin/item/10002.html")
    client.get("/no/such/page.html")
    client.get("/_demo/state")
    assert srv.hits() == {"/youpin/item/10001.html": 2, "/no/such/page.html": 1}
    assert client.get("/_demo/hits").json() == srv.hits()
    srv.reset_hits()
    assert srv.hits() == {}


def test_flaky_page_fails_twice_then_succeeds(srv: DemoServer, client: httpx.Client) -> None:
    statuses = [client.get(FLAKY_URL_PATH).status_code for _ in range(FLAKY_FAILURES + 2)]
    assert statuses == [503] * FLAKY_FAILURES + [200, 200]
    assert money(expected_bench(1).price) in client.get(FLAKY_URL_PATH).text
    assert srv.hits()[FLAKY_URL_PATH] == FLAKY_FAILURES + 3
    client.post("/_demo/reset-flaky")
    assert client.get(FLAKY_URL_PATH).status_code == 503


def test_slow_page_waits(srv: DemoServer, client: httpx.Client) -> None:
    started = time.perf_counter()
    response = client.get(slow_product_url(srv.base_url, 7, delay=0.2))
    assert time.perf_counter() - started >= 0.2
    assert Decimal(str(jsonld_offer(response.text)["price"])) == expected_bench_price(7)
    assert client.get("/slow/product/7.html?delay=soon").status_code == 400


def test_control_endpoints(srv: DemoServer, client: httpx.Client) -> None:
    assert client.get("/_demo/state").json() == {"state": 0, "states": STATE_COUNT}
    assert client.post("/_demo/advance").json()["state"] == 1 and srv.state == 1
    assert client.post("/_demo/state", params={"n": 2}).json()["state"] == 2 and srv.state == 2
    assert client.post("/_demo/state", params={"n": 9}).status_code == 400
    assert client.post("/_demo/state").status_code == 400
    wrong_method = client.get("/_demo/advance")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    client.get("/")
    assert client.get("/_demo/hits").json() == {"/": 1}
    assert client.post("/_demo/reset-hits").json() == {"ok": True} and srv.hits() == {}
    listed = client.get("/_demo/catalog").json()
    assert listed["state"] == 2
    jd = next(p for p in listed["products"] if p["id"] == JD_ID)
    assert jd["render"] is True and jd["expected"]["price"] == money(expected(JD_ID, 2).price)


# --- benchmark pages and assets ------------------------------------------------------------------


def test_bench_product_pages(srv: DemoServer, client: httpx.Client) -> None:
    urls = bench_product_urls(srv.base_url, 5, start=99_995)
    assert urls[-1].endswith("/bench/product/99999.html")
    for n, url in zip(range(99_995, 100_000), urls, strict=True):
        response = client.get(url)
        assert 20_000 <= len(response.content) <= 40_000
        html = response.text
        assert Decimal(str(jsonld_offer(html)["price"])) == expected_bench_price(n)
        assert catalog.bench_title(n) in html and "猜你喜欢" in html
        assert len(PRICE_TEXT_RE.findall(html)) >= 12
    assert client.get("/bench/product/100000.html").status_code == 404
    assert page_text(client, urls[0]) == page_text(client, urls[0])  # deterministic


def test_bench_render_pages_and_assets(srv: DemoServer, client: httpx.Client) -> None:
    (url,) = bench_render_urls(srv.base_url, 1, start=42)
    html = page_text(client, url)
    assert money(expected_bench_price(42)) not in html and "ld+json" not in html
    images = re.findall(r'src="(/static/img/\d+\.png)"', html)
    assert len(set(images)) >= 8 and "/static/font/42.woff2" in html and "/static/css/shop.css" in html
    api = client.get("/bench/api/price/42").json()
    assert Decimal(api["price"]) == expected_bench_price(42) and api["currency"] == "CNY"
    png = client.get(images[0])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.content[12:16] == b"IHDR" and png.content.endswith(b"IEND\xaeB`\x82")
    font = client.get("/static/font/42.woff2")
    assert font.headers["content-type"] == "font/woff2" and font.content.startswith(b"wOF2")
    assert client.get("/static/css/shop.css").headers["content-type"] == "text/css; charset=utf-8"


def test_keep_alive_serves_many_requests_on_one_connection(srv: DemoServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for n in range(50):
            conn.request("GET", f"/bench/product/{n}.html")
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Connection") != "close"
            assert len(response.read()) == int(response.getheader("Content-Length"))
    finally:
        conn.close()


# --- lifecycle and extension ---------------------------------------------------------------------


def test_stop_really_stops_and_extra_routes_are_served() -> None:
    def reviews_provider(router: Router, shop: ShopState) -> None:
        @router.get(r"/api/reviews/(?P<pid>[\w-]+)")
        def reviews(request: Request) -> Response:
            return Response.json({"product": request.params["pid"], "state": shop.state})

    with DemoServer(state=1, routes=[reviews_provider]) as srv:
        with httpx.Client(base_url=srv.base_url) as c:
            assert c.get("/api/reviews/jd-1").json() == {"product": "jd-1", "state": 1}
            assert c.get("/").status_code == 200
        port = srv.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_standalone_process(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.demo.server", "--port", str(port), "--state", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/_demo/state").json()["state"] == 1
        assert httpx.post(f"{base}/_demo/advance").json()["state"] == 2
        assert httpx.get(f"{base}/youpin/item/10002.html").status_code == 200
        assert httpx.get(f"{base}/_demo/hits").json() == {"/youpin/item/10002.html": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert proc.stderr is not None and proc.stderr.read() == ""  # quiet: nothing logged per request


# --- browser -------------------------------------------------------------------------------------


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


@pytest.mark.slow
@pytest.mark.browser
def test_jd_price_appears_in_a_browser(srv: DemoServer) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    if executable is None and os.environ.get("CI") != "true":
        pytest.skip("no system Chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page()
            page.goto(products_by_id(srv)[JD_ID].url)
            selector = products_by_id(srv)[JD_ID].selectors["price"]
            page.wait_for_function(f"document.querySelector('{selector}').textContent.length > 0")
            assert page.inner_text(selector) == money(expected(JD_ID, 0).price)
            assert page.inner_text(f"del.J-op-{catalog.JD_SKU}") == "￥" + money(expected(JD_ID, 0).original_price)
        finally:
            browser.close()
