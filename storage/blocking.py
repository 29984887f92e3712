"""Reads and writes of blocked-page handling (issue 12): domain back-off, page profiles, per-competitor
crawl outcomes and blocked streaks. Plain dataclasses out (the way ``storage/queries`` hands data on)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from .models import CrawlCompetitorOutcome, CrawlRun, DomainBackoff, PageProfile, utcnow
from .repository import ID_CHUNK

#: Weight of the newest page in a product's usual size (an exponential moving average: a redesign moves
#: the usual size within a few crawls, one odd page does not).
PROFILE_WEIGHT = 0.3


@dataclass
class DomainState:
    """One domain's back-off as a crawl holds it in memory (mutable; saved with :func:`save_domain_state`)."""

    domain: str
    delay: float = 0.0
    blocks_in_row: int = 0
    paused_until: datetime | None = None
    last_block_at: datetime | None = None
    last_reason: str | None = None

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


def load_domain_states(session: Session) -> dict[str, DomainState]:
    return {
        r.domain: DomainState(r.domain, r.delay, r.blocks_in_row, r.paused_until, r.last_block_at, r.last_reason)
        for r in session.scalars(select(DomainBackoff))
    }


def save_domain_state(session: Session, state: DomainState) -> None:
    row = session.get(DomainBackoff, state.domain)
    if row is None:
        row = DomainBackoff(domain=state.domain)
        session.add(row)
    row.delay = state.delay
    row.blocks_in_row = state.blocks_in_row
    row.paused_until = state.paused_until
    row.last_block_at = state.last_block_at
    row.last_reason = state.last_reason
    row.updated_at = utcnow()


def usual_page_sizes(session: Session, product_ids: Iterable[int]) -> dict[int, int]:
    ids = list(product_ids)
    out: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(PageProfile.product_id, PageProfile.usual_bytes).where(PageProfile.product_id.in_(ids[i : i + 500]))
        )
        out.update({pid: size for pid, size in rows})
    return out


def update_page_sizes(session: Session, sizes: Mapping[int, int]) -> None:
    """Fold the sizes of good pages (product id -> bytes) into each product's usual size.

    Core statements (issue 15): one read of the known profiles, one executemany UPDATE and one INSERT,
    instead of an ORM object per product: a re-crawl that downloads every page folds them all, which
    took 4 % of its time through the unit of work."""
    if not sizes:
        return
    table = cast(Table, PageProfile.__table__)
    ids = list(sizes)
    known: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), ID_CHUNK):
        rows = session.execute(
            select(PageProfile.product_id, PageProfile.usual_bytes, PageProfile.samples).where(
                PageProfile.product_id.in_(ids[start : start + ID_CHUNK])
            )
        )
        known.update({pid: (usual, samples) for pid, usual, samples in rows})
    now = utcnow()
    updates = [
        {
            "b_id": pid,
            "b_usual": round(known[pid][0] * (1 - PROFILE_WEIGHT) + size * PROFILE_WEIGHT),
            "b_samples": known[pid][1] + 1,
            "b_at": now,
        }
        for pid, size in sizes.items()
        if pid in known
    ]
    new = [
        {"product_id": pid, "usual_bytes": size, "samples": 1, "updated_at": now}
        for pid, size in sizes.items()
        if pid not in known
    ]
    if updates:
        session.execute(
            update(table)
            .where(table.c.product_id == bindparam("b_id"))
            .values(usual_bytes=bindparam("b_usual"), samples=bindparam("b_samples"), updated_at=bindparam("b_at")),
            updates,
        )
    if new:
        session.execute(insert(table), new)


@dataclass(frozen=True)
class CompetitorOutcome:
    """Pages of one competitor in one crawl, by outcome."""

    competitor: str
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    blocked: int = 0
    blocked_reason: str | None = None
    crawl_run_id: int | None = None
    at: datetime | None = None

    @property
    def pages(self) -> int:
        return self.changed + self.unchanged + self.failed + self.blocked

    @property
    def mostly_blocked(self) -> bool:
        """Half of its pages or more were blocked: this crawl counts as 'blocked' for the competitor."""
        return self.blocked > 0 and self.blocked * 2 >= self.pages


