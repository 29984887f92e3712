"""The crawlers' own configuration: what to crawl and how (``[crawl]``, ``[browser]``,
``[[competitors]]`` with their products, selectors and review sources, ``[[brands]]`` and
``[[mention_sources]]``).

This module is schema only (pydantic and parsel, no Scrapy), so the top-level
:mod:`jingshao.config` can assemble it and the spiders, the runner and the workers can type their
inputs without importing the top-level config (which also carries the alerts' and reports' sections).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Literal, Protocol

from parsel import Selector
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jingshao.core.identities import brand_key
from jingshao.crawlers.blocking import BlockingConfig
from jingshao.crawlers.cookies import CookieSourceConfig
from jingshao.nlp.settings import NlpConfig
from jingshao.storage.evidence import EvidenceConfig

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
SELECTOR_FIELDS = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand")


def _check_http_url(url: str) -> str:
    """A page URL as configured: trimmed, http(s) with a host, no blanks in it."""
    url = url.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("expected an http:// or https:// URL")
    return _no_spaces(url)


def _no_spaces(url: str) -> str:
    if any(c.isspace() for c in url):
        raise ValueError("the URL contains a space or another blank; percent-encode it (a space is %20)")
    return url


def css_error(css: str) -> str | None:
    """Why ``css`` (parsel CSS, ``::text`` / ``::attr(x)`` allowed) does not compile, or None."""
    try:
        Selector(text="<html></html>").css(css)
    except Exception as exc:
        return f"invalid CSS selector {css!r}: {exc}"
    return None


def xpath_error(xpath: str) -> str | None:
    try:
        Selector(text="<html></html>").xpath(xpath)
    except Exception as exc:
        return f"invalid XPath {xpath!r}: {str(exc).removeprefix('XPath error: ')}"
    return None


def json_path_error(path: str, what: str = "JSON path") -> str | None:
    if not path.strip():
        return f"empty {what}"
    if any(not part.strip() for part in path.strip().split(".")):
        return f"{what} {path!r} has an empty part (two dots, or a dot at an end)"
    return None


def selector_error(spec: str) -> str | None:
    """Why a product selector (CSS, ``css:``, ``xpath:`` / leading ``/``, ``json:NAME.path``) cannot work."""
    spec = spec.strip()
    if spec.startswith("json:"):
        return json_path_error(spec[5:], "json: path")
    if spec.startswith("xpath:"):
        return xpath_error(spec[6:].strip()) if spec[6:].strip() else "empty xpath: selector"
    if spec.startswith(("/", "(")):
        return xpath_error(spec)
    css = spec[4:].strip() if spec.startswith("css:") else spec
    return css_error(css) if css else "empty selector"


def _check(error: str | None) -> None:
    if error:
        raise ValueError(error)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Selectors(_Strict):
    """Per-site selectors: CSS (default or `css:`), XPath (`xpath:` or leading `/`),
    or a path into embedded JSON (`json:__INITIAL_STATE__.product.price`)."""

    title: str | None = None
    price: str | None = None
    original_price: str | None = None
    currency: str | None = None
    availability: str | None = None
    promo: str | None = None
    sku: str | None = None
    brand: str | None = None

    @field_validator(*SELECTOR_FIELDS)
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _check(selector_error(value))
        return value

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


class ReviewFields(_Strict):
    """Where each review field is, relative to one review item: dotted JSON paths for json/jsonp
    sources (`afterUserComment.content`), CSS selectors with ::text / ::attr(x) for html."""

    id: str | None = None
    text: str
    rating: str | None = None
    posted_at: str | None = None
    variant: str | None = None
    helpful: str | None = None
    images: str | None = None
    followup: str | None = None


class ReviewSource(_Strict):
    """How to fetch one product's reviews: a JSON/JSONP endpoint or an HTML list, paginated."""

    kind: Literal["json", "jsonp", "html"]
    url: str = Field(description="URL with {page}, {offset} and {limit} placeholders as the pagination needs")
    pagination: Literal["page", "offset", "next"] = "page"
    start: int = Field(default=1, ge=0)
    page_size: int = Field(default=10, ge=1, le=1000)
    items: str = Field(min_length=1, description="JSON path to the review list, or CSS selector of one review")
    fields: ReviewFields
    next: str | None = None
    render: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _no_spaces(value.strip())

    @model_validator(mode="after")
    def _selectors_compile(self) -> ReviewSource:
        """html: CSS selectors inside one review; json/jsonp: dotted paths inside one review."""
        specs = {"items": self.items, "next": self.next, **{f"fields.{k}": v for k, v in self.fields}}
        for key, spec in specs.items():
            if spec is None:
                continue
            if self.kind == "html" or key == "next":
                error = css_error(spec) if spec.strip() else "empty selector"
            else:
                error = json_path_error(spec)
            if error:
                raise ValueError(f"{key}: {error}")
        return self

    @model_validator(mode="after")
    def _pagination_needs(self) -> ReviewSource:
        if self.pagination == "page" and "{page}" not in self.url:
            raise ValueError("pagination = 'page' needs a {page} placeholder in url")
        if self.pagination == "offset" and "{offset}" not in self.url:
            raise ValueError("pagination = 'offset' needs an {offset} placeholder in url")
        if self.pagination == "next" and not self.next:
            raise ValueError("pagination = 'next' needs a `next` selector for the next-page link")
        return self


