"""The dashboard's pages over FastAPI's TestClient on a real SQLite database (no browser): what each
page shows, the chart options it builds, the red anomalies, CSRF and roles on the page forms,
report files that cannot escape their folder, and crawled text escaped in the HTML."""

from __future__ import annotations

import random
import re
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jingshao.alerts.rules.competitor import CompetitorThresholds
from jingshao.config import load_config
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.queries.web_pages import ObservationRow
from jingshao.web.app import create_app
from jingshao.web.pages import _clearly_inside, price_chart_option, promo_timeline, safe_url

from .web_pages_data import HOSTILE_TITLE, INJECTIONS, seed

BASE = "http://127.0.0.1:9"  # the catalog's URLs; nothing here fetches them


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("pages")
    cfg = load_config(write_demo_config(BASE, work, with_browser=False))
    open_database(cfg.database_url).dispose()
    data = seed(cfg.database_url, BASE)
    (work / "reports").mkdir()
    (work / "reports" / "jingshao-report-2026-12-01.html").write_text("<h1>日报</h1>", encoding="utf-8")
    (work / "secret.html").write_text("not a report", encoding="utf-8")
    app = create_app(cfg)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, data, work


def csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def obs(i: int, days_ago: float, price: str | None, *, status: str = "ok", void: bool = False, promo=None):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    at = now - timedelta(days=days_ago)
    return ObservationRow(
        i,
        at,
        at,
        None,
        None if price is None else Decimal(price),
        Decimal("199"),
        None,
        "CNY",
        "InStock",
        promo,
        status,
        at if void else None,
        "ops" if void else None,
        "x" if void else None,
    )


