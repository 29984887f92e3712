"""REST API under ``/api/v1`` (OpenAPI docs at ``/api/docs``).

Reads need the viewer role, changes the admin role (``Authorization: Bearer TOKEN``, or a browser
session plus the ``X-CSRF-Token`` header). Lists take ``limit`` (1..500) and ``offset`` and answer
``{"items": [...], "total": N, "limit": L, "offset": O}``. Times are ISO 8601 with an offset; prices
are decimal strings ("4299.00"). Text fields are returned exactly as crawled, as JSON strings: the API
never returns HTML, and every response is ``application/json`` (or ``text/csv``) with ``nosniff``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from jingshao.core.export import ALERT_COLUMNS, csv_text, plain
from jingshao.nlp.mindmap import MindMap
from jingshao.storage import alerts_repo
from jingshao.storage import catalog as catalog_store
from jingshao.storage.queries import web as q
from jingshao.web.auth import Principal
from jingshao.web.deps import csrf_protect, get_cfg, get_db, require_admin, require_viewer
from jingshao.web.routing import Router, inline_read

router = Router(dependencies=[Depends(csrf_protect)])
Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]
Db = Annotated[Session, Depends(get_db)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1..500)")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip")]


T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    """A page of a list: ``items`` from ``offset`` on, at most ``limit``, of ``total`` matching rows."""

    items: list[T]
    total: int
    limit: int
    offset: int


class HealthOut(BaseModel):
    status: Literal["ok"]


class MeOut(BaseModel):
    name: str
    role: Literal["admin", "viewer"]
    via: str


class VoidOut(BaseModel):
    id: int
    voided_at: datetime | None
    voided_by: str | None
    reason: str | None


async def _window(
    since: Annotated[datetime | None, Query(description="From (ISO 8601 with an offset)")] = None,
    until: Annotated[datetime | None, Query(description="Before (ISO 8601 with an offset)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The time range and page of a list (async: nothing to wait for, so no worker thread)."""
    return {"since": _aware(since, "since"), "until": _aware(until, "until"), "limit": limit, "offset": offset}


Window = Annotated[dict[str, Any], Depends(_window)]


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(422, f"{name}: give a time zone offset (2026-12-01T08:00:00+08:00 or ...Z)")
    return value.astimezone(UTC)


def _csv(filename: str, header: tuple[str, ...], rows: list[list[Any]]) -> Response:
    # A BOM so Excel (what Chinese operations teams open CSV in) reads UTF-8 instead of GBK.
    body = "\ufeff" + csv_text(header, rows)
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"no {what}")


# ---------------------------------------------------------------- health and me


@router.get("/health", tags=["health"])
@inline_read
def health(db: Db) -> HealthOut:
    """Liveness: the app answers and the database does (no login needed)."""
    # On the session's connection: the ORM's execution path costs more than the query itself.
    db.connection().execute(_PING)
    return HealthOut(status="ok")


_PING = text("SELECT 1")


@router.get("/me", tags=["auth"])
def me(user: Viewer) -> MeOut:
    """Who the request is authenticated as (never the token or password)."""
    return MeOut(name=user.name, role=user.role, via=user.via)


@router.get("/status", tags=["health"])
def crawl_health(user: Viewer, db: Db, request: Request) -> dict[str, Any]:
    """Crawl health: the last run of each spider, sources failing in the last 24 h (and still failing)
    with their reasons, channels' health and the outbox depth."""
    runs = {}
    for spider in ("products", "reviews", "mentions"):
        page = q.crawl_runs(db, spider=spider, limit=1)
        runs[spider] = plain(page.items[0]) if page.items else None
    names = [c.name for c in get_cfg(request).channels]
    from jingshao.storage.repository import current_failures

    return {
        "last_runs": runs,
        "failing_sources": plain(current_failures(db, datetime.now(UTC) - timedelta(hours=24), limit=100)),
        "channels": plain(alerts_repo.channel_health(db, names or None)),
        "outbox": plain(alerts_repo.outbox_depth(db)),
    }


# ---------------------------------------------------------------- competitors and products


class SelectorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    price: str | None = None
    original_price: str | None = None
    currency: str | None = None
    availability: str | None = None
    promo: str | None = None
    sku: str | None = None
    brand: str | None = None


Category = Literal["apparel", "electronics", "food", "beauty", "home", "general"]


class CompetitorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    category: Category | None = None
    selectors: SelectorsIn | None = None


@router.get("/competitors", tags=["catalog"])
@inline_read
def list_competitors(user: Viewer, db: Db) -> list[q.CompetitorRow]:
    return q.competitors(db)


def _validated_selectors(sel: SelectorsIn | None) -> dict[str, str]:
    from jingshao.crawlers.config import Selectors

    if sel is None:
        return {}
    try:
        return Selectors.model_validate(sel.model_dump(exclude_none=True)).as_dict()
    except ValidationError as exc:
        raise HTTPException(422, field_errors(exc)) from None


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"].removeprefix("Value error, "), "type": e["type"]} for e in exc.errors()
    ]


@router.post("/competitors", tags=["catalog"], status_code=201)
def add_competitor(body: CompetitorIn, user: Admin, db: Db, request: Request) -> q.CompetitorRow:
    """Add a competitor managed in the web UI (category and selectors for all its products)."""
    if any(c.name == body.name for c in get_cfg(request).competitors):
        raise HTTPException(409, f"competitor {body.name!r} is managed by the config file; change it there")
    spec = {"category": body.category, "selectors": _validated_selectors(body.selectors)}
    comp = catalog_store.ensure_competitor(db, body.name, {k: v for k, v in spec.items() if v})
    return next(c for c in q.competitors(db) if c.id == comp.id)


class CompetitorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category | None = None
    selectors: SelectorsIn | None = None


@router.patch("/competitors/{competitor_id}", tags=["catalog"])
def edit_competitor(
    competitor_id: int, body: CompetitorPatch, user: Admin, db: Db, request: Request
) -> q.CompetitorRow:
    """Change a web-managed competitor's category or selectors (used by its products' next crawl)."""
    from jingshao.storage.models import Competitor

    comp = db.get(Competitor, competitor_id)
    if comp is None:
        raise _not_found(f"competitor #{competitor_id}")
    if any(c.name == comp.name for c in get_cfg(request).competitors):
        raise HTTPException(409, f"competitor {comp.name!r} is managed by the config file; change it there")
    spec = dict(comp.spec or {})
    changes = body.model_dump(exclude_unset=True)
    if "category" in changes:
        spec["category"] = body.category
    if "selectors" in changes:
        spec["selectors"] = _validated_selectors(body.selectors)
    comp.spec = {k: v for k, v in spec.items() if v} or None
    db.flush()
    return next(c for c in q.competitors(db) if c.id == comp.id)


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    competitor: str = Field(min_length=1, max_length=200)
    url: str
    name: str | None = Field(default=None, max_length=500)
    render: bool = False
    category: Category | None = None
    selectors: SelectorsIn | None = None
    variant: str | None = None
    quantity: int = Field(1, ge=1, le=1000)
    plausibility_factor: float = Field(3.0, gt=1)


class ProductPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=500)
    render: bool | None = None
    category: Category | None = None
    selectors: SelectorsIn | None = None
    variant: str | None = None
    quantity: int | None = Field(default=None, ge=1, le=1000)
    plausibility_factor: float | None = Field(default=None, gt=1)
    paused: bool | None = None


def _product_config(url: str, name: str | None, render: bool, spec: dict[str, Any]):
    """Validate exactly as the config file would (URL, selectors compile, ranges)."""
    from jingshao.crawlers.config import ProductConfig

    try:
        return ProductConfig.model_validate({**spec, "url": url, "name": name, "render": render})
    except ValidationError as exc:
        raise HTTPException(422, field_errors(exc)) from None


