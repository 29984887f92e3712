"""Items the spiders yield; pipelines turn them into rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProductObservationItem:
    product_id: int
    url: str
    fields: dict[str, Any]
    sources: dict[str, Any] = field(default_factory=dict)
    rendered: bool = False


@dataclass
class FailedPageItem:
    """A page that gave no usable observation: fetch error, HTTP error, robots, or no price."""

    url: str
    reason: str
    product_id: int | None = None
    http_status: int | None = None
