"""Blocked pages and backing off (issue 12): walls are told from products by generic signals, stored as
``blocked`` results that change nothing, the domain slows down, pauses and resumes by itself, and a
competitor blocked crawl after crawl is an alert for the admin channel only."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy import Request
from sqlalchemy import select

from jingshao.crawlers.backoff import BackoffState, BlockBackoffMiddleware, DomainPaused
from jingshao.crawlers.blocking import BlockingConfig, detect_block
from jingshao.crawlers.extract import extract_product
from jingshao.demo import pages, walls
from jingshao.demo.catalog import ITEMS_BY_ID, demo_products
from jingshao.demo.runner import toml_inline, write_demo_config
from jingshao.storage.blocking import DomainState
from jingshao.storage.db import open_database
from jingshao.storage.models import (
    Alert,
    CrawlCompetitorOutcome,
    CrawlRun,
    DomainBackoff,
    FailedObservation,
    Observation,
)

from .conftest import run_cli, wait_for

URL = "https://shop.example.com/item/10001.html"


def verdict_for(html: str, *, status: int = 200, url: str = URL, usual: int | None = None, chain=()):
    body = html.encode("utf-8")
    ext = extract_product(body, url, encoding="utf-8")
    return detect_block(
        status=status,
        requested_url=URL,
        url=url,
        body=body,
        html=html,
        has_product=ext.price is not None,
        usual_bytes=usual,
        redirect_chain=chain,
    )


def product_html() -> str:
    return pages.product_page_bytes(ITEMS_BY_ID["youpin-10001"].path, 0).decode("utf-8")


# ---------------------------------------------------------------- detection (pure)


def test_walls_are_blocked_with_their_reason():
    usual = len(product_html().encode())
    captcha = verdict_for(walls.CAPTCHA_PAGE)
    assert captcha and captcha.signal == "marker" and "滑块" in captcha.reason
    too_many = verdict_for(walls.TOO_MANY_PAGE, status=429)
    assert too_many and too_many.reason == "HTTP 429"
    assert verdict_for(walls.TOO_MANY_PAGE).reason == "rate limited (访问过于频繁)"  # the same wall answered 200
    login = verdict_for(
        walls.LOGIN_PAGE,
        url="https://passport.example.com/login?redirect=x",
        chain=(URL, "https://passport.example.com/login"),
    )
    assert login and login.signal == "redirect" and login.is_login
    shell = verdict_for(walls.SHELL_PAGE, usual=usual)
    assert shell and shell.signal == "shell" and "usually" in shell.reason
    assert verdict_for(walls.SHELL_PAGE).signal == "shell"  # no usual size yet: almost no visible text
    soldout = verdict_for(walls.SOLDOUT_LOGIN_PAGE)
    assert soldout and soldout.is_login  # a sold-out word on a login wall is no stock news
    assert verdict_for(product_html(), status=403).reason == "HTTP 403"
    assert verdict_for(product_html(), status=412).reason == "HTTP 412"


def test_a_product_page_with_captcha_words_in_a_review_is_not_blocked():
    review = '<div class="rate-item"><p class="rate-content">验证码一直收不到，滑块验证也过不去，差评！</p></div>'
    html = product_html().replace("</body>", review + "</body>")
    assert "验证码" in html
    assert verdict_for(html) is None
    # Nor is a redirect to another product page, nor a page that is simply not a product (a plain failure).
    assert verdict_for(product_html(), url="https://shop.example.com/item/10002.html") is None
    not_product = pages.index_page()
    assert verdict_for(not_product) is None


def _pages_for_early_check() -> dict[str, tuple[bytes, str]]:
    from .test_extract_golden import _fixture_pages, _shared_pages

    review = '<div class="rate-item"><p class="rate-content">验证码一直收不到，滑块验证也过不去！</p></div>'
    pages_ = {name: (html.encode("utf-8"), URL) for name, html in walls_by_name().items()}
    pages_["product"] = (product_html().encode("utf-8"), URL)
    pages_["product-with-captcha-words"] = (product_html().replace("</body>", review + "</body>").encode(), URL)
    pages_["index"] = (pages.index_page().encode("utf-8"), URL)
    pages_["gbk-captcha"] = (walls.CAPTCHA_PAGE.replace("utf-8", "gbk").encode("gbk"), URL)
    return pages_ | _fixture_pages() | _shared_pages()


def walls_by_name() -> dict[str, str]:
    return {
        "captcha": walls.CAPTCHA_PAGE,
        "login": walls.LOGIN_PAGE,
        "too_many": walls.TOO_MANY_PAGE,
        "shell": walls.SHELL_PAGE,
        "soldout_login": walls.SOLDOUT_LOGIN_PAGE,
    }


def test_walls_told_before_extraction_agree_with_detection_after_it():
    """Issue 15: a crawl with extraction workers tells walls before sending a page to a worker. Whatever
    the extraction would find (product block or not), the early answer never contradicts detect_block: a
    definite verdict is detect_block's, None means detect_block finds no wall either way."""
    from scrapy.http import HtmlResponse

    from jingshao.crawlers.blocking import UNDECIDED, wall_before_extraction

    all_pages = _pages_for_early_check()
    assert len(all_pages) > 70
    seen = {"none": 0, "undecided": 0, "definite": 0}
    usual = len(product_html().encode())
    cases = [(200, URL, (), None), (200, URL, (), usual), (429, URL, (), None)]
    cases.append((200, "https://passport.example.com/login", (URL, "https://passport.example.com/login"), None))
    for name, (body, url) in all_pages.items():
        response = HtmlResponse(url=url, body=body)
        for status, answered, chain, usual_bytes in cases:
            kw = dict(status=status, requested_url=url, url=answered if answered != URL else url, body=body)
            kw |= dict(usual_bytes=usual_bytes, redirect_chain=chain)
            early = wall_before_extraction(
                **kw,
                html=lambda r=response: r.text,
                utf8=response.encoding.lower().replace("_", "-") in ("utf-8", "utf8"),
            )
            after = [detect_block(**kw, html=response.text, has_product=p) for p in (False, True)]
            if early is None:
                assert after == [None, None], (name, status, usual_bytes)
                seen["none"] += 1
            elif early is UNDECIDED:
                assert after[1] is None, (name, status)  # it does depend on the product block
                seen["undecided"] += 1
            else:
                assert after == [early, early], (name, status)
                seen["definite"] += 1
    assert all(seen.values()), seen  # every answer was exercised
    # The captcha walls (UTF-8 and GBK), the page with captcha words in a review: undecided.
    for name in ("captcha", "gbk-captcha", "product-with-captcha-words", "soldout_login", "shell"):
        body, url = all_pages[name]
        response = HtmlResponse(url=url, body=body)
        utf8 = response.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        early = wall_before_extraction(
            status=200, requested_url=url, url=url, body=body, html=lambda r=response: r.text, utf8=utf8
        )
        assert early is UNDECIDED, name
    body, url = all_pages["product"]
    response = HtmlResponse(url=url, body=body)
    assert (
        wall_before_extraction(status=200, requested_url=url, url=url, body=body, html=lambda: response.text, utf8=True)
        is None
    )


