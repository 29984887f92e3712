"""`jingshao status` lists a failing source only while it still fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation, Product
from jingshao.storage.repository import (
    CatalogEntry,
    current_failures,
    finish_run,
    record_failure,
    record_observation,
    start_run,
    sync_catalog,
)

from .conftest import run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out

NOW = datetime.now(UTC)


def test_failing_sources_are_listed_only_while_they_still_fail(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    good, bad = "https://shop.example.com/good.html", "https://shop.example.com/bad.html"
    feed = "https://news.example.com/feed.xml"
    with db.session() as s:
        ids = sync_catalog(
            s, [CatalogEntry("店", good, "好", False, "general"), CatalogEntry("店", bad, "坏", False, "general")]
        )
    with db.session() as s:  # crawl 1: all three fail
        products_run, mentions_run = start_run(s, "products"), start_run(s, "mentions")
        record_failure(s, good, "HTTP 503", product_id=ids[good], crawl_run_id=products_run)
        record_failure(s, bad, "no price found", product_id=ids[bad], crawl_run_id=products_run)
        record_failure(s, feed, "HTTP 500", crawl_run_id=mentions_run)
        for run in (products_run, mentions_run):
            finish_run(s, run, status="finished", pages=0, changes=0, unchanged=0, failures=1)
    with db.session() as s:
        assert {f.url for f in current_failures(s, NOW - timedelta(hours=24))} == {good, bad, feed}
    with db.session() as s:  # crawl 2: the good product and the feed recover; the bad product fails again
        products_run, mentions_run = start_run(s, "products"), start_run(s, "mentions")
        record_observation(s, ids[good], {"title": "好", "price": "9.90"}, crawl_run_id=products_run)
        record_failure(s, bad, "no price found", product_id=ids[bad], crawl_run_id=products_run)
        for run in (products_run, mentions_run):
            finish_run(s, run, status="finished", pages=1, changes=1, unchanged=0, failures=0)
        s.execute(update(Observation).values(last_seen_at=datetime.now(UTC) + timedelta(seconds=1)))
    with db.session() as s:
        still = current_failures(s, NOW - timedelta(hours=24))
        assert [(f.url, f.count, f.reason) for f in still] == [(bad, 2, "no price found")]
        assert s.query(Product).count() == 2 and s.query(CrawlRun).count() == 4
    db.dispose()
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "s.db"}"\n', encoding="utf-8")
    out = run_cli("status", "--config", str(cfg)).stdout
    assert (
        "失败来源 failing sources（24 小时内，仍在失败 still failing）: 1" in out
        and f"2× {bad} — no price found" in out
    )
    assert good not in out and feed not in out
