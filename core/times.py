"""One parser for every time a source shows: `parse_time(value, tz=..., now=...)`.

Sites write times in many ways: ISO 8601, ``2026/11/30 10:00``, ``11-30 10:00`` (no year), ``昨天 10:00``,
``3分钟前``, ``刚刚``, ``2026年11月30日 10时00分``, RFC 822 in feeds, Weibo's ``Tue Dec 01 10:00:00 +0800 2026``,
epoch seconds or milliseconds. Before this module an unknown form silently became the crawl time, and
twenty negative posts from eleven days ago, crawled today, opened a crisis. Now a time is either read or
reported as unreadable (None): the caller keeps the text (``time_raw``) and the item stays out of every
time window.

Rules:

- Naive absolute times are wall-clock times in ``tz`` (the configured time zone).
- Relative forms (``3分钟前``, ``昨天 10:00``, ``刚刚``) are against ``now``, the crawl time, in ``tz``.
- Year-less forms (``11-30 10:00``, ``11月30日``) are in ``now``'s year in ``tz``, and never in the future:
  a date that would be later than ``now`` (beyond a few minutes of clock skew) is last year's.
- Implausible results are unreadable: before 2000 (a placeholder year, a mangled epoch) or more than a
  day after ``now``; so are NaN, overflow and garbage. This function never raises on a value.
- ``CST`` in an RFC 822 / Java ``Date.toString()`` time is China Standard Time (UTC+8): that is what a
  Chinese server means by it, while the e-mail standard's reading (US Central) would put posts 14 hours off.

Speed: the common forms go through explicit regular expressions and the standard library (microseconds
per value); dateparser is only the fallback for the long tail (``1 hour ago``, ``上周``, other languages).
dateparser costs milliseconds per call (and ~0.3 s to load its language data on first use), which a
crawl of thousands of posts per source, or `ingest mentions` of a big file, would feel on every item.

Pure functions; imports nothing else from jingshao (the bottom layer).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from numbers import Real
from typing import Any
from zoneinfo import ZoneInfo

#: Times before this are junk (a placeholder year such as 1970 or 1900), not when something was posted.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: A read time more than this after the crawl time is junk (a wrong epoch unit, a placeholder 2099).
FUTURE_SLACK = timedelta(days=1)
#: A year-less date (``11-30 10:00``) or a bare clock time up to this much after ``now`` is a site clock
#: running a little ahead, not last year's (or yesterday's) post.
CLOCK_SKEW = timedelta(minutes=10)
#: What ``time_raw`` columns hold at most (String(200)).
RAW_MAX = 200

_CHINA = timezone(timedelta(hours=8), "CST")

# --- the explicit forms ------------------------------------------------------------------------------

# A clock time: 10:00, 10:00:00, 10时00分, 10点30分, 10时00分30秒, 10点, optionally after 上午 / 下午 ...
_CLOCK = (
    r"(?:(?P<ampm>上午|早上|早晨|凌晨|中午|下午|晚上|傍晚|夜里|夜间)\s*)?(?P<H>\d{1,2})"
    r"(?:\s*[:时点]\s*(?P<M>\d{1,2})(?:\s*分|\s*[:分]\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?|\s*[时点]钟?)"
)
_YMD = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    rf"(?:\s*T?\s*{_CLOCK})?"
)
_MD = re.compile(rf"(?P<mo>\d{{1,2}})\s*[-/.月]\s*(?P<d>\d{{1,2}})\s*日?(?:\s*{_CLOCK})?")
_CLOCK_ONLY = re.compile(_CLOCK)
_DAY_WORD = re.compile(rf"(?P<day>今天|今日|昨天|昨日|前天|大前天)(?:\s*{_CLOCK})?")
_DAYS_BACK = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3}
_JUST_NOW = {"刚刚", "刚才", "刚刚发布", "just now", "now"}
_NUMERAL = r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百半]+"
_AGO = re.compile(
    rf"(?P<n>{_NUMERAL})\s*(?:个)?\s*"
    r"(?P<unit>秒钟|秒|分钟|分|小时|钟头|天|日|周|星期|礼拜|月|年)\s*(?:之)?前"
)
_UNIT = {
    "秒钟": timedelta(seconds=1),
    "秒": timedelta(seconds=1),
    "分钟": timedelta(minutes=1),
    "分": timedelta(minutes=1),
    "小时": timedelta(hours=1),
    "钟头": timedelta(hours=1),
    "天": timedelta(days=1),
    "日": timedelta(days=1),
    "周": timedelta(weeks=1),
    "星期": timedelta(weeks=1),
    "礼拜": timedelta(weeks=1),
}
_DIGITS = re.compile(r"\d{1,20}(?:\.\d+)?")
_MONTH_NAME = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)
_CST = re.compile(r"\bCST\b")
# Labels sites put before the time: 发布于 2026-11-30, 发表时间：3分钟前, 更新于 ...
_LABEL = re.compile(
    r"^(?:(?:发布|发表|更新|编辑|回复|创建|评论)(?:于|时间)|发布|发表|于|时间"
    r"|posted(?: on| at)?|published)\s*:?\s*",
    re.I,
)
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass(frozen=True)
class TimeReading:
    """A time as read from a source: ``at`` when it could be read; ``raw`` keeps the source's text when it
    could not (store it in ``time_raw``); ``relative`` says the reading depends on the crawl time
    (``3分钟前``, ``昨天 10:00``, a bare ``10:00``, a year-less ``11-30 10:00``), so the same post may read
    differently on another crawl: keep such a time out of identities (fingerprints)."""

    at: datetime | None
    raw: str | None = None
    relative: bool = False

    @property
    def unreadable(self) -> bool:
        return self.at is None and self.raw is not None


def parse_time(value: Any, *, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The moment ``value`` names, as an aware datetime in ``tz``; None when it cannot be read or is
    implausible. ``now`` is the crawl time (aware); relative and year-less forms are read against it."""
    return read_time(value, tz=tz, now=now).at


