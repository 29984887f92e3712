"""The demo's brand-mention sources and crisis switch, crawled over real HTTP by following each source config."""

from __future__ import annotations

import json
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from parsel import Selector

from jingshao.demo.crisis import DemoClock
from jingshao.demo.mentions import demo_mention_sources
from jingshao.demo.mentions_data import (
    CRISIS_WORDS,
    DEMO_BRAND,
    DemoMention,
    expected_mentions,
    has_crisis_word,
    matches_brand,
    normalise_content,
    unique_brand_negatives,
)
from jingshao.demo.server import DemoServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 20, 7, 30, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)
ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}
DC = "{http://purl.org/dc/elements/1.1/}creator"


@pytest.fixture(scope="module")
def running() -> Iterator[DemoServer]:
    with DemoServer(clock=DemoClock(frozen=NOW)) as srv:
        yield srv


@pytest.fixture
def srv(running: DemoServer) -> Iterator[DemoServer]:
    running.crisis.reset()
    running.clock.freeze(NOW)
    yield running
    running.crisis.reset()
    running.clock.freeze(NOW)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


# --- a minimal source follower, independent of the real spider ----------------------------------


def dotted(data: Any, path: str | None) -> Any:
    if path is None:
        return None
    for part in path.split("."):
        if data is None:
            return None
        data = data.get(part)
    return data


def parse_time(value: str) -> datetime:
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = datetime.strptime(value, "%Y-%m-%d %H:%M")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def item(source: str, url: str, title: str | None, snippet: str | None, time: str, author: str | None) -> dict:
    return {
        "source": source,
        "url": url,
        "title": title or "",
        "text": snippet or "",
        "posted_at": parse_time(time),
        "author": author or "",
    }


def parse_feed(body: bytes, source: str) -> list[dict]:
    root = ET.fromstring(body)
    if root.tag == "rss":
        return [
            item(
                source,
                i.findtext("link"),
                i.findtext("title"),
                i.findtext("description"),
                i.findtext("pubDate"),
                i.findtext(DC),
            )
            for i in root.iter("item")
        ]
    return [
        item(
            source,
            e.find("a:link", ATOM_NS).get("href"),
            e.findtext("a:title", namespaces=ATOM_NS),
            e.findtext("a:summary", namespaces=ATOM_NS),
            e.findtext("a:published", namespaces=ATOM_NS),
            e.findtext("a:author/a:name", namespaces=ATOM_NS),
        )
        for e in root.findall("a:entry", ATOM_NS)
    ]


def html_items(doc: Selector, src: dict, page_url: httpx.URL) -> list[dict]:
    def one(node: Selector, key: str) -> str | None:
        return node.css(src[key]).get() if src.get(key) else None

    return [
        item(
            src["name"],
            str(page_url.join(one(n, "link"))),
            one(n, "title"),
            one(n, "snippet"),
            one(n, "time"),
            one(n, "author"),
        )
        for n in doc.css(src["item"])
    ]


def crawl_source(client: httpx.Client, src: dict, keyword: str, max_pages: int = 50) -> list[dict]:
    """Everything one source shows for ``keyword``, following its config's pagination."""
    url = src["url"].replace("{keyword}", quote(keyword))
    if src["kind"] == "rss":
        return parse_feed(client.get(url).content, src["name"])
    if src["kind"] == "render":
        return hot_items_from_api(client, src)
    found: list[dict] = []
    cursor = src.get("start", "")
    for _ in range(max_pages):
        response = client.get(url.replace("{cursor}", quote(str(cursor))))
        assert response.status_code == 200, response.text[:200]
        if src["kind"] == "html":
            doc = Selector(text=response.text)
            found += html_items(doc, src, response.url)
            href = doc.css(src["next"]).get()
            if href is None:
                return found
            url = str(response.url.join(href))
        else:
            data = response.json()
            found += [
                item(
                    src["name"],
                    dotted(s, src["link"]),
                    dotted(s, src["title"]),
                    dotted(s, src["snippet"]),
                    dotted(s, src["time"]),
                    dotted(s, src["author"]),
                )
                for s in dotted(data, src["item"])
            ]
            cursor = dotted(data, src["cursor"])
            if not cursor:
                return found
    raise AssertionError(f"{src['name']}: more than {max_pages} pages")


def hot_items_from_api(client: httpx.Client, src: dict) -> list[dict]:
    """What the hot list page's script puts in the DOM (the browser test checks the real DOM)."""
    base = httpx.URL(src["url"])
    data = client.get(str(base.join("/hot/api/list"))).json()
    return [
        item(src["name"], str(base.join(i["url"])), i["title"], i["desc"], i["time"], i["host"]) for i in data["items"]
    ]


def crawl_all(client: httpx.Client, base_url: str) -> list[dict]:
    found = []
    for src in demo_mention_sources(base_url):
        for keyword in DEMO_BRAND["keywords"]:
            found += crawl_source(client, src, keyword)
            if "{keyword}" not in src["url"]:
                break
    names = [*DEMO_BRAND["keywords"], *DEMO_BRAND["aliases"]]
    return [f for f in found if any(n.lower() in (f["title"] + f["text"]).lower() for n in names)]


