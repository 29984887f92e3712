"""The mention sentiment model: three classes (pos / neu / neg) for social posts, news and forum threads.

Why a second model: the review model learned from shop reviews, where almost every text takes a side.
Posts are mostly neither ("打折了，要不要入", a news headline, a question), and a two-class model forced
to choose calls much of that chatter negative, which is what the crisis rules count. This model is
trained on Weibo posts labelled with a neutral class (see nlp/data/README.md for sources and figures).

Features are those of the review model (hashed character 1-3-grams, sublinear tf x idf, L2-normalised;
:mod:`jingshao.nlp.features`) over the post as :func:`jingshao.nlp.social.clean_post` rewrites it;
the classifier is a multinomial logistic regression.

The decision (what the crisis rules count as negative) is calibrated, not argmax: a post is ``neg``
when P(neg) >= ``neg_threshold``, a number chosen on validation folds of the training side so that
negative precision stays high (a false negative count is a false alarm) while recall stays >= 0.75; it
is stored in the model's JSON and reported by ``jingshao nlp score --kind mention``. Otherwise the label
is the likelier of ``pos`` and ``neu``. A post with a complaint word (:data:`COMPLAINT_WORDS`: 投诉,
维权, 12315 ...) needs only half the cut.

A model is two plain files, never a pickle:

- ``NAME.npz`` (``allow_pickle=False``): ``weights`` float16 ``(n_buckets, 3)`` in class order
  pos, neu, neg; ``idf`` float16 ``(n_buckets,)``; ``bias`` float64 ``(3,)``;
- ``NAME.json``: format, version, hashing parameters, ``neg_threshold``, sources and held-out figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from jingshao.core.textfold import fold

from .features import hash_ngrams, tfidf_values
from .linear import model_paths, read_model_meta
from .social import clean_post
from .text import has_content, normalize, truncate

FORMAT = "jingshao-mention-softmax"
FORMAT_VERSION = 1
DEFAULT_MODEL_NAME = "mention-softmax"
CLASSES: tuple[str, str, str] = ("pos", "neu", "neg")
POS, NEU, NEG = 0, 1, 2

MentionLabel = Literal["pos", "neu", "neg"]


class MentionModelError(ValueError):
    """A mention model file that is missing, unreadable or of an unknown format."""


def default_mention_model_path() -> Path:
    return Path(str(resources.files("jingshao.nlp").joinpath("data", DEFAULT_MODEL_NAME + ".npz")))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class MentionModel:
    weights: np.ndarray  # float32 (n_buckets, 3)
    idf: np.ndarray  # float32 (n_buckets,)
    bias: np.ndarray  # float64 (3,)
    neg_threshold: float = 0.5
    ngram_max: int = 3
    meta: dict[str, Any] = field(default_factory=dict)
    #: Weights (3,) of one extra feature: the bundled review model's logit on the post, times
    #: ``REVIEW_FEATURE_SCALE`` (None: not used). Product complaints (售后推三阻四, 用了一周就坏了) are
    #: rare in the Weibo corpora and common in reviews; the softmax learns how far to trust the review
    #: model's verdict among posts, where neutral chatter is the rule.
    review_weight: np.ndarray | None = None

    @property
    def n_buckets(self) -> int:
        return int(self.weights.shape[0])

    def decision(self, cleaned: Sequence[str], raw: Sequence[str] | None = None) -> np.ndarray:
        """Logits ``(n, 3)`` per already-cleaned text (:func:`clean_post`); ``raw`` are the texts as
        written, for the review-model feature (default: the cleaned ones)."""
        counts = hash_ngrams(cleaned, self.n_buckets, self.ngram_max)
        vals = tfidf_values(counts, self.idf)
        w = self.weights[counts.bucket]  # (nnz, 3)
        z = np.empty((len(cleaned), len(CLASSES)))
        for k in range(len(CLASSES)):
            z[:, k] = np.bincount(counts.doc, weights=vals * w[:, k], minlength=len(cleaned))
        if self.review_weight is not None:
            z += review_feature(raw if raw is not None else cleaned)[:, None] * self.review_weight
        return z + self.bias

    def save(self, path: str | Path) -> tuple[Path, Path]:
        npz, meta_path = model_paths(path)
        npz.parent.mkdir(parents=True, exist_ok=True)
        # Any: savez_compressed's own keyword (allow_pickle) makes a typed **dict of arrays clash.
        extra: dict[str, Any] = (
            {} if self.review_weight is None else {"review_weight": np.asarray(self.review_weight, np.float64)}
        )
        np.savez_compressed(
            npz,
            weights=self.weights.astype(np.float16),
            idf=self.idf.astype(np.float16),
            bias=np.asarray(self.bias, dtype=np.float64),
            **extra,
        )
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": list(CLASSES),
            "n_buckets": self.n_buckets,
            "ngram_max": self.ngram_max,
            "neg_threshold": round(float(self.neg_threshold), 4),
            "features": f"clean_post(), hashed char 1-{self.ngram_max}-grams, sublinear tf x idf, l2-normalised"
            + (
                "; the bundled review model's logit x " + str(REVIEW_FEATURE_SCALE)
                if self.review_weight is not None
                else ""
            ),
            **{
                k: v
                for k, v in self.meta.items()
                if k not in ("format", "version", "classes", "n_buckets", "ngram_max", "neg_threshold")
            },
        }
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return npz, meta_path

    @classmethod
    def load(cls, path: str | Path) -> MentionModel:
        npz, meta_path = model_paths(path)
        meta = read_model_meta(
            npz,
            meta_path,
            FORMAT,
            FORMAT_VERSION,
            MentionModelError,
            "mention model not found (train one with `jingshao nlp train --kind mention`)",
            " (a review model is not a mention model: train one with --kind mention)",
        )
        try:
            with np.load(npz, allow_pickle=False) as data:
                weights = data["weights"].astype(np.float32)
                idf = data["idf"].astype(np.float32)
                bias = data["bias"].astype(np.float64)
                review_weight = data["review_weight"].astype(np.float64) if "review_weight" in data.files else None
        except (OSError, KeyError, ValueError) as exc:
            raise MentionModelError(f"{npz}: not a readable model ({exc})") from exc
        if (
            weights.ndim != 2
            or weights.shape[1] != len(CLASSES)
            or idf.shape != (weights.shape[0],)
            or bias.shape != (len(CLASSES),)
            or weights.shape[0] != meta.get("n_buckets")
        ):
            raise MentionModelError(f"{npz}: array shapes do not match n_buckets={meta.get('n_buckets')} x 3 classes")
        threshold = meta.get("neg_threshold", 0.5)
        if not isinstance(threshold, int | float) or not 0 < threshold < 1:
            raise MentionModelError(f"{meta_path}: neg_threshold must be a number between 0 and 1, got {threshold!r}")
        if review_weight is not None and review_weight.shape != (len(CLASSES),):
            raise MentionModelError(f"{npz}: review_weight must have 3 values, got shape {review_weight.shape}")
        return cls(weights, idf, bias, float(threshold), int(meta.get("ngram_max", 3)), meta, review_weight)


REVIEW_FEATURE_SCALE = 0.3


def review_feature(texts: Sequence[str]) -> np.ndarray:
    """The bundled review model's logit per text, times :data:`REVIEW_FEATURE_SCALE` (0 for no content)."""
    from .linear import LinearScorer, default_model_path

    scorer = _review_scorer(str(default_model_path()), LinearScorer)
    norm = [truncate(normalize(t)) for t in texts]
    out = np.zeros(len(norm))
    idx = [i for i, t in enumerate(norm) if has_content(t)]
    if idx:
        out[idx] = np.clip(scorer.model.decision([norm[i] for i in idx]), -10, 10) * REVIEW_FEATURE_SCALE
    return out


