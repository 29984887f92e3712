"""The demo shop's review sources, crawled over real HTTP by following each product's config dict."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from parsel import Selector

from jingshao.crawlers.config import ReviewSource
from jingshao.demo.catalog import ITEMS_BY_ID, demo_products
from jingshao.demo.reviews_data import NEW_REVIEWS_PER_STATE, PLANS, DemoReview, demo_reviews
from jingshao.demo.server import DemoServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
JSONP = re.compile(r"^\s*[\w$.]+\((.*)\);?\s*$", re.S)
FIELDS = ("id", "rating", "text", "posted_at", "variant", "helpful", "has_images", "followup")


@pytest.fixture(scope="module")
def running() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


@pytest.fixture
def srv(running: DemoServer) -> Iterator[DemoServer]:
    running.set_state(0)
    yield running
    running.set_state(0)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


# --- a minimal config follower, independent of the real spider --------------------------------


def dotted(data: Any, path: str) -> Any:
    for part in path.split("."):
        if data is None:
            return None
        data = data[int(part)] if isinstance(data, list) else data.get(part)
    return data


def parse_time(value: Any) -> datetime:
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, SHANGHAI)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H:%M"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    raise AssertionError(f"unparseable review time {value!r}")


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    def text(v: Any) -> str | None:
        if isinstance(v, list):
            v = " ".join(str(x) for x in v)
        return " ".join(str(v).split()) if v not in (None, "") else None

    return {
        "id": text(raw["id"]),
        "rating": int(raw["rating"]),
        "text": text(raw["text"]),
        "posted_at": parse_time(raw["posted_at"]),
        "variant": text(raw["variant"]) or "",
        "helpful": int(raw["helpful"]),
        "has_images": bool(raw["images"]),
        "followup": text(raw["followup"]),
    }


def json_items(body: str, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    if cfg["kind"] == "jsonp":
        match = JSONP.match(body)
        assert match, body[:80]
        body = match.group(1)
    items = dotted(json.loads(body), cfg["items"])
    return [normalise({k: dotted(item, path) for k, path in cfg["fields"].items()}) for item in items]


def html_items(body: str, cfg: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    doc = Selector(text=body)
    items = []
    for node in doc.css(cfg["items"]):
        raw = {}
        for key, query in cfg["fields"].items():
            values = node.css(query).getall()
            raw[key] = values if key in ("variant", "images") else (values[0] if values else None)
        items.append(normalise(raw))
    return items, doc.css(cfg["next"]).get()


def crawl(
    client: httpx.Client, cfg: dict[str, Any], known: set[str] = frozenset(), max_pages: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """Follow ``cfg`` newest first; stop at an empty page, the last page or a known review id."""
    found: list[dict[str, Any]] = []
    start, size = cfg.get("start", 1), cfg.get("page_size", 10)
    url = cfg["url"].format(page=start, offset=start, limit=size)
    for index in range(max_pages):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:200])
        if cfg["kind"] == "html":
            items, next_href = html_items(response.text, cfg)
        else:
            items, next_href = json_items(response.text, cfg), None
        fresh = [r for r in items if r["id"] not in known]
        found += fresh
        if not items or len(fresh) < len(items):
            return found, index + 1
        if cfg["pagination"] == "next":
            if next_href is None:
                return found, index + 1
            url = str(response.url.join(next_href))
        elif cfg["pagination"] == "offset":
            if len(items) < size:
                return found, index + 1
            url = cfg["url"].format(offset=start + (index + 1) * size, limit=size, page=index + 2)
        else:
            url = cfg["url"].format(page=start + index + 1, offset=0, limit=size)
    raise AssertionError(f"more than {max_pages} pages")


def as_found(review: DemoReview) -> dict[str, Any]:
    return {name: getattr(review, name) for name in FIELDS}


def review_configs(base_url: str) -> dict[str, dict[str, Any]]:
    return {p.id: p.reviews for p in demo_products(base_url) if p.reviews is not None}


# --- tests ----------------------------------------------------------------------------------------


def test_every_priced_product_has_a_valid_review_config(srv: DemoServer) -> None:
    configs = review_configs(srv.base_url)
    priced = [p.id for p in demo_products(srv.base_url) if ITEMS_BY_ID[p.id].kind != "removed"]
    assert sorted(configs) == sorted(priced)
    assert {c["kind"] for c in configs.values()} == {"json", "jsonp", "html"}
    assert {c["pagination"] for c in configs.values()} == {"page", "offset", "next"}
    for cfg in configs.values():
        ReviewSource.model_validate(cfg)  # the shape the reviews spider reads
    assert next(p for p in demo_products(srv.base_url) if p.id == "youpin-10005").reviews is None


@pytest.mark.parametrize("product_id", list(PLANS))
def test_following_the_config_finds_exactly_the_reviews(srv: DemoServer, client: httpx.Client, product_id: str) -> None:
    cfg = review_configs(srv.base_url)[product_id]
    found, pages = crawl(client, cfg)
    expected = demo_reviews(product_id, 0)
    assert 200 <= len(expected) <= 400
    assert [r["id"] for r in found] == [r.id for r in expected]
    assert found == [as_found(r) for r in expected]
    assert pages >= len(expected) // 20


@pytest.mark.slow
def test_each_state_adds_a_page_of_newer_reviews_on_top(srv: DemoServer, client: httpx.Client) -> None:
    for product_id in PLANS:
        before = demo_reviews(product_id, 0)
        for state in (1, 2):
            now = demo_reviews(product_id, state)
            assert len(now) == len(before) + NEW_REVIEWS_PER_STATE
            assert now[NEW_REVIEWS_PER_STATE:] == before
            assert now[0].posted_at > before[0].posted_at
            before = now

    cfgs = review_configs(srv.base_url)
    known = {pid: {r["id"] for r in crawl(client, cfg)[0]} for pid, cfg in cfgs.items()}
    for state in (1, 2):
        srv.set_state(state)
        for product_id, cfg in cfgs.items():
            fresh, pages = crawl(client, cfg, known[product_id])
            expected_new = demo_reviews(product_id, state)[:NEW_REVIEWS_PER_STATE]
            assert fresh == [as_found(r) for r in expected_new], (product_id, state)
            assert pages <= 3, "an incremental crawl stops at the first known review"
            known[product_id] |= {r["id"] for r in fresh}


def test_reviews_are_realistic_and_consistent() -> None:
    every = [r for pid in PLANS for r in demo_reviews(pid, 2)]
    texts = " ".join(r.text for r in every)
    for phrase in ("不太好", "一点都不快", "超级快", "偏小", "有点色差", "不太", "👍"):
        assert phrase in texts, phrase
    assert any(re.fullmatch(r"[\x00-\x7f]+", r.text) for r in every), "some English reviews"
    assert any(len(r.text) > 80 for r in every), "some long reviews"
    for r in every:
        assert r.posted_at.tzinfo is not None and r.posted_at.utcoffset().total_seconds() == 8 * 3600
        assert r.polarity in ("pos", "neg") and r.aspects or re.search(r"[a-z]", r.text)
        assert (r.rating >= 3) if r.polarity == "pos" else (r.rating <= 3), r
        assert 1 <= r.rating <= 5 and r.helpful >= 0 and r.variant
        assert (r.followup is None) == (r.followup_at is None)
        if r.followup_at is not None:
            assert r.followup_at > r.posted_at
    for pid in PLANS:
        reviews = demo_reviews(pid, 2)
        assert [r.posted_at for r in reviews] == sorted((r.posted_at for r in reviews), reverse=True)
        assert len({r.id for r in reviews}) == len(reviews)
        assert any(r.followup for r in reviews) and any(r.has_images for r in reviews)
        assert 0.55 < sum(r.polarity == "pos" for r in reviews) / len(reviews) < 0.9
    aspects = {a for r in every for a, _ in r.aspects}
    assert {"物流", "质量", "尺码", "客服", "包装", "价格", "屏幕", "续航", "味道", "新鲜度"} <= aspects
    shoes = {a for r in demo_reviews("tmall-660123456789", 0) for a, _ in r.aspects}
    assert "尺码" in shoes and "屏幕" not in shoes
    assert demo_reviews("jd-100012043978", 1) == demo_reviews("jd-100012043978", 1)  # deterministic


def test_nuts_get_a_spike_of_complaints_in_state_2() -> None:
    new = demo_reviews("songshu-632145678901", 2)[:NEW_REVIEWS_PER_STATE]
    assert sum(r.polarity == "neg" for r in new) >= 14
    assert sum(r.polarity == "neg" for r in demo_reviews("songshu-632145678901", 1)[:NEW_REVIEWS_PER_STATE]) <= 10


def test_endpoint_details(srv: DemoServer, client: httpx.Client) -> None:
    jsonp = client.get(srv.url("/youpin/api/comments?productId=10001&page=1&pageSize=10&callback=fetchJSON_comment98"))
    assert jsonp.headers["content-type"].startswith("application/javascript")
    assert jsonp.text.startswith("fetchJSON_comment98({") and jsonp.text.endswith("});")
    data = client.get(srv.url("/jd/api/comments?productId=100012043978&page=0&pageSize=10")).json()
    assert data["maxPage"] == 38 and len(data["comments"]) == 10
    assert data["comments"][0]["creationTime"] == demo_reviews("jd-100012043978", 0)[0].posted_at.strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    past = client.get(srv.url("/jd/api/comments?productId=100012043978&page=38&pageSize=10")).json()
    assert past["comments"] == []
    assert client.get(srv.url("/jd/api/comments?productId=1&page=0")).status_code == 404
    assert client.get(srv.url("/jd/api/comments?productId=100012043978&page=0&callback=alert(1)")).status_code == 400
    assert client.get(srv.url("/songshu/api/rate?itemId=632145678901&offset=0&limit=500")).status_code == 400

    first = client.get(srv.url("/tmall/reviews/660123456789.htm?page=1"))
    assert "charset=gbk" in first.headers["content-type"]
    first.content.decode("gbk")  # real GBK bytes; emoji travel as character references
    last = client.get(srv.url("/tmall/reviews/660123456789.htm?page=15"))
    assert Selector(text=last.text).css("a.next").get() is None
    assert Selector(text=last.text).css("div.rate-item")

    rates = client.get(srv.url("/songshu/api/rate?itemId=632145678901&offset=270&limit=20")).json()
    assert rates["total"] == 280 and len(rates["items"]) == 10