Category = Literal["apparel", "electronics", "food", "beauty", "home", "general"]


class ListPageConfig(_Strict):
    """A list or search page that shows the product with a price (compared with the detail page, Article 20)."""

    url: str
    price: str = Field(description="CSS selector of this product's price on that page (::text)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("price")
    @classmethod
    def _css(cls, v: str) -> str:
        _check(css_error(v) if v.strip() else "empty selector")
        return v


class ProductConfig(_Strict):
    url: str
    name: str | None = None
    render: bool = False
    category: Category | None = None
    selectors: Selectors | None = None
    reviews: ReviewSource | None = None
    # Issue 11: which SKU's price to record ("256GB 黑色"; default the lowest, as a range), how many units
    # the 到手价 is computed for, and how far (x or 1/x) a price may move before it is held as suspect.
    variant: str | None = None
    quantity: int = Field(1, ge=1, le=1000)
    plausibility_factor: float = Field(3.0, gt=1)
    # Issue 12 (Article 20 audits): a list or search page showing this product, and where its price is there.
    list_page: ListPageConfig | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        return _check_http_url(v)


class CompetitorConfig(_Strict):
    name: str = Field(min_length=1)
    category: Category = "general"
    selectors: Selectors | None = None
    products: list[ProductConfig] = Field(default_factory=list)
    cookies: CookieSourceConfig | None = Field(default=None, description="logged-in cookies (issue 12)")

    def category_for(self, product: ProductConfig) -> str:
        return product.category or self.category

    def selectors_for(self, product: ProductConfig) -> dict[str, str]:
        """Competitor-wide selectors, overridden field by field by the product's own."""
        merged = self.selectors.as_dict() if self.selectors else {}
        if product.selectors:
            merged.update(product.selectors.as_dict())
        return merged


class CrawlConfig(_Strict):
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots_txt: bool = True
    download_delay: float = Field(default=1.0, ge=0)
    concurrency_per_domain: int = Field(default=2, ge=1, le=64)
    concurrency: int = Field(default=16, ge=1, le=512)
    autothrottle: bool = True
    retry_times: int = Field(default=3, ge=0, le=20)
    timeout: float = Field(default=30, gt=0)
    max_page_mb: float = Field(default=20, gt=0)
    conditional_requests: bool = True  # issue 15: If-None-Match / If-Modified-Since; 304 = seen unchanged
    full_fetch_hours: float = Field(default=24, gt=0)  # a page is downloaded in full at least this often
    review_max_pages: int = Field(default=20, ge=1, le=10_000)
    # Issue 15: product pages are extracted in this many worker processes beside the crawl (0: in-process).
    # Default min(cores - 1, 2): the reactor keeps a core to download and store. Walls are told before a
    # page goes to a worker (a page that is a wall unless it holds the product is extracted in-process),
    # so back-off starts as early as in an in-process crawl.
    extract_workers: int = Field(default_factory=lambda: default_extract_workers(), ge=0, le=64)
    blocking: BlockingConfig = Field(default_factory=BlockingConfig)


ResourceType = Literal["image", "font", "media", "stylesheet"]


def default_extract_workers() -> int:
    """``[crawl] extract_workers`` when unset: min(cores - 1, 2) of the cores this process may run on (0 on one
    core: a worker would only take turns with the reactor)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 2))


def _blocked_by_default() -> list[ResourceType]:
    return ["image", "font", "media"]


class BrowserConfig(_Strict):
    executable_path: str | None = None
    headless: bool = True
    block_resources: list[ResourceType] = Field(default_factory=_blocked_by_default)
    navigation_timeout: float = Field(default=30, gt=0)
    # The pool of browser contexts (issue 15): pages are kept and reused, a context is replaced after
    # recycle_after pages (its memory returns), render pages in flight per domain are capped.
    concurrency_per_domain: int = Field(default=2, ge=1, le=64, description="render pages in flight per domain")
    contexts: int = Field(default=2, ge=1, le=32, description="browser contexts per cookie identity")
    pages_per_context: int = Field(default=4, ge=1, le=64, description="pages open at once in one context")
    recycle_after: int = Field(default=200, ge=1, description="pages a context renders before it is replaced")
    network_quiet_ms: int = Field(
        default=200, ge=0, le=10_000, description="no request in flight this long once parsed: the page is done"
    )


class MentionSourceConfig(_Strict):
    """A place where brand mentions appear. `{keyword}` in url searches each brand keyword."""

    name: str = Field(min_length=1)
    kind: Literal["rss", "html", "json", "render"]
    url: str
    authority: int = Field(
        default=1,
        ge=1,
        le=3,
        description="1 ordinary, 2 industry media / big account / regulator, 3 national media / hot list",
    )
    item: str | None = Field(
        default=None, description="CSS selector of one item (html/render) or JSON path to the list"
    )
    title: str | None = None
    link: str | None = None
    snippet: str | None = None
    time: str | None = None
    author: str | None = None
    pagination: Literal["none", "next", "cursor"] = "none"
    next: str | None = None
    cursor: str | None = Field(default=None, description="JSON path of the next cursor (pagination = cursor)")
    start: str = Field(default="", description="the first {cursor} value")
    max_pages: int = Field(default=3, ge=1, le=100)
    brands: list[str] | None = Field(default=None, description="only these brands (default: all)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _no_spaces(value.strip())

    @model_validator(mode="after")
    def _selectors_compile(self) -> MentionSourceConfig:
        """html/render: CSS selectors (item, fields, next); json: dotted paths (item, fields, cursor)."""
        css = self.kind in ("html", "render")
        for key in ("item", "title", "link", "snippet", "time", "author", "next", "cursor"):
            spec = getattr(self, key)
            if spec is None or self.kind == "rss":
                continue
            use_css = css if key != "cursor" else False
            error = (css_error(spec) if spec.strip() else "empty selector") if use_css else json_path_error(spec)
            if error:
                raise ValueError(f"{key}: {error}")
        return self

    @model_validator(mode="after")
    def _fields_for_kind(self) -> MentionSourceConfig:
        if self.kind != "rss":
            if not self.item:
                raise ValueError(f"kind = {self.kind!r} needs `item` (where one mention is)")
            if not self.link or not (self.snippet or self.title):
                raise ValueError(f"kind = {self.kind!r} needs `link` and `snippet` or `title`")
        if self.pagination == "next" and not self.next:
            raise ValueError("pagination = 'next' needs a `next` selector")
        if self.pagination == "cursor" and not (self.cursor and "{cursor}" in self.url):
            raise ValueError("pagination = 'cursor' needs `cursor` and a {cursor} placeholder in url")
        return self


CrisisValue = float | int | list[str]


class BrandConfig(_Strict):
    """One of the user's own brands: what names it, what shows a mention is about something else
    (苹果 the brand vs the fruit), and optional per-brand crisis threshold overrides."""

    name: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list, description="search words; default: [name]")
    aliases: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list, description="words that mark another meaning (水果, 好吃 ...)")
    # Alert thresholds for this brand: plain data here (crawlers do not read it); the alerts schema
    # checks the keys (jingshao.alerts.settings.check_brand_crisis, run by the top-level Config).
    crisis: dict[str, CrisisValue] = Field(
        default_factory=dict, description="overrides of CrisisThresholds fields for this brand"
    )

    @model_validator(mode="after")
    def _default_keywords(self) -> BrandConfig:
        if not self.keywords:
            self.keywords = [self.name]
        return self

    @property
    def subject_key(self) -> str:
        return brand_key(self.name)


class CrawlerInputs(Protocol):
    """What a crawl reads from the configuration. The top-level :class:`jingshao.config.Config` is one;
    typing against this protocol keeps the crawlers below the config that also assembles the alerts'
    and reports' sections (DESIGN.md, the layers)."""

    timezone: str
    redis_url: str | None
    crawl: CrawlConfig
    browser: BrowserConfig
    nlp: NlpConfig
    competitors: list[CompetitorConfig]
    brands: list[BrandConfig]
    mention_sources: list[MentionSourceConfig]
    evidence: EvidenceConfig

    @property
    def database_url(self) -> str: ...

    def iter_products(self) -> Iterator[tuple[CompetitorConfig, ProductConfig, dict[str, str]]]: ...
