"""SQLAlchemy 2 models.

Observations are change-only: a product's row is appended only when something a buyer would
see changed (title, price, original price, currency, availability, promo, sku, brand); an equal
observation only moves `last_seen_at`. `content_hash` is the digest of those fields, so the
comparison is one string equality.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import processors
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine.

    SQLite has no time zone type and hands back naive values; this stores UTC and returns
    aware datetimes so comparisons never mix naive and aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # TypeDecorator's own processor calls the impl's processor, then process_result_value with
        # the dialect: two Python frames per value, ~7% of a product list read. This one closure
        # does the same steps (the impl's parsing first, then process_result_value's body), so the
        # values are identical: SQLite's ISO strings parsed by the impl, then tagged UTC.
        impl = self.impl_instance.result_processor(dialect, coltype)
        if impl is None:

            def process(value: datetime | None) -> datetime | None:
                if value is None:
                    return None
                return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

            return process

        def process_parsed(value: Any) -> datetime | None:
            if value is None:
                return None
            parsed = impl(value)
            if parsed is None:
                return None
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        if impl is not processors.str_to_datetime:
            return process_parsed
        # SQLite's default storage format: naive ISO strings. datetime.replace costs ~0.9 us on
        # CPython 3.11, parsing the string with a "+00:00" suffix ~0.2 us and gives the same aware
        # value (tzinfo is datetime.UTC itself); a string that already has an offset (or is not
        # ISO) fails to parse that way and takes the general steps above.
        fromisoformat = datetime.fromisoformat

        def process_iso(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = fromisoformat(value + "+00:00")
            except ValueError:
                return process_parsed(value)
            # A date alone ("2026-01-01") parses with the offset dropped: naive, so the general steps.
            return parsed if parsed.tzinfo is not None else process_parsed(value)

        return process_iso


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Competitor(Base):
    __tablename__ = "competitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Competitors added in the web UI / API keep their category and selectors here (the TOML file's own
    # stay in the file): {"category": "electronics", "selectors": {"price": ".p-price"}}.
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    products: Mapped[list[Product]] = relationship(back_populates="competitor")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    name: Mapped[str | None] = mapped_column(String(500))
    render: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[str] = mapped_column(String(20), default="general")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a review crawl of this product last walked its list to the end (or to reviews it already
    # had, or to the page limit). Only reviews stored before this count as "known" for stopping
    # early, so a crawl killed halfway is walked again past what it stored, and nothing is skipped.
    reviews_complete_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "file": from the TOML config (read-only in the web UI); "web": added in the web UI / API, its
    # ProductConfig fields (selectors, variant, quantity, ...) kept in `spec` and crawled beside the file's.
    managed_by: Mapped[str] = mapped_column(String(10), default="file", server_default="file")
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Paused: active = False. Removed (from the file, or in the web UI): active = False and removed_at
    # set; the history stays, the product leaves `prices`, the report and the rules.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Issue 15: digest of the last page stored as an observation (with how it was read); a page that
    # hashes the same is "seen unchanged" without extracting it again.
    page_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Issue 15: that page's validators, sent back as a conditional request (a 304 is "seen unchanged"):
    # {"etag": ..., "last_modified": ..., "reading": digest of how the page is read}.
    page_validators: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    competitor: Mapped[Competitor] = relationship(back_populates="products")
    observations: Mapped[list[Observation]] = relationship(
        back_populates="product", order_by="Observation.first_seen_at"
    )


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spider: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # running -> finished | failed; a run still "running" whose process died is shown as interrupted.
    status: Mapped[str] = mapped_column(String(20), default="running")
    pid: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[str] | None] = mapped_column(JSON)


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_product_seen", "product_id", "first_seen_at"),
        Index("ix_observations_first_seen", "first_seen_at"),  # what changed since yesterday (migration 0015)
        Index("ix_observations_crawl_run", "crawl_run_id"),  # a run's rows, 抓取健康 (migration 0017)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Money)
    original_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    availability: Mapped[str | None] = mapped_column(String(20))
    in_stock: Mapped[bool | None] = mapped_column(Boolean)
    promo: Mapped[str | None] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(200))
    price_is_range: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which extraction layer (and selector/key) produced each field: {"price": {"layer":..., "via":...}}
    sources: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # 到手价: the best final unit price the promo copy allows, and the offers it used (issue 11).
    final_price: Mapped[Decimal | None] = mapped_column(Money)
    offers: Mapped[list[Any] | None] = mapped_column(JSON)
    # Per-variant prices the page showed: [{"name": "256GB 黑色", "price": "6799.00"}, ...]
    variants: Mapped[list[Any] | None] = mapped_column(JSON)
    # ok | suspect (price moved beyond the plausibility factor; confirmed when the next crawl agrees)
    status: Mapped[str] = mapped_column(String(12), default="ok", server_default="ok")
    # How the values were read (extractor version + the selectors' digest): a new basis is a new baseline.
    basis: Mapped[str | None] = mapped_column(String(64))
    # Voided by a person: kept, with who and why, and left out of rules, charts, reports and `prices`.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(200))
    void_reason: Mapped[str | None] = mapped_column(Text)

    product: Mapped[Product] = relationship(back_populates="observations")


class FailedObservation(Base):
    """A fetch or extraction that gave no usable price: recorded with its reason, never as price 0."""

    __tablename__ = "failed_observations"
    __table_args__ = (
        Index("ix_failed_observations_at", "at"),  # failures since a time (migration 0015)
        Index("ix_failed_observations_crawl_run", "crawl_run_id"),  # a run's failures, 抓取健康 (migration 0017)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # failed (fetch error, no price) | blocked (a login wall, captcha, 403/412/429, empty shell: issue 12)
    kind: Mapped[str] = mapped_column(String(10), default="failed", server_default="failed")


class Review(Base):
    """A competitor product review, keyed by a stable fingerprint so re-crawls never duplicate.

    `fingerprint` is the digest of (product, external id) when the site gives an id, else of
    (product, normalised text, posted_at). Sentiment and tags are filled at ingest (nlp) and can
    be recomputed with `jingshao analyze --rescore`.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        # A product's reviews by time; it carries what 评价洞察's week counts read (migration 0019).
        Index("ix_reviews_product_posted_label", "product_id", "posted_at", "first_seen_at", "label", "sentiment"),
        Index("ix_reviews_first_seen", "first_seen_at"),  # new reviews today (migration 0015)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    rating: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    variant: Mapped[str | None] = mapped_column(String(500))
    helpful: Mapped[int | None] = mapped_column(Integer)
    has_images: Mapped[bool] = mapped_column(Boolean, default=False)
    followup: Mapped[str | None] = mapped_column(Text)
    #: The time as the site wrote it, kept when it could not be read (posted_at is then NULL);
    #: such reviews are counted as "unreadable time" in status, never given the crawl time.
    time_raw: Mapped[str | None] = mapped_column(String(200))
    sentiment: Mapped[float | None] = mapped_column()
    label: Mapped[str | None] = mapped_column(String(10))
    tags: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    scorer: Mapped[str | None] = mapped_column(String(50))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdlawHit(Base):
    """An absolute or forbidden advertising claim found in a competitor's title or promo copy."""

    __tablename__ = "adlaw_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    word: Mapped[str] = mapped_column(String(50))
    category: Mapped[str | None] = mapped_column(String(50))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    context: Mapped[str] = mapped_column(Text)


