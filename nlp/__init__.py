"""Pure NLP for jingshao: sentiment, preference tags, ad-law words, selling points.

No database, no network. Heavy pieces load lazily: the sentiment model on the first
``get_scorer()``, jieba on the first ``selling_points()``, SnowNLP only for its backend.

The package's names are imported on first use (PEP 562 ``__getattr__``): importing any submodule runs this
file, and an eager import of them all loads numpy (the scorer), the tag lexicons and the trainer, about
0.2 s of CPU, for a process that needs only the ad-law words (issue 15: each extraction worker of a crawl
unpickles the ``[nlp]`` config from :mod:`jingshao.nlp.settings` and scans titles and promos for ad-law
words, nothing else). ``from jingshao.nlp import X`` works as before.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adlaw import AdlawHit, scan_adlaw
    from .keywords import selling_points
    from .scorer import NEUTRAL_HIGH, NEUTRAL_LOW, Scorer, get_scorer, label_for
    from .tags import CATEGORIES, Tag, TagSummary, aggregate_tags, extract_tags
    from .text import normalize
    from .train import TrainReport, train, train_main

#: Each public name and the submodule it comes from.
_SOURCES = {
    "AdlawHit": "adlaw",
    "scan_adlaw": "adlaw",
    "selling_points": "keywords",
    "NEUTRAL_HIGH": "scorer",
    "NEUTRAL_LOW": "scorer",
    "Scorer": "scorer",
    "get_scorer": "scorer",
    "label_for": "scorer",
    "CATEGORIES": "tags",
    "Tag": "tags",
    "TagSummary": "tags",
    "aggregate_tags": "tags",
    "extract_tags": "tags",
    "normalize": "text",
    "TrainReport": "train",
    "train": "train",
    "train_main": "train",
}

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


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{source}", __name__), name)
    globals()[name] = value  # once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    """This package, which keeps its names when a submodule of the same name loads.

    ``train`` is both a submodule and the function this package exports from it. Importing a
    submodule binds it on its package; with the names loaded on first use, a process that imported
    ``jingshao.nlp.train`` (``from jingshao.nlp.train import nb_ratio``) before asking for ``train``
    would get the module from ``from jingshao.nlp import train``. The eager imports this file had
    rebound the name to the function; here the binding is refused, and ``__getattr__`` answers.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and name in _SOURCES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
