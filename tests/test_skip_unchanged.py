"""Issue 15: a product page byte-for-byte equal to the last one stored (read the same way) is seen
unchanged without extracting it: its latest observation's last_seen_at moves, no row is added."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from jingshao.demo.catalog import demo_products, expected
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Observation, Product

from .conftest import run_cli

pytestmark = pytest.mark.slow  # child-process crawls of the demo shop


def test_unchanged_pages_are_not_extracted_again(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render and expected(p.id, 0).price is not None][:4]
    assert len(products) >= 2
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products)
    run_cli("crawl", "products", "--config", str(cfg), check=False)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        fingerprints = dict(s.execute(select(Product.url, Product.page_fingerprint)).all())
        assert all(fingerprints[p.url] for p in products), fingerprints
        first = {
            url: (oid, seen)
            for url, oid, seen in s.execute(
                select(Product.url, Observation.id, Observation.last_seen_at).join(Observation.product)
            )
        }
        # Tamper with what is stored: a re-extraction would see other fields and append a row, a
        # skipped page only moves last_seen_at. The first product is made to look never fingerprinted.
        s.execute(update(Observation).values(price=Decimal("1.23"), content_hash="tampered"))
        s.execute(update(Product).where(Product.url == products[0].url).values(page_fingerprint=None))

    run_cli("crawl", "products", "--config", str(cfg), check=False)
    with db.session() as s:
        rows = s.execute(
            select(Product.url, Observation.id, Observation.price, Observation.last_seen_at)
            .join(Observation.product)
            .order_by(Observation.id)
        ).all()
        counts = dict(
            s.execute(
                select(Product.url, func.count(Observation.id)).join(Observation.product).group_by(Product.url)
            ).all()
        )
    latest = {url: (oid, price, seen) for url, oid, price, seen in rows}
    # Extracted again (no fingerprint): the shop's real price comes back as a new row.
    assert counts[products[0].url] == 2
    assert latest[products[0].url][1] == expected(products[0].id, 0).price
    for p in products[1:]:
        oid, price, seen = latest[p.url]
        assert counts[p.url] == 1, p.url  # not extracted: the tampered row stands
        assert (oid, price) == (first[p.url][0], Decimal("1.23"))
        assert seen > first[p.url][1]  # but it was seen again

    # The shop changes: changed pages hash differently and are extracted again.
    shop.advance()
    run_cli("crawl", "products", "--config", str(cfg), check=False)
    with db.session() as s:
        latest_price = dict(
            s.execute(select(Product.url, Observation.price).join(Observation.product).order_by(Observation.id)).all()
        )
    for p in products:
        if expected(p.id, 0) != expected(p.id, 1) and expected(p.id, 1).price is not None:
            assert latest_price[p.url] == expected(p.id, 1).price, p.url
