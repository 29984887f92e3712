"""Evidence snapshots (issue 12): the page every changing observation came from, kept for a 12315 or
platform complaint and for price audits.

- Blobs are content-addressed: ``evidence_blobs`` is keyed by the SHA-256 of the raw bytes (the HTML as
  served, a PNG screenshot) and holds them gzip-compressed; the same page stored twice is one row.
- ``observation_evidence`` links an observation to its HTML (and screenshot) blob. Only observations that
  change something get a link (a new observation row); an unchanged re-crawl stores nothing, so storage grows
  with changes, not crawls (``bench/evidence.py``).
- Retention (``[evidence] keep_days`` / ``keep_last``) drops old links, then blobs no link uses.
- :func:`export_zip` writes the snapshots, screenshots, the observations as JSON, times and SHA-256 sums.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from jingshao.storage.db import rowcount

from .models import EvidenceBlob, Observation, ObservationEvidence, Product, utcnow
from .queries import read


class EvidenceConfig(BaseModel):
    """``[evidence]``: what is kept of the pages behind changing observations, and for how long."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    screenshots: bool = Field(default=True, description="a PNG of render = true pages too")
    keep_days: int | None = Field(default=365, ge=1, description="drop snapshots older than this (None: keep)")
    keep_last: int | None = Field(default=None, ge=1, description="keep only the last K snapshots per product")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> bytes:
    """How a blob is stored: gzip level 6, no time stamp (the same bytes give the same blob)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def put_blob(session: Session, data: bytes, kind: str) -> str:
    """Store ``data`` once (by its SHA-256); returns the digest."""
    digest = sha256(data)
    if session.get(EvidenceBlob, digest) is None:
        packed = pack(data)
        session.add(EvidenceBlob(sha256=digest, kind=kind, size=len(data), stored_size=len(packed), data=packed))
        session.flush()
    return digest


def get_blob(session: Session, digest: str) -> bytes:
    row = session.get(EvidenceBlob, digest)
    if row is None:
        raise KeyError(f"no evidence blob {digest}")
    return gzip.decompress(row.data)


def latest_observation_id(session: Session, product_id: int) -> int | None:
    return session.scalar(
        select(Observation.id)
        .where(Observation.product_id == product_id)
        .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(1)
    )


def attach_evidence(
    session: Session,
    product_id: int,
    url: str,
    html: bytes,
    screenshot: bytes | None = None,
    *,
    at: datetime | None = None,
) -> bool:
    """Keep the page behind the product's latest observation unless it already has one; True if stored.

    The latest observation has evidence already when this page changed nothing (the crawl only moved its
    ``last_seen_at``): nothing is written then."""
    obs_id = latest_observation_id(session, product_id)
    if obs_id is None or observations_with_evidence(session, [obs_id]):
        return False
    attach_evidence_batch(session, [PageEvidence(obs_id, product_id, url, html, screenshot)], at=at)
    return True


def observations_with_evidence(session: Session, observation_ids: Iterable[int]) -> set[int]:
    """Which of these observations keep a page already (one statement)."""
    ids = list(observation_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(ObservationEvidence.observation_id).where(ObservationEvidence.observation_id.in_(ids)).distinct()
        )
    )


@dataclass(frozen=True)
class PageEvidence:
    """The page (and screenshot) behind one observation, for :func:`attach_evidence_batch`."""

    observation_id: int
    product_id: int
    url: str
    html: bytes
    screenshot: bytes | None = None
    #: ``pack(html)`` when the caller compressed it already (the crawl does it beside the reactor).
    packed_html: bytes | None = None


def attach_evidence_batch(session: Session, pages: Sequence[PageEvidence], *, at: datetime | None = None) -> int:
    """Link each page (and screenshot) to its observation, which keeps no page yet: the crawl's batch writer
    calls this for the rows it just appended (issue 15). One lookup of the blobs already kept, then Core
    INSERTs of the new blobs and of the links (no ORM objects, no flush per blob). Returns the links written."""
    if not pages:
        return 0
    at = at or utcnow()
    blobs: dict[str, tuple[bytes, str, bytes | None]] = {}
    links = []
    for p in pages:
        html_sha = sha256(p.html)
        blobs.setdefault(html_sha, (p.html, "html", p.packed_html))
        shot_sha = None
        if p.screenshot:
            shot_sha = sha256(p.screenshot)
            blobs.setdefault(shot_sha, (p.screenshot, "png", None))
        links.append(
            {
                "observation_id": p.observation_id,
                "product_id": p.product_id,
                "url": p.url,
                "html_sha256": html_sha,
                "screenshot_sha256": shot_sha,
                "captured_at": at,
            }
        )
    kept = set(session.scalars(select(EvidenceBlob.sha256).where(EvidenceBlob.sha256.in_(list(blobs)))))
    new = []
    for digest, (data, kind, packed) in blobs.items():
        if digest in kept:
            continue
        packed = packed if packed is not None else pack(data)
        new.append(
            {
                "sha256": digest,
                "kind": kind,
                "size": len(data),
                "stored_size": len(packed),
                "data": packed,
                "created_at": at,
            }
        )
    if new:
        session.execute(insert(EvidenceBlob), new)
    session.execute(insert(ObservationEvidence), links)
    return len(links)


def apply_retention(session: Session, config: EvidenceConfig, now: datetime | None = None) -> int:
    """Drop links past ``keep_days`` or beyond the last ``keep_last`` per product, then unused blobs."""
    now = now or utcnow()
    dropped = 0
    if config.keep_days:
        cut = now - timedelta(days=config.keep_days)
        dropped += rowcount(session.execute(delete(ObservationEvidence).where(ObservationEvidence.captured_at < cut)))
    if config.keep_last:
        rows = session.execute(
            select(ObservationEvidence.id, ObservationEvidence.product_id).order_by(
                ObservationEvidence.product_id, ObservationEvidence.captured_at.desc(), ObservationEvidence.id.desc()
            )
        ).all()
        seen: dict[int, int] = {}
        old = []
        for link_id, product_id in rows:
            seen[product_id] = seen.get(product_id, 0) + 1
            if seen[product_id] > config.keep_last:
                old.append(link_id)
        for i in range(0, len(old), 500):
            dropped += rowcount(
                session.execute(delete(ObservationEvidence).where(ObservationEvidence.id.in_(old[i : i + 500])))
            )
    if dropped:
        used = select(ObservationEvidence.html_sha256).union(
            select(ObservationEvidence.screenshot_sha256).where(ObservationEvidence.screenshot_sha256.is_not(None))
        )
        session.execute(delete(EvidenceBlob).where(EvidenceBlob.sha256.not_in(used)))
    return dropped


def stored_bytes(session: Session) -> int:
    """Bytes the evidence takes in the database (compressed blobs)."""
    return int(session.scalar(select(func.coalesce(func.sum(EvidenceBlob.stored_size), 0))) or 0)


@dataclass(frozen=True)
class EvidenceRow:
    observation_id: int
    product_id: int
    product: str
    url: str
    captured_at: datetime
    first_seen_at: datetime
    last_seen_at: datetime
    price: Decimal | None
    original_price: Decimal | None
    availability: str | None
    promo: str | None
    html_sha256: str
    screenshot_sha256: str | None


_EVIDENCE = (
    select(
        Observation.id,
        Product.id,
        # the product's name, else the page title, else the URL (an empty name counts as none)
        func.coalesce(func.nullif(Product.name, ""), func.nullif(Observation.title, ""), Product.url),
        ObservationEvidence.url,
        ObservationEvidence.captured_at,
        Observation.first_seen_at,
        Observation.last_seen_at,
        Observation.price,
        Observation.original_price,
        Observation.availability,
        Observation.promo,
        ObservationEvidence.html_sha256,
        ObservationEvidence.screenshot_sha256,
    )
    .join(Observation, Observation.id == ObservationEvidence.observation_id)
    .join(Product, Product.id == ObservationEvidence.product_id)
    .where(ObservationEvidence.product_id.in_(bindparam("ids", expanding=True)))
    .order_by(ObservationEvidence.captured_at, ObservationEvidence.id)
)
# Built once with bound parameters (the product page asks on every view; building the select
# cost about as much as running it on a product with few snapshots).
_EVIDENCE_SINCE = _EVIDENCE.where(ObservationEvidence.captured_at >= bindparam("since"))


def evidence_for(session: Session, product_ids: Iterable[int], since: datetime | None = None) -> list[EvidenceRow]:
    ids = list(product_ids)
    # Plain columns: on the session's connection (storage.queries.read), not the ORM's execution path.
    if since is None:
        rows = read(session, _EVIDENCE, {"ids": ids})
    else:
        rows = read(session, _EVIDENCE_SINCE, {"ids": ids, "since": since})
    return [EvidenceRow(*row) for row in rows]  # plain columns in EvidenceRow's order


def _json(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def export_zip(session: Session, rows: list[EvidenceRow], out: Path) -> dict[str, str]:
    """Write the evidence zip; returns {file in the zip: its SHA-256} (also in ``SHA256SUMS`` inside).

    Layout: ``snapshots/<sha256>.html``, ``screenshots/<sha256>.png``, ``observations.json`` (each observation
    with its times, values and the digests of its files), ``SHA256SUMS`` (``sha256sum -c`` format)."""
    files: dict[str, bytes] = {}
    for r in rows:
        files.setdefault(f"snapshots/{r.html_sha256}.html", get_blob(session, r.html_sha256))
        if r.screenshot_sha256:
            files.setdefault(f"screenshots/{r.screenshot_sha256}.png", get_blob(session, r.screenshot_sha256))
    observations = [
        {
            **{k: _json(v) for k, v in r.__dict__.items()},
            "snapshot": f"snapshots/{r.html_sha256}.html",
            "screenshot": f"screenshots/{r.screenshot_sha256}.png" if r.screenshot_sha256 else None,
        }
        for r in rows
    ]
    files["observations.json"] = json.dumps(
        {"exported_at": utcnow().isoformat(), "observations": observations}, ensure_ascii=False, indent=2
    ).encode("utf-8")
    sums = {name: sha256(data) for name, data in files.items()}
    files["SHA256SUMS"] = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            z.writestr(name, files[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return sums
