"""Evidence (issue 12): the page behind each changing observation is kept once (content-addressed), unchanged
re-crawls store nothing, retention drops old snapshots, and the export zip verifies by its SHA-256 sums."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from sqlalchemy import func, select

from jingshao.demo.catalog import demo_products
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.evidence import EvidenceConfig, apply_retention, get_blob, stored_bytes
from jingshao.storage.models import EvidenceBlob, Observation, ObservationEvidence

from .conftest import run_cli


def counts(db) -> tuple[int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(ObservationEvidence)),
            s.scalar(select(func.count()).select_from(EvidenceBlob)),
            stored_bytes(s),
        )


def test_evidence_grows_with_changes_and_exports_a_verifiable_zip(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products, mentions=False)
    run_cli("crawl", "products", "--config", str(cfg), check=False)
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        observations = s.scalar(select(func.count()).select_from(Observation))
    links, blobs, size = counts(db)
    assert links == observations and blobs == observations and size > 0

    run_cli("crawl", "products", "--config", str(cfg), check=False)  # nothing changed: nothing stored
    assert counts(db) == (links, blobs, size)

    shop.advance()
    run_cli("crawl", "products", "--config", str(cfg), check=False)
    with db.session() as s:
        now_obs = s.scalar(select(func.count()).select_from(Observation))
        evidence = s.scalars(select(ObservationEvidence)).all()
        html = get_blob(s, evidence[-1].html_sha256)
    assert len(evidence) == now_obs > observations  # each change has its page
    assert hashlib.sha256(html).hexdigest() == evidence[-1].html_sha256 and b"<html" in html.lower()

    product = evidence[-1].product_id
    out = tmp_path / "evidence.zip"
    printed = run_cli("evidence", "export", str(product), "--out", str(out), "--config", str(cfg)).stdout
    assert "SHA256SUMS" in printed
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        sums = dict(line.split("  ", 1)[::-1] for line in z.read("SHA256SUMS").decode().splitlines())
        assert set(sums) == names - {"SHA256SUMS"}
        for name, digest in sums.items():
            assert hashlib.sha256(z.read(name)).hexdigest() == digest, name
        data = json.loads(z.read("observations.json"))
    rows = data["observations"]
    assert len(rows) == 2 and all(r["snapshot"] in names and r["first_seen_at"] for r in rows)
    assert rows[0]["price"] != rows[1]["price"] or rows[0]["promo"] != rows[1]["promo"]

    # --since leaves the older snapshot out; an unknown product is a clear error.
    later = run_cli(
        "evidence",
        "export",
        str(product),
        "--since",
        rows[1]["captured_at"],
        "--out",
        str(tmp_path / "b.zip"),
        "--config",
        str(cfg),
    )
    assert "1 条观测" in later.stdout
    missing = run_cli("evidence", "export", "no-such-thing", "--config", str(cfg), check=False)
    assert missing.returncode == 1 and "no product matches" in missing.stderr


def test_retention_keeps_the_last_snapshots_and_drops_unused_blobs(shop, tmp_path):
    products = [p for p in demo_products(shop.base_url) if not p.render]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=products, mentions=False)
    for _ in range(2):
        run_cli("crawl", "products", "--config", str(cfg), check=False)
        shop.advance()
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    links, blobs, _ = counts(db)
    with db.session() as s:
        dropped = apply_retention(s, EvidenceConfig(keep_days=None, keep_last=1))
    with db.session() as s:
        per_product = s.execute(
            select(ObservationEvidence.product_id, func.count()).group_by(ObservationEvidence.product_id)
        ).all()
        used = {e.html_sha256 for e in s.scalars(select(ObservationEvidence))}
        stored = set(s.scalars(select(EvidenceBlob.sha256)))
    assert dropped == links - len(per_product) > 0
    assert all(n == 1 for _, n in per_product)
    assert stored == used  # no orphan blob left


@pytest.mark.browser
def test_rendered_pages_keep_a_screenshot(shop, tmp_path, chromium):
    render = [p for p in demo_products(shop.base_url) if p.render]
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=True, products=render, mentions=False)
    run_cli("crawl", "products", "--config", str(cfg))
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        link = s.scalars(select(ObservationEvidence)).first()
        png = get_blob(s, link.screenshot_sha256)
    assert png.startswith(b"\x89PNG")
