"""SnowNLP's bundled sentiment model as a backend: kept as a choice and as the baseline to beat.

It is slow (its pure-Python segmenter dominates) and was trained on text overlapping the public review
corpora, so its figures on them are optimistic. Texts are normalised like for every backend first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .text import has_content, normalize, truncate


class SnowNLPScorer:
    name = "snownlp"

    def __init__(self) -> None:
        from snownlp import sentiment  # imported lazily: loading its model takes about a second

        self._classify = sentiment.classify

    def score(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full(len(texts), 0.5)
        for i, raw in enumerate(texts):
            text = truncate(normalize(raw))
            if has_content(text):
                out[i] = float(self._classify(text))
        return out