class Mention(Base):
    """A post, article or thread that mentions one of the user's brands.

    Deduplicated per brand by URL (`url_key`) and by normalised content (`content_key`, so a
    repost with another URL is one mention); both are unique, written with insert-or-ignore.
    """

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("brand", "url_key", name="uq_mentions_brand_url"),
        UniqueConstraint("brand", "content_key", name="uq_mentions_brand_content"),
        Index("ix_mentions_brand_posted", "brand", "posted_at"),
        Index("ix_mentions_posted", "posted_at"),  # all brands' mentions today (migration 0015)
        Index("ix_mentions_brand_id", "brand", "id"),  # a brand's mentions, newest stored first (0015)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    authority: Mapped[int] = mapped_column(Integer, default=1)
    url: Mapped[str] = mapped_column(String(2000))
    url_key: Mapped[str] = mapped_column(String(64))
    content_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    #: NULL when the source's time could not be read (``time_raw`` keeps what it said): such a mention
    #: is stored and counted in status but stays out of every hourly crisis window.
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    time_raw: Mapped[str | None] = mapped_column(String(200))
    #: P(positive) and P(negative) from the mention model; ``label`` is its decision (pos / neu / neg),
    #: exactly what the crisis rules count as negative.
    sentiment: Mapped[float | None] = mapped_column()
    negative_prob: Mapped[float | None] = mapped_column()
    label: Mapped[str | None] = mapped_column(String(10))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MentionCount(Base):
    """How many mentions of a brand were posted in one minute, and how many of them are negative.

    The crisis rules count whole hours ending at ``now`` (not clock hours); these per-minute counts let
    an evaluation sum the hours in SQL and count only the minute each hour edge falls in exactly
    (``storage.queries.crisis_counts``). Kept by database triggers on ``mentions`` (insert, a change of
    ``posted_at``, ``label`` or ``brand``, delete; created in migration 0014), so every write path keeps
    them: ingest, ``jingshao analyze --rescore``, a retrained mention model, a delete. ``minute`` is
    minutes since 1970-01-01 UTC; a mention without a readable time has no row.
    """

    __tablename__ = "mention_counts"
    __table_args__ = {"sqlite_with_rowid": False}  # rows stored in key order: an hour's minutes are adjacent

    brand: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mentions: Mapped[int] = mapped_column(Integer, default=0)
    negatives: Mapped[int] = mapped_column(Integer, default=0)


