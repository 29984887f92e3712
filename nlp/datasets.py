"""Labelled review CSVs and the fixed held-out split.

CSV format (as published by SophonPlus/ChineseNlpCorpus, and what users export from their own tools):
columns ``label`` (1 = positive, 0 = negative) and ``review``, optionally ``cat``; any other columns are
ignored, a UTF-8 BOM is tolerated, column names are matched case-insensitively.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: One text in ``HOLDOUT_MOD`` is held out: those with ``crc32(review) % HOLDOUT_MOD == HOLDOUT_REM``.
#: The shipped model never trained on them and ``bench/nlp.py`` evaluates on exactly them. Hashing the
#: text (not the row number) keeps duplicates on the same side, so a review repeated in the corpus
#: cannot leak from training into evaluation.
HOLDOUT_MOD = 10
HOLDOUT_REM = 0


class DatasetError(ValueError):
    """A labelled CSV that cannot be used; the message names the file, the row or the column."""


@dataclass(frozen=True)
class LabelledReview:
    text: str
    label: int  # 1 positive, 0 negative
    cat: str
    source: str  # file stem, e.g. "waimai_10k.train"


def is_holdout(text: str) -> bool:
    """True when ``text`` belongs to the fixed held-out split (see :data:`HOLDOUT_MOD`)."""
    return zlib.crc32(text.strip().encode("utf-8")) % HOLDOUT_MOD == HOLDOUT_REM


def read_labelled_csv(path: str | Path) -> list[LabelledReview]:
    """Read one labelled CSV; raise :class:`DatasetError` naming the file on any problem."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{path}: empty file, expected a header with columns 'label' and 'review'")
            names = [h.strip().lstrip("\ufeff").lower() for h in header]
            missing = [c for c in ("label", "review") if c not in names]
            if missing:
                raise DatasetError(
                    f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}; "
                    f"found {header!r}, expected 'label' (1/0) and 'review' (optional 'cat')"
                )
            i_label, i_review = names.index("label"), names.index("review")
            i_cat = names.index("cat") if "cat" in names else None
            rows: list[LabelledReview] = []
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) <= max(i_label, i_review):
                    raise DatasetError(f"{path}:{line_no}: row has {len(row)} field(s), expected {len(names)}")
                raw_label = row[i_label].strip()
                if raw_label not in ("0", "1"):
                    raise DatasetError(f"{path}:{line_no}: label must be 1 or 0, got {raw_label!r}")
                text = row[i_review].replace("\ufeff", "").strip()
                if not text:
                    continue
                cat = row[i_cat].strip() if i_cat is not None and i_cat < len(row) else ""
                rows.append(LabelledReview(text, int(raw_label), cat, path.stem))
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except csv.Error as exc:
            raise DatasetError(f"{path}: malformed CSV ({exc})") from exc
    return rows


def read_many(paths: Iterable[str | Path]) -> Iterator[tuple[Path, list[LabelledReview]]]:
    for p in paths:
        yield Path(p), read_labelled_csv(p)


def split(rows: Iterable[LabelledReview]) -> tuple[list[LabelledReview], list[LabelledReview]]:
    """Split into (train, holdout) by :func:`is_holdout`."""
    train: list[LabelledReview] = []
    held: list[LabelledReview] = []
    for r in rows:
        (held if is_holdout(r.text) else train).append(r)
    return train, held
