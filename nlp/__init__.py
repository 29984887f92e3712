"""Pure NLP for jingshao: sentiment, preference tags, ad-law words, selling points.

No database, no network. Heavy pieces load lazily: the sentiment model on the first
``get_scorer()``, jieba on the first ``selling_points()``, SnowNLP only for its backend.
"""

from .adlaw import AdlawHit, scan_adlaw
from .keywords import selling_points
from .scorer import NEUTRAL_HIGH, NEUTRAL_LOW, Scorer, get_scorer, label_for
from .tags import CATEGORIES, Tag, TagSummary, aggregate_tags, extract_tags
from .text import normalize
from .train import TrainReport, train, train_main

__all__ = [
    "CATEGORIES",
    "NEUTRAL_HIGH",
    "NEUTRAL_LOW",
    "AdlawHit",
    "Scorer",
    "Tag",
    "TagSummary",
    "TrainReport",
    "aggregate_tags",
    "extract_tags",
    "get_scorer",
    "label_for",
    "normalize",
    "scan_adlaw",
    "selling_points",
    "train",
    "train_main",
]