def as_found(m: DemoMention) -> dict:
    return {
        "source": m.source,
        "url": m.url,
        "title": m.title,
        "text": m.text,
        "posted_at": m.posted_at,
        "author": m.author,
    }


def key(d: dict) -> tuple:
    return d["source"], d["url"]


def expected_now(srv: DemoServer) -> list[DemoMention]:
    return expected_mentions(srv.crisis.phase, srv.now(), base_url=srv.base_url, timeline=srv.crisis_timeline())


def assert_crawl_matches(client: httpx.Client, srv: DemoServer) -> list[DemoMention]:
    expected = expected_now(srv)
    found = crawl_all(client, srv.base_url)
    assert sorted(found, key=key) == sorted((as_found(m) for m in expected), key=key)
    kept = {key(f) for f in found if matches_brand(f["title"] + " " + f["text"])}
    assert kept == {(m.source, m.url) for m in expected if m.is_about_brand}, "exclusion drops exactly the fruit"
    return expected


# --- tests ----------------------------------------------------------------------------------------


def test_brand_and_source_configs() -> None:
    assert DEMO_BRAND["name"] == "蜜橙" and "MiCheng" in DEMO_BRAND["aliases"] and "果园" in DEMO_BRAND["exclude"]
    sources = demo_mention_sources("http://127.0.0.1:1")
    assert {s["kind"] for s in sources} == {"rss", "html", "json", "render"}
    assert {s["authority"] for s in sources} == {1, 2, 3}
    assert len({s["name"] for s in sources}) == len(sources)
    for s in sources:
        assert s["url"].startswith("http://127.0.0.1:1/")
        if s["kind"] != "rss":
            assert {"item", "title", "link", "snippet", "time", "author"} <= set(s)
    assert all("{keyword}" in s["url"] for s in sources if s["kind"] in ("html", "json"))


def test_every_source_serves_what_the_ground_truth_says(srv: DemoServer, client: httpx.Client) -> None:
    expected = assert_crawl_matches(client, srv)
    unique = [m for m in expected if m.duplicate_of is None]
    assert {m.source for m in expected} == {s["name"] for s in demo_mention_sources(srv.base_url)} - {"热搜榜"}
    assert 300 < len(unique) < 700
    assert min(m.posted_at for m in expected) > NOW - timedelta(days=7)
    assert max(m.posted_at for m in expected) <= NOW


def test_fruit_exclusion_and_duplicates(srv: DemoServer) -> None:
    expected = expected_now(srv)
    fruit = [m for m in expected if not m.is_about_brand]
    brand = [m for m in expected if m.is_about_brand]
    assert len(fruit) >= 20 and any(has_crisis_word(m.title + m.text) for m in fruit), "a fruit 315 story"
    assert all(any(w in m.title + m.text for w in DEMO_BRAND["exclude"]) for m in fruit)
    assert not any(w in m.title + m.text for m in brand for w in DEMO_BRAND["exclude"])
    assert any("蜜橙" not in m.title + m.text for m in brand), "some mention only the alias MiCheng"

    by_url = {m.url: m for m in expected if m.duplicate_of is None}
    url_dups = [m for m in expected if m.duplicate_of == m.url]
    content_dups = [m for m in expected if m.duplicate_of not in (None, m.url)]
    assert len(url_dups) >= 10 and len(content_dups) >= 10
    assert {m.source for m in url_dups} >= {"机友论坛Atom"}
    for m in content_dups:
        original = by_url[m.duplicate_of]
        assert m.url != original.url and m.posted_at >= original.posted_at
        assert normalise_content(m.title + m.text) == normalise_content(original.title + original.text)


def test_baseline_is_quiet(srv: DemoServer) -> None:
    expected = expected_now(srv)
    brand = [m for m in expected if m.is_about_brand and m.duplicate_of is None]
    negatives = [m for m in brand if m.polarity == "neg"]
    assert len(unique_brand_negatives(expected, NOW)) < 5
    assert all(m.authority == 1 for m in negatives), "no alert from authority alone"
    assert not any(has_crisis_word(m.title + m.text) for m in negatives)
    day = [m for m in brand if m.posted_at > NOW - timedelta(days=1)]
    assert len(day) >= 20 and sum(m.polarity == "neg" for m in day) / len(day) < 0.3
    hourly = [len(unique_brand_negatives(expected, NOW - i * HOUR)) for i in range(1, 24 * 6)]
    assert statistics.mean(hourly) < 1 and max(hourly) <= 2 and statistics.pstdev(hourly) > 0


def level_numbers(expected: list[DemoMention], now: datetime) -> dict[str, Any]:
    negatives = unique_brand_negatives(expected, now)
    last_hour = [m for m in expected if m.is_about_brand and m.duplicate_of is None and now - HOUR < m.posted_at <= now]
    return {
        "negatives": len(negatives),
        "share": len(negatives) / max(1, len(last_hour)),
        "authority": max((m.authority for m in negatives), default=0),
        "crisis_word": any(has_crisis_word(m.title + m.text) for m in negatives),
    }