# ---------------------------------------------------------------- back-off (in process)


def test_backoff_slows_then_pauses_then_resumes_by_itself():
    cfg = BlockingConfig(first_delay=1.0, slow_factor=2.0, max_delay=3.0, pause_after=3, pause_minutes=1 / 60)
    state = BackoffState(cfg)
    now = datetime.now(UTC)
    assert state.blocked("a.example", "blocked: HTTP 429", now).delay == 1.0
    assert state.blocked("a.example", "blocked: HTTP 429", now).delay == 2.0
    third = state.blocked("a.example", "blocked: HTTP 429", now)
    assert third.delay == 3.0 and third.paused(now) and not third.paused(now + timedelta(seconds=2))
    assert state.get("b.example").delay == 0  # per domain

    mw = BlockBackoffMiddleware(None, cfg, None)
    mw.state.states["127.0.0.1:9"] = DomainState("127.0.0.1:9", paused_until=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(DomainPaused, match="paused until"):
        asyncio.run(mw.process_request(Request("http://127.0.0.1:9/item/1.html")))
    mw.state.states["127.0.0.1:9"].paused_until = datetime.now(UTC) - timedelta(seconds=1)  # the pause is over
    assert asyncio.run(mw.process_request(Request("http://127.0.0.1:9/item/1.html"))) is None
    fine = state.read_fine("a.example")
    assert fine.blocks_in_row == 0 and fine.delay == 1.5


def test_a_good_page_read_before_a_wall_but_extracted_after_it_does_not_end_the_streak():
    """Issue 15: with extraction workers, a wall is told on the reactor at once while a good page that came
    before it may still be in a worker; its observation must not end the streak that wall started (in the
    order the responses came, the one an in-process crawl follows, it was read before the wall)."""
    from scrapy.http import HtmlResponse

    from jingshao.crawlers.items import BlockedPageItem, ProductObservationItem

    cfg = BlockingConfig(first_delay=1.0, slow_factor=2.0, max_delay=8.0, pause_after=5)
    mw = BlockBackoffMiddleware(None, cfg, None)
    url = "http://127.0.0.1:9/item/{}.html"

    def response(i: int):
        request = Request(url.format(i))
        return mw.process_response(request, HtmlResponse(url.format(i), body=b"<html></html>", request=request))

    good, wall, later = response(1), response(2), response(3)
    mw.item_scraped(BlockedPageItem(url.format(2), "blocked: captcha (验证码)", 2, 200, signal="marker"), wall)
    mw.item_scraped(ProductObservationItem(1, url.format(1), {}), good)  # extracted after the wall was told
    state = mw.state.get("127.0.0.1:9")
    assert state.blocks_in_row == 1 and state.delay == 1.0
    mw.item_scraped(ProductObservationItem(3, url.format(3), {}), later)  # read after the wall: the streak ends
    assert state.blocks_in_row == 0 and state.delay == 0.5


# ---------------------------------------------------------------- crawls of the demo shop


def http_products(shop):
    return [p for p in demo_products(shop.base_url) if not p.render]


def blocking_config(shop, tmp_path: Path, extra: str, products=None, channels: str = "") -> Path:
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products or http_products(shop))
    text = cfg.read_text(encoding="utf-8").replace("concurrency_per_domain = 8", "concurrency_per_domain = 1")
    cfg.write_text(text + "[crawl.blocking]\n" + extra + "\n" + channels, encoding="utf-8")
    return cfg


