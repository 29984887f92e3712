"""The command line as a user runs it (child processes, real files, the demo shop)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from jingshao.config import load_config
from jingshao.demo.catalog import demo_products
from jingshao.demo.runner import write_demo_config

from .conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def test_init_writes_a_config_that_loads(tmp_path):
    path = tmp_path / "jingshao.toml"
    run_cli("init", str(path))
    assert load_config(path).competitors[0].products[0].reviews is not None
    again = run_cli("init", str(path), check=False)
    assert again.returncode == 1 and "exists" in again.stderr


def test_nlp_score_stdin_and_csv(tmp_path):
    proc = run_cli_input(["nlp", "score"], "物流很快，质量很好，非常满意\n质量太差了，用了两天就坏了，退货\n\n")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg", "neu"]  # one label vocabulary with --kind mention
    assert rows[0]["positive"] > 0.8 > 0.2 > rows[1]["positive"]
    csv = tmp_path / "r.csv"
    csv.write_text("id,评论\n1,很好用\n2,太烂了\n", encoding="utf-8")
    out = run_cli("nlp", "score", "--csv", str(csv), "--column", "评论").stdout.splitlines()
    assert [json.loads(x)["text"] for x in out] == ["很好用", "太烂了"]
    bad = run_cli("nlp", "score", "--csv", str(csv), "--column", "review", check=False)
    assert bad.returncode == 2 and "no column 'review'" in bad.stderr and "评论" in bad.stderr


def test_nlp_tags_and_adlaw(tmp_path):
    proc = run_cli_input(["nlp", "tags", "--category", "apparel"], "尺码偏小，物流一点都不快\n")
    tags = json.loads(proc.stdout)["tags"]
    assert {(t["aspect"], t["polarity"]) for t in tags} == {("尺码", "neg"), ("物流", "neg")}
    out = json.loads(run_cli("adlaw", "--json", "全网最低价，国家级品质").stdout)
    assert {h["word"] for h in out} >= {"国家级"}
    assert all(0 <= h["start"] < h["end"] for h in out)
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text('[nlp]\nadlaw_extra = ["秒杀全网"]\n', encoding="utf-8")
    hits = json.loads(run_cli("adlaw", "--json", "秒杀全网的好货", "--config", str(cfg)).stdout)
    assert "秒杀全网" in {h["word"] for h in hits}  # the config's extra words apply


def test_extract_json_on_saved_pages():
    pages = sorted((REPO / "tests" / "fixtures" / "extract").glob("*.html"))
    out = run_cli("extract", "--json", *map(str, pages)).stdout.splitlines()
    rows = [json.loads(x) for x in out]
    assert len(rows) == len(pages)
    assert {
        "input",
        "title",
        "price",
        "original_price",
        "currency",
        "availability",
        "promo",
        "sku",
        "brand",
        "sources",
        "error",
    } <= set(rows[0])
    missing = run_cli("extract", "--json", "/no/such/file.html", check=False)
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"]


def test_reviews_then_tags_and_analyze(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if p.reviews and not p.render][:2]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    run_cli("crawl", "reviews", "--config", str(cfg))
    out = run_cli("tags", "--config", str(cfg), "--top", "3").stdout
    assert "优点" in out and "缺点" in out and "全部商品" in out
    db = sqlite3.connect(tmp_path / "demo.db")
    db.execute("update reviews set sentiment = null, label = null, tags = null")
    db.commit()
    run_cli("analyze", "--config", str(cfg))
    assert db.execute("select count(*) from reviews where sentiment is null").fetchone()[0] == 0
    assert db.execute("select count(*) from reviews where tags is not null").fetchone()[0] > 0
    res = run_cli("analyze", "--rescore", "--config", str(cfg)).stdout
    assert "re-scanned" in res and "条评价 reviews, 0 条舆情 mentions" in res


def test_demo_command_runs_the_whole_job(tmp_path):
    proc = run_cli("demo", "--workdir", str(tmp_path), timeout=600)
    assert "products changed" in proc.stdout
    assert "→" in proc.stdout
    # Piped output: tables take the width they need, but a section heading is no wider than a terminal.
    rules = [line for line in proc.stdout.splitlines() if line.startswith("─")]
    assert len(rules) >= 3 and max(len(line) for line in rules) <= 120
    db = sqlite3.connect(tmp_path / "demo.db")
    assert db.execute("select count(*) from crawl_runs where status = 'finished'").fetchone()[0] >= 2
    assert db.execute("select count(*) from observations where price = 0").fetchone()[0] == 0


def run_cli_input(args: list[str], stdin: str):
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "jingshao.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    return proc
