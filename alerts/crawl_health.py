"""The rule source of the admin alerts (issue 12): blocked streaks per competitor and expired cookies.

Reads the stored facts (:mod:`jingshao.storage.blocking`, :mod:`jingshao.storage.cookies`) and runs the
pure rules of :mod:`jingshao.alerts.rules.blocking`. Its families go to ``admin`` channels only (Route).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from jingshao.alerts.rules.blocking import (
    BlockedStreakFact,
    ExpiredCookieFact,
    blocked_streak_rule,
    cookie_expired_rule,
)
from jingshao.alerts.settings import AlertsConfig
from jingshao.storage.blocking import blocked_streaks
from jingshao.storage.cookies import jar_health


class CrawlHealthSource:
    families = frozenset({"crawl_blocked", "cookie_expired"})

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config

    def evaluate(self, session: Session, now: datetime, book):
        from jingshao.alerts.engine import SourceResult

        streaks = [
            BlockedStreakFact(s.competitor, s.crawls, s.since, s.last_reason, s.blocked_pages)
            for s in blocked_streaks(session, self.config.blocked_crawls, now=now)
        ]
        expired = []
        for h in jar_health(session):
            if h.status == "expired":
                expired.append(
                    ExpiredCookieFact(h.scope, h.source, h.expired_at or now, h.reason or "登录墙", h.refresh or "")
                )
            elif h.expires_at is not None and h.expires_at <= now:
                expired.append(ExpiredCookieFact(h.scope, h.source, h.expires_at, "已过有效期", h.refresh or ""))
        instances = blocked_streak_rule(streaks, now, self.config.blocked_crawls) + cookie_expired_rule(expired, now)
        return SourceResult(instances, self.families)
