"""The reviews spider against the demo shop's three review shapes (JSON/JSONP by page number,
GBK HTML with next links, JSON by offset): stored once, scored, tagged, incremental."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from jingshao.demo.catalog import demo_products
from jingshao.demo.reviews_data import demo_reviews
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Product, Review

from .conftest import REPO, run_cli, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def reviewed(shop):
    return [p for p in demo_products(shop.base_url) if p.reviews and not p.render]


def stored(db) -> dict[str, dict[str, Review]]:
    with db.session() as s:
        rows = s.execute(select(Product.url, Review).join(Product, Review.product_id == Product.id)).all()
    out: dict[str, dict[str, Review]] = {}
    for url, r in rows:
        out.setdefault(url, {})[r.external_id] = r
    return out


def count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Review))


def test_reviews_are_stored_once_enriched_and_incremental(shop, tmp_path):
    products = reviewed(shop)
    assert {p.reviews["kind"] for p in products} >= {"jsonp", "html", "json"}
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    cfg.write_text(cfg.read_text().replace("timeout = 20", "timeout = 20\nreview_max_pages = 100"))
    run_cli("crawl", "reviews", "--config", str(cfg))
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    got = stored(db)
    for p in products:
        truth = {str(r.id): r for r in demo_reviews(p.id, 0)}
        assert set(got[p.url]) == set(truth), p.id
        for rid, r in truth.items():
            row = got[p.url][rid]
            assert row.text == " ".join(r.text.split()), (p.id, rid)
            assert row.rating == r.rating
            assert row.posted_at == r.posted_at
            assert row.has_images == r.has_images
            assert (row.followup or None) == (" ".join(r.followup.split()) if r.followup else None)
            assert row.sentiment is not None and row.label in ("pos", "neg", "neutral")
    # The scorer agrees with the template's tone on the clear cases.
    all_rows = [(got[p.url][str(r.id)], r) for p in products for r in demo_reviews(p.id, 0)]
    clear = [(row, r) for row, r in all_rows if row.label != "neutral"]
    agree = sum((row.label == r.polarity) for row, r in clear) / len(clear)
    assert agree >= 0.85, agree
    assert sum(1 for row, _ in all_rows if row.tags) >= len(all_rows) * 0.5

    total = count(db)
    hits_before = sum(shop.hits().values())
    run_cli("crawl", "reviews", "--config", str(cfg))  # nothing new: one page per product, no rows
    assert count(db) == total
    assert sum(shop.hits().values()) - hits_before <= len(products) + 1  # +1 robots.txt

    shop.advance()
    run_cli("crawl", "reviews", "--config", str(cfg))
    new_total = sum(len(demo_reviews(p.id, 1)) for p in products)
    assert count(db) == new_total > total
    with db.session() as s:
        runs = s.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
    assert [r.changes for r in runs] == [total, 0, new_total - total]


def test_review_crawl_killed_midway_loses_nothing(shop, tmp_path):
    products = reviewed(shop)
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    cfg.write_text(
        cfg.read_text()
        .replace("concurrency_per_domain = 8", "concurrency_per_domain = 1")
        .replace("download_delay = 0", "download_delay = 0.05")
        .replace("timeout = 20", "timeout = 20\nreview_max_pages = 100")
    )
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "crawl", "reviews", "--config", str(cfg), "--no-progress"],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for(lambda: count(db) >= 256, timeout=120)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    expected_total = sum(len(demo_reviews(p.id, 0)) for p in products)
    assert count(db) < expected_total
    run_cli("crawl", "reviews", "--config", str(cfg))
    assert count(db) == expected_total
    with db.session() as s:
        dupes = s.execute(
            select(Review.product_id, Review.external_id, func.count())
            .group_by(Review.product_id, Review.external_id)
            .having(func.count() > 1)
        ).all()
    assert dupes == []
