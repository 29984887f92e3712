"""Writes and reads the crawlers and the CLI share.

Every write function takes a `Session` already inside a transaction (see `Database.session`),
so callers decide the unit of work: the crawl pipeline commits a batch of pages at a time
(:func:`write_pages`), so a crash mid-crawl loses at most the batch in memory and a re-run adds
nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from jingshao.core.redaction import redact, redact_value

from .models import (
    AdlawHit,
    Competitor,
    CrawlRun,
    FailedObservation,
    Mention,
    Observation,
    Product,
    Review,
    utcnow,
)

# The fields a buyer sees; a change in any of them appends an observation row.
OBSERVED_FIELDS = (
    "title",
    "price",
    "original_price",
    "currency",
    "availability",
    "promo",
    "sku",
    "brand",
    "price_is_range",
)


class ObservationOutcome(StrEnum):
    NEW = "new"  # first observation of the product
    CHANGED = "changed"  # differs from the latest one: a row was appended
    UNCHANGED = "unchanged"  # equal to the latest one: only last_seen_at moved


@dataclass(frozen=True)
class CatalogEntry:
    competitor: str
    url: str
    name: str | None = None
    render: bool = False
    category: str = "general"


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        # 199 and 199.00 are the same price.
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def content_hash(fields: Mapping[str, Any]) -> str:
    """Stable digest of the observed fields (prices compared as amounts, whitespace folded)."""
    payload = {k: _norm(fields.get(k)) for k in OBSERVED_FIELDS}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def sync_catalog(session: Session, entries: Iterable[CatalogEntry], *, complete: bool = False) -> dict[str, int]:
    """Make sure every configured competitor and product exists; return url -> product id.

    Names and the render flag follow the config; products are never deleted here (their
    history stays), only created or updated. With ``complete`` (``entries`` is the whole file), a
    file-managed product missing from it is marked removed (``active = False``, ``removed_at``).
    """
    entries = list(entries)
    competitors = {c.name: c for c in session.scalars(select(Competitor))}
    for name in {e.competitor for e in entries} - competitors.keys():
        comp = Competitor(name=name)
        session.add(comp)
        competitors[name] = comp
    session.flush()
    urls = [e.url for e in entries]
    existing: dict[str, Product] = {}
    for chunk_start in range(0, len(urls), 500):
        chunk = urls[chunk_start : chunk_start + 500]
        existing.update({p.url: p for p in session.scalars(select(Product).where(Product.url.in_(chunk)))})
    for e in entries:
        comp = competitors[e.competitor]
        prod = existing.get(e.url)
        if prod is None:
            prod = Product(url=e.url, name=e.name, render=e.render, competitor_id=comp.id, category=e.category)
            session.add(prod)
            existing[e.url] = prod
        else:
            prod.competitor_id = comp.id
            prod.render = e.render
            prod.category = e.category
            if e.name:
                prod.name = e.name
            if prod.managed_by != "file" or prod.removed_at is not None:
                # Back in the file (or moved there from the web UI): the file manages it again.
                prod.managed_by, prod.spec, prod.removed_at, prod.active = "file", None, None, True
    if complete:
        # A product taken out of the file is removed: kept with its history, out of prices, report, rules.
        gone = select(Product).where(Product.managed_by == "file", Product.removed_at.is_(None))
        for prod in session.scalars(gone):
            if prod.url not in existing:
                prod.active, prod.removed_at = False, utcnow()
    session.flush()
    return {url: p.id for url, p in existing.items()}


def latest_observation(session: Session, product_id: int) -> Observation | None:
    return session.scalars(
        select(Observation)
        .where(Observation.product_id == product_id)
        .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(1)
    ).first()


STATUS_OK = "ok"
STATUS_SUSPECT = "suspect"
DEFAULT_PLAUSIBILITY_FACTOR = Decimal(3)


def record_observation(
    session: Session, product_id: int, fields: Mapping[str, Any], **kwargs: Any
) -> ObservationOutcome:
    """Change-only write of one observation; see :func:`write_observation` (which also gives the row id)."""
    return write_observation(session, product_id, fields, **kwargs)[0]


def write_observation(
    session: Session,
    product_id: int,
    fields: Mapping[str, Any],
    *,
    sources: Mapping[str, Any] | None = None,
    crawl_run_id: int | None = None,
    seen_at: datetime | None = None,
    final_price: Decimal | None = None,
    offers: Sequence[Mapping[str, Any]] | None = None,
    variants: Sequence[Mapping[str, Any]] | None = None,
    basis: str | None = None,
    plausibility_factor: Decimal | float | None = DEFAULT_PLAUSIBILITY_FACTOR,
) -> tuple[ObservationOutcome, int]:
    """Change-only write: append a row if the observed fields changed, else move last_seen_at.
    Returns the outcome and the id of the row appended or touched (one page of :func:`write_pages`).

    A price more than ``plausibility_factor`` times above or below the last confirmed price read on
    the same ``basis`` is stored as ``suspect`` (rules ignore it); when the next crawl sees the same
    values it is confirmed. A new ``basis`` (selectors or extractor changed) starts a new baseline.
    """
    page = PageWrite(
        product_id,
        fields,
        sources=sources,
        crawl_run_id=crawl_run_id,
        seen_at=seen_at,
        final_price=final_price,
        offers=offers,
        variants=variants,
        basis=basis,
        plausibility_factor=plausibility_factor,
    )
    [written] = write_pages(session, [page])
    assert written.outcome is not None and written.observation_id is not None  # a page with fields is stored
    return written.outcome, written.observation_id


def touch_latest_observation(session: Session, product_id: int, *, seen_at: datetime | None = None) -> int | None:
    """A page seen unchanged without extracting it (issue 15): the latest observation's last_seen_at
    moves (and a suspect price is confirmed) exactly as :func:`write_observation` does for equal fields.
    None (nothing written) when there is no usable latest observation: the page must be extracted."""
    [written] = write_pages(session, [PageWrite(product_id, {}, seen_unchanged=True, seen_at=seen_at)])
    return written.observation_id


@dataclass(frozen=True)
class PageWrite:
    """One product page for :func:`write_pages`: its observed fields and what is stored beside them, or
    ``seen_unchanged`` (the page equals the last one stored, or the site answered 304: nothing extracted).

    ``fingerprint`` / ``validators`` (the page's ETag / Last-Modified, issue 15) are stored on the product
    when given; a seen-unchanged page whose latest observation is gone or voided clears both."""

    product_id: int
    fields: Mapping[str, Any]
    seen_unchanged: bool = False
    sources: Mapping[str, Any] | None = None
    crawl_run_id: int | None = None
    seen_at: datetime | None = None
    final_price: Decimal | None = None
    offers: Sequence[Mapping[str, Any]] | None = None
    variants: Sequence[Mapping[str, Any]] | None = None
    basis: str | None = None
    plausibility_factor: Decimal | float | None = DEFAULT_PLAUSIBILITY_FACTOR
    fingerprint: str | None = None
    validators: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PageWritten:
    """What :func:`write_pages` made of one page: the outcome and the observation row appended or
    touched; both None for a seen-unchanged page without a usable latest observation (extract it next time)."""

    outcome: ObservationOutcome | None
    observation_id: int | None


#: Product ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
ID_CHUNK = 500

_LATEST_COLUMNS = (
    Observation.id,
    Observation.product_id,
    Observation.content_hash,
    Observation.voided_at,
    Observation.basis,
    Observation.status,
    Observation.first_seen_at,
    Observation.last_seen_at,
    Observation.price,
)


def _latest_per_product(session: Session, product_ids: Sequence[int], *, confirmed: bool = False) -> dict[int, Any]:
    """product id -> its latest observation row (``confirmed``: the latest not suspect, not void, with a
    price), one statement per chunk of ids: each product's newest row through its index."""
    out: dict[int, Any] = {}
    for start in range(0, len(product_ids), ID_CHUNK):
        chunk = list(product_ids[start : start + ID_CHUNK])
        newest = select(Observation.id).where(Observation.product_id == Product.id)
        if confirmed:
            newest = newest.where(
                Observation.status == STATUS_OK, Observation.voided_at.is_(None), Observation.price.is_not(None)
            )
        newest_id = (
            newest.order_by(Observation.first_seen_at.desc(), Observation.id.desc())
            .limit(1)
            .correlate(Product)
            .scalar_subquery()
        )
        ids = select(newest_id).where(Product.id.in_(chunk))
        out.update(
            {row.product_id: row for row in session.execute(select(*_LATEST_COLUMNS).where(Observation.id.in_(ids)))}
        )
    return out


def write_pages(session: Session, pages: Sequence[PageWrite]) -> list[PageWritten]:
    """Change-only writes of a batch of product pages in the session's transaction (issue 15), in order.

    The crawl's hot path: the batch's products are locked (``FOR UPDATE`` on PostgreSQL, in id order;
    SQLite's BEGIN IMMEDIATE already holds the write lock), so concurrent workers seeing the same product
    never both append the same change; then ONE statement reads every product's latest observation (and,
    only for pages that change a price, one more the last confirmed price), and Core statements write
    the rows: new observations in one multi-row INSERT, touched ones and the products' fingerprints each
    in one executemany UPDATE. No ORM objects, no autoflush.

    An observation equal to the latest one (same fields, same basis, not voided) only moves its
    last_seen_at (and confirms a suspect price seen again later); anything else appends a row.
    """
    if not pages:
        return []
    ids = sorted({p.product_id for p in pages})
    for start in range(0, len(ids), ID_CHUNK):
        session.execute(
            select(Product.id)
            .where(Product.id.in_(ids[start : start + ID_CHUNK]))
            .order_by(Product.id)
            .with_for_update()
        )
    latest: dict[int, Any] = _latest_per_product(session, ids)
    now = utcnow()
    digests = [None if p.seen_unchanged else content_hash(p.fields) for p in pages]
    # Only a page that changes a priced product needs the last confirmed price (plausibility).
    needs_reference = sorted(
        {
            p.product_id
            for p, digest in zip(pages, digests, strict=True)
            if digest is not None
            and p.plausibility_factor
            and p.fields.get("price") is not None
            and p.product_id in latest
        }
    )
    confirmed = _latest_per_product(session, needs_reference, confirmed=True) if needs_reference else {}
    # Decided in order, in memory: a product twice in one batch sees its own earlier row.
    touched: dict[int, dict[str, Any]] = {}  # observation id -> its new last_seen_at / status
    new_rows: list[dict[str, Any]] = []
    outcomes: list[ObservationOutcome | None] = []
    row_ids: list[int | None] = []
    new_row_of: dict[int, int] = {}  # page index -> index in new_rows (its id is known after the INSERT)
    fingerprints: dict[int, tuple[str | None, Mapping[str, Any] | None]] = {}  # product id -> its page state
    for i, (page, digest) in enumerate(zip(pages, digests, strict=True)):
        seen_at = page.seen_at or now
        last = latest.get(page.product_id)
        usable = last is not None and last.voided_at is None
        if page.seen_unchanged and not usable:
            fingerprints[page.product_id] = (None, None)  # nothing to touch: extract (and fetch) it next time
            outcomes.append(None)
            row_ids.append(None)
            continue
        if page.fingerprint:
            fingerprints[page.product_id] = (page.fingerprint, page.validators)
        if (
            last is not None
            and usable
            and (
                page.seen_unchanged
                or (last.content_hash == digest and (page.basis is None or last.basis == page.basis))
            )
        ):
            if isinstance(last, _Pending):  # appended earlier in this batch: its row itself moves
                values = last.row
                new_row_of[i] = last.index
            else:
                values = touched.setdefault(last.id, {"last_seen_at": last.last_seen_at, "status": last.status})
            if seen_at > values["last_seen_at"]:
                values["last_seen_at"] = seen_at
            if values["status"] == STATUS_SUSPECT and seen_at > last.first_seen_at:
                values["status"] = STATUS_OK  # the next crawl agrees: the suspect price is confirmed
            outcomes.append(ObservationOutcome.UNCHANGED)
            row_ids.append(None if isinstance(last, _Pending) else last.id)
            continue
        fields = page.fields
        availability = fields.get("availability")
        status = STATUS_OK
        reference = confirmed.get(page.product_id)
        if (
            page.plausibility_factor
            and fields.get("price") is not None
            and reference is not None
            and (page.basis is None or reference.basis == page.basis)
            and not plausible(Decimal(str(fields["price"])), reference.price, page.plausibility_factor)
        ):
            status = STATUS_SUSPECT
        row = {
            "product_id": page.product_id,
            "crawl_run_id": page.crawl_run_id,
            "content_hash": digest,
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
            "in_stock": None if availability is None else availability in ("InStock", "PreOrder"),
            "sources": dict(page.sources) if page.sources else None,
            **{k: fields.get(k) for k in OBSERVED_FIELDS if k != "price_is_range"},
            "price_is_range": bool(fields.get("price_is_range")),
            "final_price": page.final_price,
            "offers": list(page.offers) if page.offers else None,
            "variants": list(page.variants) if page.variants else None,
            "basis": page.basis,
            "status": status,
        }
        new_row_of[i] = len(new_rows)
        new_rows.append(row)
        outcomes.append(ObservationOutcome.NEW if last is None else ObservationOutcome.CHANGED)
        row_ids.append(None)
        # What a later page of the same product in this batch compares with.
        latest[page.product_id] = _Pending(len(new_rows) - 1, row)
        if status == STATUS_OK and fields.get("price") is not None:
            confirmed[page.product_id] = _Pending(len(new_rows) - 1, row)
    if new_rows:
        table = _table(Observation)
        inserted = list(
            session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), new_rows).scalars()
        )
        for i, index in new_row_of.items():
            row_ids[i] = inserted[index]
    if touched:
        table = _table(Observation)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(last_seen_at=bindparam("b_last"), status=bindparam("b_status")),
            [{"b_id": oid, "b_last": v["last_seen_at"], "b_status": v["status"]} for oid, v in touched.items()],
        )
    if fingerprints:
        table = _table(Product)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(page_fingerprint=bindparam("b_fp"), page_validators=bindparam("b_validators")),
            [
                {"b_id": pid, "b_fp": fp, "b_validators": dict(v) if v else None}
                for pid, (fp, v) in fingerprints.items()
            ],
        )
    return [PageWritten(o, r) for o, r in zip(outcomes, row_ids, strict=True)]


