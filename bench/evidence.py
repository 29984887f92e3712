"""Evidence storage grows with changes, not with crawls (issue 12).

Baseline, same run: the evidence bytes after ONE crawl of the demo shop's plain-HTTP products. Then ten
more crawls of the unchanged shop: the bytes must be equal (ratio 1.00). Last, one crawl after the shop
changed, to show what a change costs. Each crawl is a child process, as the scheduler runs it.

    python bench/evidence.py [--recrawls 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def crawl(cfg: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "jingshao.cli", "crawl", "products", "--no-evaluate", "--config", str(cfg)],
        cwd=str(REPO),
        capture_output=True,
        check=False,
    )


def measure(db_url: str) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from jingshao.storage.db import open_database
    from jingshao.storage.evidence import stored_bytes
    from jingshao.storage.models import EvidenceBlob, ObservationEvidence

    db = open_database(db_url)
    try:
        with db.session() as s:
            return (
                stored_bytes(s),
                s.scalar(select(func.count()).select_from(EvidenceBlob)) or 0,
                s.scalar(select(func.count()).select_from(ObservationEvidence)) or 0,
            )
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recrawls", type=int, default=10)
    args = parser.parse_args()
    from jingshao.demo.catalog import demo_products
    from jingshao.demo.runner import write_demo_config
    from jingshao.demo.server import DemoServer

    with DemoServer() as shop, tempfile.TemporaryDirectory(prefix="jingshao-bench-evidence-") as tmp:
        products = [p for p in demo_products(shop.base_url) if not p.render]
        cfg = write_demo_config(shop.base_url, Path(tmp), with_browser=False, products=products, mentions=False)
        db_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        crawl(cfg)
        one = measure(db_url)
        for _ in range(args.recrawls):
            crawl(cfg)
        many = measure(db_url)
        shop.advance()
        crawl(cfg)
        changed = measure(db_url)
    print(f"products: {len(products)} (plain HTTP demo pages)")
    print(f"after 1 crawl:                  {one[0]:>9,} bytes  {one[1]} blobs  {one[2]} snapshots  (baseline)")
    print(f"after 1 + {args.recrawls} unchanged crawls: {many[0]:>9,} bytes  {many[1]} blobs  {many[2]} snapshots")
    print(f"ratio unchanged / baseline:     {many[0] / one[0]:.2f}")
    print(f"after the shop changed:         {changed[0]:>9,} bytes  {changed[1]} blobs  {changed[2]} snapshots")
    return 0 if many == one else 1


if __name__ == "__main__":
    sys.exit(main())
