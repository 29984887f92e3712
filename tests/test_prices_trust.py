"""Issue 11: a wrong price must not reach the chat group. Real SQLite, the real rules and report queries.

- fixing a selector after a wrong price (a new reading basis) sends no alert;
- a x100 jump is held as suspect and alerts nothing, and is confirmed when the next crawl agrees;
- a voided observation disappears from `prices`, the report and the rules.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from jingshao.alerts import facts
from jingshao.alerts.rules.competitor import CompetitorThresholds, evaluate_competitor
from jingshao.crawlers.extract.model import reading_basis
from jingshao.reports.data import build_report_data
from jingshao.storage.db import open_database
from jingshao.storage.models import Observation
from jingshao.storage.repository import CatalogEntry, price_history, record_observation, sync_catalog, void_observations

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
BASIS = reading_basis(None)


def fields(price: str, title: str = "小米手环9 NFC版", promo: str | None = None) -> dict:
    return {"title": title, "price": Decimal(price), "currency": "CNY", "availability": "InStock", "promo": promo}


@pytest.fixture
def db(database_url):
    db = open_database(database_url)
    with db.session() as s:
        url = "https://mobile.yangkeduo.com/goods.html?goods_id=1"
        ids = sync_catalog(s, [CatalogEntry("拼多多某店", url, "手环")])
    db.product_id = next(iter(ids.values()))
    return db


def observe(db, price: str, at: datetime, basis: str = BASIS, promo: str | None = None, **kw) -> None:
    with db.session() as s:
        record_observation(s, db.product_id, fields(price, promo=promo), seen_at=at, basis=basis, **kw)


def alerts_at(db, now: datetime, thresholds: CompetitorThresholds | None = None) -> list:
    t = thresholds or CompetitorThresholds()
    with db.session() as s:
        inputs = facts.product_inputs(s, now, t)
    return [a for p in inputs for a in evaluate_competitor(p.product, p.observations, p.reviews, now, t, p.adlaw_hits)]


@pytest.mark.slow
def test_a_plain_price_drop_still_alerts(db):
    """The control case: without the guards below, this history does raise a price alert."""
    observe(db, "1399", T0)
    observe(db, "999", T0 + timedelta(hours=1))
    assert {a.family for a in alerts_at(db, T0 + timedelta(hours=2))} >= {"price_drop"}


def test_fixing_a_selector_after_a_wrong_price_sends_no_alert(db):
    observe(db, "139900", T0)  # fen read as yuan
    observe(db, "139900", T0 + timedelta(hours=1))
    fixed = reading_basis({"price": ".goods-price .price"})
    observe(db, "1399", T0 + timedelta(hours=2), basis=fixed)
    assert alerts_at(db, T0 + timedelta(hours=3)) == []
    with db.session() as s:
        newest = s.query(Observation).order_by(Observation.id.desc()).first()
        assert (newest.status, newest.basis) == ("ok", fixed)  # a new baseline, not a suspect


def test_a_x100_jump_is_suspect_alerts_nothing_and_is_confirmed_by_the_next_crawl(db):
    observe(db, "1399", T0)
    observe(db, "139900", T0 + timedelta(hours=1))
    with db.session() as s:
        rows = price_history(s, [db.product_id])
    assert [(r.price, r.suspect) for r in rows] == [(Decimal("1399.00"), False), (Decimal("139900.00"), True)]
    assert alerts_at(db, T0 + timedelta(hours=1, minutes=5)) == []
    # The next crawl agrees: confirmed, and only now may the rules see it.
    observe(db, "139900", T0 + timedelta(hours=2))
    with db.session() as s:
        assert [r.suspect for r in price_history(s, [db.product_id])] == [False, False]
    with db.session() as s:
        seen = facts.product_inputs(s, T0 + timedelta(hours=2, minutes=5), CompetitorThresholds())
    assert [o.price for o in seen[0].observations] == [Decimal("1399.00"), Decimal("139900.00")]


def test_the_plausibility_factor_is_configurable(db):
    observe(db, "100", T0)
    observe(db, "250", T0 + timedelta(hours=1), plausibility_factor=Decimal(2))
    with db.session() as s:
        assert [r.suspect for r in price_history(s, [db.product_id])] == [False, True]


def test_a_voided_observation_disappears_from_prices_report_and_rules(db, tmp_path):
    observe(db, "1399", T0)
    observe(db, "999", T0 + timedelta(hours=1))  # a rail's price: plausible (within 3x) but wrong
    now = T0 + timedelta(hours=2)
    assert any(a.family == "price_drop" for a in alerts_at(db, now))
    with db.session() as s:
        day = build_report_data(s, T0 - timedelta(hours=1), T0 + timedelta(days=1), UTC, now=now)
        assert [c.new for c in day.price_changes] == [Decimal("999.00")]
        bad = s.query(Observation).filter(Observation.price == Decimal("999")).one().id
    with db.session() as s:
        with pytest.raises(ValueError, match="who"):
            void_observations(s, by="", reason="x", ids=[bad])
        assert void_observations(s, by="王工", reason="取了推荐位的价格", ids=[bad]) == [bad]
    assert alerts_at(db, now) == []
    with db.session() as s:
        assert [r.price for r in price_history(s, [db.product_id])] == [Decimal("1399.00")]
        day = build_report_data(s, T0 - timedelta(hours=1), T0 + timedelta(days=1), UTC, now=now)
        assert day.price_changes == []
        kept = s.get(Observation, bad)
        assert (kept.voided_by, kept.void_reason) == ("王工", "取了推荐位的价格")


def test_price_basis_final_makes_price_alerts_follow_the_final_price(db):
    observe(db, "1399", T0, final_price=Decimal("1399"))
    observe(
        db,
        "1399",
        T0 + timedelta(hours=1),
        final_price=Decimal("999"),
        promo="领券减400",
        offers=[{"kind": "coupon", "amount": "400"}],
    )  # a coupon appears: same price, lower 到手价
    now = T0 + timedelta(hours=2)
    assert not any(a.family == "price_drop" for a in alerts_at(db, now))
    final = CompetitorThresholds(price_basis={"拼多多某店": "final"})
    assert any(a.family == "price_drop" for a in alerts_at(db, now, final))
    with pytest.raises(ValueError, match="price_basis"):
        CompetitorThresholds(price_basis={"x": "cheapest"})


@pytest.mark.slow
def test_observations_void_command(db, database_url, tmp_path):
    observe(db, "1399", T0)
    observe(db, "13.99", T0 + timedelta(hours=1), plausibility_factor=None)
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jingshao.cli", *args, "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = run("observations", "void", "--product", "手环")
    assert missing.returncode != 0 and "--reason" in missing.stderr + missing.stdout
    done = run(
        "observations",
        "void",
        "--product",
        "手环",
        "--since",
        "2026-11-30T08:30+00:00",
        "--reason",
        "单位错误",
        "--by",
        "测试",
    )
    assert done.returncode == 0, done.stderr
    assert "已作废 voided 1" in done.stdout
    shown = run("prices", "--product", "手环")
    assert shown.returncode == 0, shown.stderr
    assert "1,399.00" in shown.stdout or "1399.00" in shown.stdout
    assert "13.99" not in shown.stdout