def _table(model: Any) -> Table:
    """A model's Table, for Core statements (executemany, multi-row INSERT ... RETURNING)."""
    return cast(Table, model.__table__)


class _Pending:
    """A row appended earlier in the same batch, not inserted yet: a later page of its product compares
    with it (and moves its last_seen_at) like with a stored row."""

    def __init__(self, index: int, row: dict[str, Any]) -> None:
        self.index, self.row = index, row

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.row.get(name)  # voided_at: None (a new row is not void)


@dataclass(frozen=True)
class PageState:
    """What is known of the last page stored as a product's observation (issue 15): its fingerprint (a
    page hashing the same is seen unchanged) and its validators (ETag / Last-Modified, and the digest of
    how it was read) for a conditional request."""

    fingerprint: str | None
    validators: dict[str, Any] | None = None


def page_states(session: Session, product_ids: Sequence[int]) -> dict[int, PageState]:
    """product id -> the state of its last stored page, for the products that have one (one statement per
    chunk of ids; the crawl reads it for every product at once, a queue worker for one request at send time)."""
    out: dict[int, PageState] = {}
    ids = list(product_ids)
    for start in range(0, len(ids), ID_CHUNK):
        rows = session.execute(
            select(Product.id, Product.page_fingerprint, Product.page_validators).where(
                Product.id.in_(ids[start : start + ID_CHUNK]), Product.page_fingerprint.is_not(None)
            )
        )
        out.update({pid: PageState(fp, validators or None) for pid, fp, validators in rows})
    return out


