"""`jingshao alerts backtest`: the real rules and state machine replayed over stored history, on a scratch
alert state. A small deterministic history (a quiet week, then a three-phase surge and a competitor price
drop) gives a known timeline; nothing is sent and the live alert tables stay as they were."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from jingshao.alerts.backtest import BacktestError, backtest, parse_moment, parse_step
from jingshao.alerts.dispatcher import Dispatcher
from jingshao.alerts.engine import evaluate
from jingshao.alerts.service import channels_of
from jingshao.config import load_config
from jingshao.demo.runner import toml_inline, toml_str
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import Competitor, Mention, Observation, Product

from .conftest import run_cli

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 20:00 Beijing time; the surge starts here
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
BRAND = "蜜橙"
# The demo's shortened day-level windows, so the episode resolves within hours.
CRISIS = {"red_growth_hours": 2, "blue_share_hours": 2}
_ids = itertools.count()


def _mention(at: datetime, label: str, text: str) -> Mention:
    n = next(_ids)
    key = hashlib.sha256(f"{n}{text}".encode()).hexdigest()
    return Mention(
        brand=BRAND,
        source="某论坛",
        authority=1,
        url=f"https://bbs.example/{n}",
        url_key=key,
        content_key=key,
        title=text[:20],
        text=text,
        posted_at=at,
        first_seen_at=at,
        sentiment={"neg": 0.05, "neu": 0.5, "pos": 0.9}[label],
        negative_prob={"neg": 0.7, "neu": 0.2, "pos": 0.05}[label],
        label=label,
    )


def seed(db: Database) -> None:
    """Eight quiet days (6 neutral mentions an hour, one negative a day), then 6, 20 and 60 negatives at the
    start of three consecutive hours; a competitor product drops from ¥100 to ¥85 at T0 + 2 h 5 min."""
    rows: list = []
    at = T0 - 8 * 24 * HOUR + 5 * MIN
    while at < T0 + 6 * HOUR:
        rows.append(_mention(at, "neu", f"{BRAND}面霜用了一周，还行 {at:%d%H%M}"))
        at += 10 * MIN
    rows += [_mention(T0 - d * 24 * HOUR + 3 * HOUR + 33 * MIN, "neg", f"{BRAND}有点贵 {d}") for d in range(1, 9)]
    for phase, (count, spacing) in enumerate(((6, 30), (20, 20), (60, 5))):
        start = T0 + phase * HOUR
        rows += [
            _mention(start + timedelta(seconds=spacing * (i + 1)), "neg", f"{BRAND}面霜过敏了，太差 {phase}-{i}")
            for i in range(count)
        ]
    with db.session() as s:
        s.add_all(rows)
        comp = Competitor(name="对手旗舰店")
        s.add(comp)
        s.flush()
        product = Product(competitor_id=comp.id, url="https://shop.example/p/1", name="对手面霜")
        s.add(product)
        s.flush()
        for price, first, last in (
            (Decimal(100), T0 - 3 * 24 * HOUR, T0 + 2 * HOUR),
            (Decimal(85), T0 + 2 * HOUR + 5 * MIN, T0 + 6 * HOUR),
        ):
            s.add(
                Observation(
                    product_id=product.id,
                    price=price,
                    currency="CNY",
                    in_stock=True,
                    title="对手面霜",
                    content_hash=f"h{price}",
                    first_seen_at=first,
                    last_seen_at=last,
                )
            )


def write_config(tmp_path: Path, url: str, chat=None) -> Path:
    lines = [
        'timezone = "Asia/Shanghai"',
        "[database]",
        f"url = {toml_str(url)}",
        "[[brands]]",
        f"name = {toml_str(BRAND)}",
        f"crisis = {toml_inline(CRISIS)}",
    ]
    for name in ("dingtalk",) if chat is not None else ():
        lines += ["[[channels]]", *(f"{k} = {toml_inline(v)}" for k, v in chat.channel_settings(name).items())]
    path = tmp_path / "jingshao.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EXPECTED_CRISIS = [
    (T0 + 10 * MIN, "opened", "blue", "blue.sigma2", 6, 12),
    (T0 + 70 * MIN, "escalated", "yellow", "yellow.sigma3", 20, 26),
    (T0 + 130 * MIN, "escalated", "red", "red.sigma5", 60, 66),
    (T0 + 190 * MIN, "deescalated", "yellow", "yellow.share2h", 0, 6),
    (T0 + 260 * MIN, "resolved", "red", "yellow.share2h", 0, 6),  # two clear evaluations after 250 min
]


def timeline(events) -> list[tuple]:
    return [(e.at, e.transition, e.level, e.rule, e.negatives_1h, e.mentions_1h) for e in events if e.kind == "crisis"]


@pytest.mark.slow
def test_backtest_replays_a_surge_and_a_price_drop(database_url, tmp_path):
    db = open_database(database_url)
    try:
        seed(db)
        cfg = load_config(write_config(tmp_path, database_url))
        steps = []
        events = backtest(cfg, db, T0 - 24 * HOUR, T0 + 5 * HOUR, "10m", progress=lambda d, t: steps.append((d, t)))
    finally:
        db.dispose()
    assert steps[-1] == (175, 175) and len(steps) == 175
    assert timeline(events) == EXPECTED_CRISIS  # and no false alert in the quiet day before
    assert len({e.alert for e in events if e.kind == "crisis"}) == 1  # one episode
    competitor = [e for e in events if e.kind == "competitor"]
    assert [(e.at, e.transition, e.level, e.family, e.subject) for e in competitor] == [
        (T0 + 130 * MIN, "opened", "yellow", "price_drop", "对手旗舰店 / 对手面霜")
    ]
    assert "¥100.00 → ¥85.00" in competitor[0].summary
    first = next(e for e in events if e.kind == "crisis")
    assert first.numbers["negatives_1h"] == 6 and ("1小时负面", "6 条") in first.facts


@pytest.mark.slow
def test_brand_filter_and_aware_times_via_the_api(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'live.db'}")
    try:
        seed(db)
        cfg = load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'live.db'}"))
        only = backtest(cfg.alerts, db, T0, T0 + 190 * MIN, timedelta(minutes=10), BRAND, brands=cfg.brands)
        assert {e.kind for e in only} == {"crisis"} and timeline(only) == EXPECTED_CRISIS[:4]
        with pytest.raises(BacktestError, match="not a configured brand; configured: 蜜橙"):
            backtest(cfg, db, T0, T0 + HOUR, "10m", "苹果")
        with pytest.raises(BacktestError, match="before --from"):
            backtest(cfg, db, T0, T0 - HOUR)
        with pytest.raises(BacktestError, match="timezone-aware"):
            backtest(cfg, db, T0.replace(tzinfo=None), T0 + HOUR)
        # The database may also be named by URL, or left to the config (bench/crisis_replay.py does).
        assert timeline(backtest(cfg, None, T0, T0 + 70 * MIN, "10m", BRAND)) == EXPECTED_CRISIS[:2]
        assert (
            timeline(backtest(cfg.alerts, cfg.database_url, T0, T0 + 10 * MIN, brands=cfg.brands))
            == EXPECTED_CRISIS[:1]
        )
    finally:
        db.dispose()


def _snapshot(db: Database) -> dict[str, list[tuple]]:
    with db.engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in ("alerts", "alert_events", "notifications", "silences")
        }


def _requests(chat) -> int:
    return sum(len(chat.accepted(r.name)) + len(chat.rejected(r.name)) for r in chat)


@pytest.mark.slow
def test_backtest_sends_nothing_and_leaves_live_alert_state_untouched(tmp_path, chat):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    db = open_database(url)
    try:
        seed(db)
        cfg = load_config(write_config(tmp_path, url, chat))
        # The live product has been running: a firing blue crisis, its notice sent to the robot.
        channels = channels_of(cfg)
        evaluate(db, cfg.alerts, cfg.brands, list(channels.values()), T0 + 10 * MIN)
        with Dispatcher(db, channels, cfg.alerts) as d:
            d.run_once(T0 + 10 * MIN)
        before = _snapshot(db)
        assert [r[7] for r in before["alerts"]] == ["firing"] and len(before["notifications"]) == 1
        assert len(chat.accepted("dingtalk")) == 1
        chat.reset()

        events = backtest(cfg, db, T0 - HOUR, T0 + 5 * HOUR, "10m")
        assert timeline(events) == EXPECTED_CRISIS
        proc = run_cli(
            "alerts",
            "backtest",
            "--from",
            "2026-11-20T19:00",
            "--to",
            "2026-11-21T01:00",
            "--config",
            str(cfg.source),
            "--json",
        )
        assert len(proc.stdout.splitlines()) == len(events)
        assert _requests(chat) == 0
        assert _snapshot(db) == before  # byte for byte: alerts, events, memos, notifications, silences
    finally:
        db.dispose()


@pytest.mark.slow
def test_cli_table_and_json_lines(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    db = open_database(url)
    seed(db)
    db.dispose()
    cfg_path = write_config(tmp_path, url)
    args = ("alerts", "backtest", "--from", "2026-11-20T19:00", "--to", "2026-11-21T01:00", "--config", str(cfg_path))
    lines = [json.loads(line) for line in run_cli(*args, "--json").stdout.splitlines()]
    crisis = [
        (d["at"], d["transition"], d["level"], d["rule"], d["negatives_1h"], d["mentions_1h"])
        for d in lines
        if d["kind"] == "crisis"
    ]
    assert crisis == [(at.astimezone(cfg_tz()).isoformat(), *rest) for at, *rest in EXPECTED_CRISIS]
    assert all(d["subject"] == BRAND for d in lines if d["kind"] == "crisis")
    assert [
        (d["kind"], d["subject"], d["level"], d["transition"], d["rule"]) for d in lines if d["kind"] == "competitor"
    ] == [("competitor", "对手旗舰店 / 对手面霜", "yellow", "opened", "price_drop.yellow")]
    out = run_cli(*args, "--step", "1h", env={"COLUMNS": "250"}).stdout
    assert "回测 11-20 19:00 → 11-21 01:00，每 1h 一次，共 7 次评估" in out
    assert "开启" in out and "升级" in out and "恢复" in out and "舆情危机" in out and "竞品" in out
    assert "未发送任何通知，线上告警状态未改动" in out


def cfg_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "yesterday", "--to", "2026-11-21T01:00"), "--from 'yesterday': expected an ISO 8601 time"),
        (("--from", "2026-11-21T01:00", "--to", "2026-11-20T19:00"), "is before --from"),
        (("--from", "2026-11-20T19:00", "--to", "2026-11-21T01:00", "--step", "10 minutes"), "--step '10 minutes'"),
        (("--from", "2026-11-20T19:00", "--to", "2026-11-21T01:00", "--step", "0m"), "longer than 0 seconds"),
        (("--from", "2026-11-20T19:00", "--to", "2026-11-21T01:00", "--brand", "苹果"), "configured: 蜜橙"),
    ],
)
@pytest.mark.slow
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    cfg_path = write_config(tmp_path, f"sqlite:///{tmp_path / 'live.db'}")
    proc = run_cli("alerts", "backtest", *args, "--config", str(cfg_path), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in " ".join(proc.stderr.split())


def test_input_parsers():
    assert parse_step("30s") == timedelta(seconds=30) and parse_step("1h") == HOUR and parse_step("2d").days == 2
    with pytest.raises(BacktestError):
        parse_step("1.5h")
    moment = parse_moment("2026-11-20T20:00", cfg_tz())
    assert moment == T0
    assert parse_moment("2026-11-20T12:00:00Z", cfg_tz()) == T0


def test_facts_are_read_without_the_write_lock(tmp_path):
    """A step's read transaction leaves the database writable by the crawler and the scheduler (WAL, deferred
    BEGIN), and it cannot write itself (query_only)."""
    import sqlite3

    from sqlalchemy import exc

    from jingshao.alerts.backtest import FactsReader

    path = tmp_path / "live.db"
    db = open_database(f"sqlite:///{path}")
    seed(db)
    reader = FactsReader(db)
    try:
        with reader.session() as live:
            assert live.execute(text("SELECT count(*) FROM mentions")).scalar() > 1000  # the snapshot is open
            writer = sqlite3.connect(path, timeout=0.5)
            writer.execute(
                "INSERT INTO silences (matcher, author, reason, created_at, expires_at) "
                "VALUES ('x', 'me', 'test', '2026-01-01', '2026-01-02')"
            )
            writer.commit()
            writer.close()
            with pytest.raises(exc.OperationalError, match="readonly"):
                live.execute(text("DELETE FROM silences"))
    finally:
        reader.dispose()
        db.dispose()
