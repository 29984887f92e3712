"""A preference tag (aspect, opinion, polarity) and how it is stored in a review row.

The tagger (:mod:`jingshao.nlp.tags`) makes tags; the enrichment pipeline stores them in the
``reviews.tags`` JSON column; the report, the CLI and the demo read them back. The tag type and the
row codec live here so those readers do not import the crawlers (or the tagger) to read a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: "neu": a mention, an aspect named with no opinion on it (its ``opinion`` is empty).
Polarity = Literal["pos", "neg", "neu"]


@dataclass(frozen=True)
class Tag:
    aspect: str  # normalised aspect, e.g. 物流
    aspect_text: str  # as written (after normalisation), e.g. 快递
    opinion: str  # opinion phrase as written, e.g. 一点都不快
    polarity: Polarity
    opinion_norm: str = field(default="", compare=False, repr=False)  # degree words dropped: 不快
    # character offsets in the normalised text, when known (the open-vocabulary tagger sets them)
    aspect_span: tuple[int, int] | None = field(default=None, compare=False, repr=False)
    opinion_span: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {
            "aspect": self.aspect,
            "aspect_text": self.aspect_text,
            "opinion": self.opinion,
            "polarity": self.polarity,
        }


def tag_to_row(tag: Tag) -> dict[str, str]:
    """A tag as stored in the reviews.tags JSON column (with the normalised opinion for grouping)."""
    return {**tag.to_dict(), "opinion_norm": tag.opinion_norm}


def tag_from_row(row: Mapping[str, str]) -> Tag:
    """The tag a ``reviews.tags`` entry holds (rows written before ``aspect_text`` / ``opinion_norm``
    existed read with their defaults)."""
    return Tag(
        aspect=row["aspect"],
        aspect_text=row.get("aspect_text", row["aspect"]),
        opinion=row["opinion"],
        polarity=row["polarity"],  # type: ignore[arg-type]  # stored by tag_to_row: "pos", "neg" or "neu"
        opinion_norm=row.get("opinion_norm", ""),
    )