def plausible(price: Decimal, reference: Decimal, factor: Decimal | float) -> bool:
    """False when ``price`` is more than ``factor`` times above or below ``reference``."""
    factor = Decimal(str(factor))
    if reference <= 0 or price <= 0:
        return True
    return reference / factor <= price <= reference * factor


def last_confirmed_price(session: Session, product_id: int, basis: str | None) -> Decimal | None:
    """The newest confirmed (not suspect, not void) price read on the same basis; None starts a baseline."""
    row = session.execute(
        select(Observation.price, Observation.basis)
        .where(
            Observation.product_id == product_id,
            Observation.status == STATUS_OK,
            Observation.voided_at.is_(None),
            Observation.price.is_not(None),
        )
        .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
        .limit(1)
    ).first()
    if row is None or (basis is not None and row.basis != basis):
        return None
    return row.price


def void_observations(
    session: Session,
    *,
    by: str,
    reason: str,
    ids: Sequence[int] = (),
    product_id: int | None = None,
    since: datetime | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Mark observations void (by id, or a product's since a time); returns the ids voided now."""
    if not by.strip() or not reason.strip():
        raise ValueError("voiding needs who (--by) and why (--reason)")
    q = select(Observation.id).where(Observation.voided_at.is_(None))
    if ids:
        q = q.where(Observation.id.in_(list(ids)))
    elif product_id is not None:
        q = q.where(Observation.product_id == product_id)
        if since is not None:
            q = q.where(Observation.first_seen_at >= since)
    else:
        raise ValueError("say which observations: ids, or a product (and --since)")
    chosen = list(session.scalars(q.order_by(Observation.id)))
    if chosen:
        session.execute(
            update(Observation)
            .where(Observation.id.in_(chosen))
            .values(voided_at=at or utcnow(), voided_by=by.strip(), void_reason=reason.strip())
        )
    return chosen


def record_failure(
    session: Session,
    url: str,
    reason: str,
    *,
    product_id: int | None = None,
    http_status: int | None = None,
    crawl_run_id: int | None = None,
    kind: str = "failed",
) -> None:
    # A source URL may carry a key (apikey=${SOCIAL_API_KEY}): stored redacted, like every failure text.
    session.add(
        FailedObservation(
            url=redact(url),
            reason=redact(reason)[:2000],
            product_id=product_id,
            http_status=http_status,
            crawl_run_id=crawl_run_id,
            kind=kind,
        )
    )


@dataclass(frozen=True)
class CurrentFailure:
    """A source that failed recently and has not succeeded since (``jingshao status``)."""

    url: str
    reason: str  # the latest failure's reason
    count: int  # failures since the window's start
    last_at: datetime


def current_failures(session: Session, since: datetime, limit: int = 10) -> list[CurrentFailure]:
    """Sources that failed since ``since`` and still fail: a URL counts as recovered once its product
    was observed after its latest failure, or a later finished crawl of the same spider did not fail on it."""
    rows = session.execute(
        select(
            FailedObservation.url,
            FailedObservation.reason,
            FailedObservation.at,
            FailedObservation.product_id,
            FailedObservation.crawl_run_id,
            CrawlRun.spider,
        )
        .outerjoin(CrawlRun, CrawlRun.id == FailedObservation.crawl_run_id)
        .where(FailedObservation.at >= since)
        .order_by(FailedObservation.at, FailedObservation.id)
    ).all()
    latest: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for row in rows:
        latest[row.url] = row
        counts[row.url] = counts.get(row.url, 0) + 1
    out = []
    for url, row in latest.items():
        if row.product_id is not None:
            seen = session.scalar(
                select(func.max(Observation.last_seen_at)).where(Observation.product_id == row.product_id)
            )
            if seen is not None and seen > row.at:
                continue
        if (
            row.crawl_run_id is not None
            and row.spider
            and session.scalar(
                select(CrawlRun.id)
                .where(CrawlRun.spider == row.spider, CrawlRun.id > row.crawl_run_id, CrawlRun.status == "finished")
                .limit(1)
            )
        ):
            continue
        out.append(CurrentFailure(url, row.reason, counts[url], row.at))
    out.sort(key=lambda f: (-f.count, f.url))
    return out[:limit]


def start_run(session: Session, spider: str, pid: int | None = None) -> int:
    run = CrawlRun(spider=spider, pid=pid, status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    pages: int,
    changes: int,
    unchanged: int,
    failures: int,
    errors: list[str] | None = None,
) -> None:
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.id == run_id)
        .values(
            status=status,
            finished_at=utcnow(),
            pages=pages,
            changes=changes,
            unchanged=unchanged,
            failures=failures,
            errors=(redact_value(errors) or None),
        )
    )


