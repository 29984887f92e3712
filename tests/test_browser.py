"""render = true products through real headless Chromium (scrapy-playwright)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jingshao.config import load_config
from jingshao.crawlers.browser import find_chromium
from jingshao.demo.catalog import DemoProduct, bench_render_urls, demo_products, expected, expected_bench
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Observation, Product

from .conftest import run_cli

pytestmark = pytest.mark.browser


def stored(tmp_path) -> dict[str, Observation]:
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        return {
            u: o
            for u, o in s.execute(
                select(Product.url, Observation).join(Observation.product).order_by(Observation.id)
            ).all()
        }


@pytest.mark.slow
def test_javascript_price_is_seen_only_through_the_browser(shop, tmp_path, chromium):
    render = [p for p in demo_products(shop.base_url) if p.render]
    assert render, "the demo shop must have a render = true product"
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=True, products=render)
    run_cli("crawl", "products", "--config", str(cfg))
    obs = stored(tmp_path)
    for p in render:
        assert obs[p.url].price == expected(p.id, 0).price
        assert obs[p.url].in_stock is expected(p.id, 0).in_stock

    # The same pages fetched over plain HTTP have no price: a failure, not a wrong price.
    plain = [DemoProduct(p.id, p.competitor, p.name, p.url, render=False) for p in render]
    cfg2 = write_demo_config(shop.base_url, tmp_path / "plain", with_browser=False, products=plain)
    proc = run_cli("crawl", "products", "--config", str(cfg2), check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # every page failed
    assert stored(tmp_path / "plain") == {}


@pytest.mark.slow
def test_resource_blocking_and_browser_identity(shop, tmp_path, chromium):
    urls = bench_render_urls(shop.base_url, 3)
    products = [DemoProduct(f"r{i}", "渲染店", f"渲染页{i}", u, render=True) for i, u in enumerate(urls)]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=True, products=products)
    run_cli("crawl", "products", "--config", str(cfg))
    hits = shop.hits()
    assert not [p for p in hits if p.startswith("/static/img/") or p.startswith("/static/font/")], hits
    obs = stored(tmp_path)
    assert [obs[u].price for u in urls] == [expected_bench(i).price for i in range(3)]
    headers = shop.last_headers(urls[0])
    assert headers["User-Agent"] == load_config(cfg).crawl.user_agent  # a desktop UA, not HeadlessChrome
    assert "HeadlessChrome" not in headers["User-Agent"]
    assert headers.get("Accept-Language", "").startswith("zh-CN")

    # Blocking off: the images and the font are fetched.
    shop.reset_hits()
    cfg.write_text(cfg.read_text() + "[browser]\nblock_resources = []\n")
    assert load_config(cfg).browser.block_resources == []
    run_cli("crawl", "products", "--config", str(cfg))
    assert any(p.startswith("/static/img/") for p in shop.hits())


def test_chromium_is_found_on_this_machine():
    # The demo and tests rely on the system browser (make installs it); CI must have one.
    assert find_chromium() is not None
