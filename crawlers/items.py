"""Items the spiders yield; pipelines turn them into rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class StoredAs:
    """What the storage pipeline stored a product page as ("changed" | "unchanged"; None: not stored yet).

    Issue 15: a cell of its own, so that the crawl keeps it for its summary instead of the whole item (the
    page's body, fields and sources), which then goes once its batch is written: a crawl kept every page
    it stored until it ended, which grew its memory and made each full garbage collection longer."""

    __slots__ = ("value",)

    def __init__(self, value: str | None = None) -> None:
        self.value = value


@dataclass
class ProductObservationItem:
    product_id: int
    url: str
    fields: dict[str, Any]
    sources: dict[str, Any] = field(default_factory=dict)
    rendered: bool = False
    # Stored beside the observed fields (issue 11): final_price, offers, variants, basis.
    extras: dict[str, Any] = field(default_factory=dict)
    # Issue 15: the ad-law hits of title and promo, found where the page was extracted (an extraction worker);
    # None: not found yet, the storage pipeline scans them. Stored only for a new or changed observation.
    adlaw_hits: list[dict[str, Any]] | None = field(default=None, repr=False)
    # Size of the page's body: folded into the product's usual size (an empty shell is far below it).
    page_bytes: int | None = None
    # The page as served (and a PNG of a rendered page): evidence when the observation changed (issue 12).
    body: bytes | None = field(default=None, repr=False)
    screenshot: bytes | None = field(default=None, repr=False)
    # Issue 15: digest of the page and how it was read; ``seen_unchanged`` when it equals the last
    # stored page's, so nothing was extracted (``fields`` is empty) and the latest observation stands.
    fingerprint: str | None = None
    seen_unchanged: bool = False
    # The page's ETag / Last-Modified (and how it was read), sent back next time; ``not_modified``: the site
    # answered that conditional request with 304 (seen unchanged without downloading the page).
    validators: dict[str, Any] | None = None
    not_modified: bool = False
    # Issue 15: a page seen unchanged whose fingerprint and validators are the product's stored ones already
    # (a 304 repeating its ETag, a shop without validators): nothing to write on the product for it.
    state_kept: bool = False
    # Issue 15: the product had no stored page when the request went out, so this page is its first
    # observation and its evidence will be kept: the storage pipeline compresses it beside the reactor.
    first_page: bool = False
    # Set by the storage pipeline: "changed" | "unchanged" (the crawl summary counts each page by it; a global
    # counter compared between signals miscounts when items of several pages are in the pipelines at once).
    outcome: StoredAs = field(default_factory=StoredAs, repr=False, compare=False)

    @property
    def stored_as(self) -> str | None:
        return self.outcome.value

    @stored_as.setter
    def stored_as(self, value: str | None) -> None:
        self.outcome.value = value


@dataclass
class FailedPageItem:
    """A page that gave no usable observation: fetch error, HTTP error, robots, or no price."""

    url: str
    reason: str
    product_id: int | None = None
    http_status: int | None = None


@dataclass
class BlockedPageItem(FailedPageItem):
    """A page the shop answered with a wall (login, captcha, 403/412/429, empty shell; issue 12): stored as a
    ``blocked`` crawl result with its reason; it changes no price, stock or promo and raises no alert.

    ``signal``: status | redirect | marker | shell | paused (the domain was paused: no request was made)."""

    signal: str = ""
    login_wall: bool = False


@dataclass
class ListPriceItem:
    """The product's price as a list or search page shows it (Article 20 audits, issue 12)."""

    product_id: int
    page_url: str
    price: Any  # Decimal


@dataclass
class ReviewItem:
    product_id: int
    fingerprint: str
    text: str
    external_id: str | None = None
    rating: int | None = None
    posted_at: Any = None
    variant: str | None = None
    helpful: int | None = None
    has_images: bool = False
    followup: str | None = None
    category: str = "general"
    time_raw: str | None = None  # the site's time text when it could not be read (posted_at None)


@dataclass
class ReviewsCompleteItem:
    """The review list of a product was walked to its end (or to known reviews, or the page limit)."""

    product_id: int


@dataclass
class MentionItem:
    brand: str
    source: str
    authority: int
    url: str
    url_key: str
    content_key: str
    title: str | None
    text: str
    author: str | None
    posted_at: Any  # None when the source gives no time or one that cannot be read
    time_raw: str | None = None  # the source's time text when it could not be read