@dataclass(frozen=True)
class PriceHistoryRow:
    product_id: int
    competitor: str
    product: str
    url: str
    first_seen_at: datetime
    last_seen_at: datetime
    price: Decimal | None
    original_price: Decimal | None
    currency: str | None
    availability: str | None
    promo: str | None
    final_price: Decimal | None = None
    suspect: bool = False
    observation_id: int | None = None


def find_products(session: Session, key: str | None = None) -> list[Product]:
    """Products matching an id, a URL, or (substring) a name; all products when key is None.

    A number is jingshao's product id, else the shop's item id: a URL holding that number as a whole
    token (``/item/334455.html``, ``?id=334455``) -- what a user copies from the shop."""
    q = select(Product).order_by(Product.id)
    if key:
        if key.isdigit():
            by_id = list(session.scalars(q.where(Product.id == int(key))))
            if by_id:
                return by_id
            token = re.compile(rf"(?<![0-9]){key}(?![0-9])")
            return [p for p in session.scalars(q.where(Product.url.contains(key))) if token.search(p.url)]
        elif key.startswith(("http://", "https://")):
            q = q.where(Product.url == key)
        else:
            q = q.where(Product.name.contains(key))
    return list(session.scalars(q))


def price_history(session: Session, product_ids: list[int]) -> list[PriceHistoryRow]:
    rows = session.execute(
        select(Observation, Product, Competitor)
        .join(Product, Observation.product_id == Product.id)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .where(Observation.product_id.in_(product_ids), Observation.voided_at.is_(None))
        .order_by(Product.id, Observation.first_seen_at, Observation.id)
    ).all()
    return [
        PriceHistoryRow(
            product_id=p.id,
            competitor=c.name,
            product=p.name or o.title or p.url,
            url=p.url,
            first_seen_at=o.first_seen_at,
            last_seen_at=o.last_seen_at,
            price=o.price,
            original_price=o.original_price,
            currency=o.currency,
            availability=o.availability,
            promo=o.promo,
            final_price=o.final_price,
            suspect=o.status == STATUS_SUSPECT,
            observation_id=o.id,
        )
        for o, p, c in rows
    ]


