"""NLP enrichment at ingest: sentiment and preference tags for reviews, ad-law words for copy.

The nlp package is pure (texts in, results out); this module is the glue that turns its
results into column values. Models load once per process, lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from jingshao.core.tags import tag_to_row
from jingshao.nlp.settings import NlpConfig


def _guess_category(texts: Sequence[str]) -> str | None:
    """The category the reviews of a batch point to when none is configured (None: no clear sign; the
    open-vocabulary tagger needs none, the category only adds its lexicon's words)."""
    from jingshao.nlp.tags import infer_category

    if not texts:
        return None
    cat = infer_category(texts, min_hits=max(3, len(texts) // 10))
    return None if cat == "general" else cat


class Enricher:
    def __init__(self, config: NlpConfig | None = None) -> None:
        self.config = config or NlpConfig()

    @cached_property
    def scorer(self):
        from jingshao.nlp import get_scorer

        return get_scorer(self.config.scorer, self.config.model_path)

    def review_columns(self, texts: Sequence[str], categories: Sequence[str]) -> list[dict[str, Any]]:
        """sentiment, label, tags and scorer name for each review text (batched scoring)."""
        from jingshao.nlp import extract_tags, label_for

        if not texts:
            return []
        scores = self.scorer.score(list(texts))
        unset = [t for t, c in zip(texts, categories, strict=True) if not c or c == "general"]
        guessed = _guess_category(unset)
        return [
            {
                "sentiment": float(p),
                "label": label_for(float(p)),
                "scorer": self.scorer.name,
                "tags": [
                    tag_to_row(t)
                    for t in extract_tags(text, category if category and category != "general" else guessed)
                ]
                or None,
            }
            for text, category, p in zip(texts, categories, scores, strict=True)
        ]

    @cached_property
    def mention_scorer(self):
        from jingshao.nlp.mention import get_mention_scorer

        return get_mention_scorer(self.config.mention_model_path)

    def mention_columns(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """sentiment (P(positive)), negative_prob and the mention model's label (pos / neu / neg) per
        mention text (batched); the label is exactly what the crisis rules count as negative."""
        if not texts:
            return []
        return [
            {"sentiment": s.pos, "negative_prob": s.neg, "label": s.label}
            for s in self.mention_scorer.classify(list(texts))
        ]

    def adlaw_hits(self, field_texts: dict[str, str | None]) -> list[dict[str, Any]]:
        """Ad-law hits per copy field (title, promo) with position and context."""
        from jingshao.nlp import scan_adlaw
        from jingshao.nlp.adlaw_exemptions import apply_exemptions

        out = []
        exemptions = getattr(self.config, "adlaw_exemptions", None)  # the 2023 guide's exemptions (issue 12)
        for field, text in field_texts.items():
            if not text:
                continue
            hits = scan_adlaw(text, extra_words=self.config.adlaw_extra, allow=self.config.adlaw_allow)
            for h in apply_exemptions(text, hits, exemptions):
                out.append(
                    {
                        "field": field,
                        "word": h.word,
                        "category": h.category,
                        "start": h.start,
                        "end": h.end,
                        "context": h.context,
                    }
                )
        return out
