"""Issue 18, the first hour: alerts follow a crawl, and `jingshao run` starts with a crawl of what was
never crawled and says what it scheduled. Demo shop over real HTTP, real SQLite, the CLI as a child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from jingshao.demo.catalog import demo_products
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Observation

from .conftest import REPO, run_cli, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def test_alerts_follow_a_crawl_without_a_manual_evaluate(shop, tmp_path):
    cfg = write_demo_config(
        shop.base_url,
        tmp_path,
        with_browser=False,
        mentions=False,
        products=[p for p in demo_products(shop.base_url) if not p.render],
    )
    run_cli("crawl", "products", "--config", str(cfg), "--no-progress", check=False)
    shop.advance()  # prices drop, one item sells out
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert "告警 alerts:" in proc.stdout
    listed = run_cli("alerts", "list", "--config", str(cfg)).stdout
    assert "降价" in listed, listed


def test_no_evaluate_leaves_the_rules_alone(shop, tmp_path):
    cfg = write_demo_config(
        shop.base_url,
        tmp_path,
        with_browser=False,
        mentions=False,
        products=[p for p in demo_products(shop.base_url) if not p.render],
    )
    run_cli("crawl", "products", "--config", str(cfg), "--no-progress", "--no-evaluate", check=False)
    shop.advance()
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", "--no-evaluate", check=False)
    assert "告警 alerts:" not in proc.stdout
    assert "降价" not in run_cli("alerts", "list", "--config", str(cfg)).stdout


def test_run_crawls_what_was_never_crawled_at_once_and_says_what_it_scheduled(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render][:3]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    cfg.write_text(cfg.read_text().replace("[crawl]", '[schedule]\nproducts = "every 4h"\nreport = "off"\n[crawl]', 1))
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    out_path = tmp_path / "run.out"
    started = time.monotonic()
    with out_path.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jingshao.cli", "run", "--config", str(cfg)],
            cwd=str(REPO),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
            start_new_session=True,
        )
    try:

        def observed() -> int:
            with db.session() as s:
                return s.scalar(select(func.count()).select_from(Observation))

        wait_for(lambda: observed() == 3, timeout=90)
        assert time.monotonic() - started < 90  # not four hours later
        wait_for(lambda: "抓取商品 crawl products: seconds" in out_path.read_text(), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = out_path.read_text()
    assert "抓取商品 crawl products: 每 4 小时 (every 4h), 下次 next" in text
    assert "never ran: starts now" in text
    assert "数据库 database: sqlite:///" in text
    assert "通知渠道 channels:" in text
    # APScheduler's INFO chatter ("Added job", "Running job") is not the user's output. (Its shutdown
    # can still log an ERROR for a job submitted while the executor closes: a known race, left alone.)
    assert " INFO " not in text and "Running job" not in text


def test_a_restart_after_the_first_crawl_keeps_the_schedule(shop, tmp_path):
    """Once a spider has a finished crawl, its job's stored next run time stands (no crawl at each start)."""
    from jingshao.config import load_config
    from jingshao.scheduler import build_scheduler, schedule_first_crawls, sync_jobs

    products = [p for p in demo_products(shop.base_url) if not p.render][:1]
    cfg_path = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    cfg_path.write_text(cfg_path.read_text().replace("[crawl]", '[schedule]\nproducts = "every 4h"\n[crawl]', 1))
    cfg = load_config(cfg_path)
    run_cli("crawl", "products", "--config", str(cfg_path), "--no-progress")
    sched = build_scheduler(cfg, str(cfg_path), blocking=False)
    sched.start(paused=True)
    try:
        sync_jobs(sched, cfg, str(cfg_path))
        assert "crawl_products" not in schedule_first_crawls(sched, cfg)  # reviews never ran: they move
    finally:
        sched.shutdown(wait=False)
