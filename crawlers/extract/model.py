"""The result object of :func:`jingshao.crawlers.extract.extract_product`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FIELDS: tuple[str, ...] = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand")

#: Layer names recorded in ``ProductExtraction.sources[field]["layer"]``, in the order they are tried.
LAYERS: tuple[str, ...] = ("selector", "jsonld", "microdata", "rdfa", "opengraph", "state", "heuristic")

AVAILABILITY_VALUES: tuple[str, ...] = ("InStock", "OutOfStock", "PreOrder")

#: Bumped when extraction changes what it reads from the same page: a new version is a new baseline
#: (no alert compares a value read the new way with one read the old way).
EXTRACTOR_VERSION = "2"


def reading_basis(selectors: Mapping[str, str] | None) -> str:
    """``"x<version>:<digest of the selectors>"``: how a product's values were read."""
    payload = json.dumps(dict(selectors or {}), sort_keys=True, ensure_ascii=False)
    return f"x{EXTRACTOR_VERSION}:{hashlib.sha1(payload.encode()).hexdigest()[:16]}"


def decimal_text(value: Decimal | None) -> str | None:
    """A price as the decimal string the page showed (``Decimal("199.00")`` -> ``"199.00"``)."""
    if value is None:
        return None
    text = format(value, "f")
    return text


@dataclass
class ProductExtraction:
    """What was found on one product page, and where each field came from."""

    title: str | None = None
    price: Decimal | None = None
    original_price: Decimal | None = None
    currency: str | None = None
    availability: str | None = None
    promo: str | None = None
    sku: str | None = None
    brand: str | None = None
    price_is_range: bool = False
    # Per-variant prices the page shows: [{"name": "256GB 黑色", "price": Decimal("6799.00")}, ...]
    variants: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def in_stock(self) -> bool | None:
        """True for InStock and PreOrder (it can be bought now), False for OutOfStock, None if unknown."""
        if self.availability is None:
            return None
        return self.availability != "OutOfStock"

    def to_json(self, input: str) -> dict[str, Any]:
        """The object ``jingshao extract --json`` prints for one input."""
        return {
            "input": input,
            "title": self.title,
            "price": decimal_text(self.price),
            "original_price": decimal_text(self.original_price),
            "currency": self.currency,
            "availability": self.availability,
            "promo": self.promo,
            "sku": self.sku,
            "brand": self.brand,
            "price_is_range": self.price_is_range,
            "variants": [{"name": v["name"], "price": decimal_text(v.get("price"))} for v in self.variants],
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "error": self.error,
        }