def record_competitor_outcomes(session: Session, run_id: int, outcomes: Iterable[CompetitorOutcome]) -> None:
    for o in outcomes:
        session.add(
            CrawlCompetitorOutcome(
                crawl_run_id=run_id,
                competitor=o.competitor,
                changed=o.changed,
                unchanged=o.unchanged,
                failed=o.failed,
                blocked=o.blocked,
                blocked_reason=o.blocked_reason,
            )
        )


def _row(r: CrawlCompetitorOutcome) -> CompetitorOutcome:
    return CompetitorOutcome(
        r.competitor, r.changed, r.unchanged, r.failed, r.blocked, r.blocked_reason, r.crawl_run_id, r.at
    )


def latest_competitor_outcomes(session: Session) -> list[CompetitorOutcome]:
    """Each competitor's counts in its latest products crawl."""
    rows = session.scalars(
        select(CrawlCompetitorOutcome).order_by(CrawlCompetitorOutcome.competitor, CrawlCompetitorOutcome.id.desc())
    )
    latest: dict[str, CompetitorOutcome] = {}
    for r in rows:
        latest.setdefault(r.competitor, _row(r))
    return list(latest.values())


def competitor_outcomes_between(session: Session, start: datetime, end: datetime) -> dict[str, CompetitorOutcome]:
    """Per competitor, the sums over the products crawls in ``[start, end)`` (the daily report)."""
    sums: dict[str, list[int]] = {}
    reasons: dict[str, str | None] = {}
    for r in session.scalars(
        select(CrawlCompetitorOutcome)
        .where(CrawlCompetitorOutcome.at >= start, CrawlCompetitorOutcome.at < end)
        .order_by(CrawlCompetitorOutcome.id)
    ):
        s = sums.setdefault(r.competitor, [0, 0, 0, 0])
        for i, n in enumerate((r.changed, r.unchanged, r.failed, r.blocked)):
            s[i] += n
        reasons[r.competitor] = r.blocked_reason or reasons.get(r.competitor)
    return {
        c: CompetitorOutcome(c, changed=s[0], unchanged=s[1], failed=s[2], blocked=s[3], blocked_reason=reasons.get(c))
        for c, s in sums.items()
    }


@dataclass(frozen=True)
class BlockedStreak:
    """A competitor whose latest ``crawls`` products crawls were all mostly blocked."""

    competitor: str
    crawls: int
    since: datetime
    last_reason: str | None
    blocked_pages: int


def blocked_streaks(session: Session, min_crawls: int, *, now: datetime | None = None) -> list[BlockedStreak]:
    """Competitors blocked in each of their last crawls, at least ``min_crawls`` of them in a row."""
    rows = session.execute(
        select(CrawlCompetitorOutcome, CrawlRun.started_at)
        .join(CrawlRun, CrawlRun.id == CrawlCompetitorOutcome.crawl_run_id)
        .where(CrawlRun.started_at <= (now or utcnow()))
        .order_by(CrawlCompetitorOutcome.competitor, CrawlCompetitorOutcome.id.desc())
    ).all()
    streaks: dict[str, list[tuple[CompetitorOutcome, datetime]]] = {}
    broken: set[str] = set()
    for r, started in rows:
        if r.competitor in broken:
            continue
        o = _row(r)
        if o.mostly_blocked:
            streaks.setdefault(r.competitor, []).append((o, started))
        else:
            broken.add(r.competitor)
    out = []
    for competitor, items in streaks.items():
        if len(items) >= min_crawls:
            newest = items[0][0]
            out.append(
                BlockedStreak(
                    competitor,
                    len(items),
                    items[-1][1],
                    newest.blocked_reason,
                    sum(o.blocked for o, _ in items),
                )
            )
    return out
