"""What a crawl process sets up around Scrapy (issue 15): the extensions it loads, the garbage collector while
it runs, and what it keeps of each stored page for its summary."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from jingshao.crawlers.items import ProductObservationItem
from jingshao.crawlers.runner import CrawlGarbageCollection
from jingshao.crawlers.settings import LEFT_OUT_EXTENSIONS, extensions_base

from .conftest import REPO


def test_a_crawl_loads_scrapy_extensions_but_remote_control():
    """Scrapy's RemoteControl serves code execution on localhost and its import costs ~0.2 s (aiohttp): it is
    left out of the base list itself (Scrapy imports a class set to None in EXTENSIONS to compare it); the
    other extensions stay, and a crawler built from the settings never imports it."""
    from scrapy.settings import default_settings

    base = extensions_base()
    assert not LEFT_OUT_EXTENSIONS & base.keys()
    assert base == {k: v for k, v in default_settings.EXTENSIONS_BASE.items() if k not in LEFT_OUT_EXTENSIONS}
    assert "scrapy.extensions.corestats.CoreStats" in base
    code = textwrap.dedent("""
        import sys
        import scrapy
        from scrapy.crawler import CrawlerProcess
        from jingshao.crawlers.settings import extensions_base

        class Idle(scrapy.Spider):
            name = "idle"

            async def start(self):
                return
                yield

        settings = {"EXTENSIONS_BASE": extensions_base(), "TELNETCONSOLE_ENABLED": False, "LOG_LEVEL": "ERROR"}
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(Idle)
        process.crawl(crawler)
        process.start()
        names = sorted(type(e).__name__ for e in crawler.extensions.middlewares)
        print("CoreStats" in names, "RemoteControl" in names, "scrapy.extensions.remote_control" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False"]


def test_the_collector_is_tuned_while_a_crawl_runs_and_restored_after():
    saved = gc.get_threshold()
    collection = CrawlGarbageCollection()
    try:
        collection.start()
        assert gc.get_freeze_count() > 0  # what the crawl set up is not walked again
        assert gc.get_threshold() == (max(CrawlGarbageCollection.threshold, saved[0]), *saved[1:])
        collection.start()  # once only
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected
    finally:
        collection.stop()
    assert gc.get_threshold() == saved
    assert gc.get_freeze_count() == 0
    collection.stop()  # harmless twice


def test_the_outcome_of_a_stored_page_outlives_its_item():
    """The crawl keeps each page's outcome cell for its summary, not the item (its body, fields, sources)."""
    import weakref

    item = ProductObservationItem(product_id=1, url="http://shop.test/1", fields={"price": 1}, body=b"x" * 1000)
    cell, gone = item.outcome, weakref.ref(item)
    assert item.stored_as is None
    item.stored_as = "changed"
    del item
    gc.collect()
    assert gone() is None
    assert cell.value == "changed"