def table_counts(session: Session) -> dict[str, int]:
    out = {}
    for model in (Competitor, Product, Observation, FailedObservation, CrawlRun):
        out[model.__tablename__] = session.scalar(select(func.count()).select_from(model)) or 0
    return out


@dataclass(frozen=True)
class ObservedChange:
    product_id: int
    product: str
    competitor: str
    before: Observation | None
    after: Observation


def changes_in_run(session: Session, run_id: int) -> list[ObservedChange]:
    """Observations a crawl run appended, each with the one it replaced (None for a new product)."""
    out = []
    new_rows = session.execute(
        select(Observation, Product, Competitor)
        .join(Product, Observation.product_id == Product.id)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .where(Observation.crawl_run_id == run_id)
        .order_by(Product.id)
    ).all()
    for obs, prod, comp in new_rows:
        before = session.scalars(
            select(Observation)
            .where(
                Observation.product_id == prod.id,
                Observation.id != obs.id,
                Observation.first_seen_at <= obs.first_seen_at,
            )
            .order_by(Observation.first_seen_at.desc(), Observation.id.desc())
            .limit(1)
        ).first()
        out.append(ObservedChange(prod.id, prod.name or obs.title or prod.url, comp.name, before, obs))
    return out


def mark_interrupted_runs(session: Session, is_alive) -> int:
    """Runs left 'running' by a process that no longer exists become 'interrupted'."""
    n = 0
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == "running")):
        if run.pid is None or not is_alive(run.pid):
            run.status = "interrupted"
            n += 1
    return n


