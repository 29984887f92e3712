"""The scheduler: jobs from config, persisted in the database, fired on time, kept across a
restart, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from jingshao.config import load_config
from jingshao.core.triggers import parse_trigger
from jingshao.demo.catalog import DemoProduct, demo_products, slow_product_url
from jingshao.demo.runner import write_demo_config
from jingshao.scheduler import build_scheduler, planned_jobs, run_scheduler, sync_jobs
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, JobRun, Observation

from .conftest import REPO, run_cli, wait_for

ONLY_PRODUCTS = """
[schedule]
products = "every 3s"
reviews = "off"
mentions = "off"
evaluate = "off"
dispatch = "off"
report = "off"
misfire_grace_minutes = 5
"""


def config_for(shop, tmp_path, products=None):
    products = products or [p for p in demo_products(shop.base_url) if not p.render][:3]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    text = cfg.read_text()
    cfg.write_text(text.replace("[crawl]", ONLY_PRODUCTS + "[crawl]", 1))
    return cfg


def job_runs(db, job: str) -> list[JobRun]:
    with db.session() as s:
        return list(s.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def test_trigger_specs():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    assert "interval[0:15:00]" in str(parse_trigger("every 15m", tz))
    assert "cron[" in str(parse_trigger("0 8 * * *", tz))
    for bad in ("every 0m", "every 5x", "sometimes", "61 8 * * *"):
        with pytest.raises(ValueError, match="bad"):
            parse_trigger(bad, tz)


@pytest.mark.slow
def test_jobs_fire_on_time_and_survive_a_restart(shop, tmp_path):
    cfg_path = config_for(shop, tmp_path)
    cfg = load_config(cfg_path)
    db = open_database(cfg.database_url)
    assert set(planned_jobs(cfg)) == {"crawl_products"}

    stop = threading.Event()
    t = threading.Thread(target=run_scheduler, args=(cfg, str(cfg_path)), kwargs={"stop_event": stop})
    t.start()
    try:
        wait_for(lambda: len([r for r in job_runs(db, "crawl_products") if r.outcome == "ok"]) >= 2, timeout=90)
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()
    runs = job_runs(db, "crawl_products")
    # The scheduler stops while the next run may be crawling already (under load, likely): that one
    # ends "stopped" (the child was told to stop); every earlier run finished on its own.
    *done, last = runs  # (by id: in start order)
    assert [r.outcome for r in done] == ["ok"] * len(done), [(r.outcome, r.error) for r in runs]
    assert last.outcome in ("ok", "running", "stopped"), (last.outcome, last.error)
    ok = [r for r in runs if r.outcome == "ok"]
    # Interval of 3 s, coalesced, never overlapping: successive starts are at least ~3 s apart.
    assert all((b.started_at - a.started_at).total_seconds() >= 2.5 for a, b in zip(ok, ok[1:], strict=False))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 3  # unchanged shop: no new rows

    # Restart: the stored job is kept with its schedule, not re-created.
    sched = build_scheduler(cfg, str(cfg_path), blocking=False)
    sched.start(paused=True)
    try:
        assert sync_jobs(sched, cfg, str(cfg_path)) == {"crawl_products": "kept"}
        job = sched.get_job("crawl_products")
        assert job is not None and job.next_run_time is not None
        # A schedule change in the config replaces the job; a job dropped from the config goes away.
        cfg.schedule.products = "every 1h"
        assert sync_jobs(sched, cfg, str(cfg_path)) == {"crawl_products": "updated"}
        cfg.schedule.products = "off"
        assert sync_jobs(sched, cfg, str(cfg_path)) == {"crawl_products": "removed"}
    finally:
        sched.shutdown(wait=False)


@pytest.mark.slow
def test_sigterm_stops_the_scheduler_and_its_crawl_cleanly(shop, tmp_path):
    slow = [DemoProduct(f"s{i}", "慢店", f"慢页面{i}", slow_product_url(shop.base_url, i, 0.5)) for i in range(30)]
    cfg_path = config_for(shop, tmp_path, products=slow)
    cfg_path.write_text(
        cfg_path.read_text()
        .replace('products = "every 3s"', 'products = "every 1h"')
        .replace("concurrency_per_domain = 8", "concurrency_per_domain = 1")
    )
    cfg = load_config(cfg_path)
    db = open_database(cfg.database_url)
    # SIGTERM as soon as the jobs are stored (the first crawl is seconds away): the scheduler stops promptly.
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "run", "--config", str(cfg_path)],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
        start_new_session=True,
    )
    try:
        wait_for(lambda: next_run_known(cfg), timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # Run the crawl job directly and stop the scheduler while the crawl child is mid-way.
    from jingshao.scheduler import crawl_job

    th = threading.Thread(target=lambda: crawl_job(str(cfg_path), "products"))
    th.start()
    wait_for(lambda: count(db, Observation) >= 2, timeout=60)
    from jingshao.scheduler import stop_children

    stop_children()
    th.join(timeout=60)
    assert not th.is_alive()
    assert 2 <= count(db, Observation) <= 30  # Scrapy stops gracefully: pages in flight finish
    with db.session() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "crawl_products").order_by(JobRun.id.desc())).first()
        crawl = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
    assert run.outcome == "stopped" and run.finished_at is not None
    assert crawl.status in ("finished", "failed") and crawl.finished_at is not None
    run_cli("crawl", "products", "--config", str(cfg_path))  # a later crawl completes the rest, no duplicates
    assert count(db, Observation) == 30


def next_run_known(cfg) -> bool:
    from jingshao.scheduler import next_runs

    return bool(next_runs(cfg).get("crawl_products"))


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.slow
def test_status_command(shop, tmp_path):
    cfg_path = config_for(shop, tmp_path)
    out = run_cli("status", "--config", str(cfg_path)).stdout
    assert "crawl_products" in out and "every 3s" in out and "待发通知 outbox: 0 条待发 pending" in out


@pytest.mark.slow
def test_a_long_write_elsewhere_does_not_kill_the_scheduler(shop, tmp_path):
    """The job store waits for SQLite's write lock like the rest of the product (it used pysqlite's
    5 s default, and one failed next-run-time update killed APScheduler's thread silently)."""
    from sqlalchemy import text

    cfg_path = config_for(shop, tmp_path)
    cfg_path.write_text(cfg_path.read_text().replace('products = "every 3s"', 'products = "every 1s"'))
    cfg = load_config(cfg_path)
    db = open_database(cfg.database_url)
    stop = threading.Event()
    t = threading.Thread(target=run_scheduler, args=(cfg, str(cfg_path)), kwargs={"stop_event": stop})
    t.start()
    try:
        wait_for(lambda: len(job_runs(db, "crawl_products")) >= 1, timeout=60)
        with db.engine.connect() as conn:  # BEGIN IMMEDIATE: hold the write lock for 7 s
            conn.execute(text("UPDATE products SET name = name"))
            threading.Event().wait(7)
            conn.commit()
        before = len(job_runs(db, "crawl_products"))
        wait_for(lambda: len(job_runs(db, "crawl_products")) >= before + 2, timeout=60)
        assert t.is_alive()
    finally:
        stop.set()
        t.join(timeout=60)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_scheduler_exits_when_its_thread_dies(tmp_path, monkeypatch):
    from apscheduler.schedulers.background import BackgroundScheduler

    from jingshao.scheduler import SchedulerDied

    cfg_path = tmp_path / "jingshao.toml"
    cfg_path.write_text(f"[database]\nurl = 'sqlite:///{tmp_path / 'x.db'}'\n", encoding="utf-8")
    cfg = load_config(cfg_path)
    open_database(cfg.database_url).dispose()

    def broken_loop(self):
        raise RuntimeError("job store failed")

    monkeypatch.setattr(BackgroundScheduler, "_main_loop", broken_loop)
    with pytest.raises(SchedulerDied):
        run_scheduler(cfg, str(cfg_path), stop_event=threading.Event())


def test_report_jobs_follow_report_enabled(tmp_path):
    base = f"[database]\nurl = 'sqlite:///{tmp_path / 'x.db'}'\n"
    smtp = "[report.smtp]\nhost = 'smtp.example.com'\nfrom_addr = 'a@example.com'\nto = ['b@example.com']\n"
    (tmp_path / "on.toml").write_text(base + smtp, encoding="utf-8")
    (tmp_path / "off.toml").write_text(base + "[report]\nenabled = false\n" + smtp, encoding="utf-8")
    assert {"report", "report_catchup"} <= set(planned_jobs(load_config(tmp_path / "on.toml")))
    assert not {"report", "report_catchup"} & set(planned_jobs(load_config(tmp_path / "off.toml")))
