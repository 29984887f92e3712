"""What a crawl process sets up around Scrapy (issue 15): the extensions it loads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
