"""No notification is dropped for being old: after the retry budget it is parked, and the parked line is
re-sent, in order, as soon as the channel accepts a message again (a probe or `jingshao channels test`).

The dispatcher's clock is driven (``run_once(now)``): a two-hour outage takes a second or two.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jingshao.alerts.dispatcher import Dispatcher, reset_channel
from jingshao.storage import alerts_repo
from jingshao.storage.db import open_database
from jingshao.storage.models import ChannelState
from jingshao.storage.models import Notification as OutboxRow

from .conftest import run_cli
from .test_dispatcher import SEC, T0, config, delivered_titles, enqueue, make_channel, statuses

MIN = 60 * SEC


@pytest.fixture
def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield database
    database.dispose()


@pytest.mark.slow
def test_a_two_hour_outage_with_a_small_retry_budget_delivers_every_alert_afterwards_in_order(db, chat):
    channel = make_channel(chat, "dingtalk", "钉钉群")
    cfg = config(retry={"max_attempts": 3, "base": "5s", "cap": "60s", "jitter": 0})
    enqueue(db, "钉钉群", 3, level="red")
    chat.down("dingtalk")  # HTTP 503 for two hours
    told: list[tuple[str, int, object]] = []
    now, created = T0, 3
    with Dispatcher(db, {"钉钉群": channel}, cfg, rng=random.Random(3), on_parked=lambda *a: told.append(a)) as d:
        while now < T0 + timedelta(hours=2):
            if (now - T0) % (20 * MIN) == timedelta(0) and now > T0:  # new alerts keep coming during the outage
                enqueue(db, "钉钉群", 1, at=now, level="yellow" if created % 2 else "red", start=created)
                created += 1
            d.run_once(now)
            now += 15 * SEC
        assert set(statuses(db).values()) == {"parked"}  # nothing sent, nothing dropped
        assert len(statuses(db)) == created == 8
        assert told == [("钉钉群", 3, T0)]  # the admin notice: once, how many, since when
        with db.session() as s:
            assert s.get(ChannelState, "钉钉群").state == "failing"
            assert [(p.channel, p.count, p.since) for p in alerts_repo.parked_notifications(s)] == [("钉钉群", 8, T0)]
        probes = len(chat.rejected("dingtalk"))
        assert 100 <= probes <= 130  # the budget (3), then one probe a minute: no hammering the platform
        chat.up("dingtalk")
        for _ in range(8):  # the next probe is due within a minute; then the whole line goes
            d.run_once(now)
            now += 15 * SEC
    assert set(statuses(db).values()) == {"sent"}
    assert delivered_titles(chat, "dingtalk") == [f"通知{i:03d}" for i in range(8)]
    with db.session() as s:
        assert s.get(ChannelState, "钉钉群").state == "ok" and alerts_repo.parked_notifications(s) == []


def test_a_parked_line_waits_for_the_probe_and_new_notifications_queue_behind_it(db, chat):
    channel = make_channel(chat, "wecom", "企微群")
    cfg = config(retry={"max_attempts": 2, "base": "5s", "cap": "5m", "jitter": 0})
    enqueue(db, "企微群", 2)
    chat.down("wecom", "close")
    with Dispatcher(db, {"企微群": channel}, cfg) as d:
        d.run_once(T0)
        assert d.run_once(T0 + 10 * SEC).parked  # second attempt: the budget is used
        chat.up("wecom")
        enqueue(db, "企微群", 1, at=T0 + 20 * SEC, start=2)
        assert d.run_once(T0 + 30 * SEC).sent == []  # the newcomer may not overtake the parked line
        assert set(statuses(db).values()) == {"parked"}
        report = d.run_once(T0 + 10 * SEC + 5 * MIN)  # the probe, then everything, in order
        assert len(report.sent) == 3 and len(report.unparked) == 2
    assert delivered_titles(chat, "wecom") == ["通知000", "通知001", "通知002"]


@pytest.mark.slow
def test_channels_test_status_and_dead_rows_of_older_versions(tmp_path, chat):
    db_path = tmp_path / "p.db"
    cfg_path = tmp_path / "jingshao.toml"
    settings = chat.channel_settings("wecom", "企微群")
    cfg_path.write_text(
        f'[database]\nurl = "sqlite:///{db_path}"\n[[channels]]\nname = "企微群"\ntype = "wecom"\n'
        f'url = "{settings["url"]}"\n',
        encoding="utf-8",
    )
    db = open_database(f"sqlite:///{db_path}")
    ids = enqueue(db, "企微群", 3)
    with db.session() as s:  # an older version gave up on two of them ("dead"); one is parked already
        s.execute(update(OutboxRow).where(OutboxRow.id.in_(ids[:2])).values(status="dead", attempts=20))
        s.execute(update(OutboxRow).where(OutboxRow.id == ids[2]).values(status="parked", attempts=20))
        s.add(ChannelState(name="企微群", state="failing", reason="3 条通知暂存", since=T0))
    st = run_cli("status", "--config", str(cfg_path), check=False)
    assert st.returncode == 1, st.stdout + st.stderr
    assert (
        "暂存通知 parked notifications: 3" in st.stdout and "企微群: 3 条暂存，最早生成于 2025-03-01 10:00" in st.stdout
    )

    test = run_cli("channels", "test", "企微群", "--config", str(cfg_path), check=False)
    assert test.returncode == 0 and "sent" in test.stdout, test.stdout + test.stderr
    assert set(statuses(db).values()) == {"pending"}  # back in line, due now
    st = run_cli("status", "--config", str(cfg_path), check=False)
    assert st.returncode == 0, st.stdout + st.stderr
    assert "暂存通知 parked notifications: 0" in st.stdout and "待发通知 outbox: 3 条待发 pending" in st.stdout
    with Dispatcher(db, {"企微群": make_channel(chat, "wecom", "企微群")}, config()) as d:
        assert d.run_once().sent == ids
    assert delivered_titles(chat, "wecom") == ["通知000", "通知001", "通知002"]
    db.dispose()


def test_reset_channel_returns_the_parked_count(db, chat):
    enqueue(db, "钉钉群", 2)
    with db.session() as s:
        s.execute(update(OutboxRow).values(status="parked"))
    assert reset_channel(db, "钉钉群", T0) == 2
    with db.session() as s:
        assert {r.status for r in s.scalars(select(OutboxRow))} == {"pending"}
