"""The products spider against the demo shop over real HTTP, run as the scheduler runs it
(a child process), storing into a real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jingshao.demo.catalog import (
    FLAKY_URL_PATH,
    PRIVATE_URL_PATH,
    DemoProduct,
    demo_products,
    expected,
    expected_bench,
    slow_product_url,
)
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, FailedObservation, Observation, Product

from .conftest import REPO, run_cli, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def crawl(cfg: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", "products", "--config", str(cfg), check=check)


def latest_by_url(db) -> dict[str, Observation]:
    with db.session() as s:
        rows = s.execute(
            select(Product.url, Observation)
            .join(Observation.product)
            .order_by(Observation.first_seen_at, Observation.id)
        ).all()
    return {url: obs for url, obs in rows}


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def check_matches_shop(db, products: list[DemoProduct], state: int) -> None:
    latest = latest_by_url(db)
    for p in products:
        exp = expected(p.id, state)
        obs = latest[p.url]
        if exp.price is None:
            # A delisted / sold-out page without a price: stored as out of stock, price unknown (never 0).
            assert not exp.in_stock and obs.price is None and obs.availability == "OutOfStock", p.id
            continue
        assert obs.price == exp.price, f"{p.id} state {state}: price {obs.price} != {exp.price}"
        assert obs.in_stock is exp.in_stock, f"{p.id} state {state}: stock"
        if exp.original_price is not None:
            assert obs.original_price == exp.original_price, f"{p.id}: original price"
        assert obs.currency == "CNY"
        for snippet in exp.promo_contains:
            assert snippet in (obs.promo or ""), f"{p.id} state {state}: promo {obs.promo!r} lacks {snippet!r}"
        assert obs.sources and "price" in obs.sources


@pytest.fixture
def http_products(shop) -> list[DemoProduct]:
    return [p for p in demo_products(shop.base_url) if not p.render]


def test_crawl_stores_what_the_shop_shows_and_only_changes(shop, tmp_path, http_products):
    # The shop's front page is no product page: it must become a failed observation, not a price.
    not_a_product = DemoProduct("index", "优品数码旗舰店", "首页", shop.base_url + "/")
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=[*http_products, not_a_product])
    first = crawl(cfg, check=False)
    assert first.returncode == 1, first.stderr  # some pages failed
    out = first.stdout
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    priced = [p for p in http_products if expected(p.id, 0).price is not None or not expected(p.id, 0).in_stock]
    assert count(db, Observation) == len(priced)
    check_matches_shop(db, http_products, 0)
    assert "failed" in out

    # A page without a price is a failed observation with a reason, never price 0.
    with db.session() as s:
        failures = s.scalars(select(FailedObservation)).all()
    assert [(f.url, f.http_status) for f in failures] == [(not_a_product.url, 200)]
    assert "price" in failures[0].reason

    # Re-crawl of an unchanged shop: no new observation rows.
    crawl(cfg, check=False)
    assert count(db, Observation) == len(priced)

    # Advance the shop: each changed product gets exactly one new row.
    changed = [p for p in priced if expected(p.id, 0) != expected(p.id, 1)]
    assert changed and len(changed) < len(priced)
    shop.advance()
    crawl(cfg, check=False)
    assert count(db, Observation) == len(priced) + len(changed)
    check_matches_shop(db, http_products, 1)
    with db.session() as s:
        runs = s.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
    assert [r.status for r in runs] == ["finished"] * 3
    assert runs[1].changes == 0 and runs[1].unchanged == len(priced)
    assert runs[2].changes == len(changed)


def test_prices_command_shows_history(shop, tmp_path):
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False)
    crawl(cfg)
    shop.advance()
    crawl(cfg)
    p = next(
        p
        for p in demo_products(shop.base_url)
        if p.id
        and not p.render
        and expected(p.id, 0).price
        and expected(p.id, 1).price
        and expected(p.id, 0).price != expected(p.id, 1).price
    )
    out = run_cli("prices", "--product", p.url, "--config", str(cfg)).stdout
    assert f"{expected(p.id, 0).price:,.2f}" in out and f"{expected(p.id, 1).price:,.2f}" in out
    assert run_cli("prices", "--product", "no-such-product", "--config", str(cfg), check=False).returncode == 1


def test_robots_txt_is_obeyed_and_flaky_pages_are_retried(shop, tmp_path):
    products = [
        DemoProduct("private", "测试店", "禁止抓取", shop.base_url + PRIVATE_URL_PATH),
        DemoProduct("flaky", "测试店", "偶发503", shop.base_url + FLAKY_URL_PATH),
    ]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    crawl(cfg)
    hits = shop.hits()
    assert hits.get(PRIVATE_URL_PATH, 0) == 0
    assert hits[FLAKY_URL_PATH] == 3  # two 503s, then the page
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        failures = s.scalars(select(FailedObservation)).all()
    assert [(f.url, f.reason) for f in failures] == [(shop.base_url + PRIVATE_URL_PATH, "blocked by robots.txt")]
    assert latest_by_url(db)[shop.base_url + FLAKY_URL_PATH].price == expected_bench(1).price


def test_http_errors_and_refused_connections_are_recorded(shop, tmp_path):
    from .conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/item.html"
    products = [
        DemoProduct("missing", "测试店", "404", shop.base_url + "/no/such/page.html"),
        DemoProduct("dead", "测试店", "拒绝连接", dead),
    ]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    cfg.write_text(cfg.read_text().replace("retry_times = 2", "retry_times = 0"))
    assert crawl(cfg, check=False).returncode == 3  # every page failed
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        failures = {f.url: f for f in s.scalars(select(FailedObservation))}
    assert failures[shop.base_url + "/no/such/page.html"].http_status == 404
    assert "HTTP 404" in failures[shop.base_url + "/no/such/page.html"].reason
    assert failures[dead].reason == "connection refused"
    assert count(db, Observation) == 0


def test_crawl_killed_mid_run_then_rerun_is_consistent(shop, tmp_path):
    # Keyed on what happened, not on how fast: the first `fast` pages come at once and are stored in the first
    # batch; each of the others takes 1 s, two at a time, so the crawl cannot end within 15 s of its first page
    # however loaded the machine is, while the kill comes as soon as 5 rows are stored (about a second in).
    fast, n = 8, 38
    products = [
        DemoProduct(f"slow{i}", "慢店", f"慢页面{i}", slow_product_url(shop.base_url, i, 0 if i < fast else 1.0))
        for i in range(n)
    ]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    cfg.write_text(cfg.read_text().replace("concurrency_per_domain = 8", "concurrency_per_domain = 2"))
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "crawl", "products", "--config", str(cfg), "--no-progress"],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for(lambda: count(db, Observation) >= 5, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stored = count(db, Observation)
    assert 5 <= stored < n  # killed mid-run, after some rows were stored
    crawl(cfg)
    assert count(db, Observation) == n  # every page once: nothing lost, nothing doubled
    with db.session() as s:
        per_product = s.execute(select(Observation.product_id, func.count()).group_by(Observation.product_id)).all()
        runs = s.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
    assert all(c == 1 for _, c in per_product)
    assert [r.status for r in runs] == ["interrupted", "finished"]
    assert runs[1].unchanged == stored and runs[1].changes == n - stored
    latest = latest_by_url(db)
    assert all(latest[p.url].price == expected_bench(i).price for i, p in enumerate(products))


def test_bad_config_fails_before_any_crawl(shop, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        f"[crawl]\ntimeout = 'soon'\n[[competitors]]\nname = 'x'\n[[competitors.products]]\nurl = '{shop.base_url}/'\n",
        encoding="utf-8",
    )
    proc = run_cli("crawl", "products", "--config", str(cfg), check=False)
    assert proc.returncode == 2
    assert "crawl.timeout: Input should be a valid number" in " ".join(proc.stderr.split())
    assert cfg.name in proc.stderr
    assert shop.hits() == {}


def test_crawl_into_postgres(shop, tmp_path, postgres_server, http_products):
    url = postgres_server.new_database()
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, database_url=url)
    crawl(cfg)
    crawl(cfg)
    db = open_database(url)
    check_matches_shop(db, http_products, 0)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Observation).where(Observation.price == Decimal(0))) == 0


def test_no_spider_callback_is_a_generator_returning_a_value():
    """Crawls turn off Scrapy's WARN_ON_GENERATOR_RETURN_VALUE (it parses the callback's source again for
    every response); the same check runs here once, over every generator method of every spider."""
    import importlib
    import inspect

    import scrapy
    from scrapy.utils.misc import is_generator_with_return_value

    checked = 0
    for name in ("base", "products", "reviews", "mentions"):
        module = importlib.import_module(f"jingshao.crawlers.spiders.{name}")
        for klass in vars(module).values():
            if not (inspect.isclass(klass) and issubclass(klass, scrapy.Spider)):
                continue
            for attr, fn in vars(klass).items():
                if inspect.isgeneratorfunction(fn):
                    checked += 1
                    assert not is_generator_with_return_value(fn), f"{klass.__name__}.{attr}"
    assert checked >= 3  # parse_product, on_error, ... are generators: the loop really looked at them

    def returns_value():
        yield 1
        return 2

    assert is_generator_with_return_value(returns_value)  # the check itself still bites
