"""core.times: every form a source shows, read against a fixed crawl time in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jingshao.core.times import CLOCK_SKEW, parse_time, read_time

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=TZ)  # the crawl time: Tuesday 1 Dec 2026, 10:30 in Shanghai


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def read(value, now: datetime = NOW) -> datetime | None:
    return parse_time(value, tz=TZ, now=now)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ISO, with and without a zone (naive is Shanghai wall-clock time)
        ("2026-11-30T10:00:00+08:00", at(2026, 11, 30, 10)),
        ("2026-11-30T02:00:00Z", at(2026, 11, 30, 10)),
        ("2026-11-30T10:00:00.123+0800", at(2026, 11, 30, 10, 0, 0, 123000)),
        ("2026-11-30T10:00:00", at(2026, 11, 30, 10)),
        ("2026-11-30 10:00:00", at(2026, 11, 30, 10)),
        ("2026-11-30 10:00", at(2026, 11, 30, 10)),
        ("2026-11-30", at(2026, 11, 30)),
        # slashes and dots
        ("2026/11/30 10:00", at(2026, 11, 30, 10)),
        ("2026/11/30 10:00:05", at(2026, 11, 30, 10, 0, 5)),
        ("2026/11/30", at(2026, 11, 30)),
        ("2026.11.30", at(2026, 11, 30)),
        ("2026.11.30 10:00", at(2026, 11, 30, 10)),
        ("2026/1/5 9:05", at(2026, 1, 5, 9, 5)),
        ("20261130", at(2026, 11, 30)),
        # RFC 822 (feeds), Weibo, Java's Date.toString() on a Chinese server
        ("Mon, 30 Nov 2026 10:00:00 GMT", at(2026, 11, 30, 18)),
        ("Mon, 30 Nov 2026 10:00:00 +0800", at(2026, 11, 30, 10)),
        ("Tue Dec 01 10:00:00 +0800 2026", at(2026, 12, 1, 10)),
        ("Tue Dec 01 10:00:00 CST 2026", at(2026, 12, 1, 10)),  # China Standard Time, not US Central
        # epoch seconds and milliseconds: int, float, digit string
        (1796004000, at(2026, 11, 30, 10)),
        (1796004000000, at(2026, 11, 30, 10)),
        (1796004000.5, at(2026, 11, 30, 10, 0, 0, 500000)),
        ("1796004000", at(2026, 11, 30, 10)),
        ("1796004000000", at(2026, 11, 30, 10)),
        ("1796004000.0", at(2026, 11, 30, 10)),
        # an aware or naive datetime passes through (naive = Shanghai)
        (datetime(2026, 11, 30, 2, tzinfo=UTC), at(2026, 11, 30, 10)),
        (datetime(2026, 11, 30, 10), at(2026, 11, 30, 10)),
    ],
)
def test_absolute_forms(raw, expected):
    got = read(raw)
    assert got == expected
    assert got.tzinfo is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026年11月30日 10时00分", at(2026, 11, 30, 10)),
        ("2026年11月30日 10时05分30秒", at(2026, 11, 30, 10, 5, 30)),
        ("2026年11月30日 10:00", at(2026, 11, 30, 10)),
        ("2026年11月30日10:00", at(2026, 11, 30, 10)),
        ("2026年11月30日", at(2026, 11, 30)),
        ("2026年1月5日 9点30分", at(2026, 1, 5, 9, 30)),
        ("2026年11月30日 下午3:20", at(2026, 11, 30, 15, 20)),
        ("2026年11月30日 晚上8点", at(2026, 11, 30, 20)),
        ("11月30日 10:00", at(2026, 11, 30, 10)),
        ("11月30日", at(2026, 11, 30)),
        ("11-30 10:00", at(2026, 11, 30, 10)),
        ("11/30 10:00", at(2026, 11, 30, 10)),
        ("11-30", at(2026, 11, 30)),
        ("今天 08:15", at(2026, 12, 1, 8, 15)),
        ("今天08:15", at(2026, 12, 1, 8, 15)),
        ("昨天 10:00", at(2026, 11, 30, 10)),
        ("昨天 23:59:59", at(2026, 11, 30, 23, 59, 59)),
        ("昨天", at(2026, 11, 30)),
        ("前天 10:00", at(2026, 11, 29, 10)),
        ("前天", at(2026, 11, 29)),
        ("3分钟前", NOW - timedelta(minutes=3)),
        ("3 分钟前", NOW - timedelta(minutes=3)),
        ("2小时前", NOW - timedelta(hours=2)),
        ("2个小时前", NOW - timedelta(hours=2)),
        ("5秒前", NOW - timedelta(seconds=5)),
        ("3天前", NOW - timedelta(days=3)),
        ("1周前", NOW - timedelta(weeks=1)),
        ("两小时前", NOW - timedelta(hours=2)),
        ("十分钟前", NOW - timedelta(minutes=10)),
        ("二十三分钟前", NOW - timedelta(minutes=23)),
        ("半小时前", NOW - timedelta(minutes=30)),
        ("1个月前", at(2026, 11, 1, 10, 30)),
        ("1年前", at(2025, 12, 1, 10, 30)),
        ("刚刚", NOW),
        ("10:00", at(2026, 12, 1, 10)),  # a bare clock is today's ...
        ("23:00", at(2026, 11, 30, 23)),  # ... or yesterday's when today's is still to come
        ("下午3:00", at(2026, 11, 30, 15)),
        # full-width digits and punctuation, labels before the time
        ("２０２６－１１－３０　１０：００", at(2026, 11, 30, 10)),
        ("昨天　10：00", at(2026, 11, 30, 10)),
        ("发布于 2026-11-30 10:00", at(2026, 11, 30, 10)),
        ("发表时间：3分钟前", NOW - timedelta(minutes=3)),
    ],
)
def test_chinese_forms(raw, expected):
    assert read(raw) == expected


@pytest.mark.parametrize(
    "raw", ["今天 08:15", "昨天 10:00", "前天", "3分钟前", "刚刚", "10:00", "11-30 10:00", "11月30日", "1 hour ago"]
)
def test_relative_forms_say_so(raw):
    """A relative (or year-less) form may read differently on another crawl; review fingerprints leave it out."""
    assert read_time(raw, tz=TZ, now=NOW).relative


@pytest.mark.parametrize(
    "raw", ["2026-11-30 10:00", "2026年11月30日 10时00分", "1796004000", "Mon, 30 Nov 2026 10:00:00 GMT"]
)
def test_absolute_forms_are_not_relative(raw):
    assert not read_time(raw, tz=TZ, now=NOW).relative


def test_relative_forms_use_the_crawl_time_in_the_configured_zone():
    """`now` given in UTC: 昨天 and 今天 are Shanghai's days (UTC 2026-11-30 20:00 is 12-01 04:00 there)."""
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert read("今天 01:00", now) == at(2026, 12, 1, 1)
    assert read("昨天 10:00", now) == at(2026, 11, 30, 10)
    assert read("2小时前", now) == at(2026, 12, 1, 2)
    assert read("昨天 10:00", now.replace(hour=15)) == at(2026, 11, 29, 10)  # 23:00 in Shanghai on 11-30
    assert read("昨天 10:00", now) != read("昨天 10:00", now - timedelta(days=1))


