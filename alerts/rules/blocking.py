"""Admin alerts about the crawler itself (issue 12), pure like every rule: facts in, instances out.

- :func:`blocked_streak_rule`: a competitor whose pages were mostly blocked (login wall, captcha,
  403/412/429, empty shell, paused domain) in ``min_crawls`` products crawls in a row. Yellow: the team is
  blind on that competitor until someone refreshes cookies or slows the crawl.
- :func:`cookie_expired_rule`: a cookie jar that met a login wall after it was sent, with the command that
  refreshes it.

Both families are in :data:`~jingshao.alerts.rules.model.ADMIN_FAMILIES`: they go to channels with the
``admin`` role, never to the business group. They are states: they resolve (with a notice) once the
competitor is read again or the cookies are replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jingshao.core.formatting import clock

from .model import AlertInstance, fingerprint


@dataclass(frozen=True)
class BlockedStreakFact:
    competitor: str
    crawls: int
    since: datetime
    last_reason: str | None
    blocked_pages: int


@dataclass(frozen=True)
class ExpiredCookieFact:
    scope: str  # the competitor or domain the cookies are for
    source: str  # where they come from (a file path or an env variable name), never the values
    since: datetime
    reason: str
    refresh: str  # the command / steps that refresh them


def blocked_streak_rule(streaks: Iterable[BlockedStreakFact], now: datetime, min_crawls: int) -> list[AlertInstance]:
    out = []
    for s in streaks:
        if s.crawls < min_crawls:
            continue
        key = f"competitor:{s.competitor}"
        reason = s.last_reason or "blocked"
        out.append(
            AlertInstance(
                fingerprint=fingerprint("crawl_blocked", key),
                family="crawl_blocked",
                level="yellow",
                subject=s.competitor,
                subject_key=key,
                rule="crawl_blocked.streak",
                summary=f"连续 {s.crawls} 次抓取被拦截：{reason}",
                facts=[
                    ("连续被拦截", f"{s.crawls} 次抓取（阈值 {min_crawls} 次）"),
                    ("被拦截页面", f"{s.blocked_pages} 页"),
                    ("最近原因", reason),
                    ("开始于", clock(s.since)),
                    ("处理建议", "更新该竞品的 Cookie（见 jingshao status）、降低抓取频率，或稍后自动恢复"),
                ],
                at=now,
                metrics={"crawls": float(s.crawls), "blocked_pages": float(s.blocked_pages)},
            )
        )
    return out


def cookie_expired_rule(expired: Iterable[ExpiredCookieFact], now: datetime) -> list[AlertInstance]:
    out = []
    for e in expired:
        key = f"cookies:{e.scope}"
        out.append(
            AlertInstance(
                fingerprint=fingerprint("cookie_expired", key),
                family="cookie_expired",
                level="yellow",
                subject=e.scope,
                subject_key=key,
                rule="cookie_expired.login_wall",
                summary=f"Cookie 已失效（{e.reason}），请更新：{e.refresh}",
                facts=[
                    ("Cookie 来源", e.source),
                    ("失效时间", clock(e.since)),
                    ("原因", e.reason),
                    ("更新方法", e.refresh),
                ],
                at=now,
            )
        )
    return out
