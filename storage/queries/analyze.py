"""Queries of ``jingshao analyze``: what needs (re-)scoring, and the writes of its results.

The command works in chunks, one short transaction each, so crawls keep writing meanwhile: the reads
here return ids and texts (plain dataclasses), the writes take the scores back by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jingshao.storage.models import Mention, Observation
from jingshao.storage.repository import ReviewRow, reviews_for

#: The mention columns ``Enricher.mention_columns`` fills.
MENTION_SCORE_COLUMNS = ("sentiment", "negative_prob", "label")


@dataclass(frozen=True)
class MentionText:
    id: int
    title: str | None
    text: str

    @property
    def scored_text(self) -> str:
        """What the mention model reads: title and text."""
        return f"{self.title or ''} {self.text}".strip()


@dataclass(frozen=True)
class ObservationCopy:
    """An observation's copy (title and promo), for the ad-law scan."""

    id: int
    product_id: int
    title: str | None
    promo: str | None


@dataclass(frozen=True)
class AnalyzeWork:
    reviews: list[ReviewRow]
    mentions: list[MentionText]
    observation_ids: list[int]  # only on a rescore: every observation's copy is scanned again


def work(session: Session, *, rescore: bool) -> AnalyzeWork:
    """What to analyze: everything on a rescore, else only reviews and mentions never scored."""
    q = select(Mention.id, Mention.title, Mention.text).order_by(Mention.id)
    mentions = session.execute(q if rescore else q.where(Mention.sentiment.is_(None))).all()
    return AnalyzeWork(
        reviews=reviews_for(session, only_unscored=not rescore),
        mentions=[MentionText(i, title, text) for i, title, text in mentions],
        observation_ids=list(session.scalars(select(Observation.id).order_by(Observation.id))) if rescore else [],
    )


def update_mention_scores(session: Session, scores: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """``(mention id, columns)`` pairs; unknown column names are an error (never a silent no-op)."""
    for mention_id, columns in scores:
        unknown = set(columns) - set(MENTION_SCORE_COLUMNS)
        if unknown:
            raise ValueError(f"not a mention score column: {', '.join(sorted(unknown))}")
        session.execute(update(Mention).where(Mention.id == mention_id).values(**columns))


def observation_copy(session: Session, ids: Sequence[int]) -> list[ObservationCopy]:
    """Title and promo of the given observations, by id."""
    if not ids:
        return []
    return [
        ObservationCopy(i, pid, title, promo)
        for i, pid, title, promo in session.execute(
            select(Observation.id, Observation.product_id, Observation.title, Observation.promo)
            .where(Observation.id.in_(list(ids)))
            .order_by(Observation.id)
        )
    ]
