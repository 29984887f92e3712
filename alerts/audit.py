"""``jingshao audit prices``: the price-compliance rules (:mod:`jingshao.alerts.rules.compliance`) over
stored observations, list-page prices and evidence (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jingshao.alerts.rules.compliance import AuditSubject, Finding, ListPrice, PricePoint, audit_product
from jingshao.storage.queries.audit import audit_list_prices, audit_points, audit_products

#: Days before the audited period that are read too: Article 16's reference is the 7 days before a promotion.
REFERENCE_DAYS = 7


def audit_prices(
    session, *, competitor: str | None = None, days: int = 30, now: datetime | None = None
) -> list[Finding]:
    """Findings of the last ``days`` (for every product, or one competitor's), oldest first."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    products = audit_products(session, competitor)
    ids = [p.id for p in products]
    points = audit_points(session, ids, since - timedelta(days=REFERENCE_DAYS))
    lists = audit_list_prices(session, ids, since)
    findings: list[Finding] = []
    for p in products:
        subject = AuditSubject(p.id, p.name, p.competitor)
        price_points = [
            PricePoint(
                a.first_seen_at, a.price, a.original_price, a.promo, a.last_seen_at, a.snapshot, a.observation_id
            )
            for a in points.get(p.id, [])
        ]
        list_prices = [ListPrice(lp.at, lp.price, lp.page_url) for lp in lists.get(p.id, [])]
        findings += audit_product(subject, price_points, list_prices, since=since, days=REFERENCE_DAYS)
    return sorted(findings, key=lambda f: (f.at, f.product_id, f.article))