_REVIEW: dict[str, Any] = {}


def _review_scorer(path: str, cls: Any) -> Any:
    if path not in _REVIEW:
        _REVIEW[path] = cls.from_path(path)
    return _REVIEW[path]


@dataclass(frozen=True, slots=True)
class MentionScore:
    """One post's class probabilities and the calibrated label (what the crisis rules count)."""

    label: MentionLabel
    pos: float
    neu: float
    neg: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "pos": round(self.pos, 4), "neu": round(self.neu, 4), "neg": round(self.neg, 4)}


#: Words with which a buyer escalates a complaint. A post with one of them is ``neg`` at half the
#: model's cut (and only when P(neg) > P(pos)): "已经向12315投诉了" is a complaint however mildly it is
#: worded, and the Weibo corpora have too few such posts for the model to learn it (7 of 2,524 held-out
#: posts contain one). Matched on folded text (traditional and full-width forms count).
COMPLAINT_WORDS: tuple[str, ...] = (
    "投诉",
    "维权",
    "召回",
    "曝光",
    "假货",
    "12315",
    "欺诈",
    "虚假宣传",
    "骗子",
    "退款",
    "避雷",
    "差评",
    "售后",
)


def has_complaint_word(text: str | None) -> bool:
    folded = fold(text)
    return any(w in folded for w in COMPLAINT_WORDS)


