"""Crawl processes always end by themselves: with their scheduler (kill -9), on SIGTERM while nobody reads
their output, when their reader goes away (`| head -1`), and when they cannot store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from jingshao.demo.catalog import DemoProduct, slow_product_url
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation

from .conftest import REPO, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def slow_config(shop, tmp_path: Path, n: int, delay: float, concurrency: int = 1, schedule: str = "") -> Path:
    slow = [DemoProduct(f"s{i}", "慢店", f"慢页面{i}", slow_product_url(shop.base_url, i, delay)) for i in range(n)]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=slow)
    text = cfg.read_text().replace("concurrency_per_domain = 8", f"concurrency_per_domain = {concurrency}")
    cfg.write_text(text.replace("[crawl]", schedule + "[crawl]", 1) if schedule else text)
    return cfg


def crawl_processes(cfg: Path) -> list[int]:
    """Pids of live `jingshao crawl` processes for this config (zombies excluded)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"crawl" in cmdline and str(cfg).encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def observations(cfg: Path) -> int:
    db = open_database(f"sqlite:///{cfg.parent / 'demo.db'}", upgrade=False)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Observation)) or 0
    except OperationalError:  # the crawl has not created the schema yet
        return 0
    finally:
        db.dispose()


def test_kill_9_of_the_scheduler_leaves_no_crawl_behind(shop, tmp_path):
    schedule = (
        '[schedule]\nproducts = "every 2s"\nreviews = "off"\nmentions = "off"\nevaluate = "off"\n'
        'dispatch = "off"\nreport = "off"\n'
    )
    cfg = slow_config(shop, tmp_path, 150, 0.3, schedule=schedule)
    run = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "run", "--config", str(cfg)],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        children = wait_for(lambda: crawl_processes(cfg), timeout=90)
        wait_for(lambda: observations(cfg) >= 3, timeout=90)  # the crawl is storing
        run.kill()  # SIGKILL: no cleanup in the scheduler
        run.wait(timeout=10)
        killed_at = time.monotonic()
        wait_for(lambda: not crawl_processes(cfg), timeout=10)
        assert time.monotonic() - killed_at <= 10
        assert all(
            not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text() for pid in children
        )
    finally:
        if run.poll() is None:
            run.kill()
        for pid in crawl_processes(cfg):  # only ever our own test's crawl (matched by its config path)
            os.kill(pid, signal.SIGKILL)
    assert 3 <= observations(cfg) < 150


def test_crawl_piped_into_head_ends_by_itself_and_stores_everything(shop, tmp_path):
    cfg = slow_config(shop, tmp_path, 60, 0.05, concurrency=8)
    start = time.monotonic()
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f"'{sys.executable}' -m jingshao.cli crawl products -v --config '{cfg}' "
            '2>&1 | head -1; echo "crawl exit ${PIPESTATUS[0]}"',
        ],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - start < 100
    assert proc.stdout.strip().endswith("crawl exit 0"), proc.stdout + proc.stderr
    assert observations(cfg) == 60
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}", upgrade=False)
    with db.session() as s:
        assert [r.status for r in s.scalars(select(CrawlRun))] == ["finished"]
    db.dispose()


def test_sigterm_stops_a_crawl_whose_output_nobody_reads(shop, tmp_path):
    missing = [
        DemoProduct(f"m{i}", "缺页店", f"缺页{i}", f"{shop.base_url.rstrip('/')}/nope/{i}.html") for i in range(1500)
    ]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=missing)
    # Every missing page logs two lines (about 250 bytes): far more than the 64 KB a pipe holds, and this
    # test never reads the pipe. A blocking write would stop the crawl (and its SIGTERM handling) there.
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "crawl", "products", "-v", "--config", str(cfg)],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: failures(cfg) >= 800, timeout=120)
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        proc.wait(timeout=30)
        assert time.monotonic() - start < 30
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert failures(cfg) >= 800


def failures(cfg: Path) -> int:
    try:
        conn = sqlite3.connect(str(cfg.parent / "demo.db"), timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM failed_observations").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_crawl_that_cannot_store_stops_with_an_error(shop, tmp_path):
    n = 200  # a crawl that goes on after a failed store fetches all of them (20 s); one that stops, a few dozen
    cfg = slow_config(shop, tmp_path, n, 0.2, concurrency=2)

    def served() -> int:  # slow pages the shop has answered so far
        return sum(c for path, c in shop.hits().items() if path.startswith("/slow/product/"))

    before = served()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "crawl", "products", "--no-progress", "--config", str(cfg)],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Keyed on events, not on timing: the rows present when the table went away, and the pages the shop
    # served after the crawl said it stops (read as the line arrives; a loaded machine only makes that later).
    err_lines: list[str] = []
    served_at_error: list[int] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            if not served_at_error and "cannot store into the database" in line:
                served_at_error.append(served())

    # stdout is read by a thread of its own: proc.communicate() would read stderr too, and the lines it took
    # (the one this test waits for among them) would never reach read_stderr.
    out_chunks: list[str] = []
    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    out_reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    out_reader.start()
    try:
        wait_for(lambda: observations(cfg) >= 3, timeout=90)
        conn = sqlite3.connect(str(tmp_path / "demo.db"), timeout=30)
        conn.execute("ALTER TABLE observations RENAME TO observations_gone")  # every later store fails
        conn.commit()
        stored_before = conn.execute("SELECT count(*) FROM observations_gone").fetchone()[0]
        conn.close()
        proc.wait(timeout=60)
        reader.join(timeout=30)
        out_reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    errors, out = "".join(err_lines), "".join(out_chunks)
    assert proc.returncode == 1, out + errors
    said = " ".join((out + errors).split())  # a narrow terminal may wrap the error line
    assert "could not store" in said and "no such table" in said, errors
    conn = sqlite3.connect(str(tmp_path / "demo.db"))
    status, stored_errors, pages = conn.execute("SELECT status, errors, pages FROM crawl_runs").fetchone()
    conn.close()
    # It stopped at the first failed store (a page or two in flight fail too) instead of fetching and
    # failing every remaining page (with a busy database: waiting 60 s on each): one error, the pages it
    # counts are the rows stored before the table went away, and once it said it stops it fetched only
    # what it had in progress (Scrapy finishes the requests handed to the downloader, at most
    # CONCURRENT_REQUESTS = 16 at a time; twice that as a margin), not the rest of the n pages.
    assert status == "failed" and len(json.loads(stored_errors)) == 1, stored_errors
    assert pages == stored_before, (pages, stored_before)
    assert served_at_error, errors
    after_error = served() - served_at_error[0]
    assert after_error <= 2 * 16, (after_error, served_at_error[0] - before, served() - before)
    assert served() - before < n
