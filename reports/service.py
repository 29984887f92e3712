"""The report entry point the scheduler and `jingshao report` call."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import exists, select

from jingshao.config import Config
from jingshao.core.triggers import parse_trigger
from jingshao.reports import build_report, send_report
from jingshao.reports.ledger import DbSendLedger
from jingshao.reports.mailer import recipients_hash
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation

from .data import local_range

log = logging.getLogger("jingshao.reports")


def report_dir(cfg: Config) -> Path:
    """The report folder; relative to the config file's folder, like the SQLite file."""
    out = Path(cfg.report.out_dir)
    if not out.is_absolute() and cfg.source is not None:
        out = cfg.source.parent / out
    return out


def daily_report(
    cfg: Config, *, send: bool, date_from: date | None = None, date_to: date | None = None, out_dir: Path | None = None
) -> dict[str, Any]:
    """Build (and with `send`, mail once) the report for yesterday or the given dates."""
    db = open_database(cfg.database_url)
    try:
        built = build_report(db, cfg.tz, date_from, date_to, out_dir or report_dir(cfg), settings=cfg.report)
        out: dict[str, Any] = {"html": str(built.html_path), "kb": round(built.size_bytes / 1024, 1)}
        if send:
            if cfg.report.smtp is None:
                raise ValueError("report.smtp is not configured: cannot send the report (the HTML was saved)")
            outcome = send_report(built, cfg.report.smtp, DbSendLedger(db))
            out["send"] = outcome.status
            if outcome.status == "failed":
                out["_outcome"] = "failed"
                out["error"] = outcome.error
                log.error("report %s not sent: %s", built.report_key, outcome.error)
        return out
    finally:
        db.dispose()


def has_data_on(cfg: Config, day: date) -> bool:
    """Whether anything was observed or crawled on the local day `day` (a product seen, a crawl run)."""

    start, end = local_range(day, day, cfg.tz)
    db = open_database(cfg.database_url)
    try:
        with db.session() as s:
            seen = s.scalar(select(exists().where(Observation.first_seen_at < end, Observation.last_seen_at >= start)))
            crawled = s.scalar(select(exists().where(CrawlRun.started_at >= start, CrawlRun.started_at < end)))
        return bool(seen or crawled)
    finally:
        db.dispose()


def interactive_report_day(cfg: Config, now: datetime | None = None) -> tuple[date, str]:
    """The day `jingshao report` covers without --date, and why: the last complete day (yesterday)
    when it has data, else today so far (a new user's first data is today's). The scheduled report
    always covers yesterday."""
    today = (now or datetime.now(cfg.tz)).astimezone(cfg.tz).date()
    yesterday = today - timedelta(days=1)
    if has_data_on(cfg, yesterday):
        return yesterday, f"昨天 yesterday {yesterday}: 最近一个完整的日子 the last complete day"
    return today, (
        f"今天到目前 today so far {today}: 昨天 {yesterday} 没有数据 "
        f"(yesterday has no data; --date YYYY-MM-DD picks a day)"
    )


MAX_CATCHUP_ATTEMPTS = 60  # SMTP attempts (3 per try) before a day is given up: about 3 h of retries


def report_enabled(cfg: Config) -> bool:
    """Whether the scheduled daily report exists at all: `[report] enabled` and a `schedule.report`
    other than "off". (`jingshao report` from the command line works either way.)"""
    spec = (cfg.schedule.report or "").strip().lower()
    return bool(cfg.report.enabled) and spec not in ("", "off")


def last_due_report_date(cfg: Config, now: datetime) -> date | None:
    """The report day of the latest report that should have gone out by `now` (reports cover the
    day before they are sent), or None.

    Crontab schedules: the day before the latest fire time at or before `now` (looking back two days).

    Interval schedules ("every 6h", "every 1d"): their fire times depend on when the scheduler
    started, so this only uses what is certain: an interval of at most one day fires exactly once in
    any stretch of that length, so day D's report is due once one full interval has passed since D
    ended (local midnight). "every 1h": yesterday's report is due from 01:00; "every 1d": the day
    before yesterday's is due (yesterday's may legitimately still be pending until midnight).
    Longer intervals ("every 2d") skip days by design and have no due day here (None).
    """

    spec = cfg.schedule.report
    if not spec or spec.strip().lower() == "off":
        return None
    trigger = parse_trigger(spec, cfg.tz)
    if isinstance(trigger, IntervalTrigger):
        interval = trigger.interval
        if interval > timedelta(days=1):
            return None
        today = now.astimezone(cfg.tz).date()
        midnight = datetime.combine(today, time(), cfg.tz).astimezone(UTC)
        return today - timedelta(days=1 if midnight + interval <= now else 2)
    fire = trigger.get_next_fire_time(None, now - timedelta(days=2))
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return (last.astimezone(cfg.tz).date() - timedelta(days=1)) if last else None


def unsent_report_date(cfg: Config, now: datetime | None = None) -> date | None:
    """The latest due report day if it has not gone out yet (SMTP or the scheduler was down at
    report time), else None. Gives up on a day after MAX_CATCHUP_ATTEMPTS failed attempts, and at
    once after a permanent failure (bad login, untrusted certificate, 5xx): retrying cannot fix those
    and every try rebuilds the whole report. After fixing the cause, send it with
    `jingshao report --date DAY --send`."""

    smtp = cfg.report.smtp
    if smtp is None or not report_enabled(cfg):
        return None
    day = last_due_report_date(cfg, now or datetime.now(UTC))
    if day is None:
        return None
    db = open_database(cfg.database_url)
    try:
        record = DbSendLedger(db).get(day.isoformat(), recipients_hash(smtp.to))  # a read needs no claim
    finally:
        db.dispose()
    if record is None:
        return day
    if record.status == "sent" or record.attempts >= MAX_CATCHUP_ATTEMPTS:
        return None
    if record.permanent:
        log.debug("report %s: not retried after a permanent failure: %s", day, record.last_error)
        return None
    return day
