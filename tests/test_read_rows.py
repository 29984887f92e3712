"""storage.queries.read_rows (issue 13): on SQLite a statement built once runs on the session's DBAPI
connection with SQLAlchemy's own bind and result processors. It must give exactly the rows (values and
their types: aware UTC datetimes, Decimals, JSON) that SQLAlchemy's execution gives, for the dashboard's
statements on the dashboard's test data, and fall back to SQLAlchemy where it cannot plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select

from jingshao.storage import alerts_repo
from jingshao.storage.db import open_database
from jingshao.storage.models import Alert, Competitor, Observation, Product
from jingshao.storage.queries import _PLANS, read, read_rows
from jingshao.storage.queries import web_pages as q
from jingshao.storage.queries.paging import page_statements

from .web_pages_data import seed

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _typed(rows):
    return [tuple((type(v), v) for v in row) for row in rows]


@pytest.fixture
def seeded(database_url):
    data = seed(database_url, "http://127.0.0.1:9", now=NOW)
    db = open_database(database_url)
    yield db, data
    db.dispose()


def _statements(data):
    since = NOW - timedelta(days=365)
    pid = data.chart_product
    page, count = page_statements(select(Product.id, Product.name).order_by(Product.id))
    return [
        (q._PRODUCT_INFO, {"pid": pid}),
        (q._HISTORY_BEFORE, {"pid": pid, "since": NOW - timedelta(days=30)}),
        (q._HISTORY_AFTER, {"pid": pid, "since": since}),
        (q._HISTORY_FAILURES, {"pid": pid}),
        (q._CONFIRMED_PRICES_BEFORE, {"pid": pid, "before": NOW, "n": 30}),
        (q._HISTORY_SOURCES, {"oid": data.void_target}),
        (alerts_repo._ALERT_DETAIL, {"aid": data.alerts["crisis"]}),
        (alerts_repo._ALERT_EVENTS, {"aid": data.alerts["crisis"]}),
        (alerts_repo._OWN_NOTIFICATIONS, {"aid": data.alerts["crisis"]}),
        (alerts_repo._ALL_SILENCES, None),
        (page, {"page_limit": 5, "page_offset": 2}),
        (count, {}),
        # a literal of the statement, overridden by the caller's value of the same name
        (select(Observation.id).where(Observation.product_id == bindparam("p", pid)).order_by(Observation.id), {}),
        (
            select(Observation.id).where(Observation.product_id == bindparam("p", pid)).order_by(Observation.id),
            {"p": pid + 1},
        ),
        (select(Alert.facts, Alert.evidence, Alert.started_at, Alert.resolved_at).order_by(Alert.id), {}),
    ]


def test_the_rows_are_sqlalchemys(seeded, database_url):
    db, data = seeded
    with db.read_session() as s:
        for stmt, params in _statements(data):
            expected = [tuple(r) for r in read(s, stmt, params).all()]
            got = read_rows(s, stmt, params)
            assert _typed(got) == _typed(expected), str(stmt)
            assert got == read_rows(s, stmt, params)  # planned once, run again
    if database_url.startswith("sqlite"):
        assert any(plan is not None for _, plan in _PLANS.values()), "SQLite statements should be planned"


def test_what_it_does_not_plan_still_reads(seeded):
    db, data = seeded
    with db.read_session() as s:
        expanding = select(Product.id).where(Product.id.in_(bindparam("ids", expanding=True))).order_by(Product.id)
        assert read_rows(s, expanding, {"ids": [1, 2, 999]}) == [(1,), (2,)]
    with db.session() as s:  # pending changes: the read must see them (autoflush)
        s.add(Competitor(name="新竞品", created_at=NOW))
        names = read_rows(s, select(Competitor.name).where(Competitor.name == bindparam("n")), {"n": "新竞品"})
        assert [tuple(r) for r in names] == [("新竞品",)]
        s.rollback()


def test_a_missing_parameter_is_an_error(seeded):
    db, data = seeded
    with db.read_session() as s, pytest.raises(Exception):  # noqa: B017 - SQLAlchemy's or the plan's
        read_rows(s, q._PRODUCT_INFO, {})


def test_a_listener_of_statements_sees_them(seeded):
    from sqlalchemy import event

    db, data = seeded
    seen: list[str] = []
    event.listen(db.read_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with db.read_session() as s:
        assert read_rows(s, q._PRODUCT_INFO, {"pid": data.chart_product})
    assert any("FROM products" in sql for sql in seen)
