"""Product pages extracted in worker processes (`[crawl] extract_workers`, issue 15): the same rows as an
in-process crawl, and no page lost or crawl hung when a worker dies (kill -9) or the crawl is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jingshao.crawlers.extraction_pool import MAX_RESTARTS, ExtractionPool, WorkerDied, extract_page
from jingshao.demo.catalog import DemoProduct, demo_products, expected_bench, slow_product_url
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import AdlawHit, CrawlRun, FailedObservation, Observation, Product

from .conftest import REPO, run_cli, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out

PAGE = b"""<html><head><title>x</title><script type="application/ld+json">
{"@type": "Product", "name": "\xe6\xb5\x8b\xe8\xaf\x95\xe5\x95\x86\xe5\x93\x81", "sku": "A1",
 "offers": {"@type": "Offer", "price": "199.00", "priceCurrency": "CNY", "availability": "InStock"}}
</script></head><body><h1>test</h1></body></html>"""


def die_on_poison(body, url, encoding, target, nlp):
    """A page that kills the worker extracting it (like a crash in a C extension); others extract normally."""
    if url.endswith("/poison"):
        os._exit(1)
    return extract_page(body, url, encoding, target, nlp)


def slow_extract(body, url, encoding, target, nlp):
    time.sleep(0.5)
    return extract_page(body, url, encoding, target, nlp)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def set_workers(cfg: Path, workers: int) -> Path:
    cfg.write_text(cfg.read_text().replace("[crawl]\n", f"[crawl]\nextract_workers = {workers}\n", 1))
    return cfg


def stored_rows(db_url: str) -> dict[str, tuple]:
    db = open_database(db_url, upgrade=False)
    try:
        with db.session() as s:
            rows = s.execute(select(Product.url, Observation).join(Observation.product)).all()
            failed = s.execute(select(FailedObservation.url, FailedObservation.reason)).all()
            hits = s.execute(
                select(Product.url, AdlawHit.field, AdlawHit.word, AdlawHit.category, AdlawHit.start, AdlawHit.context)
                .join(Product, Product.id == AdlawHit.product_id)
                .order_by(Product.url, AdlawHit.field, AdlawHit.start)
            ).all()
    finally:
        db.dispose()
    out: dict[str, tuple] = {
        url: (
            o.title,
            o.price,
            o.original_price,
            o.currency,
            o.availability,
            o.in_stock,
            o.promo,
            o.sku,
            o.brand,
            o.price_is_range,
            o.sources,
            o.content_hash,
            o.final_price,
            o.offers,
            o.variants,
            o.basis,
            o.status,
        )
        for url, o in rows
    }
    out.update({f"failed {url}": (reason,) for url, reason in failed})
    for url, *hit in hits:
        out.setdefault(f"adlaw {url}", []).append(tuple(hit))
    return out


def test_a_crawl_with_extraction_workers_stores_what_an_in_process_crawl_stores(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render]
    products.append(DemoProduct("index", "优品数码旗舰店", "首页", shop.base_url + "/"))  # no price: a failure
    rows = {}
    for workers in (0, 2):
        cfg = write_demo_config(shop.base_url, tmp_path / f"w{workers}", with_browser=False, products=products)
        # The crawl's own ad-law words (words of the demo's promos) must reach the workers, which find the hits.
        cfg.write_text(cfg.read_text().replace("[web]\n", '[nlp]\nadlaw_extra = ["赠品", "领券"]\n[web]\n', 1))
        run_cli("crawl", "products", "--config", str(set_workers(cfg, workers)), check=False)
        rows[workers] = stored_rows(f"sqlite:///{cfg.parent / 'demo.db'}")
    hits = {key: value for key, value in rows[0].items() if key.startswith("adlaw ")}
    assert len(rows[0]) - len(hits) == len(products)
    assert any(key.startswith("failed ") for key in rows[0])
    assert any(row[6] for row in rows[0].values() if len(row) > 1 and not isinstance(row, list))  # promos too
    assert {hit[1] for value in hits.values() for hit in value} >= {"赠品", "领券"}  # the config's words
    assert any(row[12] for row in rows[0].values() if len(row) > 1 and not isinstance(row, list))  # 到手价 too
    assert rows[2] == rows[0]


def test_workers_do_not_run_the_crawls_main_module_again(tmp_path):
    """spawn runs the parent's __main__ again in each child, unless told otherwise: for `python -m jingshao.cli`
    that is the whole CLI (~1.3 s of CPU per worker). The main module here notes every import of itself; only
    the parent's is there, and the pages are still extracted."""
    notes = tmp_path / "imports.txt"
    script = tmp_path / "crawl_main.py"
    script.write_text(
        textwrap.dedent(f"""
            import asyncio, os
            with open({str(notes)!r}, "a") as f:
                f.write(__name__ + "\\n")
            from jingshao.crawlers.extraction_pool import ExtractionPool

            if __name__ == "__main__":
                pool = ExtractionPool(2)
                async def run():
                    return await asyncio.gather(*(pool.extract({PAGE!r}, f"http://shop.test/{{i}}") for i in range(4)))
                try:
                    print([str(r.price) for r in asyncio.run(run())], len(pool.pids()))
                finally:
                    pool.close()
            """),
        encoding="utf-8",
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['199.00',", "'199.00',", "'199.00',", "'199.00']", "2"]
    assert notes.read_text().split() == ["__main__"]  # the workers did not import it as __mp_main__


def test_a_worker_finds_ad_law_hits_without_loading_numpy_the_tag_lexicons_or_asyncio():
    """What a spawned worker imports: the function's module, then whatever unpickling its arguments needs (the
    crawl's NlpConfig). Issue 15: `jingshao.nlp` imported everything eagerly, numpy (the scorer) and the tag
    lexicons among it, ~0.2 s of CPU per worker before its first page, for ad-law words only; and extraction_pool
    imported asyncio, which only the crawl's side of the pool uses."""
    import pickle

    from jingshao.nlp.settings import NlpConfig

    args = pickle.dumps(
        (PAGE.replace(b'"name": "', '"name": "最好的'.encode()), "http://shop.test/1", None, {}, NlpConfig())
    )
    code = textwrap.dedent(f"""
        import pickle, sys
        from jingshao.crawlers.extraction_pool import extract_page
        page = extract_page(*pickle.loads({args!r}))
        print(page.price, [h["word"] for h in page.adlaw_hits])
        heavy = ("numpy", "jingshao.nlp.scorer", "jingshao.nlp.tags", "jingshao.nlp.train", "asyncio")
        print(sorted(m for m in heavy if m in sys.modules))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["199.00 ['最好']", "[]"]


def test_a_worker_extracts_without_running_extruct_init_and_extruct_still_works_whole():
    """Issue 15: extruct's __init__ imports every syntax's extractor (mf2py with bs4 / html5lib / requests,
    pyRdfa with rdflib): ~0.2 s of a worker's start, for a JSON-LD and microdata page that needs none of them.
    A worker defers the package's __init__; the page is extracted the same, and the package's own names
    (extruct.extract ...) still run its __init__ and work."""
    page = PAGE.replace(
        b"<h1>test</h1>", b'<div itemscope itemtype="https://schema.org/Product"><h1 itemprop="name">x</h1></div>'
    )
    code = textwrap.dedent(f"""
        import sys
        from jingshao.crawlers.extraction_pool import _init_worker, extract_page
        _init_worker()
        page = extract_page({page!r}, "http://shop.test/1", None, {{}}, None)
        heavy = ("mf2py", "pyRdfa", "rdflib", "bs4", "html5lib", "requests", "extruct._extruct")
        print(page.price, page.ext.title, sorted(m for m in heavy if m in sys.modules))
        import extruct
        from extruct import JsonLdExtractor
        data = extruct.extract({page!r}, syntaxes=["json-ld", "microdata"])
        same = JsonLdExtractor is sys.modules["extruct.jsonld"].JsonLdExtractor
        print(same, len(data["json-ld"]), len(data["microdata"]))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    plain = extract_page(page, "http://shop.test/1", None, {}, None)
    assert out.stdout.splitlines() == [f"{plain.price} {plain.ext.title} []", "True 1 1"]


def test_a_pool_warms_its_workers_and_they_leave_at_once_when_it_closes():
    """The workers extract a built-in page when they start (the first real page then waits for no import) and
    exit without the interpreter's teardown once the pool closes; pages are extracted as before."""
    pool = ExtractionPool(2)

    async def run():
        pool.start()
        return await asyncio.gather(*(pool.extract(PAGE, f"http://shop.test/{i}") for i in range(3)))

    try:
        results = asyncio.run(run())
        pids = pool.pids()
        assert len(pids) == 2
    finally:
        pool.close()
    assert [r.price for r in results] == [extract_page(PAGE, "u", None, {}, None).price] * 3
    assert not any(alive(p) for p in pids)


def test_a_worker_killed_mid_page_is_replaced_and_its_page_extracted_again():
    pool = ExtractionPool(1, slow_extract)

    async def run():
        pages = [asyncio.ensure_future(pool.extract(PAGE, f"http://shop.test/{i}")) for i in range(3)]
        await asyncio.sleep(1.0)  # the worker is started, busy with its start or a page
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        return pid, await asyncio.gather(*pages)

    try:
        pid, results = asyncio.run(run())
        assert [r.price for r in results] == [extract_page(PAGE, "u", None, {}, None).price] * 3
        assert pool.restarts == 1
        assert pool.pids() and pid not in pool.pids()
    finally:
        pool.close()
    assert not pool.pids()


def test_a_page_that_kills_its_worker_twice_is_a_failed_page_and_the_others_are_extracted():
    pool = ExtractionPool(1, die_on_poison)

    async def run():
        urls = ["http://shop.test/a", "http://shop.test/poison", "http://shop.test/b"]
        return await asyncio.gather(*(pool.extract(PAGE, u) for u in urls), return_exceptions=True)

    try:
        a, poison, b = asyncio.run(run())
    finally:
        pool.close()
    assert isinstance(poison, WorkerDied) and "died twice" in str(poison)
    assert a.price == b.price == extract_page(PAGE, "u", None, {}, None).price  # bystanders are extracted
    assert pool.restarts == 1


def test_after_too_many_dead_pools_the_crawl_extracts_in_process():
    pool = ExtractionPool(1, die_on_poison)

    async def run():
        for _ in range(MAX_RESTARTS):
            with pytest.raises(WorkerDied):
                await pool.extract(PAGE, "http://shop.test/poison")
        return await pool.extract(PAGE, "http://shop.test/ok")

    try:
        result = asyncio.run(run())
    finally:
        pool.close()
    assert pool.in_process and not pool.pids()
    assert result.price == extract_page(PAGE, "u", None, {}, None).price


def test_the_workers_die_with_a_crawl_killed_with_kill_9(tmp_path):
    script = (
        "import asyncio, sys\n"
        "from jingshao.crawlers.extraction_pool import ExtractionPool\n"
        "if __name__ == '__main__':\n"
        "    pool = ExtractionPool(2)\n"
        "    asyncio.run(pool.extract(b'<html></html>', 'http://shop.test/'))\n"
        "    print(*pool.pids(), flush=True)\n"
        "    sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(REPO)
    )
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
    finally:
        proc.kill()
        proc.wait()
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_worker_killed_during_a_crawl_loses_no_page(shop, tmp_path):
    n = 40
    products = [DemoProduct(f"s{i}", "慢店", f"慢页面{i}", slow_product_url(shop.base_url, i, 0.3)) for i in range(n)]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, mentions=False, products=products)
    cfg.write_text(cfg.read_text().replace("concurrency_per_domain = 8", "concurrency_per_domain = 2"))
    set_workers(cfg, 1)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")

    def observations() -> int:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Observation)) or 0

    shop.reset_hits()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "crawl", "products", "--config", str(cfg), "--no-progress"],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def slow_pages_served() -> int:
        return sum(v for k, v in shop.hits().items() if k.startswith("/slow/product/"))

    def extraction_workers() -> list[int]:
        # The extraction worker: the crawl's child running multiprocessing's spawn_main.
        return [c for c in children_of(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]

    try:
        # Kill as soon as the worker runs and a few pages are in: the shop's count, not stored rows
        # (rows are written in batches, so under load they show up late, when the crawl is nearly done).
        workers = wait_for(lambda: slow_pages_served() >= 3 and extraction_workers(), timeout=60)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        stored_at_kill = observations()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert stored_at_kill < n  # killed mid-crawl
    assert "an extraction worker died" in err
    assert observations() == n
    with db.session() as s:
        runs = s.scalars(select(CrawlRun)).all()
        latest = dict(s.execute(select(Product.url, Observation.price).join(Observation.product)).all())
    assert [r.status for r in runs] == ["finished"] and runs[0].changes == n
    assert all(latest[p.url] == expected_bench(i).price for i, p in enumerate(products))