def decide(probs: np.ndarray, neg_threshold: float, complaints: Sequence[bool] | None = None) -> list[MentionLabel]:
    """The calibrated decision for rows of (pos, neu, neg) probabilities (see the module docstring);
    ``complaints[i]``: post ``i`` has a complaint word (see :data:`COMPLAINT_WORDS`)."""
    labels: list[MentionLabel] = []
    for i, (p_pos, p_neu, p_neg) in enumerate(probs):
        cut = neg_threshold / 2 if complaints is not None and complaints[i] and p_neg > p_pos else neg_threshold
        if p_neg >= cut:
            labels.append("neg")
        else:
            labels.append("pos" if p_pos > p_neu else "neu")
    return labels


class MentionScorer:
    """Scores posts with a :class:`MentionModel`; batched, numpy only."""

    name = "mention"

    def __init__(self, model: MentionModel, batch_size: int = 2048) -> None:
        self.model = model
        self.batch_size = batch_size

    @classmethod
    def from_path(cls, path: str | Path | None = None) -> MentionScorer:
        return cls(MentionModel.load(path or default_mention_model_path()))

    @property
    def neg_threshold(self) -> float:
        return self.model.neg_threshold

    def probabilities(self, texts: Sequence[str | None]) -> np.ndarray:
        """``(n, 3)`` class probabilities (pos, neu, neg). A text without letters, digits or CJK
        (empty, punctuation, unknown emoji) is neutral: (0, 1, 0)."""
        raw = ["" if t is None else str(t) for t in texts]
        cleaned = [clean_post(t) for t in raw]
        out = np.tile(np.array([0.0, 1.0, 0.0]), (len(cleaned), 1))
        idx = [i for i, t in enumerate(cleaned) if has_content(t) or any("\ue000" <= c <= "\uf8ff" for c in t)]
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start : start + self.batch_size]
            out[chunk] = softmax(self.model.decision([cleaned[i] for i in chunk], [raw[i] for i in chunk]))
        return out

    def classify(self, texts: Sequence[str | None]) -> list[MentionScore]:
        probs = self.probabilities(texts)
        complaints = [has_complaint_word(t) for t in texts]
        return [
            MentionScore(label, float(p[POS]), float(p[NEU]), float(p[NEG]))
            for label, p in zip(decide(probs, self.neg_threshold, complaints), probs, strict=True)
        ]


_SCORERS: dict[str, MentionScorer] = {}


def get_mention_scorer(model_path: str | Path | None = None) -> MentionScorer:
    """A cached, shared scorer; ``None`` uses the model shipped in the package."""
    key = str(Path(model_path).resolve()) if model_path is not None else ""
    if key not in _SCORERS:
        _SCORERS[key] = MentionScorer.from_path(model_path)
    return _SCORERS[key]
