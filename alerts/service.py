"""Entry points the scheduler and the CLI call: evaluate the rules, dispatch the outbox, test a
channel. They take the validated Config and open the database themselves."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx

from jingshao.alerts.channels import Notification
from jingshao.alerts.channels.base import Channel, SendResult
from jingshao.alerts.channels.config import build_channel
from jingshao.alerts.dispatcher import Dispatcher, reset_channel
from jingshao.alerts.engine import EvaluationReport, evaluate
from jingshao.config import Config
from jingshao.core.formatting import display_zone, timestamp
from jingshao.core.smtp import send_plain_mail
from jingshao.storage.db import open_database
from jingshao.storage.models import utcnow

log = logging.getLogger("jingshao.alerts")


def channels_of(cfg: Config) -> dict[str, Channel]:
    """Configured channels by name, in config order (routing follows that order)."""
    return {c.name: build_channel(c) for c in cfg.channels}


def run_evaluation(cfg: Config, now: datetime | None = None) -> EvaluationReport:
    """Evaluate every rule once; facts show times in ``cfg.timezone``."""
    db = open_database(cfg.database_url)
    try:
        with display_zone(cfg.tz):
            return evaluate(
                db, cfg.alerts, cfg.brands, list(channels_of(cfg).values()), now, public_url=cfg.web.public_url
            )
    finally:
        db.dispose()


def evaluate_alerts(cfg: Config, now: datetime | None = None) -> dict[str, Any]:
    """The scheduler's `evaluate` job: counts for the job log."""
    report = run_evaluation(cfg, now)
    for line in report.lines()[1:]:
        log.info(line.strip())
    events = ("opened", "escalated", "followup", "repeated", "resolved")
    return {
        "active": report.instances,
        "notifications": report.notifications,
        **{e: report.count(e) for e in events if report.count(e)},
    }


def dispatch_notifications(cfg: Config, now: datetime | None = None) -> dict[str, Any]:
    """The scheduler's `dispatch` job: send what is due, once (message times in ``cfg.timezone``)."""
    db = open_database(cfg.database_url)
    try:
        with (
            display_zone(cfg.tz),
            Dispatcher(
                db,
                channels_of(cfg),
                cfg.alerts,
                on_broken=broken_channel_notice(cfg),
                on_parked=parked_channel_notice(cfg),
            ) as d,
        ):
            r = d.run_once(now)
    finally:
        db.dispose()
    out: dict[str, int | list[str]] = {
        "sent": len(r.sent),
        "retried": len(r.retried),
        "parked": len(r.parked),
        "unparked": len(r.unparked),
        "merged": len(r.merged),
    }
    if r.broken:
        out["broken"] = sorted(r.broken)
    return {k: v for k, v in out.items() if v}


def _mail_admin(cfg: Config, subject: str, body: str, about: str) -> None:
    """Mail alerts.admin_email when mail is set up; never raises (it must not break dispatching)."""
    admin = cfg.alerts.admin_email
    report_cfg = getattr(cfg, "report", None)
    smtp = getattr(report_cfg, "smtp", None) if report_cfg else None
    if not (admin and smtp):
        return
    try:
        send_plain_mail(smtp, [admin], f"{cfg.alerts.prefix}{subject}", body)
    except Exception as exc:
        log.error("could not email %s about %s: %s", admin, about, type(exc).__name__)


def broken_channel_notice(cfg: Config):
    """on_broken hook: say so loudly in the log, and by email to alerts.admin_email when mail is set up."""

    def on_broken(name: str, reason: str) -> None:
        log.error("channel %s is BROKEN and holds its notifications until fixed: %s", name, reason)
        _mail_admin(
            cfg,
            f"告警通道故障：{name}",
            f"通道 {name} 已停用，待发送的通知会保留到修复为止。\n原因：{reason}\n"
            f"修复配置后运行 `jingshao channels test {name}`。",
            f"the broken channel {name}",
        )

    return on_broken


def parked_channel_notice(cfg: Config):
    """on_parked hook: a channel used its retry budget; how many notifications wait and since when."""

    def on_parked(name: str, count: int, since: datetime) -> None:
        when = timestamp(since, cfg.tz)
        log.error(
            "channel %s is failing: %d notifications parked since %s; they are re-sent in order when "
            "the channel accepts a message again",
            name,
            count,
            when,
        )
        _mail_admin(
            cfg,
            f"告警通道发送失败：{name}，{count} 条通知暂存",
            f"通道 {name} 连续发送失败，{count} 条通知已暂存（最早一条生成于 {when}），一条也不会丢弃。\n"
            f"通道恢复后（任何一次发送成功，或 `jingshao channels test {name}` 成功）会按顺序补发。\n"
            f"`jingshao status` 显示暂存数量。",
            f"the parked notifications of {name}",
        )

    return on_parked


def send_test_message(cfg: Config, name: str) -> SendResult:
    """Send a test message through one channel; on success a broken channel is reset to ok."""
    channels = channels_of(cfg)
    if name not in channels:
        raise KeyError(f"no channel named {name!r}; configured: {', '.join(channels) or 'none'}")
    ch = channels[name]
    n = Notification(
        level="blue",
        kind="test",
        title="通道测试 (channel test)",
        facts=[("通道", name), ("类型", ch.kind)],
        body=["收到这条消息说明机器人配置正确。"],
        subject="jingshao",
        fingerprint="channel-test",
        created_at=utcnow(),
    )
    with display_zone(cfg.tz), httpx.Client(timeout=ch.timeout) as client:
        result = ch.send(n, client)
    if result.status == "sent":
        db = open_database(cfg.database_url)
        try:
            reset_channel(db, name)
        finally:
            db.dispose()
    return result