@router.get("/products", tags=["catalog"], response_model=PageOut[q.ProductRow])
@inline_read
def list_products(
    user: Viewer,
    db: Db,
    competitor: str | None = None,
    status: Literal["active", "paused", "removed", "all"] = "active",
    managed_by: Literal["file", "web"] | None = None,
    search: Annotated[str | None, Query(alias="q", description="Part of the name or URL")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> q.Page[q.ProductRow]:
    """Watched products (``status=all`` includes paused and removed ones, whose history is kept)."""
    page = q.products(
        db,
        competitor=competitor,
        status=None if status == "all" else status,
        managed_by=managed_by,
        q=search,
        limit=limit,
        offset=offset,
    )
    return page


@router.get("/products/{product_id}", tags=["catalog"])
@inline_read
def get_product(product_id: int, user: Viewer, db: Db) -> q.ProductRow:
    return _product_or_404(db, product_id)


def _product_or_404(db: Session, product_id: int) -> q.ProductRow:
    row = q.product(db, product_id)
    if row is None:
        raise _not_found(f"product #{product_id}")
    return row


@router.post("/products", tags=["catalog"], status_code=201)
def add_product(body: ProductIn, user: Admin, db: Db, request: Request) -> q.ProductRow:
    """Watch a product from now on: it is stored in the database and crawled on the next run."""
    cfg = get_cfg(request)
    if any(c.name == body.competitor for c in cfg.competitors):
        raise HTTPException(409, f"competitor {body.competitor!r} is managed by the config file; add products there")
    spec = {
        "category": body.category,
        "selectors": _validated_selectors(body.selectors) or None,
        "variant": body.variant,
        "quantity": body.quantity,
        "plausibility_factor": body.plausibility_factor,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    prod = _product_config(body.url, body.name, body.render, spec)
    if any(p.url == prod.url for _, p, _ in cfg.iter_products()):
        raise HTTPException(409, f"{prod.url} is already watched in the config file")
    try:
        row = catalog_store.add_web_product(
            db,
            competitor=body.competitor,
            url=prod.url,
            name=prod.name,
            render=prod.render,
            category=prod.category or _competitor_category(db, body.competitor),
            spec=spec,
        )
    except catalog_store.CatalogError as exc:
        raise HTTPException(409, str(exc)) from None
    return _product_or_404(db, row.id)


def _competitor_category(db: Session, name: str) -> str:
    for c in q.competitors(db):
        if c.name == name and c.category:
            return c.category
    return "general"


@router.patch("/products/{product_id}", tags=["catalog"])
def edit_product(product_id: int, body: ProductPatch, user: Admin, db: Db) -> q.ProductRow:
    """Change a web-managed product (products from the config file are read-only here: 409)."""
    try:
        prod = catalog_store.editable(db, product_id)
    except LookupError:
        raise _not_found(f"product #{product_id}") from None
    except catalog_store.ReadOnlyProduct as exc:
        raise HTTPException(409, str(exc)) from None
    changes = body.model_dump(exclude_unset=True)
    spec = dict(prod.spec or {})
    for key in ("variant", "quantity", "plausibility_factor", "category"):
        if key in changes:
            if changes[key] is None:
                spec.pop(key, None)
            else:
                spec[key] = changes[key]
    if "selectors" in changes:
        sel = _validated_selectors(body.selectors)
        if sel:
            spec["selectors"] = sel
        else:
            spec.pop("selectors", None)
    name = changes.get("name", prod.name)
    render = changes["render"] if changes.get("render") is not None else bool(prod.render)
    checked = _product_config(prod.url, name, render, spec)
    prod.name, prod.render, prod.spec = checked.name, checked.render, spec or None
    if checked.category:
        prod.category = checked.category
    if changes.get("paused") is not None:
        try:
            catalog_store.set_paused(db, product_id, changes["paused"])
        except catalog_store.CatalogError as exc:
            raise HTTPException(409, str(exc)) from None
    db.flush()
    return _product_or_404(db, product_id)


def _catalog_action(db: Session, product_id: int, action) -> q.ProductRow:
    try:
        action()
    except LookupError:
        raise _not_found(f"product #{product_id}") from None
    except catalog_store.CatalogError as exc:
        raise HTTPException(409, str(exc)) from None
    db.flush()
    return _product_or_404(db, product_id)


@router.post("/products/{product_id}/pause", tags=["catalog"])
def pause_product(product_id: int, user: Admin, db: Db) -> q.ProductRow:
    """Stop crawling for now; it leaves prices, the report and the rules until resumed."""
    return _catalog_action(db, product_id, lambda: catalog_store.set_paused(db, product_id, True))


@router.post("/products/{product_id}/resume", tags=["catalog"])
def resume_product(product_id: int, user: Admin, db: Db) -> q.ProductRow:
    return _catalog_action(db, product_id, lambda: catalog_store.set_paused(db, product_id, False))


@router.delete("/products/{product_id}", tags=["catalog"])
def remove_product(product_id: int, user: Admin, db: Db) -> q.ProductRow:
    """Stop watching a web-managed product. Its history stays (``status=removed``)."""
    return _catalog_action(db, product_id, lambda: catalog_store.remove_web_product(db, product_id))


# ---------------------------------------------------------------- observations and prices


@router.get("/products/{product_id}/observations", tags=["prices"], response_model=PageOut[q.ObservationRow])
@inline_read
def list_observations(
    product_id: int,
    user: Viewer,
    db: Db,
    since: datetime | None = None,
    until: datetime | None = None,
    include_void: bool = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> q.Page[q.ObservationRow]:
    """A product's observations, oldest first, in ``[since, until)`` (ISO 8601 with an offset)."""
    if q.product(db, product_id) is None:
        raise _not_found(f"product #{product_id}")
    page = q.observations(
        db,
        product_id,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        include_void=include_void,
        limit=limit,
        offset=offset,
    )
    return page


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/observations/{observation_id}/void", tags=["prices"])
def void_observation(observation_id: int, body: VoidIn, user: Admin, db: Db) -> VoidOut:
    """Void a wrong observation: kept with who and why, left out of rules, charts, the report and prices."""
    from jingshao.storage.models import Observation
    from jingshao.storage.repository import void_observations

    obs = db.get(Observation, observation_id)
    if obs is None:
        raise _not_found(f"observation #{observation_id}")
    try:
        void_observations(db, by=user.name, reason=body.reason, ids=[observation_id])
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    db.flush()
    db.refresh(obs)
    return VoidOut(id=obs.id, voided_at=obs.voided_at, voided_by=obs.voided_by, reason=obs.void_reason)


PRICE_COLUMNS = (
    "product_id",
    "competitor",
    "product",
    "url",
    "managed_by",
    "observation_id",
    "seen_at",
    "price",
    "final_price",
    "original_price",
    "currency",
    "availability",
    "promo",
    "suspect",
)


@router.get("/prices", tags=["prices"])
def price_table(user: Viewer, db: Db, competitor: str | None = None) -> list[q.PriceTableRow]:
    """Every watched product with its latest (not voided) observation."""
    return q.price_table(db, competitor=competitor)


@router.get("/prices.csv", tags=["prices"], response_class=Response)
def price_table_csv(user: Viewer, db: Db, competitor: str | None = None) -> Response:
    rows = q.price_table(db, competitor=competitor)
    return _csv("jingshao-prices.csv", PRICE_COLUMNS, [[getattr(r, c) for c in PRICE_COLUMNS] for r in rows])


# ---------------------------------------------------------------- reviews, tags, mentions


@router.get("/reviews", tags=["reviews"], response_model=PageOut[q.ReviewRow])
@inline_read
def list_reviews(
    user: Viewer,
    db: Db,
    window: Window,
    product_id: int | None = None,
    competitor: str | None = None,
    label: Literal["pos", "neg", "neu"] | None = None,
) -> q.Page[q.ReviewRow]:
    """Reviews with sentiment and preference tags, newest stored first."""
    return q.reviews(db, product_id=product_id, competitor=competitor, label=label, **window)


@router.get("/tags", tags=["reviews"])
def list_tags(
    user: Viewer,
    db: Db,
    product_id: int | None = None,
    competitor: str | None = None,
    limit: Limit = 50,
) -> list[q.TagCount]:
    """Preference tags (aspect, opinion, polarity) with how many reviews carry each, most frequent first.
    A mention (an aspect named with no opinion) has polarity ``neu`` and an empty opinion."""
    return q.tag_counts(db, product_id=product_id, competitor=competitor, limit=limit)


@router.get("/mindmap", tags=["reviews"])
def mind_map(
    user: Viewer,
    db: Db,
    competitor: str | None = None,
    product_id: int | None = None,
    days: Annotated[int, Query(ge=1, le=3650, description="Reviews of the last N days")] = 30,
) -> MindMap:
    """The user mind map (用户心智图谱) of a competitor, a product or all: per aspect, its share of the
    tagged reviews, praise and complaints with counts, examples and this week against last
    (``nlp.mindmap``, the same map as the 评价洞察 page, the daily report and ``jingshao tags --json``)."""
    from jingshao.web.insight import mind_map_for

    m = mind_map_for(db, competitor=competitor, product_id=product_id, now=datetime.now(UTC), days=days)
    if m is None:
        raise _not_found("reviewed product for that selection")
    return m


@router.get("/mentions", tags=["mentions"], response_model=PageOut[q.MentionRow])
@inline_read
def list_mentions(
    user: Viewer,
    db: Db,
    window: Window,
    brand: str | None = None,
    source: str | None = None,
    label: Literal["pos", "neg", "neu"] | None = None,
    min_authority: int | None = None,
) -> q.Page[q.MentionRow]:
    """Brand mentions, newest stored first."""
    return q.mentions(db, brand=brand, source=source, label=label, min_authority=min_authority, **window)


# ---------------------------------------------------------------- alerts


AlertState = Literal["firing", "resolved", "all"]
Level = Literal["blue", "yellow", "red"]


def _alerts(db: Session, state: str, level: str | None, family: str | None) -> list[alerts_repo.AlertRow]:
    return alerts_repo.list_alerts(
        db, state=None if state == "all" else state, level=level, family=family, limit=100_000
    )


@router.get("/alerts", tags=["alerts"], response_model=PageOut[alerts_repo.AlertRow])
@inline_read
def list_alerts(
    user: Viewer,
    db: Db,
    state: AlertState = "firing",
    level: Level | None = None,
    family: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> q.Page[alerts_repo.AlertRow]:
    """Alerts, firing first, most severe first."""
    rows, total = alerts_repo.page_alerts(
        db, state=None if state == "all" else state, level=level, family=family, limit=limit, offset=offset
    )
    return q.Page(rows, total, limit, offset)


@router.get("/alerts.csv", tags=["alerts"], response_class=Response)
def list_alerts_csv(
    user: Viewer, db: Db, state: AlertState = "all", level: Level | None = None, family: str | None = None
) -> Response:
    rows = _alerts(db, state, level, family)
    return _csv("jingshao-alerts.csv", ALERT_COLUMNS, [[getattr(r, c) for c in ALERT_COLUMNS] for r in rows])


@router.get("/alerts/{alert_id}", tags=["alerts"])
@inline_read
def get_alert(alert_id: int, user: Viewer, db: Db) -> alerts_repo.AlertDetail:
    """One alert with its facts, evidence, timeline and notifications (never a channel's secret)."""
    try:
        detail = alerts_repo.get_alert(db, alert_id)
    except alerts_repo.AlertNotFound:
        raise _not_found(f"alert #{alert_id}") from None
    return detail


@router.post("/alerts/{alert_id}/ack", tags=["alerts"])
def ack_alert(alert_id: int, user: Admin, db: Db) -> alerts_repo.AlertRow:
    """Acknowledge a firing alert: no repeats until it escalates."""
    try:
        return alerts_repo.ack(db, alert_id, user.name)
    except alerts_repo.AlertNotFound:
        raise _not_found(f"alert #{alert_id}") from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: str = Field(description="How long: 30m, 2h, 1d", examples=["2h"])
    reason: str = Field(min_length=1, max_length=2000)
    matcher: str | None = Field(
        default=None, description="Default: this alert's fingerprint; or its subject (brand:蜜橙) or family"
    )


@router.post("/alerts/{alert_id}/silence", tags=["alerts"], status_code=201)
def silence_alert(alert_id: int, body: SilenceIn, user: Admin, db: Db) -> alerts_repo.SilenceRow:
    """Silence this alert (or its subject / family) for a while: notices are recorded, not sent."""
    from jingshao.alerts.settings import parse_duration
    from jingshao.storage.models import Alert, AlertEvent

    alert = db.get(Alert, alert_id)
    if alert is None:
        raise _not_found(f"alert #{alert_id}")
    allowed = {alert.fingerprint, alert.subject_key, alert.family}
    matcher = body.matcher or alert.fingerprint
    if matcher not in allowed:
        raise HTTPException(422, f"matcher must be this alert's fingerprint, subject ({alert.subject_key}) or family")
    try:
        span = parse_duration(body.duration)
        if not isinstance(span, timedelta) or span.total_seconds() <= 0:
            raise ValueError(f"duration {body.duration!r}: expected a duration such as 30m, 2h or 1d")
        now = datetime.now(UTC)
        row = alerts_repo.add_silence(db, matcher, user.name, body.reason, now + span, now=now)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    db.add(
        AlertEvent(alert_id=alert.id, kind="silenced", level=alert.level, at=now, detail=f"{user.name}: {body.reason}")
    )
    return row


@router.get("/silences", tags=["alerts"])
@inline_read
def list_silences(user: Viewer, db: Db, active: bool = True) -> list[alerts_repo.SilenceRow]:
    return alerts_repo.list_silences(db, active_only=active)


@router.post("/silences/{silence_id}/unsilence", tags=["alerts"])
def unsilence(silence_id: int, user: Admin, db: Db) -> alerts_repo.SilenceRow:
    """End a silence now."""
    try:
        return alerts_repo.unsilence(db, silence_id)
    except alerts_repo.AlertNotFound:
        raise _not_found(f"silence #{silence_id}") from None


@router.delete("/silences/{silence_id}", tags=["alerts"])
def delete_silence(silence_id: int, user: Admin, db: Db) -> alerts_repo.SilenceRow:
    """Same as ``POST /silences/{id}/unsilence`` (the silence is kept, ended)."""
    return unsilence(silence_id, user, db)


# ---------------------------------------------------------------- crawl runs


@router.get("/crawl-runs", tags=["crawls"], response_model=PageOut[q.CrawlRunRow])
@inline_read
def list_crawl_runs(
    user: Viewer,
    db: Db,
    spider: Literal["products", "reviews", "mentions"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> q.Page[q.CrawlRunRow]:
    """Crawl runs, newest first, with pages changed / unchanged / failed."""
    return q.crawl_runs(db, spider=spider, limit=limit, offset=offset)


@router.get("/crawl-runs/{run_id}/failures", tags=["crawls"], response_model=PageOut[q.FailureRow])
@inline_read
def list_failures(run_id: int, user: Viewer, db: Db, limit: Limit = 50, offset: Offset = 0) -> q.Page[q.FailureRow]:
    return q.failures(db, run_id=run_id, limit=limit, offset=offset)


# ---------------------------------------------------------------- extraction preview


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)
    render: bool = False
    selectors: SelectorsIn | None = None
    variant: str | None = None


@router.post("/extract/preview", tags=["catalog"])
async def extract_preview(body: PreviewIn, user: Admin, request: Request) -> dict[str, Any]:
    """Fetch a product page and show each field with the extraction layer that found it (nothing is stored).

    Only http(s) URLs; ``render`` loads the page in headless Chromium (for prices filled by JavaScript)."""
    from jingshao.web.preview import PreviewError, preview

    selectors = _validated_selectors(body.selectors)
    try:
        result = await preview(
            get_cfg(request), body.url, selectors=selectors, render=body.render, variant=body.variant
        )
    except PreviewError as exc:
        raise HTTPException(422, str(exc)) from None
    return plain(result)
