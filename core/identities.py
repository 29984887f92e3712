"""How a brand and a competitor product are named across the house.

A subject key names what an alert is about (``brand:蜜橙``, ``product:12``): rules put it into
fingerprints, silences match it, the CLI accepts it. One spelling, here, so a silence typed at the
command line matches what the rule wrote.
"""

from __future__ import annotations

BRAND_PREFIX = "brand:"
PRODUCT_PREFIX = "product:"


def brand_key(name: str) -> str:
    """``brand:蜜橙``: the subject key of one of the user's own brands (by its configured name)."""
    return f"{BRAND_PREFIX}{name}"


def product_key(product_id: int) -> str:
    """``product:12``: the subject key of a competitor product (by its database id)."""
    return f"{PRODUCT_PREFIX}{product_id}"


def product_subject(competitor: str, name: str) -> str:
    """``优品数码旗舰店 / iPhone 15``: how a competitor product is named in messages."""
    return f"{competitor} / {name}"