def test_observation_rows_escape_crawled_text_and_offer_the_void_form_to_admins_only():
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from markupsafe import Markup

    from jingshao.web.pages import observation_rows

    hostile = replace(obs(1, 2, "99.5"), availability="<img src=x onerror=alert(1)>")
    voided = replace(obs(2, 1, "80", void=True), voided_by="<b>ops</b>", void_reason='"x" & <y>')
    suspect, plain = obs(3, 0.5, "120", status="suspect"), obs(4, 0.2, None)
    form = Markup('<input type="hidden" name="csrf_token" value="tok">')
    tz = ZoneInfo("Asia/Shanghai")
    rows = observation_rows([hostile, voided, suspect, plain], {1: -3.24}, tz, product_id=7, days=90, csrf_field=form)
    html = "\n".join(rows)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>" not in html and "已作废（&lt;b&gt;ops&lt;/b&gt;：&#34;x&#34; &amp; &lt;y&gt;）" in html
    assert 'class="num anomaly">¥99.50 (-3.2σ)</td>' in rows[0] and "anomaly" not in rows[2]
    assert '<tr id="obs-2" class="void">' in rows[1] and 'class="suspect"' in rows[2] and "待确认" in rows[2]
    assert "正常" in rows[3] and '<td data-label="价格" class="num">—</td>' in rows[3]
    assert (hostile.first_seen_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")) in rows[0]
    # One void form per row not voided yet, each posting to its own observation with the page's range.
    assert [r.count("void-form") for r in rows] == [1, 0, 1, 1]
    assert 'action="/prices/7/observations/3/void"' in rows[2] and 'name="days" value="90"' in rows[2]
    assert html.count('value="tok"') == 3
    viewer = observation_rows([hostile, voided], {}, tz, product_id=7, days=90, csrf_field=None)
    assert not any("操作" in r or "form" in r for r in viewer)


def test_alert_rows_escape_the_alert_text_and_name_unknown_levels():
    from zoneinfo import ZoneInfo

    from jingshao.storage.alerts_repo import AlertRow
    from jingshao.web.pages import alert_rows

    since = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    red = AlertRow(7, "firing", "red", "red", since, "<script>x</script>", "crisis", "r", "a & b", None, None)
    odd = AlertRow(8, "resolved", "<i>", "<i>", since, "店", "price_drop", "r", "降价", "<b>ops</b>", None)
    rows = alert_rows(
        [red, odd, AlertRow(9, "firing", None, None, since, "s", "f", "r", "m", None, None)], ZoneInfo("Asia/Shanghai")
    )
    assert '<span class="lvl lvl-red">红色</span>' in rows[0] and "未恢复" in rows[0] and "12-01 08:30" in rows[0]
    assert "<script>" not in rows[0] and "&lt;script&gt;x&lt;/script&gt;" in rows[0] and "a &amp; b" in rows[0]
    assert '<span class="lvl lvl-none">&lt;i&gt;</span>' in rows[1] and "已恢复" in rows[1]
    assert "&lt;b&gt;ops&lt;/b&gt;" in rows[1] and '<td data-label="认领">—</td>' in rows[0]
    assert '<span class="lvl lvl-none">正常</span>' in rows[2]
    assert all(
        f'<tr data-alert="{i}">' in r and f'href="/alerts/{i}"' in r for i, r in zip((7, 8, 9), rows, strict=True)
    )


def test_chart_option_spans_the_range_and_keeps_suspect_and_void_apart():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    since = now - timedelta(days=30)
    rows = [
        obs(1, 40, "100"),  # in force when the window starts: drawn at its start
        obs(2, 20, "90"),
        obs(3, 10, "900", status="suspect"),
        obs(4, 5, "80", void=True),
        obs(5, 2, "85"),
        obs(6, 1, None),  # no price (a range or a failure): not a point
    ]
    option = price_chart_option(rows, {5: -4.2}, since, now, 3.0)
    series = {s["name"]: s for s in option["series"]}
    assert [p["id"] for p in series["价格"]["data"]] == [1, 2, 5]
    assert series["价格"]["data"][0]["value"][0] == int(since.timestamp() * 1000)
    assert [p["id"] for p in series["待确认"]["data"]] == [3]
    assert [p["id"] for p in series["已作废"]["data"]] == [4]
    assert [p["id"] for p in series["异常（超出 ±3σ）"]["data"]] == [5]
    assert series["价格"]["data"][2]["itemStyle"]["color"] == "#dc2626"
    assert option["xAxis"] == {"type": "time", "min": int(since.timestamp() * 1000), "max": int(now.timestamp() * 1000)}
    assert len(series["划线价"]["data"]) == 3


def test_promo_timeline_lists_changes_only_newest_first():
    rows = [
        obs(1, 9, "1", promo="满300减40"),
        obs(2, 8, "2", promo="满300减40"),
        obs(3, 7, "3"),
        obs(4, 6, "4", promo="秒杀"),
    ]
    assert [o.id for o in promo_timeline(rows)] == [4, 3, 1]


def test_safe_url_links_only_http():
    assert safe_url("https://item.example.com/1.html") == "https://item.example.com/1.html"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil", None):
        assert safe_url(bad) is None


def test_anomalies_use_the_configured_sigma_threshold(site):
    client, data, _ = site
    html = client.get(f"/prices/{data.chart_product}?days=30").text
    k = CompetitorThresholds().anomaly_k
    assert f"±{k:g}σ" in html
    assert html.count('class="num anomaly"') >= 1  # the halved price ten days ago


def test_the_quick_band_check_never_hides_an_anomaly_the_exact_test_marks():
    """The page's float pre-check only skips the exact (fraction) σ test for prices well inside the band."""
    rng = random.Random(13)
    skipped = 0
    for _ in range(3000):
        n = rng.randint(5, 30)
        base = rng.choice([0.01, 9.9, 4299.0, 100000.0])
        window = [round(base + rng.randint(-3, 3) * rng.choice([0.01, 1.0]), 2) for _ in range(n)]
        k, floor = rng.choice([2.0, 3.0]), rng.choice([0.0, 0.01])
        mean, std = statistics.fmean(window), statistics.pstdev(window)
        sigma = max(std, abs(mean) * floor)
        for value in (mean + k * sigma, mean - k * sigma, round(mean + k * sigma, 2), window[0], mean + sigma):
            exact = sigma > 0 and abs((value - mean) / sigma) > k
            quick = _clearly_inside(window, value, k, floor)
            assert not (quick and exact), (window, value, k, floor)
            skipped += quick
    assert skipped > 3000  # and it does decide the common case


def test_every_page_answers_in_chinese(site):
    client, data, _ = site
    for path, words in {
        "/": ["今日概览", "价格变动", "未恢复的告警"],
        "/prices": ["竞品价格", "较昨日", "到手价"],
        f"/prices/{data.chart_product}": ["价格走势", "促销文案时间线", "各字段的提取方式", "作废此记录"],
        "/reviews": ["情感趋势", "爆款拆解", "本周变化"],
        "/mentions": ["当前危机级别", "红色预警处置要求", "提及明细"],
        "/alerts": ["告警", "未恢复"],
        f"/alerts/{data.alerts['crisis']}": ["时间线", "静默"],
        "/alerts/backtest": ["规则回测"],
        "/health": ["抓取健康", "通知渠道", "页面没有价格"],
        "/reports": ["2026-12-01"],
    }.items():
        r = client.get(path)
        assert r.status_code == 200, path
        for w in words:
            assert w in r.text, (path, w)


def test_price_table_sorts_and_filters(site):
    client, _, _ = site
    html = client.get("/prices", params={"sort": "price", "order": "desc"}).text
    prices = [Decimal(p.replace(",", "")) for p in re.findall(r'data-label="现价" class="num">¥([\d,.]+)<', html)]
    assert len(prices) >= 5 and prices == sorted(prices, reverse=True)
    only = client.get("/prices", params={"q": "iPad"}).text
    assert only.count("data-product=") == 1


def test_page_forms_need_the_csrf_token(site):
    client, data, _ = site
    url = f"/alerts/{data.alerts['resolved']}/silence"
    assert client.post(url, data={"hours": "1", "reason": "x"}).status_code == 403
    token = csrf(client.get("/alerts").text)
    r = client.post(url, data={"hours": "1", "reason": "测试", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and "ok=" in r.headers["location"]
    r = client.post(url, data={"hours": "1", "reason": " ", "csrf_token": token}, follow_redirects=False)
    assert "err=" in r.headers["location"]  # a silence without a reason is refused with a message


def test_void_needs_a_reason_and_the_right_product(site):
    client, data, _ = site
    token = csrf(client.get("/prices").text)
    url = f"/prices/{data.chart_product}/observations/{data.void_target}/void"
    r = client.post(url, data={"reason": "", "csrf_token": token}, follow_redirects=False)
    assert "err=" in r.headers["location"]
    other = f"/prices/{data.hostile_product}/observations/{data.void_target}/void"
    assert client.post(other, data={"reason": "x", "csrf_token": token}).status_code == 404


def test_report_files_cannot_escape_their_folder(site):
    client, _, _ = site
    assert client.get("/reports/file/jingshao-report-2026-12-01.html").text == "<h1>日报</h1>"
    for bad in ("..%2Fsecret.html", "secret.html", "jingshao-report-..%2F..%2Fsecret.html", "%2Fetc%2Fpasswd"):
        assert client.get(f"/reports/file/{bad}").status_code == 404, bad
        assert client.get(f"/reports/view/{bad}").status_code == 404, bad


def test_crawled_text_is_escaped_in_the_html(site):
    client, data, _ = site
    for path in (
        "/prices",
        f"/prices/{data.hostile_product}",
        "/mentions?authority=3",
        f"/alerts/{data.alerts['crisis']}",
    ):
        html = client.get(path).text
        for raw in INJECTIONS[:2]:
            assert raw not in html, path
        assert 'href="javascript:' not in html.lower()
    html = client.get(f"/prices/{data.hostile_product}").text
    assert "&lt;script&gt;" in html and "@all" in html
    assert HOSTILE_TITLE.split()[0] in html
    # Chart JSON goes through tojson: no "</script>" can close the data block early.
    page = client.get(f"/prices/{data.chart_product}").text
    block = re.search(r'<script type="application/json" id="price-chart-option">(.*?)</script>', page, re.S)
    assert block and "<" not in block.group(1)


def test_static_assets_are_served_locally(site):
    client, _, _ = site
    html = client.get("/").text
    assert "//cdn" not in html and "https://" not in re.sub(r'href="https?://[^"]*"', "", html)
    for asset in ("/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js", "/static/app.js", "/static/app.css"):
        assert client.get(asset).status_code == 200, asset
    assert Path(__file__).resolve().parents[1].joinpath("web/static/vendor/echarts.LICENSE").is_file()


def test_every_page_renders_on_sqlite_and_postgresql(database_url, tmp_path):
    cfg = load_config(write_demo_config(BASE, tmp_path, with_browser=False, database_url=database_url))
    open_database(cfg.database_url).dispose()
    data = seed(cfg.database_url, BASE)
    with TestClient(create_app(cfg), base_url="http://127.0.0.1") as client:
        for path in (
            "/",
            "/prices?sort=change7&order=desc",
            f"/prices/{data.chart_product}?days=365",
            "/reviews",
            f"/reviews?product={data.chart_product}",
            "/mentions",
            "/mentions?view=day&label=neg&authority=2",
            "/alerts?state=all",
            f"/alerts/{data.alerts['crisis']}",
            "/health",
            "/settings",
        ):
            r = client.get(path)
            assert r.status_code == 200, (path, r.text[-2000:])
        html = client.get(f"/prices/{data.chart_product}?days=365").text
        block = re.search(r'id="price-chart-option">(.*?)</script>', html, re.S).group(1)
        assert block.count('"id"') >= data.chart_points[365]
        assert "降价 23.1%" in client.get("/").text  # the firing price alert, listed on the overview


def test_evidence_snapshots_are_listed_and_served_sandboxed(site):
    client, data, _ = site
    html = client.get(f"/prices/{data.chart_product}").text
    assert f"/prices/{data.chart_product}/evidence/{data.evidence}" in html
    r = client.get(f"/prices/{data.chart_product}/evidence/{data.evidence}")
    assert r.status_code == 200 and "快照" in r.text
    assert r.headers["content-security-policy"].startswith("sandbox")  # the competitor's HTML runs nothing
    # Only this product's snapshots, by their digest.
    assert client.get(f"/prices/{data.hostile_product}/evidence/{data.evidence}").status_code == 404
    assert client.get(f"/prices/{data.chart_product}/evidence/..%2F..%2Fetc").status_code == 404


def test_health_shows_blocked_pages_per_competitor(site):
    client, _, _ = site
    html = client.get("/health").text
    assert "被拦截" in html and "滑块验证码 captcha" in html


def test_backtest_view_replays_the_rules(site):
    client, data, _ = site
    html = client.get("/alerts/backtest", params={"run": "1", "brand": data.brand, "step": "1h"}).text
    n = int(re.search(r"结果：(\d+) 次状态变化", html).group(1))
    assert n >= 1  # the seeded burst of negatives opens (and escalates) a crisis when replayed
    assert data.brand in html
    bad = client.get("/alerts/backtest", params={"run": "1", "start": "yesterday"}).text
    assert 'class="flash error"' in bad and "ISO 8601" in bad  # bad input: a clear message, no 500


def test_settings_relays_the_apis_refusals_in_chinese(site):
    """监控设置 adds and edits through the API's checks; what the API refuses is said in Chinese there."""
    from urllib.parse import parse_qs, urlsplit

    from jingshao.demo.catalog import YOUPIN

    client, data, _ = site
    token = csrf(client.get("/settings").text)

    def err(path: str, form: dict) -> str:
        r = client.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        return parse_qs(urlsplit(r.headers["location"]).query)["err"][0]

    message = err("/settings/products", {"competitor": YOUPIN, "urls": "https://shop.example.com/item/1.html"})
    assert f"竞品“{YOUPIN}”由配置文件管理" in message and "managed by" not in message
    message = err("/settings/products", {"competitor": "新店", "urls": "ftp://shop.example.com/item/1.html"})
    assert "链接" in message and "http" in message and "expected" not in message
    file_product = data.chart_product
    message = err(f"/settings/products/{file_product}", {"action": "save", "name": "改名"})
    assert f"商品 #{file_product} 由配置文件管理" in message


def test_mind_map_api_and_page_show_the_same_aspects(site):
    client, _, _ = site
    comps = client.get("/api/v1/competitors").json()
    reviewed = [
        c["name"] for c in comps if client.get("/api/v1/mindmap", params={"competitor": c["name"]}).status_code == 200
    ]
    assert reviewed, "the seeded data has reviews"
    m = client.get("/api/v1/mindmap", params={"competitor": reviewed[0]}).json()
    assert m["competitor"] == reviewed[0] and m["aspects"]
    a = m["aspects"][0]
    assert {"aspect", "reviews", "share", "positive", "negative", "top_positive", "top_negative", "week"} <= set(a)
    html = client.get("/reviews", params={"competitor": reviewed[0]}).text
    option = re.search(r'id="mindmap-chart-option">(.*?)</script>', html, re.S).group(1)
    import json

    tree = json.loads(option)["series"][0]["data"][0]
    assert [n["aspect"] for n in tree["children"]] == [x["aspect"] for x in m["aspects"]]
    assert client.get("/api/v1/mindmap", params={"competitor": "没有这家"}).status_code == 404


def test_overview_counts_in_sql_match_the_listed_changes(site):
    """概览 counts changes in SQL and fetches only the 50 it lists: the same figures as counting them all."""
    from jingshao.storage.queries import web_pages as q

    client, _, work = site
    cfg = load_config(work / "jingshao.toml")
    db = open_database(cfg.database_url)
    try:
        with db.session() as s:
            for since in (datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) - timedelta(days=3)):
                every = q.changes_since(s, since)
                today = since + (datetime.now(UTC) - since) / 2
                got = q.change_summary(s, since, today)
                recent = [c for c in every if c.at >= today]
                assert got.total == len(every) and q.changes_since(s, since, limit=2) == every[:2]
                assert got.price == sum(1 for c in recent if c.old_price != c.new_price)
                assert got.promo == sum(1 for c in recent if (c.old_promo or None) != (c.new_promo or None))
                assert got.stock_outs == sum(
                    1 for c in recent if c.new_availability == "OutOfStock" and c.old_availability != "OutOfStock"
                )
            assert q.changes_since(s, datetime(2000, 1, 1, tzinfo=UTC))  # the seeded data has changes
    finally:
        db.dispose()
    assert client.get("/").status_code == 200


def test_a_products_review_page_takes_few_statements_and_an_unknown_product_lists_all(site):
    from sqlalchemy import event

    client, data, _ = site
    engine = client.app.state.db.read_engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        client.get(f"/reviews?product={data.chart_product}")  # (warm)
        statements.clear()
        page = client.get(f"/reviews?product={data.chart_product}")
        assert page.status_code == 200
        # the product list with its competitor, the competitors, the weeks, the tagged reviews, and the
        # teardown's price band, copy and current price: no second read of the same reviews
        assert len(statements) <= 7, statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    everyone = client.get("/reviews").text
    unknown = client.get("/reviews?product=999999").text
    options = re.compile(r'<option value="\d+"[^>]*>[^<]*</option>')
    assert len(options.findall(everyone)) > 2
    assert options.findall(unknown) == options.findall(everyone)  # an unknown product scopes nothing


def test_the_product_page_reads_plain_rows(site):
    from jingshao.storage.evidence import evidence_for
    from jingshao.storage.queries.web_pages import product_history

    client, data, _ = site
    with client.app.state.db.read_session() as s:
        hist = product_history(s, data.chart_product, datetime.now(UTC) - timedelta(days=365))
        evidence = evidence_for(s, [data.chart_product])
        assert not list(s.identity_map.values())  # Core rows only: no ORM products or observations
    assert hist is not None and hist.observations and hist.product.id == data.chart_product
    # Only the latest observation's field sources are read (the page's 各字段的提取方式), and shown.
    assert hist.sources and not hasattr(hist.observations[-1], "sources")
    page = client.get(f"/prices/{data.chart_product}?days=30").text
    assert all(f"<td>{s['layer']}</td>" in page for s in hist.sources.values() if isinstance(s, dict))
    assert data.evidence in {e.html_sha256 for e in evidence}
    assert {e.product for e in evidence} == {hist.product.name}


# The row of settings.html before it was rendered in Python (web.pages.settings_rows): the rows
# must read the same, up to whitespace between tags.
_OLD_SETTINGS_ROW = """{% set STATUS = {"active": "监控中", "paused": "已暂停", "removed": "已移除"} %}
{%- for p in rows %}
      <tr data-product="{{ p.id }}">
        <td data-label="#">{{ p.id }}</td>
        <td data-label="竞品">{{ p.competitor }}</td>
        <td data-label="商品"><a href="/prices/{{ p.id }}">{{ p.name or p.url }}</a><br><small class="muted">{{ p.url }}</small></td>
        <td data-label="来源">{{ "配置文件（只读）" if p.managed_by == "file" else "网页添加" }}</td>
        <td data-label="状态" class="status">{{ STATUS.get(p.status, p.status) }}</td>
        <td data-label="操作">
          {% if p.managed_by == "web" and user.is_admin and p.status != "removed" %}
          <details><summary>编辑</summary>
            <form method="post" action="/settings/products/{{ p.id }}" class="filters edit-form">
              {{ csrf_field }}
              <label>名称<input type="text" name="name" value="{{ p.name or '' }}"></label>
              <label>价格选择器<input type="text" name="price_selector" value="{{ (p.spec.get('selectors') or {}).get('price', '') }}"></label>
              <label>规格<input type="text" name="variant" value="{{ p.spec.get('variant') or '' }}"></label>
              <label><span>浏览器渲染</span><input type="checkbox" name="render" value="true"{% if p.render %} checked{% endif %}></label>
              <button type="submit" name="action" value="save">保存</button>
            </form>
          </details>
          <form method="post" action="/settings/products/{{ p.id }}" class="row" style="margin-top:.3rem">
            {{ csrf_field }}
            {% if p.status == "active" %}<button type="submit" name="action" value="pause" class="secondary">暂停</button>
            {% else %}<button type="submit" name="action" value="resume" class="secondary">恢复</button>{% endif %}
            <button type="submit" name="action" value="remove" class="danger">移除</button>
          </form>
          {% elif p.managed_by == "file" %}<span class="muted">在 jingshao.toml 中修改</span>{% else %}—{% endif %}
        </td>
      </tr>
{%- endfor %}"""  # noqa: E501 (the template lines as they were)


def test_settings_rows_escape_typed_text_and_offer_the_forms_to_admins_only():
    from types import SimpleNamespace

    from jinja2 import Environment
    from markupsafe import Markup

    from jingshao.storage.queries.web import ProductRow
    from jingshao.web.pages import settings_rows

    at = datetime(2026, 12, 1, tzinfo=UTC)

    def product(i, managed_by, status, *, name="赤兔6", spec=None, render=False, competitor="店<i>铺</i>"):
        url = f'https://shop.example.com/{i}.html?a=1&b="2"'
        return ProductRow(i, 1, competitor, url, name, render, "general", managed_by, status, spec or {}, at, None)

    rows = [
        product(
            1,
            "web",
            "active",
            name='"><img src=x onerror=alert(1)>',
            render=True,
            spec={"selectors": {"price": '" autofocus onfocus="x'}, "variant": "<b>256GB</b>"},
        ),
        product(2, "web", "paused", name=None),
        product(3, "web", "removed"),
        product(4, "file", "active"),
        product(5, "web", "<odd>"),
    ]
    form = Markup('<input type="hidden" name="csrf_token" value="tok">')
    old = Environment(autoescape=True).from_string(_OLD_SETTINGS_ROW)

    def squeeze(html: str) -> str:
        return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()

    for admin in (True, False):
        new = settings_rows(rows, csrf_field=form if admin else None)
        before = old.render(rows=rows, user=SimpleNamespace(is_admin=admin), csrf_field=form)
        assert squeeze("".join(new)) == squeeze(before)
    admin_rows = settings_rows(rows, csrf_field=form)
    html = "".join(admin_rows)
    assert "<img" not in html and "<b>" not in html and "<i>" not in html and "<odd>" not in html
    assert 'value="&#34; autofocus onfocus=&#34;x"' in admin_rows[0] and "&lt;b&gt;256GB&lt;/b&gt;" in admin_rows[0]
    assert 'value="true" checked>' in admin_rows[0] and 'value="pause"' in admin_rows[0]
    assert (
        'value="resume"' in admin_rows[1]
        and 'href="/prices/2">https://shop.example.com/2.html?a=1&amp;b=&#34;2&#34;<' in admin_rows[1]
    )
    # Forms (each with the CSRF field) only for a web-added product not removed, and only for an admin.
    assert [r.count("<form") for r in admin_rows] == [2, 2, 0, 0, 2]
    assert html.count('value="tok"') == 6
    assert "在 jingshao.toml 中修改" in admin_rows[3] and "—" in admin_rows[2]
    assert not any("<form" in r for r in settings_rows(rows, csrf_field=None))
