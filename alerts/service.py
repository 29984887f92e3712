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
from jingshao.storage.db import open_database
from jingshao.storage.models import utcnow

log = logging.getLogger("jingshao.alerts")


def channels_of(cfg) -> dict[str, Channel]:  # noqa: ANN001
    """Configured channels by name, in config order (routing follows that order)."""
    return {c.name: build_channel(c) for c in cfg.channels}


def run_evaluation(cfg, now: datetime | None = None) -> EvaluationReport:  # noqa: ANN001
    db = open_database(cfg.database_url)
    try:
        return evaluate(db, cfg.alerts, cfg.brands, list(channels_of(cfg).values()), now)
    finally:
        db.dispose()


def evaluate_alerts(cfg, now: datetime | None = None) -> dict[str, Any]:  # noqa: ANN001
    """The scheduler's `evaluate` job: counts for the job log."""
    report = run_evaluation(cfg, now)
    for line in report.lines()[1:]:
        log.info(line.strip())
    events = ("opened", "escalated", "repeated", "resolved")
    return {"active": report.instances, "notifications": report.notifications,
            **{e: report.count(e) for e in events if report.count(e)}}


def dispatch_notifications(cfg, now: datetime | None = None) -> dict[str, Any]:  # noqa: ANN001
    """The scheduler's `dispatch` job: send what is due, once."""
    db = open_database(cfg.database_url)
    try:
        with Dispatcher(db, channels_of(cfg), cfg.alerts, on_broken=broken_channel_notice(cfg)) as d:
            r = d.run_once(now)
    finally:
        db.dispose()
    out = {"sent": len(r.sent), "retried": len(r.retried), "dead": len(r.dead), "merged": len(r.merged)}
    if r.broken:
        out["broken"] = sorted(r.broken)
    return {k: v for k, v in out.items() if v}


def broken_channel_notice(cfg):  # noqa: ANN001, ANN201
    """on_broken hook: say so loudly in the log, and by email to alerts.admin_email when mail is set up."""

    def on_broken(name: str, reason: str) -> None:
        log.error("channel %s is BROKEN and holds its notifications until fixed: %s", name, reason)
        admin = cfg.alerts.admin_email
        report_cfg = getattr(cfg, "report", None)
        smtp = getattr(report_cfg, "smtp", None) if report_cfg else None
        if not (admin and smtp):
            return
        try:
            from jingshao.reports.mailer import send_plain_mail

            send_plain_mail(smtp, [admin], f"{cfg.alerts.prefix}告警通道故障：{name}",
                            f"通道 {name} 已停用，待发送的通知会保留到修复为止。\n原因：{reason}\n"
                            f"修复配置后运行 `jingshao channels test {name}`。")
        except Exception as exc:  # noqa: BLE001 - the admin mail must never break dispatching
            log.error("could not email %s about the broken channel %s: %s", admin, name, type(exc).__name__)

    return on_broken


def send_test_message(cfg, name: str) -> SendResult:  # noqa: ANN001
    """Send a test message through one channel; on success a broken channel is reset to ok."""
    channels = channels_of(cfg)
    if name not in channels:
        raise KeyError(f"no channel named {name!r}; configured: {', '.join(channels) or 'none'}")
    ch = channels[name]
    n = Notification(level="blue", kind="test", title="通道测试 (channel test)",
                     facts=[("通道", name), ("类型", ch.kind)], body=["收到这条消息说明机器人配置正确。"],
                     subject="jingshao", fingerprint="channel-test", created_at=utcnow())
    with httpx.Client(timeout=ch.timeout) as client:
        result = ch.send(n, client)
    if result.status == "sent":
        db = open_database(cfg.database_url)
        try:
            reset_channel(db, name)
        finally:
            db.dispose()
    return result
