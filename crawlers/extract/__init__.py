"""Pure product extraction: HTML in, :class:`ProductExtraction` out (see ``pipeline`` for the rules)."""

from .model import ProductExtraction
from .pipeline import extract_product

__all__ = ["ProductExtraction", "extract_product"]
