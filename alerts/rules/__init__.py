"""Pure alert rules: stored facts in, :class:`AlertInstance` values out (no database, network or clock).

- :func:`evaluate_crisis` — a brand's blue / yellow / red crisis level from its mentions.
- :func:`evaluate_competitor` — price, stock, promo, 划线价, ad-law and review alerts for one product.
- :data:`RED_PLAYBOOK` — the response playbook the engine attaches to a red crisis alert.

The engine (state machine, silences, outbox) turns instances into notifications by fingerprint.
"""

from jingshao.core.levels import LEVEL_RANK, LEVELS, Level

from .competitor import (
    COMPETITOR_RULES,
    CompetitorFacts,
    CompetitorThresholds,
    ObservationFact,
    ProductRef,
    ReviewFact,
    adlaw_rule,
    back_in_stock_rule,
    evaluate_competitor,
    fake_original_price_rule,
    price_anomaly_rule,
    price_drop_rule,
    price_floor_rule,
    promo_change_rule,
    review_spike_rule,
    stock_out_rule,
)
from .crisis import (
    COUNT_RULES,
    DEFAULT_CRISIS_WORDS,
    RULE_NAMES,
    RULE_ORDER,
    SUSTAIN_RULES,
    CrisisHistory,
    CrisisStats,
    CrisisThresholds,
    HourlyCounts,
    MentionFact,
    crisis_fingerprint,
    crisis_stats,
    evaluate_crisis,
    find_crisis_word,
)
from .model import FAMILIES, AlertInstance, Family, fingerprint
from .playbook import POSTMORTEM_HOURS, POSTMORTEM_REMINDER, RED_PLAYBOOK, RED_PLAYBOOK_STEPS, RESPONSE_TEAM_HOURS

__all__ = [
    "COMPETITOR_RULES",
    "COUNT_RULES",
    "DEFAULT_CRISIS_WORDS",
    "FAMILIES",
    "LEVELS",
    "LEVEL_RANK",
    "POSTMORTEM_HOURS",
    "POSTMORTEM_REMINDER",
    "RED_PLAYBOOK",
    "RED_PLAYBOOK_STEPS",
    "RESPONSE_TEAM_HOURS",
    "RULE_NAMES",
    "RULE_ORDER",
    "SUSTAIN_RULES",
    "AlertInstance",
    "CompetitorFacts",
    "CompetitorThresholds",
    "CrisisHistory",
    "CrisisStats",
    "CrisisThresholds",
    "Family",
    "HourlyCounts",
    "Level",
    "MentionFact",
    "ObservationFact",
    "ProductRef",
    "ReviewFact",
    "adlaw_rule",
    "back_in_stock_rule",
    "crisis_fingerprint",
    "crisis_stats",
    "evaluate_competitor",
    "evaluate_crisis",
    "fake_original_price_rule",
    "find_crisis_word",
    "fingerprint",
    "price_anomaly_rule",
    "price_drop_rule",
    "price_floor_rule",
    "promo_change_rule",
    "review_spike_rule",
    "stock_out_rule",
]