def test_year_less_dates_are_never_in_the_future_across_new_year():
    new_year = datetime(2027, 1, 1, 0, 5, tzinfo=TZ)
    assert read("12-31 23:50", new_year) == at(2026, 12, 31, 23, 50)
    assert read("12月31日 23:50", new_year) == at(2026, 12, 31, 23, 50)
    assert read("01-01 00:03", new_year) == at(2027, 1, 1, 0, 3)
    assert read("1月1日", new_year) == at(2027, 1, 1)
    assert read("01-02 10:00", new_year) == at(2026, 1, 2, 10)  # tomorrow would be the future: last year
    assert read("昨天 23:50", new_year) == at(2026, 12, 31, 23, 50)
    assert read("23:50", new_year) == at(2026, 12, 31, 23, 50)
    # The year is the crawl time's year in Shanghai, not in UTC (still 2026 there at 16:05 UTC).
    assert read("12-31 23:50", datetime(2026, 12, 31, 16, 5, tzinfo=UTC)) == at(2026, 12, 31, 23, 50)
    # Last year's Christmas, read on 1 December.
    assert read("12-25 10:00") == at(2025, 12, 25, 10)


def test_a_site_clock_a_little_ahead_is_not_last_year():
    ahead = NOW + CLOCK_SKEW - timedelta(minutes=1)
    assert read(ahead.strftime("%m-%d %H:%M")) == ahead.replace(second=0)
    assert read((NOW + timedelta(hours=2)).strftime("%m-%d %H:%M")) == at(2025, 12, 1, 12, 30)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        True,
        False,
        "garbage",
        "未知",
        "—",
        "abc 12",
        "12",
        "5",
        "13-45",
        "2026-02-30",
        "11-31",
        "25:00",
        "2026年13月1日",
        "99999999999999999999",
        "1e400",
        float("nan"),
        float("inf"),
        10**30,
        "2099-01-01",
        "1970-01-01",
        "1900-01-01 00:00:00",
        0,
        -1,
        "0",
        [],
        {},
        "x" * 500,
        "9999天前",
        "999999999999999999年前",
    ],
)
def test_garbage_and_implausible_times_are_none_never_an_exception(raw):
    assert read(raw) is None


def test_more_than_a_day_after_the_crawl_time_is_implausible():
    assert read((NOW + timedelta(hours=23)).isoformat()) == NOW + timedelta(hours=23)
    assert read((NOW + timedelta(hours=25)).isoformat()) is None


def test_unreadable_keeps_the_raw_text_and_no_time_is_not_unreadable():
    r = read_time("  发布 于 某天  ", tz=TZ, now=NOW)
    assert r.at is None and r.raw == "发布 于 某天" and r.unreadable
    long = read_time("y" * 500, tz=TZ, now=NOW)
    assert long.unreadable and len(long.raw) == 200
    for nothing in (None, "", "  ", []):
        r = read_time(nothing, tz=TZ, now=NOW)
        assert r.at is None and r.raw is None and not r.unreadable
    assert read_time(["昨天", "10:00"], tz=TZ, now=NOW).at == at(2026, 11, 30, 10)  # a CSS query's matches


def test_the_long_tail_falls_back_to_dateparser():
    assert read("1 hour ago") == NOW - timedelta(hours=1)
    assert read("yesterday") == NOW - timedelta(days=1)
    assert read("30 November 2026 10:00") == at(2026, 11, 30, 10)


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_time("2026-11-30", tz=TZ, now=datetime(2026, 12, 1))


def test_common_forms_are_fast():
    """The explicit paths, not dateparser: 10,000 common values well under a second."""
    import time

    values = [
        "2026/11/30 10:00",
        "11-30 10:00",
        "昨天 10:00",
        "3分钟前",
        "Mon, 30 Nov 2026 10:00:00 GMT",
        "2026年11月30日 10时00分",
        "1796004000000",
        "2026-11-30T10:00:00+08:00",
        "刚刚",
        "2小时前",
    ] * 1000
    t0 = time.perf_counter()
    assert all(read(v) is not None for v in values)
    assert time.perf_counter() - t0 < 2.0
