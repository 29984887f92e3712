"""Reads of the price-compliance audit (issue 12): each product's displayed prices with the snapshot each
came from, and the prices list / search pages showed. Plain dataclasses out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from jingshao.storage.models import Competitor, ListPagePrice, Observation, ObservationEvidence, Product


@dataclass(frozen=True)
class AuditProduct:
    id: int
    name: str
    competitor: str
    url: str


@dataclass(frozen=True)
class AuditPoint:
    product_id: int
    observation_id: int
    first_seen_at: datetime
    last_seen_at: datetime
    price: Decimal | None
    original_price: Decimal | None
    promo: str | None
    snapshot: str | None


@dataclass(frozen=True)
class AuditListPrice:
    product_id: int
    at: datetime
    price: Decimal
    page_url: str


def audit_products(session: Session, competitor: str | None = None) -> list[AuditProduct]:
    q = (
        select(Product.id, Product.name, Product.url, Competitor.name)
        .join(Competitor, Competitor.id == Product.competitor_id)
        .order_by(Competitor.name, Product.id)
    )
    if competitor:
        q = q.where(Competitor.name == competitor)
    return [AuditProduct(pid, name or url, comp, url) for pid, name, url, comp in session.execute(q)]


def audit_points(session: Session, product_ids: list[int], since: datetime) -> dict[int, list[AuditPoint]]:
    """Observations seen at or after ``since`` (their span reaching into it), not void or suspect, oldest first."""
    out: dict[int, list[AuditPoint]] = {pid: [] for pid in product_ids}
    for i in range(0, len(product_ids), 500):
        rows = session.execute(
            select(Observation, ObservationEvidence.html_sha256)
            .outerjoin(ObservationEvidence, ObservationEvidence.observation_id == Observation.id)
            .where(
                Observation.product_id.in_(product_ids[i : i + 500]),
                Observation.last_seen_at >= since,
                Observation.voided_at.is_(None),
                Observation.status == "ok",
            )
            .order_by(Observation.product_id, Observation.first_seen_at, Observation.id)
        )
        for o, sha in rows:
            out[o.product_id].append(
                AuditPoint(o.product_id, o.id, o.first_seen_at, o.last_seen_at, o.price, o.original_price, o.promo, sha)
            )
    return out


def audit_list_prices(session: Session, product_ids: list[int], since: datetime) -> dict[int, list[AuditListPrice]]:
    out: dict[int, list[AuditListPrice]] = {pid: [] for pid in product_ids}
    for r in session.scalars(
        select(ListPagePrice)
        .where(ListPagePrice.product_id.in_(product_ids), ListPagePrice.seen_at >= since)
        .order_by(ListPagePrice.seen_at)
    ):
        out[r.product_id].append(AuditListPrice(r.product_id, r.seen_at, r.price, r.page_url))
    return out