def crawl(cfg: Path, *, check: bool = False):
    return run_cli("crawl", "products", "--config", str(cfg), check=check)


@pytest.mark.slow
def test_walls_in_the_demo_shop_are_blocked_change_nothing_and_slow_the_domain(shop, tmp_path):
    products = http_products(shop)
    cfg = blocking_config(shop, tmp_path, "first_delay = 0.05\npause_after = 100")
    crawl(cfg)  # a normal crawl first: observations and the usual page sizes
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        before = {o.id for o in s.scalars(select(Observation))}
        run = s.scalars(select(CrawlRun)).one()
        first = s.scalars(select(CrawlCompetitorOutcome)).all()
        alerts_before = {a.id for a in s.scalars(select(Alert))}
    # Per competitor, each page counted as what it was stored as (the run's own counts agree).
    assert sum(o.changed for o in first) == run.changes and sum(o.unchanged for o in first) == run.unchanged
    by_id = {p.id: p for p in products}
    walled = {
        "youpin-10001": "captcha",
        "youpin-10002": "login",
        "youpin-10003": "too_many",
        "youpin-10004": "shell",
        "tmall-660123456789": "soldout_login",
    }
    for pid, kind in walled.items():
        shop.walls.set(ITEMS_BY_ID[pid].path, kind)
    shop.advance()  # the walled products' real prices change too: nobody may see it through a wall

    out = crawl(cfg)
    assert out.returncode == 0, out.stderr  # blocked pages are listed, not failures
    assert "被拒 blocked" in out.stderr and "按竞品 by competitor" in out.stdout
    with db.session() as s:
        blocked = {f.url: f for f in s.scalars(select(FailedObservation).where(FailedObservation.kind == "blocked"))}
        new_obs = s.scalars(select(Observation).where(Observation.id.not_in(before))).all()
        new_alerts = s.scalars(select(Alert).where(Alert.id.not_in(alerts_before))).all()
        backoff = s.get(DomainBackoff, shop.base_url.removeprefix("http://"))
        per = {r.competitor: r for r in s.scalars(select(CrawlCompetitorOutcome).order_by(CrawlCompetitorOutcome.id))}
    reasons = {pid: blocked[by_id[pid].url].reason for pid in walled}
    assert "滑块" in reasons["youpin-10001"]
    assert "passport/login" in reasons["youpin-10002"]
    assert reasons["youpin-10003"] == "blocked: HTTP 429"
    assert "empty shell" in reasons["youpin-10004"]
    assert "请登录后查看" in reasons["tmall-660123456789"]
    walled_ids = {o.product_id for o in new_obs} & {blocked[by_id[pid].url].product_id for pid in walled}
    assert not walled_ids  # no price, stock or promo changed for a walled product
    assert not [a for a in new_alerts if any(by_id[pid].name in a.subject for pid in walled)]
    assert backoff is not None and backoff.delay > 0 and backoff.blocks_in_row >= 1
    assert per["优品数码旗舰店"].blocked == 4 and per["李宁官方旗舰店"].blocked == 1

    status = run_cli("status", "--config", str(cfg), check=False).stdout
    assert "by competitor" in status and "back-off" in status


