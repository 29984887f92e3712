"""The dashboard's pages in real headless Chromium, against a real `jingshao serve` on 127.0.0.1.

One server and one browser for the module (the data set is written once: tests/web_pages_data.py):
log in, read the price chart's ECharts option, void an observation, ack / silence / unsilence an
alert, add a product through the extraction preview, every page at 390 px without horizontal
overflow (screenshots in tests/artifacts/web/), and injection strings that render inert.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from jingshao.demo.server import DemoServer
from jingshao.storage.db import open_database
from jingshao.storage.models import Alert, Observation, Silence

from .conftest import REPO, free_port, wait_for
from .web_pages_data import Seeded, seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).parent / "artifacts" / "web"
ADMIN, ADMIN_PASSWORD = "ops", "ops-password-1"
VIEWER, VIEWER_PASSWORD = "boss", "boss-password-1"


class Site:
    def __init__(self, base: str, cfg_path: Path, db_url: str, data: Seeded, shop: DemoServer) -> None:
        self.base, self.cfg_path, self.db_url, self.data, self.shop = base, cfg_path, db_url, data, shop

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    from jingshao.demo.runner import write_demo_config

    work = tmp_path_factory.mktemp("web")
    with DemoServer() as shop:
        cfg_path = write_demo_config(shop.base_url, work, with_browser=False)
        with cfg_path.open("a", encoding="utf-8") as f:
            f.write(
                f'[[web.users]]\nname = "{ADMIN}"\nrole = "admin"\npassword = "{ADMIN_PASSWORD}"\n'
                f'[[web.users]]\nname = "{VIEWER}"\nrole = "viewer"\npassword = "{VIEWER_PASSWORD}"\n'
            )
        db_url = f"sqlite:///{(work / 'demo.db').as_posix()}"
        open_database(db_url).dispose()  # migrated
        data = seed(db_url, shop.base_url)
        report_dir = work / "reports"
        report_dir.mkdir()
        (report_dir / "jingshao-report-2026-12-01.html").write_text(
            "<!doctype html><html><body><h1>竞品日报 2026-12-01</h1></body></html>", encoding="utf-8"
        )
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jingshao.cli", "serve", "--config", str(cfg_path), "--port", str(port)],
            cwd=str(REPO),
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"jingshao serve exited {proc.returncode}: {proc.stdout.read()}")
            try:
                return httpx.get(base + "/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_for(up, timeout=60)
            yield Site(base, cfg_path, db_url, data, shop)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True)
        yield b
        b.close()


def login(browser, site: Site, user: str = ADMIN, password: str = ADMIN_PASSWORD, **context_args):
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **context_args)
    page = ctx.new_page()
    page.goto(site.url("/"))
    assert "/login" in page.url  # no session: the dashboard sends the browser to the login form
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(site.url("/"))
    return ctx, page


@pytest.fixture(scope="module")
def admin(browser, site):
    ctx, page = login(browser, site)
    yield page
    ctx.close()


def chart_option(page, chart_id: str) -> dict:
    page.wait_for_function("id => window.jingshaoCharts && window.jingshaoCharts[id]", arg=chart_id)
    return page.evaluate(
        """id => {
            const o = window.jingshaoCharts[id].getOption();
            return {xAxis: o.xAxis[0], series: o.series.map(s => ({name: s.name, type: s.type, data: s.data}))};
        }""",
        chart_id,
    )


def test_price_chart_draws_each_observation_over_the_whole_range(admin, site):
    pid = site.data.chart_product
    for days in (30, 90, 365):
        admin.goto(site.url(f"/prices/{pid}?days={days}"))
        opt = chart_option(admin, "price-chart")
        series = {s["name"]: s for s in opt["series"]}
        assert len(series["价格"]["data"]) == site.data.chart_points[days], days
        span = opt["xAxis"]["max"] - opt["xAxis"]["min"]
        assert abs(span - days * 86400_000) < 120_000, (days, span)  # the axis spans the range, not the data
        assert series["划线价"]["data"] and series["到手价"]["data"]
        red = next(s for name, s in series.items() if name.startswith("异常"))
        assert len(red["data"]) >= 1  # the 50% drop ten days ago is beyond the configured 3σ
        assert series["待确认"]["data"]  # the suspect spike three days ago is drawn apart
        assert admin.locator("td.anomaly").count() >= 1


def test_price_table_filters_in_place_and_sorts(admin, site):
    admin.goto(site.url("/prices"))
    total = admin.locator("#price-table tbody tr[data-product]").count()
    admin.evaluate("window.__samePage = true")
    admin.select_option("select[name=competitor]", "优品数码旗舰店")
    admin.wait_for_function(
        "n => document.querySelectorAll('#price-table tbody tr[data-product]').length < n", arg=total
    )
    assert admin.evaluate("window.__samePage") is True  # htmx swapped the table; no page load
    assert "competitor=" in admin.url  # ... and pushed the filter into the URL (a shareable link)
    cells = admin.locator("#price-table tbody td[data-label=竞品]").all_inner_texts()
    assert cells and set(cells) == {"优品数码旗舰店"}
    admin.click("#price-table th a:has-text('现价')")
    admin.wait_for_url("**sort=price**")
    prices = [float(t.strip("¥").replace(",", "")) for t in admin.locator("td[data-label=现价]").all_inner_texts()]
    assert prices == sorted(prices)


def test_void_an_observation(admin, site):
    pid, oid = site.data.chart_product, site.data.void_target
    admin.goto(site.url(f"/prices/{pid}?days=90"))
    row = admin.locator(f"#obs-{oid}")
    row.locator("input[name=reason]").fill("页面改版，价格读错")
    row.locator("button[type=submit]").click()
    admin.wait_for_selector(".flash")
    assert "已作废" in admin.locator(f"#obs-{oid}").inner_text()
    assert "void" in (admin.locator(f"#obs-{oid}").get_attribute("class") or "")
    opt = chart_option(admin, "price-chart")
    series = {s["name"]: s for s in opt["series"]}
    assert [p["id"] for p in series["已作废"]["data"]] == [oid]
    assert oid not in [p["id"] for p in series["价格"]["data"]]
    db = open_database(site.db_url, upgrade=False)
    with db.session() as s:
        o = s.get(Observation, oid)
        assert (o.voided_by, o.void_reason) == (ADMIN, "页面改版，价格读错")
    db.dispose()


def test_ack_silence_and_unsilence_an_alert(admin, site):
    aid = site.data.alerts["price"]
    admin.goto(site.url(f"/alerts/{aid}"))
    admin.click("#ack-form button")
    admin.wait_for_selector(".flash")
    assert admin.inner_text("#acked-by") == ADMIN
    assert "已认领" in admin.inner_text("#timeline")
    form = admin.locator("#silence-form")
    form.locator("select[name=hours]").select_option("2")
    form.locator("input[name=reason]").fill("大促期间的已知降价")
    form.locator("button[type=submit]").click()
    admin.wait_for_selector("#silences li")
    assert "大促期间的已知降价" in admin.inner_text("#silences")
    db = open_database(site.db_url, upgrade=False)
    with db.session() as s:
        sil = s.scalars(select(Silence).where(Silence.matcher == "fp-price")).one()
        assert sil.author == ADMIN and sil.ended_at is None
        assert abs((sil.expires_at - sil.created_at) - timedelta(hours=2)) < timedelta(seconds=5)
        assert s.get(Alert, aid).acked_by == ADMIN
    admin.click("#silences button")
    admin.wait_for_selector(".flash")
    assert admin.locator("#silences").count() == 0
    with db.session() as s:
        assert s.scalars(select(Silence).where(Silence.matcher == "fp-price")).one().ended_at is not None
    db.dispose()


def test_add_a_product_with_the_extraction_preview(admin, site):
    from jingshao.demo.catalog import bench_product_urls, expected_bench

    url = bench_product_urls(site.shop.base_url, 8)[7]
    want = expected_bench(7)
    admin.goto(site.url("/settings"))
    admin.fill("#add-form input[name=competitor]", "新竞品旗舰店")
    admin.fill("#add-form textarea[name=urls]", url)
    admin.click("#preview-btn")
    admin.wait_for_selector(".preview-result [data-field=price] .value")
    result = admin.locator(".preview-result")
    assert result.locator("[data-field=price] .value").inner_text() == str(want.price)
    assert result.locator("[data-field=title] .value").inner_text() == want.title
    assert result.locator("[data-field=price] .layer").inner_text() not in ("", "—")  # which layer found it
    admin.click("#add-form button[type=submit]")
    admin.wait_for_selector(".flash")
    assert "已添加 1 个商品" in admin.inner_text(".flash")
    row = admin.locator("#product-list tr", has_text="新竞品旗舰店")
    assert "网页添加" in row.inner_text() and "监控中" in row.inner_text()
    pid = row.get_attribute("data-product")
    # Pause from the page: it leaves the price table (history kept), then comes back.
    row.locator("button[value=pause]").click()
    admin.wait_for_selector(".flash")
    assert "已暂停" in admin.locator(f"#product-list tr[data-product='{pid}'] .status").inner_text()
    # A product from the config file is read-only here.
    file_row = admin.locator("#product-list tr", has_text="配置文件（只读）").first
    assert file_row.locator("button").count() == 0


def test_a_viewer_reads_but_cannot_void(browser, site):
    ctx, page = login(browser, site, VIEWER, VIEWER_PASSWORD)
    try:
        page.goto(site.url(f"/prices/{site.data.chart_product}"))
        assert page.locator("form.void-form").count() == 0
        page.goto(site.url(f"/alerts/{site.data.alerts['crisis']}"))
        assert page.locator("#ack-form").count() == 0
        # A forged POST with the viewer's own session and CSRF token is still refused.
        token = page.get_attribute('meta[name="csrf-token"]', "content")
        resp = page.request.post(
            site.url(f"/prices/{site.data.chart_product}/observations/{site.data.void_target}/void"),
            form={"csrf_token": token, "reason": "x"},
        )
        assert resp.status == 403
    finally:
        ctx.close()


PAGES = [
    "/",
    "/prices",
    "/prices/{chart}?days=365",
    "/prices/{hostile}",
    "/reviews",
    "/mentions",
    "/mentions?view=day",
    "/alerts",
    "/alerts/{crisis}",
    "/alerts/backtest",
    "/health",
    "/settings",
    "/reports",
    "/reports/view/jingshao-report-2026-12-01.html",
]


def _pages(site: Site) -> list[str]:
    d = site.data
    return [p.format(chart=d.chart_product, hostile=d.hostile_product, crisis=d.alerts["crisis"]) for p in PAGES]


def test_every_page_fits_a_phone_and_a_desktop(browser, site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1280, 800)):
        ctx, page = login(browser, site, viewport={"width": width, "height": height})
        try:
            for path in _pages(site):
                resp = page.goto(site.url(path))
                assert resp.status == 200, path
                page.wait_for_load_state("load")
                if page.locator("[data-chart]").count():
                    page.wait_for_function("() => document.querySelectorAll('[data-chart][data-ready]').length > 0")
                scroll = page.evaluate("document.documentElement.scrollWidth")
                name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "") or "overview"
                page.screenshot(path=str(ARTIFACTS / f"{width}-{name}.png"), full_page=True)
                assert scroll <= width, (path, width, scroll)
            if width == 390:  # the nav is a menu on a phone: closed, then open
                assert not page.locator(".nav ul").is_visible()
                page.click(".navbtn")
                assert page.locator(".nav ul").is_visible()
        finally:
            ctx.close()


INERT_CHECK = """() => {
    const all = [...document.querySelectorAll("*")];
    const scripts = [...document.scripts];
    return {
        pwned: window.__pwned === undefined ? null : window.__pwned,
        inlineScripts: scripts.filter(s => !s.src && s.type !== "application/json").length,
        foreignScripts: scripts.filter(s => s.src && !s.src.includes("/static/")).length,
        xImages: document.querySelectorAll('img[src="x"], img[onerror]').length,
        jsLinks: [...document.querySelectorAll("a[href]")]
            .filter(a => /^\\s*javascript:/i.test(a.getAttribute("href"))).length,
        handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith("on"))).length,
    };
}"""


def test_injection_strings_render_inert(browser, site):
    ctx, page = login(browser, site)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        d = site.data
        for path in (
            "/",
            "/prices",
            f"/prices/{d.hostile_product}",
            "/reviews",
            f"/mentions?brand={d.brand}&authority=3",
            f"/alerts/{d.alerts['crisis']}",
            "/health",
        ):
            page.goto(site.url(path))
            page.wait_for_load_state("load")
            page.wait_for_timeout(100)
            state = page.evaluate(INERT_CHECK)
            assert state["pwned"] is None, path
            assert state["inlineScripts"] == 0 and state["foreignScripts"] == 0, path
            assert state["xImages"] == 0 and state["jsLinks"] == 0 and state["handlers"] == 0, path
        # The strings are shown as text, where the data has them.
        page.goto(site.url(f"/prices/{d.hostile_product}"))
        text = page.inner_text("main")
        assert "<script>" in text and "onerror" in text and "@all" in text
        page.goto(site.url(f"/mentions?brand={d.brand}&authority=3"))
        assert "<script>" in page.inner_text("#evidence")
        assert dialogs == []
    finally:
        ctx.close()


def test_mind_map_renders_its_aspects_on_a_phone(browser, site):
    """评价洞察's mind map: an ECharts tree in real Chromium at 390 px with the aspects of the API's JSON
    (nlp.mindmap), collapsible by a tap, no horizontal overflow."""
    ctx, page = login(browser, site, viewport={"width": 390, "height": 844})
    try:
        page.goto(site.url("/reviews"))
        competitors = [o for o in page.locator("select[name=competitor] option").all_inner_texts() if o != "全部"]
        for comp in competitors:
            api = page.request.get(site.url("/api/v1/mindmap"), params={"competitor": comp})
            if api.ok and api.json()["aspects"]:
                break
        else:
            pytest.fail("no competitor with a mind map in the seeded data")
        want = [a["aspect"] for a in api.json()["aspects"]]
        page.goto(site.url("/reviews?" + urlencode({"competitor": comp})))
        page.wait_for_function("() => window.jingshaoCharts && window.jingshaoCharts['mindmap-chart']")
        tree = page.evaluate("() => window.jingshaoCharts['mindmap-chart'].getOption().series[0].data[0]")
        assert [c["aspect"] for c in tree["children"]] == want
        box = page.locator("#mindmap-chart canvas").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] >= 260  # drawn, at the phone's width
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "390-reviews-mindmap.png"), full_page=True)
    finally:
        ctx.close()