def read_time(value: Any, *, tz: ZoneInfo, now: datetime) -> TimeReading:
    """Like :func:`parse_time`, with what a caller stores: the raw text when unreadable, and whether
    the form was relative. ``None`` or an empty value is "no time given" (``raw`` None as well)."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    raw = raw_text(value)
    if raw is None:
        return TimeReading(None)
    try:
        at, relative = _read(value, raw, tz, now)
    except (ValueError, OverflowError, OSError, TypeError, ArithmeticError):
        at, relative = None, False
    if at is not None:
        at = at if at.tzinfo else at.replace(tzinfo=tz)
        if EARLIEST <= at <= now + FUTURE_SLACK:
            return TimeReading(at.astimezone(tz), None, relative)
    return TimeReading(None, raw[:RAW_MAX], False)


def raw_text(value: Any) -> str | None:
    """The value as text, whitespace collapsed (lists joined, as a CSS query with several matches gives);
    None for nothing at all."""
    if value is None or isinstance(value, bool):  # JSON false / true is no time, not a time
        return None
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value if v is not None and str(v).strip())
    text = " ".join(str(value).split())
    return text or None


def _read(value: Any, raw: str, tz: ZoneInfo, now: datetime) -> tuple[datetime | None, bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, Real):
        return _epoch(float(value)), False
    text = _LABEL.sub("", unicodedata.normalize("NFKC", raw).strip()).strip()
    if not text:
        return None, False
    local_now = now.astimezone(tz)
    if _DIGITS.fullmatch(text):
        return _digits(text, tz), False
    for reader in (_relative, _day_word):
        at = reader(text, tz, local_now)
        if at is not None:
            return at, True
    for reader in (_iso, _ymd, _md, _clock_only, _rfc822):
        at = reader(text, tz, local_now)
        if at is not None:
            return at, reader in (_md, _clock_only)
    return _dateparser(text, tz, local_now)


def _epoch(n: float) -> datetime | None:
    if math.isnan(n) or math.isinf(n):
        return None
    if abs(n) > 1e11:  # milliseconds (seconds would be after the year 5000)
        n /= 1000
    return datetime.fromtimestamp(n, UTC)


def _digits(text: str, tz: ZoneInfo) -> datetime | None:
    if len(text) == 8 and text[:2] in ("19", "20"):  # 20261130 (epoch seconds this short are from 1970)
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=tz)
    if len(text) == 14 and text[:2] in ("19", "20"):  # 20261130100000
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=tz)
    return _epoch(float(text))


def _clock(m: re.Match[str]) -> tuple[int, int, int]:
    """(hour, minute, second) of a matched clock, 00:00:00 when there is none."""
    if m.group("H") is None:
        return 0, 0, 0
    hour = int(m.group("H"))
    afternoon = m.group("ampm") in ("下午", "晚上", "傍晚", "夜里", "夜间") and hour < 12
    if afternoon or (m.group("ampm") == "中午" and hour < 11):  # 中午12点 is noon, 中午1点 is 13:00
        hour += 12
    return hour, int(m.group("M") or 0), int(m.group("S") or 0)


def _at(day: date, m: re.Match[str], tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, *_clock(m), tzinfo=tz)


def _cn_number(s: str) -> float | None:
    """5, 2.5, 半, 三, 十五, 二十, 二十三, 一百 -> a number."""
    if s[0].isdigit():
        return float(s)
    if s == "半":
        return 0.5
    if "百" in s:
        hundreds, _, rest = s.partition("百")
        h = _CN_DIGIT.get(hundreds, 1 if not hundreds else None)
        r = _cn_number(rest) if rest else 0
        return None if h is None or r is None else h * 100 + r
    if "十" in s:
        tens, _, ones = s.partition("十")
        t = _CN_DIGIT.get(tens, 1 if not tens else None)
        o = _CN_DIGIT.get(ones, 0 if not ones else None)
        return None if t is None or o is None else t * 10 + o
    if len(s) == 1 and s in _CN_DIGIT:
        return _CN_DIGIT[s]
    return None


def _months_back(now: datetime, months: int) -> datetime:
    y, m = divmod(now.year * 12 + now.month - 1 - months, 12)
    for day in range(now.day, 27, -1):  # 3月31日 one month back is 2月28日 (or 29日)
        try:
            return now.replace(year=y, month=m + 1, day=day)
        except ValueError:
            continue
    return now.replace(year=y, month=m + 1, day=min(now.day, 28))


def _relative(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    if text.lower() in _JUST_NOW:
        return now
    m = _AGO.fullmatch(text)
    if not m:
        return None
    n = _cn_number(m.group("n"))
    if n is None:
        raise ValueError(f"not a number: {m.group('n')!r}")
    unit = m.group("unit")
    if unit in ("月", "年"):
        months = n * (12 if unit == "年" else 1)
        if months != int(months):  # 半个月: about 15 days
            return now - timedelta(days=30 * months)
        return _months_back(now, int(months))
    return now - n * _UNIT[unit]


def _day_word(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    m = _DAY_WORD.fullmatch(text)
    if not m:
        return None
    return _at(now.date() - timedelta(days=_DAYS_BACK[m.group("day")]), m, tz)


def _iso(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    if not text[:4].isdigit() or len(text) < 8:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _ymd(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    m = _YMD.fullmatch(text)
    if not m:
        return None
    return _at(date(int(m.group("y")), int(m.group("mo")), int(m.group("d"))), m, tz)


def _md(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """This year's date in tz, or last year's when this year's would be in the future."""
    m = _MD.fullmatch(text)
    if not m:
        return None
    month, day = int(m.group("mo")), int(m.group("d"))
    at = _at(date(now.year, month, day), m, tz) if _valid(now.year, month, day) else None
    if at is None or at > now + CLOCK_SKEW:
        at = _at(date(now.year - 1, month, day), m, tz)
    return at


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _clock_only(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """A bare 10:00 (sites show only the clock for today's posts): today, or yesterday if later than now."""
    m = _CLOCK_ONLY.fullmatch(text)
    if not m or m.group("M") is None and m.group("ampm") is None:
        return None  # "10点" alone is too thin; "下午3点" is a clock
    at = _at(now.date(), m, tz)
    return at - timedelta(days=1) if at > now + CLOCK_SKEW else at


def _rfc822(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """RFC 822 / 2822 (feeds, HTTP), Weibo's ``Tue Dec 01 10:00:00 +0800 2026`` and Java's
    ``Tue Dec 01 10:00:00 CST 2026``: the standard library's parser reads all three."""
    if not _MONTH_NAME.search(text):
        return None
    china = bool(_CST.search(text))
    try:
        at = parsedate_to_datetime(_CST.sub("+0800", text) if china else text)
    except (TypeError, ValueError, IndexError):
        return None
    if at is None:
        return None
    return at.replace(tzinfo=_CHINA) if china else at


def _dateparser(text: str, tz: ZoneInfo, now: datetime) -> tuple[datetime | None, bool]:
    """The long tail (``1 hour ago``, ``上周``, ``yesterday``, other layouts). Slow: see the module doc."""
    if len(text) > 64 or not any(ch.isdigit() or ch.isalpha() for ch in text):
        return None, False
    import dateparser

    settings = {
        "TIMEZONE": tz.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",
        "RELATIVE_BASE": now.replace(tzinfo=None),
    }
    # Relative first, so the caller learns the form was relative (its reading changes from crawl to crawl).
    for parsers, relative in ((["relative-time"], True), (["absolute-time"], False)):
        at = dateparser.parse(text, languages=["zh", "en"], settings={**settings, "PARSERS": parsers})
        if at is not None:
            return at, relative
    return None, False
