"""The result object of :func:`jingshao.crawlers.extract.extract_product`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FIELDS: tuple[str, ...] = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand")

#: Layer names recorded in ``ProductExtraction.sources[field]["layer"]``, in the order they are tried.
LAYERS: tuple[str, ...] = ("selector", "jsonld", "microdata", "rdfa", "opengraph", "state", "heuristic")

AVAILABILITY_VALUES: tuple[str, ...] = ("InStock", "OutOfStock", "PreOrder")


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
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def in_stock(self) -> bool | None:
        """True for InStock and PreOrder (it can be bought now), False for OutOfStock, None if unknown."""
        if self.availability is None:
            return None
        return self.availability != "OutOfStock"

    def to_json(self, input: str) -> dict[str, Any]:  # noqa: A002 - the CLI's key is called "input"
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
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "error": self.error,
        }
