"""Alert levels, their Chinese names and the fixed message prefix.

Every layer that names a level (rules, the engine, channels, the report, the CLI) takes it from
here, so the words a chat group sees and the words the daily report prints cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Literal

Level = Literal["blue", "yellow", "red"]
#: Lowest first: a higher index is more severe.
LEVELS: tuple[Level, ...] = ("blue", "yellow", "red")
LEVEL_RANK: dict[str, int] = {"blue": 1, "yellow": 2, "red": 3}

#: What a notification's label says (``🔴红色预警``) ...
LEVEL_NAMES: dict[str, str] = {"blue": "蓝色预警", "yellow": "黄色预警", "red": "红色预警"}
#: ... and the short colour word tables use (the report's level column).
LEVEL_COLOURS: dict[str, str] = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}
LEVEL_EMOJI: dict[str, str] = {"blue": "🔵", "yellow": "🟡", "red": "🔴"}

#: Fixed start of every chat message: robots with keyword security drop messages without it.
DEFAULT_PREFIX = "【竞哨】"

#: Ids a channel may @: phone numbers, user ids, open ids, Slack ``U123``/``here``/``channel``.
MENTION_ID = re.compile(r"^[A-Za-z0-9_.+\-]{1,64}$")


def higher(a: str, b: str) -> bool:
    """Whether level ``a`` is more severe than level ``b``."""
    return LEVEL_RANK[a] > LEVEL_RANK[b]
