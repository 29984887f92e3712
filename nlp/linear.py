"""The ``linear`` sentiment backend: hashed char n-gram TF-IDF (NB-scaled) + logistic regression, numpy only.

A model is two plain files side by side, never a pickle:

- ``NAME.npz`` (loaded with ``allow_pickle=False``): ``weights`` (float16, one per hash bucket),
  ``idf`` (float16, one per bucket: the feature scale, idf x |naive-Bayes log-count ratio| for models
  trained with NB scaling, plain idf otherwise; scoring is the same either way) and ``bias`` (float64,
  shape ``(1,)``);
- ``NAME.json``: format version, hashing parameters, training sources and held-out figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .features import hash_ngrams, tfidf_values
from .text import has_content, normalize, truncate

FORMAT = "jingshao-sentiment-linear"
FORMAT_VERSION = 1
DEFAULT_MODEL_NAME = "sentiment-linear"


class ModelError(ValueError):
    """A model file that is missing, unreadable or of an unknown format."""


def default_model_path() -> Path:
    return Path(str(resources.files("jingshao.nlp").joinpath("data", DEFAULT_MODEL_NAME + ".npz")))


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """(``NAME.npz``, ``NAME.json``) for a model given as ``NAME``, ``NAME.npz`` or ``NAME.json``."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


_paths = model_paths


def read_model_meta(
    npz: Path, meta_path: Path, fmt: str, version: int, error: type[ValueError], missing: str, wrong_format: str = ""
) -> dict[str, Any]:
    """The JSON beside a model's arrays, checked for ``fmt`` v``version``; ``error`` names the file.

    ``missing`` is what to say when the arrays are absent; ``wrong_format`` is added to a format mismatch.
    Shared by the review and mention models (same two-file layout)."""
    if not npz.is_file():
        raise error(f"{npz}: {missing}")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{meta_path}: metadata file next to the model is missing") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{meta_path}: invalid JSON ({exc})") from exc
    if meta.get("format") != fmt or meta.get("version") != version:
        raise error(
            f"{meta_path}: format {meta.get('format')!r} v{meta.get('version')!r}, "
            f"expected {fmt!r} v{version}{wrong_format}"
        )
    return meta


@dataclass
class LinearModel:
    weights: np.ndarray  # float32 (n_buckets,)
    idf: np.ndarray  # float32 (n_buckets,)
    bias: float
    ngram_max: int = 3
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_buckets(self) -> int:
        return int(self.weights.shape[0])

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Logit per already-normalised text."""
        counts = hash_ngrams(texts, self.n_buckets, self.ngram_max)
        vals = tfidf_values(counts, self.idf)
        return np.bincount(counts.doc, weights=vals * self.weights[counts.bucket], minlength=len(texts)) + self.bias

    def save(self, path: str | Path) -> tuple[Path, Path]:
        npz, meta_path = _paths(path)
        npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            npz,
            weights=self.weights.astype(np.float16),
            idf=self.idf.astype(np.float16),
            bias=np.array([self.bias], dtype=np.float64),
        )
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "n_buckets": self.n_buckets,
            "ngram_max": self.ngram_max,
            "features": f"hashed char 1-{self.ngram_max}-grams, sublinear tf x idf"
            + (" x |nb ratio|" if self.meta.get("nb_alpha") is not None else "")
            + ", l2-normalised",
            **{k: v for k, v in self.meta.items() if k not in ("format", "version", "n_buckets", "ngram_max")},
        }
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return npz, meta_path

    @classmethod
    def load(cls, path: str | Path) -> LinearModel:
        npz, meta_path = _paths(path)
        meta = read_model_meta(
            npz,
            meta_path,
            FORMAT,
            FORMAT_VERSION,
            ModelError,
            "sentiment model not found (train one with `jingshao nlp train`)",
        )
        try:
            with np.load(npz, allow_pickle=False) as data:
                weights = data["weights"].astype(np.float32)
                idf = data["idf"].astype(np.float32)
                bias = float(data["bias"][0])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{npz}: not a readable model ({exc})") from exc
        if weights.shape != idf.shape or weights.shape[0] != meta.get("n_buckets"):
            raise ModelError(f"{npz}: array shapes do not match n_buckets={meta.get('n_buckets')}")
        return cls(weights, idf, bias, int(meta.get("ngram_max", 3)), meta)


class LinearScorer:
    """Scorer over a :class:`LinearModel`; see :mod:`jingshao.nlp.scorer` for the interface."""

    name = "linear"

    def __init__(self, model: LinearModel, batch_size: int = 2048) -> None:
        self.model = model
        self.batch_size = batch_size

    @classmethod
    def from_path(cls, path: str | Path | None = None) -> LinearScorer:
        return cls(LinearModel.load(path or default_model_path()))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) per text. Texts without any letter/digit/CJK character (empty, emoji we do not
        know, punctuation) get exactly 0.5."""
        norm = [truncate(normalize(t)) for t in texts]
        out = np.full(len(norm), 0.5)
        idx = [i for i, t in enumerate(norm) if has_content(t)]
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start : start + self.batch_size]
            z = self.model.decision([norm[i] for i in chunk])
            out[chunk] = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
        return out
