"""Configuration: one TOML file, validated with pydantic, assembled from each package's own schema.

A bad config fails before any crawl with the file, the key path and what was expected
(`ConfigError`). `${ENV_VAR}` anywhere in a string value is replaced by the environment
variable (an unset variable is an error naming the key, never an empty secret).
Secrets are typed `SecretStr` so they never print in reprs, logs or exceptions.

**How to add a package's config.** Each package owns its section as a pydantic model in a
schema-only module (pydantic, no services, no I/O; ``model_config = ConfigDict(extra="forbid")``):

==============================  ======================================================
section                         schema module
==============================  ======================================================
``timezone``                    here (:class:`Config`)
``[database]``                  :mod:`jingshao.storage.settings`
``[crawl]`` ``[browser]``       :mod:`jingshao.crawlers.config`
``[[competitors]]``             :mod:`jingshao.crawlers.config`
``[[brands]]``                  :mod:`jingshao.crawlers.config` (its ``crisis`` keys are checked by
                                :func:`jingshao.alerts.settings.check_brand_crisis`)
``[[mention_sources]]``         :mod:`jingshao.crawlers.config`
``[nlp]``                       :mod:`jingshao.nlp.settings`
``[schedule]``                  :mod:`jingshao.core.triggers`
``[alerts]``                    :mod:`jingshao.alerts.settings`
``[[channels]]``                :mod:`jingshao.alerts.channels.config` (a registry by ``type``)
``[report]``                    :mod:`jingshao.reports.settings`
``[web]``                       :mod:`jingshao.web.settings`
==============================  ======================================================

To add a section: write its model in your package's schema module (``web/settings.py`` for the
``[web]`` table, say), import it below and add one field to :class:`Config` with a default
(``web: WebConfig = Field(default_factory=WebConfig)``), so an existing config stays valid. Checks
that span sections go in a ``model_validator`` on :class:`Config`. Document the keys in
:data:`EXAMPLE_CONFIG` (what ``jingshao init`` writes) and in README.md. A schema module must not
import a service (channels, the mailer, Scrapy, the scheduler): every process loads this file,
crawls included, and the import-linter contracts in ``pyproject.toml`` check the layers.
Code below the top-level config (crawlers, storage, nlp) types its input with its own section's
model, never with :class:`Config`.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from jingshao.alerts.channels.config import ChannelConfig
from jingshao.alerts.settings import AlertsConfig, check_brand_crisis
from jingshao.core.redaction import install_log_filter, register_secret, register_secrets
from jingshao.core.triggers import ScheduleConfig
from jingshao.crawlers.config import (
    BrandConfig,
    BrowserConfig,
    CompetitorConfig,
    CrawlConfig,
    MentionSourceConfig,
    ProductConfig,
)
from jingshao.nlp.settings import NlpConfig
from jingshao.reports.settings import ReportConfig
from jingshao.storage.evidence import EvidenceConfig
from jingshao.storage.settings import DatabaseConfig
from jingshao.web.settings import WebConfig

log = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "jingshao.toml"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    @field_validator("brands")
    @classmethod
    def _brand_crisis_keys(cls, brands: list[BrandConfig]) -> list[BrandConfig]:
        return [check_brand_crisis(b) for b in brands]

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

    def iter_products(self) -> Iterator[tuple[CompetitorConfig, ProductConfig, dict[str, str]]]:
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
        if not model.is_absolute() and cfg.source is not None:  # relative to the config file
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
conditional_requests = true   # send the last page's ETag / Last-Modified back; 304 = seen unchanged
full_fetch_hours = 24         # download each page in full at least this often (a wrong ETag can't hide a change)
# extract_workers = 1         # product pages extracted in this many worker processes (default min(cores - 1, 2); 0: in-process)
review_max_pages = 20         # review pages per product per run; crawls stop earlier at known reviews,
                              # and pages beyond the limit on a first crawl are not fetched later

[browser]
# Chromium for `render = true` products. Order: this path, $JINGSHAO_CHROMIUM, a system
# chromium / chromium-browser / google-chrome, then Playwright's own download.
# executable_path = "/usr/bin/chromium"
headless = true
block_resources = ["image", "font", "media"]   # also possible: "stylesheet"
navigation_timeout = 30
concurrency_per_domain = 2    # render pages in flight per domain (pages are kept and reused)
recycle_after = 200           # pages a browser context renders before it is replaced (bounds memory)

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

# The web dashboard and REST API (`jingshao serve`, `jingshao run --web`); defaults shown.
# [web]
# host = "127.0.0.1"          # another address needs a user or token (`jingshao users add`)
# port = 8080
# public_url = "https://jingshao.example.com"   # chat alerts link to {public_url}/alerts/{id}
#   [[web.users]]
#   name = "ops"
#   role = "admin"            # admin edits, viewer reads
#   password = "${JINGSHAO_OPS_PASSWORD}"
"""
