"""Cookie jar health (issue 12): where each jar comes from, its earliest expiry, and whether a login wall
was met after its cookies were sent. The values themselves are never stored (a digest tells a refreshed
jar from the old one)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CookieJarState, utcnow


@dataclass(frozen=True)
class JarHealth:
    scope: str
    competitor: str
    source: str
    expires_at: datetime | None
    status: str  # ok | expired
    expired_at: datetime | None
    reason: str | None
    refresh: str | None


def sync_jars(session: Session, jars: Iterable) -> None:
    """Record the configured jars; a jar whose cookies changed (refreshed) is ``ok`` again."""
    for jar in jars:
        row = session.get(CookieJarState, jar.scope)
        if row is None:
            row = CookieJarState(scope=jar.scope, status="ok")
            session.add(row)
        if row.fingerprint != jar.fingerprint:
            row.status, row.expired_at, row.reason = "ok", None, None
        row.competitor = jar.competitor
        row.source = jar.source
        row.fingerprint = jar.fingerprint
        row.expires_at = jar.expires_at
        row.refresh = jar.refresh_hint()
        row.checked_at = utcnow()


def mark_expired(session: Session, scope: str, reason: str, at: datetime | None = None) -> None:
    row = session.get(CookieJarState, scope)
    if row is None or row.status == "expired":
        return
    row.status, row.expired_at, row.reason = "expired", at or utcnow(), reason


def jar_health(session: Session) -> list[JarHealth]:
    return [
        JarHealth(r.scope, r.competitor, r.source, r.expires_at, r.status, r.expired_at, r.reason, r.refresh)
        for r in session.scalars(select(CookieJarState).order_by(CookieJarState.scope))
    ]
