"""Scoring on the product-extraction benchmark (shared by ``bench/extraction.py`` and the tests).

As the fixture README says, per field: precision = correct / pages where a value was given,
recall = correct / annotated pages, F1 from both. Prices compare as Decimal amounts. Currencies
compare as ISO codes: ground-truth symbols ("€", "£", "$", "Rs") are mapped to the codes they can
mean ("$" is any dollar/peso currency). sku and brand compare case-insensitively, spaces collapsed.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .prices import currency_iso

SCORED_FIELDS: tuple[str, ...] = ("price", "currency", "availability", "sku", "brand")

_DOLLARS = {"USD", "CAD", "AUD", "NZD", "TWD", "HKD", "SGD", "MXN", "ARS", "CLP", "COP"}


def shared_dir(repo: Path | None = None, override: str | None = None) -> Path:
    """``$JINGSHAO_SHARED`` or ``<repo>/../shared``."""
    if override:
        return Path(override)
    env = os.environ.get("JINGSHAO_SHARED")
    if env:
        return Path(env)
    repo = repo or Path(__file__).resolve().parents[2]
    return repo.parent / "shared"


def benchmark_dir(shared: Path) -> Path:
    return shared / "fixtures" / "product-pages"


@dataclass
class Page:
    page_id: str
    url: str
    path: Path
    truth: dict[str, list[str]]

    def read(self) -> bytes:
        return gzip.decompress(self.path.read_bytes())


def load_pages(folder: Path) -> list[Page]:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        entry = truth[page_id]
        path = folder / "html" / f"{page_id}.html.gz"
        if path.exists():
            pages.append(
                Page(page_id, entry.get("url", ""), path, {k: v for k, v in entry.items() if isinstance(v, list)})
            )
    return pages


def _dec(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _currency_codes(value: str) -> set[str]:
    v = value.strip()
    if v == "$":
        return set(_DOLLARS)
    code = currency_iso(v)
    return {code} if code else {v.upper()}


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def is_correct(field: str, predicted: Any, accepted: Iterable[str]) -> bool:
    accepted = list(accepted)
    if predicted is None:
        return False
    if field == "price":
        got = _dec(predicted)
        return got is not None and any(_dec(a) == got for a in accepted)
    if field == "currency":
        return any(str(predicted).upper() in _currency_codes(a) for a in accepted)
    return any(_norm(predicted) == _norm(a) for a in accepted)


@dataclass
class FieldScore:
    field: str
    given: int = 0
    annotated: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.given if self.given else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.annotated if self.annotated else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    predictions: Mapping[str, Mapping[str, Any]], pages: list[Page], fields: Iterable[str] = SCORED_FIELDS
) -> dict[str, FieldScore]:
    """``predictions[page_id][field]`` -> per-field scores."""
    out = {f: FieldScore(f) for f in fields}
    for page in pages:
        pred = predictions.get(page.page_id, {})
        for f, s in out.items():
            value = pred.get(f)
            accepted = page.truth.get(f)
            if value is not None:
                s.given += 1
            if accepted:
                s.annotated += 1
                if is_correct(f, value, accepted):
                    s.correct += 1
    return out


def failures(predictions: Mapping[str, Mapping[str, Any]], pages: list[Page], field: str) -> list[tuple[str, Any, Any]]:
    """(page id, predicted, accepted) for every page where ``field`` is wrong or missing."""
    rows = []
    for page in pages:
        value = predictions.get(page.page_id, {}).get(field)
        accepted = page.truth.get(field)
        if accepted and is_correct(field, value, accepted):
            continue
        if value is None and not accepted:
            continue
        rows.append((page.page_id, value, accepted))
    return rows


def run_extractor(pages: list[Page], extract: Callable[[bytes, str], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p.page_id: dict(extract(p.read(), p.url)) for p in pages}