# ---------------------------------------------------------------- reviews

REVIEW_MUTABLE = ("rating", "helpful", "has_images", "followup", "variant")


def _upsert_insert(session: Session) -> Any:
    """The dialect's INSERT (with ON CONFLICT support) for the session's engine."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    raise ValueError(f"unsupported database engine {dialect!r}: jingshao stores to SQLite or PostgreSQL")


def known_review_fingerprints(session: Session, product_id: int) -> set[str]:
    """Fingerprints of reviews stored before the product's last complete review crawl."""
    complete_at = session.scalar(select(Product.reviews_complete_at).where(Product.id == product_id))
    if complete_at is None:
        return set()
    return set(
        session.scalars(
            select(Review.fingerprint).where(Review.product_id == product_id, Review.first_seen_at <= complete_at)
        )
    )


def mark_reviews_complete(session: Session, product_id: int, at: datetime | None = None) -> None:
    session.execute(update(Product).where(Product.id == product_id).values(reviews_complete_at=at or utcnow()))


def upsert_reviews(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert reviews by fingerprint; a review seen again only refreshes what can change on a site
    (a 追评 added, helpful votes, images). Returns how many rows were new."""
    if not rows:
        return 0
    fps = [r["fingerprint"] for r in rows]
    existing = set(session.scalars(select(Review.fingerprint).where(Review.fingerprint.in_(fps))))
    insert = _upsert_insert(session)
    # One row per fingerprint per statement (ON CONFLICT cannot touch a row twice).
    unique = {r["fingerprint"]: r for r in rows}
    stmt = insert(Review).values(list(unique.values()))
    stmt = stmt.on_conflict_do_update(
        index_elements=[Review.fingerprint],
        set_={c: func.coalesce(getattr(stmt.excluded, c), getattr(Review, c)) for c in REVIEW_MUTABLE},
    )
    session.execute(stmt)
    return len(set(unique) - existing)


@dataclass(frozen=True)
class ReviewRow:
    id: int
    product_id: int
    product: str
    competitor: str
    text: str
    sentiment: float | None
    tags: list[dict[str, Any]] | None
    category: str
    at: datetime | None = None  # written (posted_at), else first seen


def reviews_for(
    session: Session, *, competitor: str | None = None, product: str | None = None, only_unscored: bool = False
) -> list[ReviewRow]:
    q = (
        select(Review, Product, Competitor)
        .join(Product, Review.product_id == Product.id)
        .join(Competitor, Product.competitor_id == Competitor.id)
        .order_by(Review.id)
    )
    if competitor:
        q = q.where(Competitor.name == competitor)
    if product:
        q = q.where(Product.id.in_([p.id for p in find_products(session, product)] or [-1]))
    if only_unscored:
        q = q.where(Review.sentiment.is_(None))
    return [
        ReviewRow(
            r.id, p.id, p.name or p.url, c.name, r.text, r.sentiment, r.tags, p.category, r.posted_at or r.first_seen_at
        )
        for r, p, c in session.execute(q)
    ]


def update_review_scores(session: Session, rows: list[dict[str, Any]]) -> None:
    """rows: {"id", "sentiment", "label", "tags", "scorer"}."""
    for row in rows:
        session.execute(
            update(Review)
            .where(Review.id == row["id"])
            .values(**{k: row[k] for k in ("sentiment", "label", "tags", "scorer")})
        )


def replace_adlaw_hits(session: Session, observation_id: int, product_id: int, hits: list[dict[str, Any]]) -> None:
    session.execute(
        delete(AdlawHit)
        .where(AdlawHit.observation_id == observation_id)
        .execution_options(synchronize_session=False)  # a plain DELETE, as on the table
    )
    session.add_all(AdlawHit(observation_id=observation_id, product_id=product_id, **h) for h in hits)


# ---------------------------------------------------------------- mentions


def insert_mentions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert-or-ignore by (brand, url_key) and (brand, content_key); returns how many were new.

    A repost (same content, other URL) or the same URL seen in two sources is one mention."""
    if not rows:
        return 0
    insert = _upsert_insert(session)
    new = 0
    seen: set[tuple[str, str]] = set()
    for row in rows:  # one statement per row: ON CONFLICT DO NOTHING covers both unique keys
        keys = {(row["brand"], "u" + row["url_key"]), (row["brand"], "c" + row["content_key"])}
        if keys & seen:
            continue
        seen |= keys
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING here
        # (with the mention_counts triggers), so the count of new mentions came out negative on PostgreSQL.
        stmt = insert(Mention).values(**row).on_conflict_do_nothing().returning(Mention.id)
        new += len(session.execute(stmt).all())
    return new


@dataclass(frozen=True)
class UntimedCounts:
    """Stored items the time windows cannot see: a time the source wrote that could not be read
    (``time_raw`` kept), and mentions whose source gave no time at all."""

    unreadable_mentions: int
    unreadable_reviews: int
    mentions_without_time: int


def untimed_counts(session: Session) -> UntimedCounts:
    no_time = Mention.posted_at.is_(None)
    return UntimedCounts(
        session.scalar(select(func.count()).select_from(Mention).where(no_time, Mention.time_raw.is_not(None))) or 0,
        session.scalar(
            select(func.count()).select_from(Review).where(Review.posted_at.is_(None), Review.time_raw.is_not(None))
        )
        or 0,
        session.scalar(select(func.count()).select_from(Mention).where(no_time, Mention.time_raw.is_(None))) or 0,
    )
