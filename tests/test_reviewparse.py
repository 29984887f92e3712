"""Review page parsing for each source shape (pure; no network)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jingshao.core.times import parse_time
from jingshao.crawlers.config import ReviewSource
from jingshao.crawlers.reviewparse import ReviewParseError, page_url, parse_review_page

TZ = ZoneInfo("Asia/Shanghai")

JSON_SRC = ReviewSource.model_validate(
    {
        "kind": "json",
        "url": "http://x/api?page={page}",
        "items": "data.comments",
        "fields": {
            "id": "id",
            "text": "content",
            "rating": "score",
            "posted_at": "creationTime",
            "variant": "productColor",
            "helpful": "usefulVoteCount",
            "images": "images",
            "followup": "afterUserComment.content",
        },
    }
)


def test_json_page_fields():
    body = (
        '{"data": {"comments": ['
        '{"id": 11, "content": "物流很快，质量不错", "score": 5, "creationTime": "2026-11-20 12:30:00",'
        ' "productColor": "黑色", "usefulVoteCount": "3", "images": ["a.jpg"],'
        ' "afterUserComment": {"content": "用了一周，电池不太行"}},'
        '{"id": 12, "content": "  ", "score": 1},'
        '{"id": 13, "content": "一般般", "score": "3分", "creationTime": 1763613000000, "images": []}]}}'
    )
    page = parse_review_page(body, JSON_SRC, tz=TZ)
    assert page.skipped == 1
    a, b = page.reviews
    assert (a.external_id, a.text, a.rating, a.variant, a.helpful, a.has_images, a.followup) == (
        "11",
        "物流很快，质量不错",
        5,
        "黑色",
        3,
        True,
        "用了一周，电池不太行",
    )
    assert a.posted_at == datetime(2026, 11, 20, 12, 30, tzinfo=TZ)
    assert b.rating == 3 and b.has_images is False
    assert b.posted_at == datetime.fromtimestamp(1763613000, TZ)
    assert a.fingerprint(1) != a.fingerprint(2)  # the same id on another product is another review


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/img/0.jpg", True),
        (["a.jpg"], True),
        ("2", True),
        (3, True),
        ("0", False),
        (0, False),
        ([], False),
        (None, False),
        ("", False),
    ],
)
def test_has_images_from_lists_urls_and_counts(value, expected):
    from jingshao.crawlers.reviewparse import _has_images

    assert _has_images(value) is expected


def test_jsonp_and_errors():
    src = JSON_SRC.model_copy(update={"kind": "jsonp"})
    page = parse_review_page('fetchJSON_comment98({"data": {"comments": [{"id": 1, "content": "好"}]}});', src, tz=TZ)
    assert [r.text for r in page.reviews] == ["好"]
    with pytest.raises(ReviewParseError, match="no list at JSON path 'data.comments'"):
        parse_review_page('{"data": {}}', JSON_SRC, tz=TZ)
    with pytest.raises(ReviewParseError, match="not valid JSON"):
        parse_review_page("<html>blocked</html>", JSON_SRC, tz=TZ)


def test_html_page_with_next_link():
    src = ReviewSource.model_validate(
        {
            "kind": "html",
            "url": "http://x/r.htm?page=1",
            "pagination": "next",
            "items": "div.rate-item",
            "next": "a.next::attr(href)",
            "fields": {
                "id": "::attr(data-id)",
                "text": ".content::text",
                "rating": "::attr(data-star)",
                "posted_at": ".date::text",
                "followup": ".append-content::text",
            },
        }
    )
    body = """<div class="rate-item" data-id="r1" data-star="4"><p class="content">尺码偏小，建议拍大一码</p>
      <span class="date">2026年11月02日</span>
      <div class="append"><p class="append-content">洗了不<br>掉色</p></div></div>
      <div class="rate-item" data-id="r2" data-star="5"><p class="content">很舒服</p></div>
      <a class="next" href="r.htm?page=2">下一页</a>"""
    page = parse_review_page(body, src, tz=TZ, page_url="http://x/shop/r.htm?page=1")
    assert [(r.external_id, r.rating) for r in page.reviews] == [("r1", 4), ("r2", 5)]
    assert page.reviews[0].text == "尺码偏小，建议拍大一码"
    assert page.reviews[0].followup == "洗了不 掉色"  # every text node of the match, joined
    assert page.reviews[0].posted_at == datetime(2026, 11, 2, tzinfo=TZ)
    assert page.next_url == "http://x/shop/r.htm?page=2"


def test_fingerprint_without_id_uses_text_and_time():
    src = JSON_SRC.model_copy(update={"fields": JSON_SRC.fields.model_copy(update={"id": None})})
    a = parse_review_page('{"data":{"comments":[{"content":"好  用","creationTime":"2026-01-01"}]}}', src, tz=TZ)
    b = parse_review_page('{"data":{"comments":[{"content":"好 用","creationTime":"2026-01-01"}]}}', src, tz=TZ)
    assert a.reviews[0].fingerprint(1) == b.reviews[0].fingerprint(1)


def test_unreadable_and_relative_review_times():
    """An unreadable time is kept as the site wrote it (posted_at None); a relative one (3天前) is read
    against the crawl time but left out of the fingerprint, which must not change from crawl to crawl."""
    src = JSON_SRC.model_copy(update={"fields": JSON_SRC.fields.model_copy(update={"id": None})})
    body = (
        '{"data":{"comments":[{"content":"不错","creationTime":"很久以前"},'
        '{"content":"好用","creationTime":"3天前"},{"content":"一般","creationTime":"昨天 10:00"}]}}'
    )
    now = datetime(2026, 12, 1, 10, 30, tzinfo=TZ)
    odd, ago, yesterday = parse_review_page(body, src, tz=TZ, now=now).reviews
    assert (odd.posted_at, odd.time_raw) == (None, "很久以前")
    assert (ago.posted_at, ago.time_raw) == (now - timedelta(days=3), None)
    assert yesterday.posted_at == datetime(2026, 11, 30, 10, tzinfo=TZ)
    later = parse_review_page(body, src, tz=TZ, now=now + timedelta(hours=30)).reviews
    assert later[1].posted_at != ago.posted_at
    assert [r.fingerprint(1) for r in later] == [r.fingerprint(1) for r in (odd, ago, yesterday)]


def test_page_urls_and_config_validation():
    off = ReviewSource.model_validate(
        {
            "kind": "json",
            "url": "http://x/r?o={offset}&l={limit}",
            "pagination": "offset",
            "start": 0,
            "page_size": 20,
            "items": "items",
            "fields": {"text": "t"},
        }
    )
    assert [page_url(off, i) for i in range(3)] == [
        "http://x/r?o=0&l=20",
        "http://x/r?o=20&l=20",
        "http://x/r?o=40&l=20",
    ]
    assert page_url(JSON_SRC, 2) == "http://x/api?page=3"
    with pytest.raises(ValueError, match=r"needs an \{offset\} placeholder"):
        ReviewSource.model_validate(
            {"kind": "json", "url": "http://x/r", "pagination": "offset", "items": "i", "fields": {"text": "t"}}
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20T12:30:00+08:00", datetime(2026, 11, 20, 12, 30, tzinfo=TZ)),
        ("2026/11/20", datetime(2026, 11, 20, tzinfo=TZ)),
        ("1763613000", datetime.fromtimestamp(1763613000, TZ)),
        ("昨天", datetime(2026, 11, 30, tzinfo=TZ)),
        ("", None),
        ("99999999999999999999", None),  # overflow
        (float("nan"), None),
        ("2099-01-01", None),  # the future
        ("1970-01-01", None),  # a placeholder
        (True, None),
    ],
)
def test_parse_time(raw, expected):
    assert parse_time(raw, tz=TZ, now=datetime(2026, 12, 1, 10, 30, tzinfo=TZ)) == expected
