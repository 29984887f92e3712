"""Queries of ``jingshao status``: the last run of each job and what needs someone's attention."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jingshao.storage.alerts_repo import ParkedLine, parked_notifications
from jingshao.storage.blocking import CompetitorOutcome, DomainState, latest_competitor_outcomes, load_domain_states
from jingshao.storage.cookies import JarHealth, jar_health
from jingshao.storage.models import JobRun, Notification
from jingshao.storage.queries.report import BrokenChannel, broken_channels
from jingshao.storage.repository import CurrentFailure, UntimedCounts, current_failures, untimed_counts


@dataclass(frozen=True)
class LastRun:
    job: str
    started_at: datetime
    outcome: str  # running | ok | failed | timeout
    error: str | None
    counts: dict[str, Any] | None


@dataclass(frozen=True)
class PendingOutbox:
    channel: str
    count: int


@dataclass(frozen=True)
class StatusSnapshot:
    last_runs: dict[str, LastRun]  # only jobs that ran
    failing: list[CurrentFailure]  # sources that failed since the window's start and still fail
    broken: list[BrokenChannel]
    parked: list[ParkedLine]
    outbox: list[PendingOutbox]
    untimed: UntimedCounts
    competitor_outcomes: list[CompetitorOutcome]  # each competitor's latest products crawl
    backoff: list[DomainState]  # domains slowed down or paused after blocks, by domain
    cookie_jars: list[JarHealth]


def last_runs(session: Session, jobs: Iterable[str]) -> dict[str, LastRun]:
    """The latest recorded run of each of ``jobs`` (one indexed lookup per job)."""
    out = {}
    for job in sorted(set(jobs)):
        r = session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(1)).first()
        if r is not None:
            out[job] = LastRun(r.job, r.started_at, r.outcome, r.error, dict(r.counts) if r.counts else None)
    return out


def pending_outbox(session: Session) -> list[PendingOutbox]:
    """Pending notifications per channel."""
    return [
        PendingOutbox(ch, n)
        for ch, n in session.execute(
            select(Notification.channel, func.count())
            .where(Notification.status == "pending")
            .group_by(Notification.channel)
            .order_by(Notification.channel)
        )
    ]


def snapshot(session: Session, jobs: Iterable[str], failing_since: datetime) -> StatusSnapshot:
    """Everything ``jingshao status`` shows from the database, read in one session."""
    return StatusSnapshot(
        last_runs=last_runs(session, jobs),
        failing=current_failures(session, failing_since),
        broken=broken_channels(session),
        parked=parked_notifications(session),
        outbox=pending_outbox(session),
        untimed=untimed_counts(session),
        competitor_outcomes=latest_competitor_outcomes(session),
        backoff=sorted(
            (d for d in load_domain_states(session).values() if d.delay or d.paused_until or d.blocks_in_row),
            key=lambda d: d.domain,
        ),
        cookie_jars=jar_health(session),
    )
