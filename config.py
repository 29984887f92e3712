"""Configuration: one TOML file, validated with pydantic.

A bad config fails before any crawl with the file, the key path and what was expected
(`ConfigError`). `${ENV_VAR}` anywhere in a string value is replaced by the environment
variable (an unset variable is an error naming the key, never an empty secret).
Secrets are typed `SecretStr` so they never print in reprs, logs or exceptions.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from jingshao.alerts.channels.config import ChannelConfig
from jingshao.alerts.settings import AlertsConfig, BrandConfig
from jingshao.core.redaction import install_log_filter, register_secret, register_secrets
from jingshao.crawlers.blocking import BlockingConfig
from jingshao.crawlers.cookies import CookieSourceConfig
from jingshao.nlp.adlaw_exemptions import AdlawExemptions
from jingshao.reports.settings import ReportConfig
from jingshao.storage.evidence import EvidenceConfig
from jingshao.web.settings import WebConfig

log = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "jingshao.toml"
DEFAULT_DATABASE_URL = "sqlite:///data/jingshao.db"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
SELECTOR_FIELDS = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


def _no_spaces(url: str) -> str:
    if any(c.isspace() for c in url):
        raise ValueError("the URL contains a space or another blank; percent-encode it (a space is %20)")
    return url


def css_error(css: str) -> str | None:
    """Why ``css`` (parsel CSS, ``::text`` / ``::attr(x)`` allowed) does not compile, or None."""
    from parsel import Selector

    try:
        Selector(text="<html></html>").css(css)
    except Exception as exc:
        return f"invalid CSS selector {css!r}: {exc}"
    return None


def xpath_error(xpath: str) -> str | None:
    from parsel import Selector

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
        v = v.strip()
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return _no_spaces(v)

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
        v = v.strip()
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return _no_spaces(v)


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
    review_max_pages: int = Field(default=20, ge=1, le=10_000)
    blocking: BlockingConfig = Field(default_factory=BlockingConfig)


class BrowserConfig(_Strict):
    executable_path: str | None = None
    headless: bool = True
    block_resources: list[Literal["image", "font", "media", "stylesheet"]] = Field(
        default_factory=lambda: ["image", "font", "media"]
    )
    navigation_timeout: float = Field(default=30, gt=0)


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


class NlpConfig(_Strict):
    scorer: Literal["linear", "snownlp"] = "linear"
    model_path: str | None = Field(default=None, description="a retrained linear model; default: the bundled one")
    mention_model_path: str | None = Field(
        default=None, description="a retrained mention model (nlp train --kind mention); default: the bundled one"
    )
    adlaw_extra: list[str] = Field(default_factory=list, description="more forbidden words to flag")
    adlaw_allow: list[str] = Field(default_factory=list, description="phrases never to flag (e.g. 最近)")
    adlaw_exemptions: AdlawExemptions = Field(
        default_factory=AdlawExemptions, description="the 2023 enforcement guide's exemptions (issue 12)"
    )


class ScheduleConfig(_Strict):
    """When each job runs: 'every 15m' (s, m, h, d), a crontab ('0 8 * * *'), or 'off'."""

    products: str = "every 4h"
    reviews: str = "0 6 * * *"
    mentions: str = "every 15m"
    evaluate: str = "every 5m"
    dispatch: str = "every 15s"
    report: str = "0 8 * * *"
    crawl_timeout_minutes: float = Field(default=60, gt=0)
    misfire_grace_minutes: float = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _valid_triggers(self) -> ScheduleConfig:
        from zoneinfo import ZoneInfo

        from jingshao.scheduler import parse_trigger

        for name in ("products", "reviews", "mentions", "evaluate", "dispatch", "report"):
            spec = getattr(self, name)
            if spec.strip().lower() != "off":
                try:
                    parse_trigger(spec, ZoneInfo("UTC"))
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return self


class DatabaseConfig(_Strict):
    url: str = DEFAULT_DATABASE_URL


class Config(_Strict):
    timezone: str = "Asia/Shanghai"
    redis_url: str | None = Field(default=None, description="scale out: crawls go to Redis for `jingshao worker`s")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    nlp: NlpConfig = Field(default_factory=NlpConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    competitors: list[CompetitorConfig] = Field(default_factory=list)
    brands: list[BrandConfig] = Field(default_factory=list)
    mention_sources: list[MentionSourceConfig] = Field(default_factory=list)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    channels: list[ChannelConfig] = Field(default_factory=list)
    report: ReportConfig = Field(default_factory=ReportConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    # Where the file was read from; relative paths (the SQLite file) resolve against it.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; expected an IANA name such as 'Asia/Shanghai'") from None
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for c in self.competitors:
            if c.name in seen:
                raise ValueError(f"competitor name {c.name!r} appears twice")
            seen.add(c.name)
        return self

    @property
    def warnings(self) -> list[str]:
        """What may not work although the config is valid (printed by the CLI, logged at load)."""
        return [w for c in self.channels if (w := c.prefix_warning())]

    @model_validator(mode="after")
    def _unique_product_urls(self) -> Config:
        seen: dict[str, str] = {}
        for i, c in enumerate(self.competitors):
            for j, p in enumerate(c.products):
                where = f"competitors[{i}].products[{j}]"
                if p.url in seen:
                    raise ValueError(f"{where}.url: the product URL {p.url} is already configured at {seen[p.url]}")
                seen[p.url] = where
        return self

    @model_validator(mode="after")
    def _unique_channel_names(self) -> Config:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique; repeated: {dupes}")
        return self

    @model_validator(mode="after")
    def _source_brands_exist(self) -> Config:
        names = {b.name for b in self.brands}
        for src in self.mention_sources:
            unknown = sorted(set(src.brands or []) - names)
            if unknown:
                raise ValueError(f"mention source {src.name!r} names unknown brands {unknown}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def database_url(self) -> str:
        """The database URL: `JINGSHAO_DATABASE_URL` wins over the file.

        A relative SQLite path resolves against the config file's folder, so a crawl started by
        the scheduler from another working directory writes to the same database.
        """
        url = os.environ.get("JINGSHAO_DATABASE_URL") or self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
            base = self.source.parent if self.source else Path.cwd()
            url = prefix + str((base / url[len(prefix) :]).resolve())
        return url

    def iter_products(self):
        """Yield (competitor, product, merged selectors) for every configured product."""
        for comp in self.competitors:
            for prod in comp.products:
                yield comp, prod, comp.selectors_for(prod)


_URL_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^@/?#]*)@")


def _interpolate(value: Any, path: str, origin: str) -> Any:
    if isinstance(value, str):

        def lookup(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"{origin}: {path}: environment variable ${{{name}}} is not set")
            register_secret(os.environ[name])  # every ${ENV} value is redacted by value from now on
            return os.environ[name]

        userinfo = _URL_USERINFO.match(value)
        if userinfo:
            # A password put into a URL's user:password@ part is percent-encoded, so "p@ss:w/rd"
            # stays a password instead of moving the host (and leaking its tail into error text).
            creds = _ENV_REF.sub(lambda m: quote(lookup(m), safe=""), userinfo.group(2))
            return userinfo.group(1) + creds + "@" + _ENV_REF.sub(lookup, value[userinfo.end() :])
        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else k, origin) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", origin) for i, v in enumerate(value)]
    return value


def _secret_values(value: Any) -> list[str]:
    """Every ``SecretStr`` value inside a validated config (channel secrets, the SMTP password ...)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in _secret_values(getattr(value, name, None))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secret_values(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secret_values(v)]
    return []


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(data: dict[str, Any], origin: str = "<config>") -> Config:
    """Validate a parsed TOML mapping; errors name `origin` and the key path."""
    data = _interpolate(data, "", origin)
    try:
        cfg = Config.model_validate(data)
        register_secrets(_secret_values(cfg))
        install_log_filter()
        return cfg
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see `jingshao init` for every key)"
            lines.append(f"{origin}: {_key_path(err['loc'])}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the TOML config. Path order: argument, $JINGSHAO_CONFIG, ./jingshao.toml."""
    p = Path(path or os.environ.get("JINGSHAO_CONFIG") or DEFAULT_CONFIG_NAME)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (create one with `jingshao init`)") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    cfg = parse_config(data, str(p))
    for warning in cfg.warnings:
        log.warning("%s: %s", p, warning)
    cfg.source = p.resolve()
    _resolve_paths(cfg, str(p))
    return cfg


def _resolve_paths(cfg: Config, origin: str) -> None:
    """Relative file paths in the config mean 'next to the config file' (like the SQLite file), so
    a crawl started by the scheduler from another working directory finds them."""
    for key, command in (
        ("model_path", "jingshao nlp train"),
        ("mention_model_path", "jingshao nlp train --kind mention"),
    ):
        value = getattr(cfg.nlp, key)
        if not value:
            continue
        model = Path(value)
        if not model.is_absolute():
            model = cfg.source.parent / model
        npz = (model.with_suffix("") if model.suffix in (".npz", ".json") else model).with_suffix(".npz")
        if not npz.exists():
            raise ConfigError(f"{origin}: nlp.{key}: no model at {npz} (train one with `{command}`)")
        setattr(cfg.nlp, key, str(model))


EXAMPLE_CONFIG = """\
# jingshao (竞哨) configuration. Every key is optional unless marked required.
# Secrets: write ${ENV_VAR} and set the variable in the environment; it is never logged.

# IANA time zone used for schedules and reports.
timezone = "Asia/Shanghai"

# Scale out (optional): with a Redis URL the scheduler queues each crawl's requests in Redis and
# `jingshao worker` processes on any number of machines crawl them (use PostgreSQL then).
# redis_url = "redis://:${REDIS_PASSWORD}@redis.internal:6379/0"

[database]
# SQLite file (relative to this file) by default; PostgreSQL at scale:
#   url = "postgresql+psycopg://jingshao:${PGPASSWORD}@db.internal/jingshao"
# JINGSHAO_DATABASE_URL overrides this value.
url = "sqlite:///data/jingshao.db"

[crawl]
# A real desktop user agent; shops block obvious bots.
user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
obey_robots_txt = true        # honour robots.txt
download_delay = 1.0          # seconds between requests to one domain (AutoThrottle adapts from here)
concurrency_per_domain = 2    # parallel requests per domain
concurrency = 16              # parallel requests overall
autothrottle = true
retry_times = 3               # retries on 5xx, 429 and network errors, with backoff
timeout = 30                  # seconds per request
max_page_mb = 20              # larger pages are refused and recorded as failures
review_max_pages = 20         # review pages per product per run; crawls stop earlier at known reviews,
                              # and pages beyond the limit on a first crawl are not fetched later

[browser]
# Chromium for `render = true` products. Order: this path, $JINGSHAO_CHROMIUM, a system
# chromium / chromium-browser / google-chrome, then Playwright's own download.
# executable_path = "/usr/bin/chromium"
headless = true
block_resources = ["image", "font", "media"]   # also possible: "stylesheet"
navigation_timeout = 30

[schedule]
# 'every 15m' (s, m, h, d), a crontab in the time zone above ('0 8 * * *'), or 'off'.
products = "every 4h"         # crawl competitor product pages
reviews = "0 6 * * *"         # crawl new competitor reviews
mentions = "every 15m"        # crawl brand mentions (alerts are evaluated right after)
evaluate = "every 5m"         # evaluate alert rules
dispatch = "every 15s"        # send pending notifications
report = "0 8 * * *"          # daily report for the day before
crawl_timeout_minutes = 60
misfire_grace_minutes = 10    # a job missed while the scheduler was down still runs within this

[nlp]
scorer = "linear"             # sentiment backend: linear (bundled, default) or snownlp
# model_path = "models/my-sentiment"   # a review model retrained with `jingshao nlp train`
# mention_model_path = "models/my-mentions"   # a mention model retrained with `jingshao nlp train --kind mention`
adlaw_extra = ["全网第一"]     # more absolute / forbidden advertising words to flag
adlaw_allow = []              # phrases never to flag

[[competitors]]
name = "优品数码旗舰店"
category = "electronics"      # review-tag lexicon: apparel, electronics, food, beauty, home, general
# Selectors for every product of this competitor (optional; zero-config extraction is the default).
# CSS by default, "xpath:..." for XPath, "json:__INITIAL_STATE__.item.price" for embedded JSON.
# [competitors.selectors]
# price = ".p-price .price::text"

  [[competitors.products]]
  url = "https://shop.example.com/item/100012043978.html"
  name = "iPhone 15 128GB 黑色"
    # Optional: where its reviews are. kind = json | jsonp | html; pagination = page | offset | next.
    [competitors.products.reviews]
    kind = "json"
    url = "https://shop.example.com/api/comments?productId=100012043978&page={page}&pageSize=10"
    pagination = "page"
    items = "comments"                      # JSON path to the list (html: CSS selector of one review)
    [competitors.products.reviews.fields]   # JSON paths (html: CSS selectors) inside one review
    id = "id"
    text = "content"
    rating = "score"
    posted_at = "creationTime"
    variant = "productColor"
    helpful = "usefulVoteCount"
    images = "images"
    followup = "afterUserComment.content"

  [[competitors.products]]
  url = "https://item.example.com/1000123.html"
  name = "京东价由脚本填充的页面"
  render = true                       # price appears only after JavaScript runs
    [competitors.products.selectors]  # per-product selectors override the competitor's
    price = "span.price.J-p-1000123::text"
"""
