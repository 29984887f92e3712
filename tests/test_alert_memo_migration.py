"""Migration 0011: the engine's memo moves from ``alert_events`` rows of kind ``memo`` to ``alerts.memo``,
data carried over (real SQLite and PostgreSQL, real Alembic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import text

from jingshao.storage import alerts_repo
from jingshao.storage.db import make_engine, migrate, open_database

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def _insert_alert(conn, alert_id: int, fp: str) -> None:
    conn.execute(
        text(
            "INSERT INTO alerts (id, fingerprint, family, subject, subject_key, level, max_level, state, rule, summary,"
            " is_crisis, started_at, level_since, last_active_at, clear_windows)"
            " VALUES (:id, :fp, 'crisis', '蜜橙', 'brand:蜜橙', 'yellow', 'yellow', 'firing', 'yellow.test',"
            " '负面上升', :crisis, :t, :t, :t, 0)"
        ),
        {"id": alert_id, "fp": fp, "t": T0, "crisis": True},
    )


def _insert_event(conn, alert_id: int, kind: str, detail: str | None) -> None:
    conn.execute(
        text("INSERT INTO alert_events (alert_id, kind, level, at, detail) VALUES (:a, :k, 'yellow', :t, :d)"),
        {"a": alert_id, "k": kind, "t": T0, "d": detail},
    )


def test_memos_move_to_the_alert_row_and_their_events_go(database_url):
    engine = make_engine(database_url)
    migrate(engine, "0010")
    memo = {"negatives_1h": 7, "yellow_since": T0.isoformat()}
    with engine.begin() as conn:
        _insert_alert(conn, 1, "fp-a")
        _insert_alert(conn, 2, "fp-b")
        _insert_alert(conn, 3, "fp-c")
        _insert_event(conn, 1, "opened", None)
        _insert_event(conn, 1, "memo", json.dumps(memo, ensure_ascii=False))
        _insert_event(conn, 2, "memo", "not json {")  # unreadable: a lost hint, not a failed migration
        _insert_event(conn, 3, "escalated", "blue -> yellow")
    migrate(engine, "head")
    engine.dispose()

    db = open_database(database_url)
    with db.session() as s:
        assert alerts_repo.memo_of(s, 1) == memo
        assert alerts_repo.memo_of(s, 2) == {}
        assert alerts_repo.memo_of(s, 3) == {}
        kinds = s.execute(text("SELECT alert_id, kind FROM alert_events ORDER BY id")).all()
        assert [tuple(k) for k in kinds] == [(1, "opened"), (3, "escalated")]  # history kept, bookkeeping gone
    db.dispose()


def test_downgrade_puts_the_memos_back_as_events(database_url):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from jingshao.storage.db import MIGRATIONS

    engine = make_engine(database_url)
    migrate(engine, "head")
    with engine.begin() as conn:
        _insert_alert(conn, 1, "fp-a")
        alerts = sa.table("alerts", sa.column("id", sa.Integer), sa.column("memo", sa.JSON))
        conn.execute(sa.update(alerts).where(alerts.c.id == 1).values(memo={"negatives_1h": 3}))
        _insert_event(conn, 1, "opened", None)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT kind, detail FROM alert_events ORDER BY id")).all()
    # the history survives the column's removal (a table copy on SQLite would cascade-delete it)
    assert [(k, d and json.loads(d)) for k, d in rows] == [("opened", None), ("memo", {"negatives_1h": 3})]
    migrate(engine, "head")
    engine.dispose()