class MentionTotal(Base):
    """How many mentions a brand has: the total of the API's mention list filtered by brand alone
    (``storage.queries.web.mentions``), which counting the brand's index range cost most of a call.
    Kept by database triggers on ``mentions`` (insert, a change of ``brand``, delete; created in
    migration 0018), as ``MentionCount`` is."""

    __tablename__ = "mention_totals"
    __table_args__ = {"sqlite_with_rowid": False}

    brand: Mapped[str] = mapped_column(String(200), primary_key=True)
    mentions: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """One ongoing situation (a brand crisis, a competitor's price drop ...), keyed by a stable
    fingerprint. State machine: firing (at a level, escalating) -> resolved after clear windows."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(500))
    subject_key: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[str] = mapped_column(String(10))
    max_level: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), default="firing")  # firing | resolved
    rule: Mapped[str] = mapped_column(String(80))
    summary: Mapped[str] = mapped_column(Text)
    facts: Mapped[list[Any] | None] = mapped_column(JSON)
    evidence: Mapped[list[Any] | None] = mapped_column(JSON)
    is_crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    level_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clear_windows: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(200))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The engine's notebook for this alert (JSON: the previous 1-hour negative count, when it first
    #: reached yellow ...): what the next evaluation must remember. Not history.
    memo: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AlertEvent(Base):
    """History of an alert: opened, escalated, deescalated, repeated, resolved, acked, silenced."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text)


class Silence(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matcher: Mapped[str] = mapped_column(String(300))  # fingerprint, subject_key ("brand:蜜橙") or family
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """The outbox: written in the same transaction as the alert state that caused it; the
    dispatcher sends it with retries. `status`: pending -> sent | merged | dead."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_code: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into: Mapped[int | None] = mapped_column(Integer)


class ChannelState(Base):
    """A channel's health: 'broken' after a permanent error (bad signature, keyword, token)."""

    __tablename__ = "channel_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="ok")  # ok | broken
    reason: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a scheduled job: what ran, when, how it ended, with counts or the error."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(12), default="running")  # running | ok | failed | timeout
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class ReportSend(Base):
    """The daily report's delivery ledger: one row per (report date, recipient list), so a retry
    on the next tick never sends the same report twice (the Message-ID is stable too)."""

    __tablename__ = "report_sends"
    __table_args__ = (UniqueConstraint("report_date", "recipients_hash", name="uq_report_sends_date_rcpt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_date: Mapped[str] = mapped_column(String(30))
    recipients_hash: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    html_path: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebUser(Base):
    """A dashboard user added with `jingshao users add` (users from the config file are not stored)."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # admin | viewer
    password_hash: Mapped[str] = mapped_column(String(300))  # scrypt$n$r$p$salt$hash
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A logged-in browser: the cookie holds a random key, the row its SHA-256 (logout deletes it)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DomainBackoff(Base):
    """How a crawl treats one domain after blocked pages (issue 12): the delay floor between requests, the
    blocked pages in a row, and a pause. Kept across crawls; a pause ends by itself at ``paused_until``."""

    __tablename__ = "domain_backoff"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    delay: Mapped[float] = mapped_column(Float, default=0.0)
    blocks_in_row: Mapped[int] = mapped_column(Integer, default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_block_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PageProfile(Base):
    """A product page's usual size (bytes of its recent good pages): a page far below it without the
    product block is an empty shell, not the product (issue 12)."""

    __tablename__ = "page_profiles"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    usual_bytes: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrawlCompetitorOutcome(Base):
    """Per crawl and competitor: pages changed / unchanged / failed / blocked (status, report, admin alert)."""

    __tablename__ = "crawl_competitor_outcomes"
    __table_args__ = (UniqueConstraint("crawl_run_id", "competitor", name="uq_crawl_competitor_outcomes_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crawl_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    competitor: Mapped[str] = mapped_column(String(200), index=True)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    #: The most frequent block reason of this competitor in this crawl.
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CookieJarState(Base):
    """One configured cookie jar's health (issue 12): source, earliest expiry, ok | expired (a login wall met
    after its cookies were sent). Never the cookie values: ``fingerprint`` is a digest telling a refreshed jar."""

    __tablename__ = "cookie_jars"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    competitor: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="ok")
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    refresh: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceBlob(Base):
    """A page (HTML as served) or screenshot (PNG), gzip-compressed, keyed by the SHA-256 of its raw bytes:
    stored once however many observations point at it (issue 12)."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # html | png
    size: Mapped[int] = mapped_column(Integer)
    stored_size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ObservationEvidence(Base):
    """The snapshot (and screenshot) behind one observation that changed something."""

    __tablename__ = "observation_evidence"
    __table_args__ = (Index("ix_observation_evidence_product_captured", "product_id", "captured_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id", ondelete="CASCADE"), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    html_sha256: Mapped[str] = mapped_column(String(64), index=True)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListPagePrice(Base):
    """A price of a product shown on a list or search page (issue 12, Article 20 audits): the page's URL,
    the price, when it was seen."""

    __tablename__ = "list_page_prices"
    __table_args__ = (Index("ix_list_page_prices_product_seen", "product_id", "seen_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    page_url: Mapped[str] = mapped_column(String(2000))
    price: Mapped[Decimal] = mapped_column(Money)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
