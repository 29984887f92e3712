"""jieba, initialised once, lazily and quietly, with shop vocabulary added.

jieba prints "Building prefix dict ..." to stderr and takes ~1 s to load its dictionary; we only pay
that when tags or keywords are first asked for, and never print it. Shop words (券后价, 满减, 色差 ...)
come from ``data/shop_words.txt`` (one word per line, optional frequency and POS, like jieba's own
user dictionaries) so they stay in one piece.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from types import ModuleType

_lock = threading.Lock()
_ready = False


def get_jieba() -> ModuleType:
    """The ``jieba`` module, dictionary loaded and shop words added (once per process)."""
    global _ready
    import jieba

    if _ready:
        return jieba
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            text = resources.files("jingshao.nlp").joinpath("data", "shop_words.txt").read_text(encoding="utf-8")
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
                jieba.add_word(parts[0], freq=freq, tag=tag)
            _ready = True
    return jieba
