"""Product pages written in batches (issue 15): the same decisions as one page at a time, on SQLite and
PostgreSQL, and a batch in memory is stored when the crawl is stopped with SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from jingshao.storage.db import open_database
from jingshao.storage.models import CrawlRun, Observation, Product
from jingshao.storage.repository import (
    STATUS_OK,
    STATUS_SUSPECT,
    CatalogEntry,
    ObservationOutcome,
    PageWrite,
    sync_catalog,
    void_observations,
    write_observation,
    write_pages,
)

from .conftest import REPO, wait_for
from .test_child_death import observations, slow_config

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def fields(price: str, promo: str = "满299减30") -> dict:
    return {
        "title": "李宁 赤兔6",
        "price": Decimal(price),
        "currency": "CNY",
        "availability": "InStock",
        "promo": promo,
    }


def products(db, n: int) -> list[int]:
    urls = [f"https://shop.example.com/{i}.html" for i in range(n)]
    with db.session() as s:
        ids = sync_catalog(s, [CatalogEntry("李宁官方旗舰店", u, f"商品{i}") for i, u in enumerate(urls)])
    return [ids[u] for u in urls]


def rows(db, pid: int) -> list[Observation]:
    with db.session() as s:
        return list(s.scalars(select(Observation).where(Observation.product_id == pid).order_by(Observation.id)))


def test_a_batch_decides_each_page_as_one_at_a_time_would(database_url):
    db = open_database(database_url)
    fresh, changing, suspect, voided, repeated = products(db, 5)
    with db.session() as s:
        write_observation(s, changing, fields("399"), seen_at=T0)
        write_observation(s, suspect, fields("100"), seen_at=T0)
        write_observation(s, voided, fields("50"), seen_at=T0)
        void_observations(s, by="审核员", reason="抓错了", product_id=voided)
    t1 = T0 + timedelta(hours=1)
    batch = [
        PageWrite(fresh, fields("10"), seen_at=t1, fingerprint="f" * 64),
        PageWrite(changing, fields("399"), seen_at=t1),  # same as stored: last_seen_at moves
        PageWrite(changing, fields("349"), seen_at=t1 + timedelta(minutes=1)),  # then a change
        PageWrite(suspect, fields("1000"), seen_at=t1),  # 10x the confirmed price: suspect
        PageWrite(suspect, fields("1000"), seen_at=t1 + timedelta(minutes=5)),  # seen again later: confirmed
        PageWrite(voided, {}, seen_unchanged=True, seen_at=t1),  # nothing usable to touch
        PageWrite(repeated, fields("20"), seen_at=t1),
        PageWrite(repeated, {}, seen_unchanged=True, seen_at=t1 + timedelta(minutes=2)),  # touches the row above
    ]
    with db.session() as s:
        s.execute(Product.__table__.update().where(Product.id == voided).values(page_fingerprint="v" * 64))
        written = write_pages(s, batch)
    outcomes = [w.outcome for w in written]
    assert outcomes == [
        ObservationOutcome.NEW,
        ObservationOutcome.UNCHANGED,
        ObservationOutcome.CHANGED,
        ObservationOutcome.CHANGED,
        ObservationOutcome.UNCHANGED,
        None,
        ObservationOutcome.NEW,
        ObservationOutcome.UNCHANGED,
    ]
    assert all(w.observation_id is not None for w in written if w.outcome is not None)
    [new] = rows(db, fresh)
    assert (new.price, new.id) == (Decimal("10"), written[0].observation_id)
    old, changed = rows(db, changing)
    assert old.last_seen_at == t1 and changed.price == Decimal("349") and changed.id == written[2].observation_id
    base, jump = rows(db, suspect)
    assert base.status == STATUS_OK and jump.price == Decimal("1000")
    assert jump.status == STATUS_OK and jump.last_seen_at == t1 + timedelta(minutes=5)  # suspect, then confirmed
    assert written[3].observation_id == written[4].observation_id == jump.id
    [only] = rows(db, repeated)
    assert only.last_seen_at == t1 + timedelta(minutes=2) and written[7].observation_id == only.id
    with db.session() as s:
        prints = dict(s.execute(select(Product.id, Product.page_fingerprint)).all())
    assert prints[fresh] == "f" * 64 and prints[voided] is None  # the voided one is extracted next time
    db.dispose()


def test_a_jump_alone_in_its_batch_stays_suspect(database_url):
    db = open_database(database_url)
    [pid] = products(db, 1)
    with db.session() as s:
        write_observation(s, pid, fields("100"), seen_at=T0)
    with db.session() as s:
        [w] = write_pages(s, [PageWrite(pid, fields("1000"), seen_at=T0 + timedelta(hours=1))])
    assert w.outcome is ObservationOutcome.CHANGED
    assert [r.status for r in rows(db, pid)] == [STATUS_OK, STATUS_SUSPECT]
    db.dispose()


CHILD = textwrap.dedent(
    """
    import sys
    from jingshao.config import load_config
    from jingshao.crawlers.runner import crawl_products

    # A batch bigger than the crawl and older than it: only the flush on close can store the pages.
    summary = crawl_products(
        load_config(sys.argv[1]),
        log_level="ERROR",
        extra_settings={"JINGSHAO_PRODUCT_BATCH": 100000, "JINGSHAO_PRODUCT_BATCH_SECONDS": 3600},
    )
    print("stored", summary.pages, flush=True)
    """
)


@pytest.mark.slow
def test_sigterm_mid_batch_stores_every_page_already_read(shop, tmp_path):
    n = 60
    cfg = slow_config(shop, tmp_path, n, 0.3, concurrency=2)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(cfg)],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def served() -> int:
            return sum(c for path, c in shop.hits().items() if path.startswith("/slow/product/"))

        wait_for(lambda: served() >= 10, timeout=120)
        assert observations(cfg) == 0  # the pages so far wait in the batch
        asked = served()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = observations(cfg)
    # Every page answered before the signal was read and stored (at most the 2 in flight may not be).
    assert asked - 2 <= stored < n, (stored, asked, out, err)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}", upgrade=False)
    with db.session() as s:
        [run] = s.scalars(select(CrawlRun))
        per_product = s.execute(select(func.count()).select_from(Observation).group_by(Observation.product_id)).all()
    db.dispose()
    assert run.pages == stored and f"stored {stored}" in out
    assert all(c == 1 for (c,) in per_product)


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count

    def get_value(self, key: str, default=None):
        return self.values.get(key, default)

    def set_value(self, key: str, value) -> None:
        self.values[key] = value


def test_first_pages_compressed_ahead_store_the_same_blobs(database_url):
    """Issue 15: a product's first page is compressed in a thread while the crawl goes on; the blob stored is
    byte for byte what compressing at the flush stores, and a page whose observation changed nothing keeps
    no second snapshot whichever way it came."""
    from jingshao.crawlers.items import ProductObservationItem
    from jingshao.crawlers.pipelines import ProductPipeline, StoragePipeline
    from jingshao.nlp.settings import NlpConfig
    from jingshao.storage.evidence import EvidenceConfig, get_blob, pack
    from jingshao.storage.models import EvidenceBlob, ObservationEvidence

    db = open_database(database_url)
    ids = products(db, 4)
    pipeline = StoragePipeline(database_url, None, _Stats(), NlpConfig(), evidence=EvidenceConfig(), product_batch=100)
    pipeline.open_spider()
    stage = pipeline.by_kind[ProductPipeline]

    def item(pid: int, body: bytes, first: bool, price: str = "299.00") -> ProductObservationItem:
        return ProductObservationItem(
            pid, f"https://shop.example.com/{pid}.html", fields(price), body=body, first_page=first
        )

    bodies = {pid: f"<html><body>商品 {pid} ¥299".encode() + b"x" * (5000 + pid) + b"</body></html>" for pid in ids}
    try:
        for n, pid in enumerate(ids):
            pipeline.process_item(item(pid, bodies[pid], first=n % 2 == 0))
        assert len(stage.packed) == 2  # the two first pages went to the thread
        stage.flush()
        assert not stage.packed
        # Seen again with new bytes but the same fields (marked first by mistake: still no second snapshot).
        pipeline.process_item(item(ids[0], bodies[ids[0]] + b" ", first=True))
        stage.flush()
    finally:
        pipeline.close_spider()
    assert stage.packer is None  # shut down with the spider
    with db.session() as s:
        blobs = {b.sha256: b for b in s.scalars(select(EvidenceBlob))}
        links = s.scalars(select(ObservationEvidence)).all()
        assert len(links) == len(ids) and len(blobs) == len(ids)
        for link in links:
            body = bodies[link.product_id]
            blob = blobs[link.html_sha256]
            assert blob.data == pack(body) and blob.stored_size == len(blob.data) and blob.size == len(body)
            assert get_blob(s, link.html_sha256) == body
