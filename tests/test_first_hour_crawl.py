"""Issue 18, the first hour: a crawl says what happened to each page, in one line per failure, and its
exit code says whether anything worked. Real HTTP servers on 127.0.0.1, the CLI in a child process."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jingshao.demo.catalog import DemoProduct, demo_products
from jingshao.demo.runner import write_demo_config

from .conftest import REPO, free_port, run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


@pytest.fixture
def plain_site(tmp_path):
    """A plain static file server: a 404 for a missing file, a directory listing for a folder."""
    root = tmp_path / "www"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "readme.txt").write_text("no products here", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def broken_products(site: str) -> list[DemoProduct]:
    return [
        DemoProduct("missing", "测试店", "不存在的页面", f"{site}/no/such/item.html"),
        DemoProduct("closed", "测试店", "关闭的端口", f"http://127.0.0.1:{free_port()}/item.html"),
        DemoProduct("folder", "测试店", "目录页", f"{site}/catalog/"),
    ]


def write_config(shop, tmp_path: Path, products: list[DemoProduct]) -> Path:
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products, mentions=False)
    # The init config's retries (3): the retry middleware's "gave up" errors are what used to flood stderr.
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("retry_times = 2", "retry_times = 3"), encoding="utf-8")
    return cfg


def test_every_page_failing_is_one_line_each_a_summary_and_exit_3(shop, plain_site, tmp_path):
    products = broken_products(plain_site)
    cfg = write_config(shop, tmp_path, products)
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Gave up retrying" not in proc.stderr, proc.stderr
    failure_lines = [line for line in proc.stderr.splitlines() if line.startswith("失败 failed ")]
    assert len(failure_lines) == 3, proc.stderr
    reasons = {p.url: line for p in products for line in failure_lines if p.url in line}
    assert "HTTP 404" in reasons[products[0].url]
    assert "connection refused" in reasons[products[1].url]
    assert "no price found on page" in reasons[products[2].url]
    assert "3 失败 failed" in proc.stdout
    table = proc.stdout[proc.stdout.index("按结果 by outcome") :]
    for reason in ("HTTP 404", "connection refused", "no price found on page"):
        assert reason in table


def test_some_pages_failing_exit_1_and_the_table_counts_outcomes(shop, plain_site, tmp_path):
    good = [p for p in demo_products(shop.base_url) if not p.render][:2]
    cfg = write_config(shop, tmp_path, good + broken_products(plain_site)[:1])
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[-2].strip()
        for line in proc.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }
    assert rows["有变化 changed"] == "2" and rows["失败 failed"] == "1", proc.stdout
    # Once more: nothing changed, the broken page still fails.
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", check=False)
    assert proc.returncode == 1
    assert "2 无变化 unchanged" in proc.stdout


def test_an_all_good_crawl_exits_0(shop, tmp_path):
    cfg = write_config(shop, tmp_path, [p for p in demo_products(shop.base_url) if not p.render][:2])
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress")
    assert proc.returncode == 0 and "失败 failed" not in proc.stderr


def test_verbose_keeps_the_scrapy_log(shop, plain_site, tmp_path):
    cfg = write_config(shop, tmp_path, broken_products(plain_site)[1:2])
    proc = run_cli("crawl", "products", "--config", str(cfg), "--no-progress", "-v", check=False)
    assert proc.returncode == 3
    assert "Gave up retrying" in proc.stderr


def test_help_keeps_bracketed_words():
    mentions = run_cli("crawl", "mentions", "--help").stdout
    assert "[[mention_sources]]" in mentions
    assert "[report] out_dir" in run_cli("report", "--help").stdout
    assert "[reviews]" in run_cli("crawl", "reviews", "--help").stdout


def test_piped_tables_are_not_cut_at_80_columns(tmp_path):
    """`jingshao prices | less`: a long promo line keeps its text (no COLUMNS, no terminal)."""
    from jingshao.storage.db import open_database
    from jingshao.storage.repository import CatalogEntry, record_observation, sync_catalog

    url = "http://127.0.0.1:9/" + "very-long-product-path/" * 4 + "item.html"
    promo = "满300减50 | 第二件半价 | 前100名赠品 | 会员再享9.5折 | 顺丰包邮 | 七天无理由退换"
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    with db.session() as s:
        ids = sync_catalog(s, [CatalogEntry("测试店", url, "一个名字很长很长很长很长的测试商品", False, "general")])
        record_observation(
            s,
            ids[url],
            {"title": "t", "price": 99, "currency": "CNY", "availability": "InStock", "promo": promo},
            seen_at=None,
        )
    db.dispose()
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "p.db"}"\n[[competitors]]\nname = "测试店"\n'
        f'  [[competitors.products]]\n  url = "{url}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run(
        [sys.executable, "-m", "jingshao.cli", "prices", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert promo in proc.stdout and url in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) > 80


def test_readme_says_exactly_what_init_writes(tmp_path):
    """The README's full example is what `jingshao init` writes, value for value; the sections init adds
    beyond it are the ones the README names."""
    import re
    import tomllib

    from jingshao.config import load_config

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    at = readme.index("Full example: `jingshao init`")
    sentence = readme[at : readme.index("```toml", at)]
    block = tomllib.loads(re.search(r"```toml\n(.*?)```", readme[at:], re.S).group(1))
    path = tmp_path / "jingshao.toml"
    run_cli("init", str(path))
    written = tomllib.loads(path.read_text(encoding="utf-8"))

    def contained(part, whole, where="") -> None:
        if isinstance(part, dict):
            for key, value in part.items():
                assert key in whole, f"README's full example has {where}{key}; `jingshao init` does not write it"
                contained(value, whole[key], f"{where}{key}.")
        elif isinstance(part, list) and part and isinstance(part[0], dict):
            assert len(part) == len(whole), where
            for a, b in zip(part, whole, strict=True):
                contained(a, b, where)
        else:
            assert part == whole, f"{where}: README {part!r}, init {whole!r}"

    contained(block, written)
    for extra in sorted(set(written) - set(block)):
        assert f"`[{extra}]`" in sentence, f"init writes [{extra}], the README's sentence does not say so"
    load_config(path)  # and what init writes loads


def test_prices_finds_a_product_by_the_shops_item_id(shop, tmp_path):
    """`prices -p 334455`: the number a user copies from the shop's URL finds the product."""
    from jingshao.storage.db import open_database
    from jingshao.storage.repository import CatalogEntry, find_products, sync_catalog

    db = open_database(f"sqlite:///{tmp_path / 'ids.db'}")
    with db.session() as s:
        ids = sync_catalog(
            s,
            [
                CatalogEntry("店", "https://item.example.com/item/334455.html", "甲"),
                CatalogEntry("店", "https://shop.example.com/p?id=1334455&x=1", "乙"),
            ],
        )
    with db.session() as s:
        assert [p.url for p in find_products(s, "334455")] == ["https://item.example.com/item/334455.html"]
        assert [p.url for p in find_products(s, "1334455")] == ["https://shop.example.com/p?id=1334455&x=1"]
        assert [p.id for p in find_products(s, str(ids["https://item.example.com/item/334455.html"]))] == [1]
        assert find_products(s, "999999") == []
    db.dispose()


def test_errors_are_chinese_with_the_english_key_words_kept(tmp_path):
    bad = tmp_path / "jingshao.toml"
    bad.write_text('[crawl]\ndownload_delay = "fast"\n', encoding="utf-8")
    proc = run_cli("crawl", "products", "--config", str(bad), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("配置错误 config error"), proc.stderr
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "e.db"}"\n', encoding="utf-8")
    proc = run_cli("crawl", "products", "--config", str(empty), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("错误 error") and "nothing to crawl" in proc.stderr
