"""Issue 18, the first hour: a new user's first `jingshao report` covers today (their data is today's)
and says so; the file is readable by the group. Demo shop over real HTTP, real SQLite, the CLI as a child."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jingshao.demo.catalog import demo_products
from jingshao.demo.runner import write_demo_config

from .conftest import run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def test_first_report_covers_today_so_far_and_says_so(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render][:3]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    run_cli("crawl", "products", "--config", str(cfg), "--no-progress", "--no-evaluate", check=False)
    old = os.umask(0o022)
    try:
        proc = run_cli("report", "--config", str(cfg), "--out", str(tmp_path / "reports"))
    finally:
        os.umask(old)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert f"今天到目前 today so far {today}" in proc.stdout
    assert f"昨天 {today - timedelta(days=1)} 没有数据" in proc.stdout
    path = Path(re.search(r"日报 report: (\S+\.html)", proc.stdout).group(1))
    assert path.name == f"jingshao-report-{today}.html"
    html = path.read_text(encoding="utf-8")
    assert products[0].competitor in html  # the crawled shop is in it: not an empty report
    assert path.stat().st_mode & stat.S_IRGRP, oct(path.stat().st_mode)


def test_an_explicit_date_is_taken_as_given(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render][:1]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    proc = run_cli("report", "--config", str(cfg), "--date", "2026-01-05", "--out", str(tmp_path / "r"))
    assert "report day" not in proc.stdout
    assert "jingshao-report-2026-01-05.html" in proc.stdout
