"""The dispatcher against local chat receivers: order, retries, crashes, rate limits, broken channels, secrets.

The dispatcher's clock is driven (``run_once(now)``): "several minutes down" takes milliseconds.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from jingshao.alerts.channels import Channel, Notification, SendResult, build_channel, parse_channel_config
from jingshao.alerts.dispatcher import Dispatcher, reset_channel
from jingshao.alerts.render import to_payload
from jingshao.alerts.settings import AlertsConfig
from jingshao.demo.webhooks import ChatReceivers
from jingshao.storage import alerts_repo
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import ChannelState
from jingshao.storage.models import Notification as OutboxRow

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
SEC = timedelta(seconds=1)
TITLE = re.compile(r"通知\d{3}")


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield database
    database.dispose()


def make_channel(chat: ChatReceivers, platform: str, name: str | None = None) -> Channel:
    return build_channel(parse_channel_config(chat.channel_settings(platform, name)))


def enqueue(
    db: Database, channel: str, count: int, *, at: datetime = T0, level: str = "yellow", start: int = 0
) -> list[int]:
    ids = []
    with db.session() as s:
        for i in range(start, start + count):
            n = Notification(
                level=level,
                kind="firing",
                title=f"通知{i:03d}",
                facts=[("序号", str(i))],
                subject="蜜橙",
                fingerprint=f"fp{i}",
                created_at=at,
            )
            row = OutboxRow(
                channel=channel,
                kind="firing",
                level=level,
                payload=to_payload(n, group=None),
                status="pending",
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids


def delivered_titles(chat: ChatReceivers, platform: str) -> list[str]:
    """The ``通知NNN`` titles in what ``platform`` accepted, in arrival order."""
    return [
        t
        for d in chat.accepted(platform)
        for t in dict.fromkeys(TITLE.findall(json.dumps(d.payload, ensure_ascii=False)))
    ]


def statuses(db: Database) -> dict[int, str]:
    with db.session() as s:
        return dict(s.execute(select(OutboxRow.id, OutboxRow.status)).all())


def config(**kw) -> AlertsConfig:
    return AlertsConfig.model_validate(
        {"rate_limits": {"dingtalk": [], "wecom": [], "feishu": [], "slack": [], "webhook": []}, **kw}
    )


def test_sends_in_order_and_records_the_platform_answer(database_url, chat):
    db = open_database(database_url)
    channel = make_channel(chat, "feishu", "飞书群")
    ids = enqueue(db, "飞书群", 3)
    with Dispatcher(db, {"飞书群": channel}, config()) as d:
        report = d.run_once(T0)
    assert report.sent == ids
    texts = [str(d.payload) for d in chat.accepted("feishu")]
    assert len(texts) == 3 and all(f"通知{i:03d}" in texts[i] for i in range(3))
    with db.session() as s:
        rows = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert [(r.status, r.attempts, r.sent_at, r.platform_code) for r in rows] == [("sent", 1, T0, "0")] * 3
        assert s.get(ChannelState, "飞书群").last_sent_at == T0
    db.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["503", "close", "stopped"])
def test_receiver_down_for_minutes_then_back_gets_everything_in_order(db, chat, mode):
    channel = make_channel(chat, "wecom", "企微群")
    ids = enqueue(db, "企微群", 5)
    if mode == "stopped":
        chat.stop()
    else:
        chat.down("wecom", mode)
    now = T0
    with Dispatcher(db, {"企微群": channel}, config(), rng=random.Random(7)) as d:
        for _ in range(40):  # about 10 minutes of 15 s steps
            d.run_once(now)
            now += 15 * SEC
        assert all(st == "pending" for st in statuses(db).values())
        enqueue(db, "企微群", 2, at=now, start=5)
        if mode == "stopped":
            chat.start()
        else:
            chat.up("wecom")
        for _ in range(40):
            d.run_once(now)
            now += 15 * SEC
            if all(st == "sent" for st in statuses(db).values()):
                break
    assert all(st == "sent" for st in statuses(db).values())
    assert delivered_titles(chat, "wecom") == [f"通知{i:03d}" for i in range(7)]
    with db.session() as s:
        first = s.get(OutboxRow, ids[0])
        assert first.attempts > 3  # it was retried with backoff, the others waited behind it
        assert s.get(OutboxRow, ids[1]).attempts == 1


class Killed(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


class DiesOnce(Channel):
    """Wraps a channel; the first send dies before (or after) the HTTP request."""

    def __init__(self, inner: Channel, *, after_post: bool) -> None:
        self.inner, self.after_post, self.died = inner, after_post, False
        self.name, self.kind = inner.name, inner.kind

    def send(self, n: Notification, client: httpx.Client) -> SendResult:
        if not self.died:
            self.died = True
            if self.after_post:
                self.inner.send(n, client)
            raise Killed()
        return self.inner.send(n, client)

    def build(self, n, body):
        raise NotImplementedError

    def classify_body(self, response):
        raise NotImplementedError


@pytest.mark.parametrize("after_post", [False, True])
def test_dispatcher_killed_mid_send_loses_nothing_on_restart(db, chat, after_post):
    channel = make_channel(chat, "dingtalk", "钉钉群")
    enqueue(db, "钉钉群", 4)
    cfg = config(claim_timeout="30s")
    with Dispatcher(db, {"钉钉群": DiesOnce(channel, after_post=after_post)}, cfg) as d, pytest.raises(Killed):
        d.run_once(T0)
    with Dispatcher(db, {"钉钉群": channel}, cfg) as restarted:
        assert restarted.run_once(T0 + 10 * SEC).sent == []  # the claimed one blocks the line until its claim expires
        restarted.run_once(T0 + 31 * SEC)
    assert all(st == "sent" for st in statuses(db).values())
    expected = [f"通知{i:03d}" for i in range(4)]
    assert delivered_titles(chat, "dingtalk") == (["通知000", *expected] if after_post else expected)


def test_rate_limit_overflow_is_merged_into_one_summary_never_dropped(db, chat):
    channel = make_channel(chat, "dingtalk", "钉钉群")
    ids = enqueue(db, "钉钉群", 10)
    cfg = AlertsConfig.model_validate({"rate_limits": {"钉钉群": ["3/min"]}})
    with Dispatcher(db, {"钉钉群": channel}, cfg) as d:
        report = d.run_once(T0)
        assert report.sent[:2] == ids[:2] and len(report.sent) == 3 and report.merged == ids[2:]
        summary_id = report.summaries[0]
        later = enqueue(db, "钉钉群", 2, at=T0 + SEC, start=10)
        assert d.run_once(T0 + 10 * SEC).throttled == ["钉钉群"]  # the budget is read from the database
    with Dispatcher(db, {"钉钉群": channel}, cfg) as restarted:  # a restart does not burst either
        assert restarted.run_once(T0 + 20 * SEC).sent == []
        assert restarted.run_once(T0 + 61 * SEC).sent == later
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(OutboxRow))}
    assert all(rows[i].status == "merged" and rows[i].merged_into == summary_id for i in ids[2:])
    assert rows[summary_id].status == "sent" and rows[summary_id].kind == "summary"
    texts = [d.payload["markdown"]["text"] for d in chat.accepted("dingtalk")]
    assert len(texts) == 5
    assert "汇总" in texts[2] and all(f"通知{i:03d}" in texts[2] for i in range(2, 10)) and "8 条" in texts[2]


def test_a_burst_within_the_per_minute_window_is_sent_whole_not_summarised(db, chat):
    """Feishu's defaults are 4 a second and 90 a minute: 7 due at once are 4 now and 3 a second later,
    each as itself (the per-second window only spreads them); a summary needs more than the minute allows."""
    channel = make_channel(chat, "feishu", "飞书群")
    chat.set_limits("feishu", [(100, 60.0)])  # its per-second window runs on real time, ours is driven
    ids = enqueue(db, "飞书群", 7)
    with Dispatcher(db, {"飞书群": channel}, AlertsConfig()) as d:
        first = d.run_once(T0)
        assert first.sent == ids[:4] and first.merged == [] and first.throttled == ["飞书群"]
        assert d.run_once(T0 + SEC / 2).sent == []  # the second has not passed
        assert d.run_once(T0 + SEC).sent == ids[4:]
        burst = enqueue(db, "飞书群", 95, at=T0 + 2 * SEC, start=7)
        third = d.run_once(T0 + 2 * SEC)  # 7 + 95 > 90 a minute: now the overflow is summarised
        assert third.sent[:3] == burst[:3] and len(third.sent) == 4 and len(third.merged) == 92
    assert delivered_titles(chat, "feishu")[:10] == [f"通知{i:03d}" for i in range(10)]
    assert not chat.rejected("feishu")


def test_permanent_error_marks_the_channel_broken_and_keeps_its_notifications(db, chat, caplog):
    channel = make_channel(chat, "dingtalk", "钉钉群")
    ids = enqueue(db, "钉钉群", 3)
    chat.fail_next("dingtalk", 1, 310000)  # keyword / signature check failed
    broken: list[tuple[str, str]] = []
    with (
        caplog.at_level(logging.WARNING),
        Dispatcher(db, {"钉钉群": channel}, config(), on_broken=lambda n, r: broken.append((n, r))) as d,
    ):
        report = d.run_once(T0)
        assert report.broken and "310000" in report.broken["钉钉群"] and broken[0][0] == "钉钉群"
        for k in range(1, 5):
            assert d.run_once(T0 + k * 60 * SEC).skipped_broken == ["钉钉群"]
        assert len(chat.rejected("dingtalk")) == 1 and chat.accepted("dingtalk") == []
        assert set(statuses(db).values()) == {"pending"}
        with db.session() as s:
            assert [c.name for c in alerts_repo.broken_channels(s)] == ["钉钉群"]
        assert reset_channel(db, "钉钉群", T0 + 300 * SEC) == 3
        assert d.run_once(T0 + 301 * SEC).sent == ids
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "jingshao.alerts.dispatcher"]
    assert len(errors) == 1 and "BROKEN" in errors[0].getMessage()
    assert delivered_titles(chat, "dingtalk") == ["通知000", "通知001", "通知002"]


def test_on_broken_runs_after_the_commit_without_holding_the_write_lock(db, chat, tmp_path):
    """on_broken may take long (an admin email with SMTP retries): the database must stay writable meanwhile,
    the broken state must already be committed, and a failing callback must not undo it."""
    import sqlite3

    channel = make_channel(chat, "dingtalk", "钉钉群")
    enqueue(db, "钉钉群", 2)
    chat.fail_next("dingtalk", 1, 310000)
    seen: list[tuple[str, str | None]] = []

    def on_broken(name: str, reason: str) -> None:
        other = sqlite3.connect(str(tmp_path / "outbox.db"), timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" inside _record's transaction
            other.execute(
                "UPDATE notifications SET last_error = 'touched' WHERE id = (SELECT MAX(id) FROM notifications)"
            )
            state = other.execute("SELECT state FROM channel_states WHERE name = ?", (name,)).fetchone()
            other.execute("COMMIT")
        finally:
            other.close()
        seen.append((name, state[0] if state else None))
        raise RuntimeError("SMTP down")

    with Dispatcher(db, {"钉钉群": channel}, config(), on_broken=on_broken) as d:
        report = d.run_once(T0)
    assert seen == [("钉钉群", "broken")]  # the callback ran, could write, and saw the committed state
    assert "钉钉群" in report.broken
    with db.session() as s:
        assert s.get(ChannelState, "钉钉群").state == "broken"  # the callback's error did not undo it
        assert [r.last_error for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))][-1] == "touched"


@pytest.mark.slow
def test_throttling_honours_retry_after_and_gives_up_loudly_after_max_attempts(db, chat, caplog):
    channel = make_channel(chat, "slack", "slack")
    enqueue(db, "slack", 2)
    chat.fail_next("slack", 1, "rate_limited")  # 429 with Retry-After: 1
    cfg = config(retry={"max_attempts": 3, "base": "10s", "jitter": 0})
    with Dispatcher(db, {"slack": channel}, cfg) as d:
        assert d.run_once(T0).retried
        with db.session() as s:
            first = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).first()
            assert first.next_attempt_at == T0 + 10 * SEC and first.platform_code in ("429", "rate_limited")
        chat.down("slack")
        with caplog.at_level(logging.ERROR):
            now = T0
            for _ in range(8):
                now += 60 * SEC
                d.run_once(now)
    st = statuses(db)
    assert sorted(st.values()) == ["parked", "parked"]  # the budget is used up: parked, never dropped
    assert any("PARKED" in r.getMessage() for r in caplog.records)
    with db.session() as s:
        state = s.get(ChannelState, "slack")
        assert state.state == "failing" and "重试 3 次" in state.reason and "2 条通知暂存" in state.reason


def test_secrets_never_reach_logs_or_the_database(db, chat, caplog):
    names = {"dingtalk": "钉钉群", "feishu": "飞书群", "wecom": "企微群", "slack": "slack", "webhook": "webhook"}
    channels = {name: make_channel(chat, platform, name) for platform, name in names.items()}
    for name in names.values():
        enqueue(db, name, 2)
    chat.fail_next("wecom", 1, 93000)  # bad key: permanent
    chat.fail_next("dingtalk", 1, 130101)  # too fast: retry
    chat.down("feishu", "close")
    with caplog.at_level(logging.DEBUG), Dispatcher(db, channels, config()) as d:
        d.run_once(T0)
        d.run_once(T0 + 120 * SEC)
    secrets = []
    for platform in names:
        receiver = chat[platform]
        secrets += [str(getattr(receiver, a)) for a in ("token", "key", "secret") if getattr(receiver, a, None)]
        secrets.append(chat.url_for(platform))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    with db.session() as s:
        stored = " ".join(str(v) for row in s.scalars(select(OutboxRow)) for v in (row.last_error, row.payload))
        stored += " ".join(str(c.reason) for c in s.scalars(select(ChannelState)))
    assert "BROKEN" in logged and "企微群" in logged
    for secret in secrets:
        assert secret not in logged and secret not in stored


def test_run_forever_sends_and_stops_when_asked(db, chat):
    import threading

    channel = make_channel(chat, "webhook", "webhook")
    enqueue(db, "webhook", 2, at=datetime.now(UTC) - SEC)
    stop = threading.Event()
    with Dispatcher(db, {"webhook": channel}, config()) as d:
        worker = threading.Thread(target=d.run_forever, args=(stop, 0.05))
        worker.start()
        deadline = datetime.now(UTC) + 5 * SEC
        while len(chat.accepted("webhook")) < 2 and datetime.now(UTC) < deadline:
            stop.wait(0.02)
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive() and delivered_titles(chat, "webhook") == ["通知000", "通知001"]