@pytest.mark.slow
def test_crisis_phases_escalate_then_stop(srv: DemoServer, client: httpx.Client) -> None:
    assert srv.start_crisis() == 1
    n1 = level_numbers(assert_crawl_matches(client, srv), NOW)
    assert n1["negatives"] >= 5 and n1["crisis_word"] and n1["authority"] == 1  # blue

    r = client.post(srv.url("/_demo/crisis?phase=2"))
    assert r.status_code == 200 and r.json()["phase"] == 2
    n2 = level_numbers(assert_crawl_matches(client, srv), NOW)
    assert n2["negatives"] >= 15 and n2["authority"] == 2  # yellow

    srv.crisis_phase(3)
    expected = assert_crawl_matches(client, srv)
    n3 = level_numbers(expected, NOW)
    assert n3["negatives"] >= 50 and n3["share"] >= 0.5 and n3["authority"] == 3  # red
    national = [m for m in unique_brand_negatives(expected, NOW) if m.authority == 3]
    assert {m.source for m in national} == {"财经要闻RSS", "热搜榜"}
    assert any(m.author in ("央视财经", "人民日报") for m in national)

    assert client.post(srv.url("/_demo/crisis?on=0")).json()["active"] is False
    srv.clock.shift(timedelta(minutes=30))
    after_stop = expected_now(srv)
    crisis_posts = [m for m in after_stop if m.crisis]
    assert crisis_posts and max(m.posted_at for m in crisis_posts) < NOW, "nothing new after the stop"
    srv.clock.shift(timedelta(hours=2))
    assert len(unique_brand_negatives(assert_crawl_matches(client, srv), srv.now())) < 5, "alerts can resolve"


def test_crisis_keeps_growing_while_on(srv: DemoServer, client: httpx.Client) -> None:
    srv.start_crisis()
    first = len(unique_brand_negatives(expected_now(srv), NOW))
    srv.clock.shift(timedelta(minutes=30))
    later = assert_crawl_matches(client, srv)
    assert len([m for m in later if m.crisis and m.posted_at > NOW]) >= 2
    assert len(unique_brand_negatives(later, srv.now())) >= first
    assert srv.start_crisis() == 1, "starting again while on changes nothing"


def test_phase_without_timeline_equals_a_direct_switch(srv: DemoServer) -> None:
    srv.crisis_phase(3)
    via_server = expected_mentions(3, NOW, base_url=srv.base_url, timeline=srv.crisis_timeline())
    assert via_server == expected_mentions(3, NOW, base_url=srv.base_url)
    assert expected_mentions(0, NOW) == expected_mentions(0, NOW)
    assert all(w in CRISIS_WORDS for w in ("投诉", "召回", "曝光", "维权", "假货"))


def test_control_endpoints_and_errors(srv: DemoServer, client: httpx.Client) -> None:
    assert client.get(srv.url("/_demo/crisis")).json() == {
        "phase": 0,
        "active": False,
        "now": NOW.isoformat(),
        "timeline": [],
    }
    assert client.post(srv.url("/_demo/crisis?phase=7")).status_code == 400
    assert client.post(srv.url("/_demo/crisis")).status_code == 400
    assert client.post(srv.url("/_demo/crisis?on=1")).json()["phase"] == 1
    shifted = client.post(srv.url("/_demo/clock?shift=60")).json()["now"]
    assert datetime.fromisoformat(shifted) == NOW + timedelta(minutes=1)
    assert client.get(srv.url("/social/api/search?keyword=x&cursor=abc")).status_code == 400
    assert client.get(srv.url("/social/api/search?keyword=%E4%B8%8D%E5%AD%98%E5%9C%A8")).json()["data"] == {
        "statuses": [],
        "next_cursor": None,
        "total_number": 0,
    }
    feed = client.get(srv.url("/feeds/news.xml"))
    assert feed.headers["content-type"].startswith("application/rss+xml")
    link = ET.fromstring(feed.content).find("channel/item/link").text
    page = client.get(link)
    assert page.status_code == 200 and "<article>" in page.text
    assert client.get(srv.url("/forum/thread/000.html")).status_code == 404
    shell = client.get(srv.url("/hot/list.html")).text
    assert "hot-item" not in Selector(text=shell).css("#hot-list").get() and "/hot/api/list" in shell
    assert json.loads(client.get(srv.url("/hot/api/list")).text)["items"]


@pytest.mark.slow
@pytest.mark.browser
def test_hot_list_selectors_work_on_the_rendered_page(srv: DemoServer, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    srv.crisis_phase(3)
    src = next(s for s in demo_mention_sources(srv.base_url) if s["kind"] == "render")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page()
            page.goto(src["url"])
            page.wait_for_selector("#hot-list[data-state=ready]")
            html = page.content()
        finally:
            browser.close()
    found = html_items(Selector(text=html), src, httpx.URL(src["url"]))
    assert found == hot_items_from_api(httpx.Client(), src)
    brand = [f for f in found if matches_brand(f["title"] + f["text"])]
    expected = [as_found(m) for m in expected_now(srv) if m.source == src["name"]]
    assert sorted(brand, key=key) == sorted(expected, key=key) and len(brand) == 2
