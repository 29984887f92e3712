"""A preference tag (aspect, opinion, polarity) and how it is stored in a review row.

The tagger (:mod:`jingshao.nlp.tags`) makes tags; the enrichment pipeline stores them in the
``reviews.tags`` JSON column; the report, the CLI and the demo read them back. The tag type and the
row codec live here so those readers do not import the crawlers (or the tagger) to read a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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
    existed read with their defaults).

    Built as ``Tag(...)`` builds it, field values straight into the instance's ``__dict__``: a frozen
    dataclass's ``__init__`` sets each of the seven fields through ``object.__setattr__`` (~1.1 us a
    tag, and 评价洞察 reads a competitor's month of tags, ~800, on each view). Tag has no
    ``__post_init__`` and no slots (checked below), so the object is the same: equal, same hash,
    same repr, same ``__dict__`` (tests/test_core_vocabulary.py)."""
    aspect = row["aspect"]
    tag = _new(Tag)
    tag.__dict__.update(
        aspect=aspect,
        aspect_text=row.get("aspect_text", aspect),
        opinion=row["opinion"],
        polarity=row["polarity"],  # stored by tag_to_row: "pos", "neg" or "neu"
        opinion_norm=row.get("opinion_norm", ""),
        aspect_span=None,
        opinion_span=None,
    )
    return tag


_new = object.__new__
if (
    hasattr(Tag, "__post_init__")
    or hasattr(Tag, "__slots__")
    or [f.name for f in fields(Tag)]
    != [
        "aspect",
        "aspect_text",
        "opinion",
        "polarity",
        "opinion_norm",
        "aspect_span",
        "opinion_span",
    ]
):  # pragma: no cover - a changed Tag needs tag_from_row changed with it
    raise RuntimeError("core.tags.Tag changed: update tag_from_row, which fills its fields directly")
