"""Dump extract_product results over the 70 shared pages, tests/fixtures/cn-pages and 200 demo-shop
pages (JSON lines) and time it on the demo pages: `python bench/extract_dump.py OUT.jsonl`, then
diff two dumps (byte-identical results is the rule for speed-ups of the extraction)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawlers.extract import (
    extract_product,
    scoring,
)


def _pages() -> tuple[list[tuple[str, bytes, str]], list[tuple[str, bytes, str]]]:
    import httpx
    from _shop import start_demo_shop

    from jingshao.demo.catalog import bench_product_urls

    out = []
    shared = Path(os.environ.get("SHARED", "/work/shared")) / "fixtures/product-pages"
    for p in scoring.load_pages(shared):
        out.append((f"shared/{p.page_id}", p.read(), p.url))
    for path in sorted((Path(__file__).resolve().parent.parent / "tests/fixtures/cn-pages").glob("*.html")):
        out.append((f"cn/{path.name}", path.read_bytes(), f"https://example.com/{path.stem}"))
    shop, base = start_demo_shop(0)
    try:
        demo = [(f"demo/{u.rsplit('/', 1)[-1]}", httpx.get(u).content, u) for u in bench_product_urls(base, 200)]
    finally:
        shop.terminate()
    return out, demo


def _dump(r) -> str:
    return json.dumps({k: str(v) for k, v in vars(r).items()}, ensure_ascii=False, sort_keys=True)


def main() -> None:
    fixed, demo = _pages()
    with open(sys.argv[1], "w") as f:
        for name, body, url in fixed + demo:
            f.write(name + "\t" + _dump(extract_product(body, url)) + "\n")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _, body, url in demo:
            extract_product(body, url)
        times.append((time.perf_counter() - t) * 1000 / len(demo))
    print(
        f"demo extract_product ms/page min/median/max: {min(times):.2f}/{statistics.median(times):.2f}/{max(times):.2f}"
    )
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
