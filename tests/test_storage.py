"""Storage on real SQLite and a real throwaway PostgreSQL: schema, change-only observations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from jingshao.storage.db import open_database
from jingshao.storage.models import Base, Observation
from jingshao.storage.repository import (
    CatalogEntry,
    ObservationOutcome,
    find_products,
    price_history,
    record_failure,
    record_observation,
    sync_catalog,
    table_counts,
)

FIELDS = {
    "title": "李宁 赤兔6 男子跑步鞋",
    "price": Decimal("399.00"),
    "original_price": Decimal("499.00"),
    "currency": "CNY",
    "availability": "InStock",
    "promo": "满299减30",
    "sku": "ARMT013",
    "brand": "李宁",
    "price_is_range": False,
}


def setup_product(db) -> int:
    with db.session() as s:
        ids = sync_catalog(s, [CatalogEntry("李宁官方旗舰店", "https://shop.example.com/1.html", "赤兔6")])
    return ids["https://shop.example.com/1.html"]


def count(db, model=Observation) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_migration_builds_the_models_schema(database_url):
    db = open_database(database_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"competitors", "products", "observations", "failed_observations", "crawl_runs", "alembic_version"} <= tables
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    open_database(database_url)  # a second upgrade is a no-op


def test_unchanged_observation_only_moves_last_seen(database_url):
    db = open_database(database_url)
    pid = setup_product(db)
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with db.session() as s:
        assert record_observation(s, pid, FIELDS, seen_at=t0) is ObservationOutcome.NEW
    for hours in (1, 2, 3):
        with db.session() as s:
            # The same price written with other digits and spacing is the same observation.
            same = {**FIELDS, "price": Decimal("399"), "promo": " 满299减30 "}
            assert record_observation(s, pid, same, seen_at=t0 + timedelta(hours=hours)) is ObservationOutcome.UNCHANGED
    assert count(db) == 1
    with db.session() as s:
        obs = s.scalars(select(Observation)).one()
        assert obs.first_seen_at == t0
        assert obs.last_seen_at == t0 + timedelta(hours=3)
        assert obs.price == Decimal("399.00") and obs.in_stock is True


def test_each_change_appends_exactly_one_row(database_url):
    db = open_database(database_url)
    pid = setup_product(db)
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    steps = [
        FIELDS,
        {**FIELDS, "price": Decimal("359.00")},
        {**FIELDS, "price": Decimal("359.00")},
        {**FIELDS, "price": Decimal("359.00"), "availability": "OutOfStock"},
        {**FIELDS, "price": Decimal("359.00"), "availability": "OutOfStock", "promo": "限时秒杀"},
    ]
    outcomes = []
    for i, fields in enumerate(steps):
        with db.session() as s:
            outcomes.append(record_observation(s, pid, fields, seen_at=t0 + timedelta(hours=i)))
    assert outcomes == ["new", "changed", "unchanged", "changed", "changed"]
    assert count(db) == 4
    with db.session() as s:
        hist = price_history(s, [pid])
    assert [r.price for r in hist] == [Decimal("399.00"), Decimal("359.00"), Decimal("359.00"), Decimal("359.00")]
    assert [r.availability for r in hist][-2:] == ["OutOfStock", "OutOfStock"]
    assert hist[1].last_seen_at == t0 + timedelta(hours=2)


def test_a_price_going_back_is_a_change(database_url):
    db = open_database(database_url)
    pid = setup_product(db)
    for price in ("399", "359", "399"):
        with db.session() as s:
            record_observation(s, pid, {**FIELDS, "price": Decimal(price)})
    assert count(db) == 3


def test_sync_catalog_is_idempotent_and_follows_config(database_url):
    db = open_database(database_url)
    entries = [
        CatalogEntry("店铺A", "https://a.example.com/1", "商品1"),
        CatalogEntry("店铺A", "https://a.example.com/2"),
        CatalogEntry("店铺B", "https://b.example.com/1", "商品3", render=True),
    ]
    with db.session() as s:
        first = sync_catalog(s, entries)
    with db.session() as s:
        second = sync_catalog(s, [*entries[:2], CatalogEntry("店铺B", "https://b.example.com/1", "改名", False)])
    assert first == second
    with db.session() as s:
        counts = table_counts(s)
        renamed = find_products(s, "https://b.example.com/1")[0]
        assert renamed.name == "改名" and renamed.render is False
        assert [p.id for p in find_products(s, "商品1")] == [first["https://a.example.com/1"]]
    assert counts["competitors"] == 2 and counts["products"] == 3


def test_failed_observation_keeps_reason_and_status(database_url):
    db = open_database(database_url)
    pid = setup_product(db)
    with db.session() as s:
        record_failure(s, "https://shop.example.com/1.html", "no price found on page", product_id=pid, http_status=200)
    with db.session() as s:
        assert table_counts(s)["failed_observations"] == 1
        assert table_counts(s)["observations"] == 0


def test_concurrent_writers_append_one_change(database_url):
    """Two workers seeing the same new price at once store it once."""
    db = open_database(database_url)
    pid = setup_product(db)
    with db.session() as s:
        record_observation(s, pid, FIELDS)
    changed = {**FIELDS, "price": Decimal("299.00")}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        other = open_database(database_url, upgrade=False)
        try:
            barrier.wait()
            for _ in range(5):
                with other.session() as s:
                    record_observation(s, pid, changed)
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert count(db) == 2


def test_utc_columns_read_back_aware_utc_values(database_url):
    # UTCDateTime reads with its own result processor (a fast path for SQLite's ISO strings):
    # every value comes back aware, in UTC, equal to what was written, whatever the writer's zone.
    from datetime import timezone

    from sqlalchemy import text

    from jingshao.storage.models import Competitor

    db = open_database(database_url)
    written = [
        datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 1, 16, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
    ]
    with db.session() as s:
        s.add_all(Competitor(name=f"店{i}", created_at=at) for i, at in enumerate(written))
    with db.session() as s:
        read = s.scalars(select(Competitor.created_at).order_by(Competitor.id)).all()
    assert read == written
    assert all(at.tzinfo is UTC for at in read)
    if database_url.startswith("sqlite"):
        # Strings another writer may have left: an offset, a "Z", a date alone, a "T" separator.
        raw = {
            "2026-11-01 16:30:00+08:00": datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
            "2026-11-01T08:30:00Z": datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
            "2026-11-01": datetime(2026, 11, 1, tzinfo=UTC),
            "2026-11-01T08:30:00.5": datetime(2026, 11, 1, 8, 30, 0, 500000, tzinfo=UTC),
        }
        with db.session() as s:
            for i, stored in enumerate(raw):
                s.execute(
                    text("INSERT INTO competitors (name, created_at) VALUES (:n, :at)"),
                    {"n": f"原{i}", "at": stored},
                )
        with db.session() as s:
            rows = s.execute(
                select(Competitor.created_at).where(Competitor.name.like("原%")).order_by(Competitor.id)
            ).scalars()
            read = list(rows)
        assert read == list(raw.values())
        assert all(at.tzinfo is UTC for at in read)