@pytest.mark.slow
def test_a_domain_pauses_after_blocks_and_resumes_by_itself(shop, tmp_path):
    cfg = blocking_config(shop, tmp_path, "first_delay = 0.05\npause_after = 2\npause_minutes = 0.5")
    shop.walls.set(walls.ALL, "captcha")
    shop.reset_hits()
    out = crawl(cfg)
    assert out.returncode == 3, out.stderr  # every page blocked
    assert "paused until" in out.stderr
    hits = shop.hits()
    product_paths = [ITEMS_BY_ID[p.id].path for p in http_products(shop)]
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        row = s.get(DomainBackoff, shop.base_url.removeprefix("http://"))
        assert s.scalars(select(Observation)).first() is None
        paused = [f.url for f in s.scalars(select(FailedObservation)) if "paused until" in f.reason]
    assert row.paused_until is not None and row.paused_until > row.last_block_at  # paused after the walls
    # Two walls (and the page already on its way), then no request at all until the pause ends.
    assert paused and all(hits.get(url.removeprefix(shop.base_url), 0) == 0 for url in paused)
    assert sum(hits.get(p, 0) for p in product_paths) == len(product_paths) - len(paused)

    shop.walls.clear()
    wait_for(lambda: datetime.now(UTC) > row.paused_until, timeout=60)
    time.sleep(0.5)
    assert crawl(cfg).returncode == 0  # resumed by itself: nobody cleared the pause
    with db.session() as s:
        stored = s.scalars(select(Observation)).all()
        row = s.get(DomainBackoff, shop.base_url.removeprefix("http://"))
    assert len({o.product_id for o in stored}) == len(product_paths)
    assert row.blocks_in_row == 0


@pytest.mark.slow
def test_a_competitor_blocked_crawl_after_crawl_alerts_the_admin_channel_only(shop, tmp_path, chat):
    admin = {**chat.channel_settings("dingtalk", "运维群"), "roles": ["admin"]}
    business = chat.channel_settings("feishu", "运营群")
    channels = "".join(
        "[[channels]]\n" + "".join(f"{k} = {toml_inline(v)}\n" for k, v in c.items()) for c in (admin, business)
    )
    products = [p for p in http_products(shop) if p.competitor == "李宁官方旗舰店"]
    cfg = blocking_config(shop, tmp_path, "first_delay = 0.05\npause_after = 100", products, channels)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[database]", "[alerts]\nblocked_crawls = 2\n[database]"))
    shop.walls.set(walls.ALL, "captcha")
    crawl(cfg)
    assert not chat.accepted("dingtalk")  # one blocked crawl is not yet news
    crawl(cfg)
    texts = [str(d.payload) for d in chat.accepted("dingtalk")]
    assert any("竞品抓取被拦截" in t and "李宁官方旗舰店" in t and "连续 2 次" in t for t in texts), texts
    assert not [d for d in chat.accepted("feishu") if "被拦截" in str(d.payload)]
