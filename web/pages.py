"""Server-rendered pages of the dashboard (Chinese UI): 概览, 竞品价格, 评价洞察, 品牌舆情, 告警, 抓取健康,
监控设置, 日报. See ``jingshao.web.app`` for the contract (session, user, CSRF, cfg).

Escaping: Jinja2 autoescape is on for every template; chart data goes to the page as JSON through
``tojson`` inside ``<script type="application/json">`` and is read by ``/static/app.js``; no
JavaScript is ever built from strings and no event handler attribute carries data. Links to crawled
URLs are only rendered when they are http(s) (:func:`safe_url`), so a ``javascript:`` URL stays text.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from jingshao.storage.queries import web as wq
from jingshao.storage.queries import web_pages as q
from jingshao.web import insight
from jingshao.web.auth import Principal
from jingshao.web.deps import csrf_field, get_cfg, get_db, page_context, require_admin, require_viewer_csrf
from jingshao.web.routing import Router, inline_read

TEMPLATES = Path(__file__).parent / "templates"

# Every page needs a logged-in user, and every change the CSRF token (the routes carry both, so the
# app can route to them without an include that adds them: web.app).
router = Router(include_in_schema=False, dependencies=[Depends(require_viewer_csrf)])
templates = Jinja2Templates(directory=str(TEMPLATES))
# The templates ship inside the package and do not change under a running server; Jinja's default
# auto_reload stats every template file of a page (3-4 stats) on each render to look for edits.
templates.env.auto_reload = False

RANGES = (30, 90, 365)
OBSERVATION_ROWS = 60  # the table under the chart: newest first; the API pages through all
LEVEL_NAMES = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}
AVAILABILITY = {
    "InStock": "有货",
    "OutOfStock": "缺货",
    "PreOrder": "预售",
    "Discontinued": "已下架",
    "LimitedAvailability": "库存紧张",
    "SoldOut": "售罄",
}
LABELS = {"pos": "正面", "neg": "负面", "neu": "中性"}
EVENT_NAMES = {
    "opened": "开始",
    "escalated": "升级",
    "deescalated": "降级",
    "repeated": "重复提醒",
    "changed": "新变化",
    "resolved": "恢复",
    "acked": "已认领",
    "silenced": "静默",
    "unsilenced": "解除静默",
}
FIELD_NAMES = {
    "title": "标题",
    "price": "价格",
    "original_price": "划线价",
    "currency": "币种",
    "availability": "库存",
    "promo": "促销",
    "sku": "SKU",
    "brand": "品牌",
    "final_price": "到手价",
    "variants": "规格",
}


# ---------------------------------------------------------------- template helpers


def safe_url(url: Any) -> str | None:
    """The URL when it is http(s), else None: crawled links never become ``javascript:`` or ``data:`` hrefs."""
    if isinstance(url, str) and re.match(r"^https?://", url.strip(), re.I):
        return url.strip()
    return None


def money(value: Any) -> str:
    if value is None:
        return "—"
    return f"¥{value if type(value) is Decimal else Decimal(value):,.2f}"  # a Decimal as it is: no copy


def _fmt_time(tz: Any, value: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    local = value.astimezone(tz)
    fast = _FAST_TIME_FORMATS.get(fmt)
    return fast(local) if fast else local.strftime(fmt)


# The pages' two usual time formats as %-formats of the fields: the same text as strftime (digits
# only, no locale) in under a quarter of its time (an f-string's format specs cost ~2.7x the
# %-format), which adds up over a page of rows (2-3 times a row).
_FAST_TIME_FORMATS = {
    "%m-%d %H:%M": lambda d: "%02d-%02d %02d:%02d" % (d.month, d.day, d.hour, d.minute),  # noqa: UP031 - see above
    "%Y-%m-%d %H:%M": lambda d: "%04d-%02d-%02d %02d:%02d" % (d.year, d.month, d.day, d.hour, d.minute),  # noqa: UP031
}


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


templates.env.filters["money"] = money
templates.env.filters["percent"] = percent
templates.env.filters["urldecode"] = unquote
templates.env.globals["safe_url"] = safe_url
templates.env.globals["AVAILABILITY"] = AVAILABILITY
templates.env.globals["LABELS"] = LABELS
templates.env.globals["LEVEL_NAMES"] = LEVEL_NAMES
templates.env.globals["EVENT_NAMES"] = EVENT_NAMES
templates.env.globals["FIELD_NAMES"] = FIELD_NAMES


def render(request: Request, template: str, nav: str, *, status_code: int = 200, **values: Any) -> Response:
    tz = get_cfg(request).tz
    ctx = page_context(request, nav=nav, t=lambda v, fmt="%m-%d %H:%M": _fmt_time(tz, v, fmt), **values)
    flash = request.query_params.get("ok") or request.query_params.get("err")
    if flash and "flash" not in values:
        ctx["flash"] = flash[:300]
        ctx["flash_error"] = "err" in request.query_params
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def _is_admin(request: Request) -> bool:
    user = getattr(request.state, "principal", None)
    return user is not None and user.is_admin


def back(path: str, *, ok: str | None = None, err: str | None = None) -> RedirectResponse:
    params = {k: v for k, v in (("ok", ok), ("err", err)) if v}
    sep = "&" if "?" in path else "?"
    return RedirectResponse(path + ((sep + urlencode(params)) if params else ""), status_code=303)


def _now() -> datetime:
    return datetime.now(UTC)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _day_start(tz: Any, now: datetime) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date(), datetime.min.time(), tz).astimezone(UTC)


# ---------------------------------------------------------------- 概览


@router.get("/")
def overview(request: Request, db: Session = Depends(get_db)) -> Response:
    from jingshao.storage.alerts_repo import LEVEL_ORDER, list_alerts

    cfg = get_cfg(request)
    now = _now()
    today = _day_start(cfg.tz, now)
    since_yesterday = today - timedelta(days=1)
    changes = q.changes_since(db, since_yesterday, limit=50)
    summary = q.change_summary(db, since_yesterday, today)
    counts = q.overview_counts(db, today, now + timedelta(seconds=1), summary)
    alerts = sorted(list_alerts(db, state="firing"), key=lambda a: (LEVEL_ORDER.get(a.level, 9), -a.since.timestamp()))
    return render(
        request,
        "overview.html",
        "overview",
        counts=counts,
        alerts=alerts[:20],
        changes=changes,
        more=summary.total - len(changes),
    )


# ---------------------------------------------------------------- 竞品价格

SORTS = {
    "competitor": lambda r: (r.competitor, r.name),
    "name": lambda r: r.name,
    "price": lambda r: (r.price is None, r.price or 0),
    "final": lambda r: (r.final_price is None, r.final_price or 0),
    "change1": lambda r: (r.change_1d is None, r.change_1d or 0),
    "change7": lambda r: (r.change_7d is None, r.change_7d or 0),
    "seen": lambda r: (r.seen_at is None, r.seen_at or datetime.min.replace(tzinfo=UTC)),
}


@router.get("/prices")
def prices(
    request: Request,
    db: Session = Depends(get_db),
    competitor: str = "",
    stock: str = "",
    promo: str = "",
    sort: str = "competitor",
    order: str = "asc",
) -> Response:
    search = request.query_params.get("q", "").strip()  # `q` is this module's queries: read it by name
    rows = q.price_table(db, _now())
    competitors = sorted({r.competitor for r in rows})
    if competitor:
        rows = [r for r in rows if r.competitor == competitor]
    if search:
        needle = search.lower()
        rows = [
            r for r in rows if needle in r.name.lower() or needle in r.url.lower() or needle in r.competitor.lower()
        ]
    if stock == "in":
        rows = [r for r in rows if r.in_stock]
    elif stock == "out":
        rows = [r for r in rows if r.in_stock is False]
    if promo == "yes":
        rows = [r for r in rows if r.promo]
    if sort not in SORTS:
        sort = "competitor"
    rows.sort(key=SORTS[sort], reverse=order == "desc")
    params = {"q": search, "competitor": competitor, "stock": stock, "promo": promo}

    def sort_link(key: str) -> str:
        flip = "desc" if sort == key and order == "asc" else "asc"
        return "/prices?" + urlencode({**{k: v for k, v in params.items() if v}, "sort": key, "order": flip})

    return render(
        request,
        "prices.html",
        "prices",
        rows=rows,
        competitors=competitors,
        params=params,
        sort=sort,
        order=order,
        sort_link=sort_link,
    )


@dataclass(frozen=True)
class ChartPoint:
    observation: q.ObservationRow
    at: datetime  # clamped to the window's start
    anomaly: float | None  # deviation in sigmas when beyond the threshold


def _anomalies(
    db: Session, product_id: int, obs: list[q.ObservationRow], since: datetime, thresholds: Any
) -> dict[int, float]:
    """Observation id -> sigmas, for confirmed prices strictly outside mean ± k·σ of the previous
    ``anomaly_history`` confirmed prices: the same test as ``price_anomaly_rule`` (σ floored at
    ``anomaly_min_std_percent`` of the mean), with ``alerts.competitor.anomaly_k`` as the threshold."""
    confirmed = [(o, o.price) for o in obs if not o.is_void and o.status == "ok" and o.price is not None]
    first_in = next((o for o, _ in confirmed if o.first_seen_at >= since), None)
    history = (
        [
            float(p)
            for p in q.confirmed_prices_before(db, product_id, first_in.first_seen_at, thresholds.anomaly_history)
        ]
        if first_in
        else []
    )
    out: dict[int, float] = {}
    k, floor = thresholds.anomaly_k, thresholds.anomaly_min_std_percent / 100
    for o, price in confirmed:
        if o.first_seen_at < since:
            continue
        window = history[-thresholds.anomaly_history :]
        value = float(price)
        if len(window) >= thresholds.anomaly_min_history and not _clearly_inside(window, value, k, floor):
            mean, std = statistics.fmean(window), statistics.pstdev(window)
            sigma = max(std, abs(mean) * floor)
            dev = (value - mean) / sigma if sigma else 0.0
            if abs(dev) > k:
                out[o.id] = dev
        history.append(value)
    return out


def _clearly_inside(window: list[float], value: float, k: float, floor: float) -> bool:
    """Whether ``value`` is inside mean ± k·σ of ``window`` by a margin no rounding can cross.

    ``statistics.pstdev`` is exact (fractions) and was most of a 90-day price page's time; a plain
    two-pass float σ is within ~1e-13 of it relative to the values, so a price well inside the band
    is decided here and only the rest (the anomalies, and anything near the edge) takes the exact
    test, which gives the figures shown. The marks are the same as with the exact test alone.
    σ is never below the floor (``abs(mean) * floor``), so a price inside k times the floor is
    inside whatever the spread: decided by the mean alone (a steady price's usual case), and the
    spread's pass is taken only beyond it.
    """
    n = len(window)
    mean = math.fsum(window) / n
    off = abs(value - mean) + 1e-9 * (abs(mean) + abs(value)) * (k + 1)
    band = abs(mean) * floor
    if off < k * band:
        return True
    dev = [x - mean for x in window]
    return off < k * max(math.sqrt(math.fsum(map(operator.mul, dev, dev)) / n), band)


def price_chart_option(
    obs: list[q.ObservationRow], anomalies: dict[int, float], since: datetime, now: datetime, k: float
) -> dict[str, Any]:
    """The ECharts option of a product's price history over [since, now] on a time axis.

    One point per confirmed observation in the window (the one in force at the window's start is
    drawn at the start); step lines, since a price holds until the next change. Suspect and void
    observations are their own scatter series; anomalies are red points and a red scatter series.
    """
    price, original, final, suspect, void, red = [], [], [], [], [], []
    for o in obs:
        at = _ms(max(o.first_seen_at, since))
        if o.is_void:
            if o.price is not None and o.first_seen_at >= since:
                void.append({"value": [at, _num(o.price)], "id": o.id})
            continue
        if o.status != "ok":
            if o.price is not None:
                suspect.append({"value": [at, _num(o.price)], "id": o.id})
            continue
        if o.price is None:
            continue
        point: dict[str, Any] = {"value": [at, _num(o.price)], "id": o.id}
        if o.id in anomalies:
            point["itemStyle"] = {"color": "#dc2626"}
            point["symbolSize"] = 11
            red.append({"value": [at, _num(o.price)], "id": o.id, "sigma": round(anomalies[o.id], 2)})
        price.append(point)
        if o.original_price is not None:
            original.append([at, _num(o.original_price)])
        if o.final_price is not None:
            final.append([at, _num(o.final_price)])
    series = [
        {"name": "价格", "type": "line", "step": "end", "showSymbol": True, "symbolSize": 6, "data": price},
        {"name": "划线价", "type": "line", "step": "end", "lineStyle": {"type": "dashed"}, "data": original},
        {"name": "到手价", "type": "line", "step": "end", "data": final},
        {
            "name": f"异常（超出 ±{k:g}σ）",
            "type": "scatter",
            "symbolSize": 14,
            "itemStyle": {"color": "#dc2626"},
            "data": red,
        },
        {"name": "待确认", "type": "scatter", "symbol": "triangle", "itemStyle": {"color": "#d97706"}, "data": suspect},
        {"name": "已作废", "type": "scatter", "symbol": "diamond", "itemStyle": {"color": "#9ca3af"}, "data": void},
    ]
    return {
        "animation": False,
        "color": ["#1d4ed8", "#6b7280", "#059669"],
        "grid": {"left": 52, "right": 14, "top": 56, "bottom": 36, "containLabel": False},
        "legend": {"top": 0, "type": "scroll"},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "time", "min": _ms(since), "max": _ms(now)},
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


def promo_timeline(obs: list[q.ObservationRow]) -> list[q.ObservationRow]:
    """The observations whose promo copy differs from the previous (not voided) one's, newest first."""
    out, last = [], object()
    for o in obs:
        if o.is_void:
            continue
        if (o.promo or None) != last:
            out.append(o)
            last = o.promo or None
    return list(reversed(out))


def promo_items(promos: list[q.ObservationRow], tz: Any) -> Markup:
    """The 促销文案时间线's ``<li>`` items, rendered here as the 抓取记录 rows are (a ``t()`` call and
    an escaped output per item through Jinja); the promo copy is crawled text: escaped."""
    return Markup(
        "".join(
            f"<li><small>{_fmt_time(tz, o.first_seen_at, '%Y-%m-%d %H:%M')}</small><br>"
            f"{escape(o.promo or '（无促销）')}</li>"
            for o in promos
        )
    )


def _table_body(rows: list[Markup]) -> Markup:
    """``rows`` as one piece of markup, spaced as a ``{% for %}`` over them on their own line printed
    them: the template outputs one value, not three a row (each through Jinja's nested generators)."""
    return Markup("".join(f"\n    {r}\n    " for r in rows))


# The rows of 抓取记录, rendered here rather than in product.html: through Jinja a row cost ~30 us (two
# t() calls, three money filters, a dict lookup, ~15 autoescaped outputs), 60 rows ~2 ms, three
# quarters of the page's render. Every value put in is either formatted here from a number or time
# (digits, ¥, — only) or escaped (availability, who voided it and why: crawled or typed text).
# One f-string a row (``str.format`` with a dozen keywords cost twice as much).
_OBS_VOID_FORM = (
    '<td data-label="操作">\n'
    '        <form method="post" action="/prices/{pid}/observations/{id}/void" class="row void-form">\n'
    '          {csrf_field}<input type="hidden" name="days" value="{days}">\n'
    '          <input type="text" name="reason" placeholder="作废原因" required aria-label="作废原因" size="10">\n'
    '          <button type="submit" class="danger">作废此记录</button>\n'
    "        </form>\n"
    "      </td>\n"
)


def observation_rows(
    obs: list[q.ObservationRow],
    anomalies: dict[int, float],
    tz: Any,
    *,
    product_id: int,
    days: int,
    csrf_field: Markup | None,
) -> list[Markup]:
    """The 抓取记录 table's rows (``<tr>`` markup) of ``obs``; ``csrf_field`` (an admin's) adds the
    void form to each row not voided yet, and an empty 操作 cell to a voided one."""
    out = []
    # The form differs from row to row only by the observation id: split around it once.
    form_head, _, form_tail = _OBS_VOID_FORM.format(
        pid=product_id, id="\0", csrf_field=csrf_field or "", days=days
    ).partition("\0")
    minute = _FAST_TIME_FORMATS["%Y-%m-%d %H:%M"]  # both times are NOT NULL columns
    stocks: dict[str | None, Markup] = {}  # a page has a handful of availability values
    for o in obs:
        void = o.voided_at is not None
        sigma = anomalies.get(o.id)
        if void:
            state = f"已作废（{escape(o.voided_by)}：{escape(o.void_reason)}）"
        else:
            state = "待确认" if o.status != "ok" else "正常"
        if csrf_field is None:
            action = ""
        elif void:
            action = '<td data-label="操作">\n      </td>\n'
        else:
            action = f"{form_head}{o.id}{form_tail}"
        stock = stocks.get(o.availability)
        if stock is None:
            stock = stocks[o.availability] = escape(AVAILABILITY.get(o.availability, o.availability or "—"))  # type: ignore[arg-type]
        css = "void" if void else ("suspect" if o.status != "ok" else "")
        price = money(o.price) if sigma is None else f"{money(o.price)} ({sigma:+.1f}σ)"
        out.append(
            Markup(
                f'<tr id="obs-{o.id}" class="{css}">\n'
                f'      <td data-label="首次看到">{minute(o.first_seen_at.astimezone(tz))}</td>\n'
                f'      <td data-label="最后看到">{minute(o.last_seen_at.astimezone(tz))}</td>\n'
                f'      <td data-label="价格" class="num{"" if sigma is None else " anomaly"}">{price}</td>\n'
                f'      <td data-label="划线价" class="num">{money(o.original_price)}</td>\n'
                f'      <td data-label="到手价" class="num">{money(o.final_price)}</td>\n'
                f'      <td data-label="库存">{stock}</td>\n'
                f'      <td data-label="状态">{state}</td>\n'
                f"      {action}</tr>"
            )
        )
    return out


@router.get("/prices/{product_id}")
def product_page(request: Request, product_id: int, days: int = 30, db: Session = Depends(get_db)) -> Response:
    cfg = get_cfg(request)
    if days not in RANGES:
        days = 30
    now = _now()
    since = now - timedelta(days=days)
    hist = q.product_history(db, product_id, since)
    if hist is None:
        raise HTTPException(404, f"没有编号为 {product_id} 的商品")
    thresholds = cfg.alerts.competitor_thresholds()
    anomalies = _anomalies(db, product_id, hist.observations, since, thresholds)
    option = price_chart_option(hist.observations, anomalies, since, now, thresholds.anomaly_k)
    latest = next((o for o in reversed(hist.observations) if not o.is_void), None)
    promos = promo_timeline(hist.observations)
    return render(
        request,
        "product.html",
        "prices",
        title=hist.product.name,
        charts=True,
        p=hist.product,
        hist=hist,
        observation_rows=_table_body(
            observation_rows(
                list(reversed(hist.observations))[:OBSERVATION_ROWS],
                anomalies,
                cfg.tz,
                product_id=hist.product.id,
                days=days,
                csrf_field=csrf_field(request) if _is_admin(request) else None,
            )
        ),
        more=max(0, len(hist.observations) - OBSERVATION_ROWS),
        latest=latest,
        option=option,
        anomalies=anomalies,
        days=days,
        ranges=RANGES,
        k=thresholds.anomaly_k,
        anomaly_history=thresholds.anomaly_history,
        promos=promos,
        promo_items=promo_items(promos, cfg.tz),
        evidence=_evidence(db, product_id, since),
    )


def _evidence(db: Session, product_id: int, since: datetime) -> list[Any]:
    """The product's evidence snapshots in the shown range, newest first (storage/evidence.py)."""
    from jingshao.storage.evidence import evidence_for

    return list(reversed(evidence_for(db, [product_id], since)))[:OBSERVATION_ROWS]


@router.get("/prices/{product_id}/evidence/{digest}")
def evidence_file(product_id: int, digest: str, db: Session = Depends(get_db)) -> Response:
    """One snapshot of this product: the page as it was served, or its screenshot. The HTML is the
    competitor's, so it is served under a sandbox CSP (an opaque origin: no script, no request runs)."""
    from jingshao.storage.evidence import evidence_for, get_blob

    rows = evidence_for(db, [product_id])
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or not any(
        digest in (r.html_sha256, r.screenshot_sha256) for r in rows
    ):
        raise HTTPException(404, "没有这份证据快照")
    is_png = any(digest == r.screenshot_sha256 for r in rows)
    return Response(
        get_blob(db, digest),
        media_type="image/png" if is_png else "text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            "Content-Disposition": f'inline; filename="{digest[:16]}.{"png" if is_png else "html"}"',
        },
    )


@router.post("/prices/{product_id}/observations/{observation_id}/void")
def void_observation(
    request: Request,
    product_id: int,
    observation_id: int,
    reason: str = Form(""),
    days: int = Form(30),
    user: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> Response:
    from jingshao.storage.repository import void_observations

    target = f"/prices/{product_id}?days={days if days in RANGES else 30}"
    if q.product_product_id_of_observation(db, observation_id) != product_id:
        raise HTTPException(404, f"商品 {product_id} 没有记录 {observation_id}")
    if not reason.strip():
        return back(target, err="作废需要填写原因")
    void_observations(db, by=user.name, reason=reason.strip()[:500], ids=[observation_id])
    return back(target, ok=f"记录 #{observation_id} 已作废")


# ---------------------------------------------------------------- 评价洞察


def _with_tags(rows: list[q.ReviewText]) -> list[tuple[q.ReviewText, list[Any]]]:
    """Each row with its stored tags read as ``Tag``: read once, as the page summarises a review up
    to three times (the 30 days, its week, its product) and draws it in the mind map."""
    from jingshao.core.tags import tag_from_row

    return [(r, [tag_from_row(t) for t in r.tags]) for r in rows]


def _tag_summary(rows: list[tuple[q.ReviewText, list[Any]]]) -> list[Any]:
    from jingshao.nlp import aggregate_tags

    return aggregate_tags((r.text, tags, 0.5 if r.sentiment is None else r.sentiment) for r, tags in rows if tags)


def _week_start(tz: Any, now: datetime) -> datetime:
    local = now.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    return datetime.combine(monday, datetime.min.time(), tz).astimezone(UTC)


@router.get("/reviews")
def reviews(request: Request, db: Session = Depends(get_db), competitor: str = "", product: int = 0) -> Response:
    from jingshao.nlp import selling_points

    cfg = get_cfg(request)
    now = _now()
    # The product list of the competitor in view (the chosen one, or the chosen product's).
    products = q.review_products(db, competitor or None, product=product or None)
    competitors = q.reviewed_competitors(db)
    chosen = [p for p in products if (not competitor or p[1] == competitor) and (not product or p[0] == product)]
    ids = [p[0] for p in chosen]
    this_week = _week_start(cfg.tz, now)
    weeks = [this_week - timedelta(days=7 * i) for i in range(11, -1, -1)]
    buckets = q.review_weeks(db, ids, weeks) if ids else []
    trend = {
        "animation": False,
        "grid": {"left": 44, "right": 44, "top": 40, "bottom": 30},
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [b.start.astimezone(cfg.tz).strftime("%m-%d") for b in buckets]},
        "yAxis": [{"type": "value", "name": "条"}, {"type": "value", "name": "正面占比", "min": 0, "max": 1}],
        "series": [
            {"name": "评价数", "type": "bar", "data": [b.reviews for b in buckets], "itemStyle": {"color": "#93c5fd"}},
            {
                "name": "正面占比",
                "type": "line",
                "yAxisIndex": 1,
                "data": [round(b.positive / b.reviews, 3) if b.reviews else None for b in buckets],
            },
        ],
    }
    window = q.tagged_reviews(db, ids, now - timedelta(days=30), now + timedelta(seconds=1)) if ids else []
    tagged = _with_tags(window)
    summary = _tag_summary(tagged)
    pros = [t for t in summary if t.polarity == "pos"][:8]
    cons = [t for t in summary if t.polarity == "neg"][:8]
    # This week against the 7 days before it: tags whose review count moved most.
    # (The 30-day window holds both weeks: no query of their own.)
    week_ago, two_weeks_ago = now - timedelta(days=7), now - timedelta(days=14)
    recent = [rt for rt in tagged if rt[0].at >= week_ago]
    before = [rt for rt in tagged if two_weeks_ago <= rt[0].at < week_ago]
    cur = {(t.aspect, t.polarity, t.opinion): t.reviews for t in _tag_summary(recent)}
    prev = {(t.aspect, t.polarity, t.opinion): t.reviews for t in _tag_summary(before)}
    moves = sorted(
        ((key, cur.get(key, 0), prev.get(key, 0)) for key in set(cur) | set(prev)),
        key=lambda m: (-abs(m[1] - m[2]), m[0]),
    )[:8]
    week = {
        "reviews": len(recent),
        "reviews_before": len(before),
        "pos": _share([r for r, _ in recent if r.sentiment is not None], lambda r: r.sentiment >= 0.5),
        "pos_before": _share([r for r, _ in before if r.sentiment is not None], lambda r: r.sentiment >= 0.5),
    }
    # 爆款拆解: the most reviewed products of the selection.
    top = chosen[:5]
    tear = q.teardown_rows(db, top, now - timedelta(days=90))
    by_pid: dict[int, list[tuple[q.ReviewText, list[Any]]]] = {}
    for rt in tagged:
        by_pid.setdefault(rt[0].product_id, []).append(rt)
    teardown = []
    for row in tear:
        tags = _tag_summary(by_pid.get(row.product_id, []))
        points = [w for w, _ in selling_points(dict.fromkeys(row.copy), topk=5)] if row.copy else []
        teardown.append(
            {
                "row": row,
                "points": points,
                "pros": [t for t in tags if t.polarity == "pos"][:3],
                "cons": [t for t in tags if t.polarity == "neg"][:3],
            }
        )
    mind = (
        insight.mind_map_of(window, chosen, competitor or None, product or None, now, tags=[t for _, t in tagged])
        if ids
        else None
    )
    api_params = {k: v for k, v in (("competitor", competitor), ("product_id", product or "")) if v}
    return render(
        request,
        "reviews.html",
        "reviews",
        charts=True,
        mind=mind,
        mind_option=insight.mind_map_option(mind) if mind else None,
        mind_height=insight.mind_map_height(mind) if mind else None,
        mind_api="/api/v1/mindmap" + ("?" + urlencode(api_params) if api_params else ""),
        competitor_options=_options(((c, c) for c in competitors), competitor),
        product_options=_options(
            ((pid, f"{name}（{n}）") for pid, comp, name, n in products if not competitor or comp == competitor),
            product,
        ),
        chosen=chosen,
        trend=trend,
        pros=pros,
        cons=cons,
        pro_lines=_taglines(pros, "pos"),
        con_lines=_taglines(cons, "neg"),
        moves=moves,
        week=week,
        teardown=teardown,
    )


def _options(choices: Iterable[tuple[Any, str]], chosen: Any) -> Markup:
    """``<option>`` elements of (value, text) pairs, ``chosen`` selected: rendered here as the price
    rows are (a filter of 50 products cost ~5 Jinja outputs an option); names are crawled text: escaped."""
    return Markup(
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(text)}</option>'
            for value, text in choices
        )
    )


def _taglines(tags: list[Any], css: str) -> Markup:
    """The 买家夸什么 / 抱怨什么 ``<li>`` items (the template's macro call cost more than the item);
    aspects, opinions and the example are review text: escaped."""
    return Markup(
        "".join(
            f'<li><span class="tag {css}">{escape(t.aspect)}-{escape(t.opinion)}</span> {t.reviews} 条\n  '
            + (f'<br><small class="muted">“{escape(t.examples[0])}”</small>' if t.examples else "")
            + "</li>"
            for t in tags
        )
    )


def _share(rows: list[Any], pred) -> float | None:
    return sum(1 for r in rows if pred(r)) / len(rows) if rows else None


# ---------------------------------------------------------------- 品牌舆情


@dataclass(frozen=True)
class Bands:
    """The hourly negative counts at which blue, yellow and red start for a brand now."""

    levels: list[tuple[str, float]]
    baseline_hours: int
    mean: float
    sigma: float


def _bands(cfg: Any, db: Session, brand: str, now: datetime) -> Bands:
    """max(minimum count, baseline mean + k·σ) per level, with the baseline the crisis rule uses: the
    ``baseline_hours`` (168) hourly negative counts before the current hour, hours ending at ``now``
    (alerts/rules/crisis.py), σ floored at ``std_floor``, and the brand's thresholds in force."""
    brand_cfg = next((b for b in getattr(cfg, "brands", []) or [] if b.name == brand), None)
    t = cfg.alerts.crisis_thresholds(brand_cfg)
    hour = timedelta(hours=1)
    base = [0] * t.baseline_hours  # base[k - 1]: negatives in (now - (k+1)h, now - k h], k = 1..baseline_hours
    for posted in q.negative_times(db, brand, now - hour * (t.baseline_hours + 1), now - hour):
        k = (now - posted) // hour
        if 1 <= k <= t.baseline_hours:
            base[k - 1] += 1
    mean, std = statistics.fmean(base), statistics.pstdev(base)
    sigma = max(std, t.std_floor)
    levels = [
        ("blue", max(t.blue_min_negatives, mean + t.blue_sigma * sigma)),
        ("yellow", max(t.yellow_min_negatives, mean + t.yellow_sigma * sigma)),
        ("red", max(t.red_min_negatives, mean + t.red_sigma * sigma)),
    ]
    return Bands(levels, t.baseline_hours, mean, sigma)


def mention_chart_option(
    buckets: list[q.VolumeBucket], tz: Any, fmt: str, bands: list[tuple[str, float]] | None
) -> dict[str, Any]:
    colors = {"blue": "rgba(37,99,235,.10)", "yellow": "rgba(217,119,6,.13)", "red": "rgba(220,38,38,.14)"}
    negative: dict[str, Any] = {"name": "负面", "type": "bar", "stack": "v", "data": [b.negative for b in buckets]}
    if bands:
        edges = [v for _, v in bands] + [max([v for _, v in bands] + [b.negative for b in buckets]) * 1.2 + 1]
        negative["markArea"] = {
            "silent": True,
            "data": [
                [
                    {"yAxis": round(edges[i], 1), "itemStyle": {"color": colors[name]}, "name": LEVEL_NAMES[name]},
                    {"yAxis": round(edges[i + 1], 1)},
                ]
                for i, (name, _) in enumerate(bands)
            ],
        }
    return {
        "animation": False,
        "grid": {"left": 44, "right": 44, "top": 40, "bottom": 30},
        "legend": {"top": 0},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [b.start.astimezone(tz).strftime(fmt) for b in buckets]},
        "yAxis": [{"type": "value", "name": "条"}, {"type": "value", "name": "负面占比", "min": 0, "max": 1}],
        "series": [
            negative,
            {
                "name": "其他",
                "type": "bar",
                "stack": "v",
                "itemStyle": {"color": "#cbd5e1"},
                "data": [b.mentions - b.negative for b in buckets],
            },
            {
                "name": "负面占比",
                "type": "line",
                "yAxisIndex": 1,
                "itemStyle": {"color": "#dc2626"},
                "data": [None if b.negative_share is None else round(b.negative_share, 3) for b in buckets],
            },
        ],
    }


@router.get("/mentions")
def mentions(
    request: Request,
    db: Session = Depends(get_db),
    brand: str = "",
    view: str = "hour",
    source: str = "",
    label: str = "",
    authority: str = "",
    page: int = 1,
) -> Response:
    from jingshao.alerts.rules.playbook import RED_PLAYBOOK_STEPS

    cfg = get_cfg(request)
    brands = sorted(set(q.mention_brands(db)) | {b.name for b in getattr(cfg, "brands", []) or []})
    brand = brand if brand in brands else (brands[0] if brands else "")
    now = _now()
    ctx: dict[str, Any] = {"brands": brands, "brand": brand, "view": view, "charts": True}
    if brand:
        hour_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        hourly = q.mention_volume(db, brand, hour_start - timedelta(hours=48), timedelta(hours=1), 48)
        bands = _bands(cfg, db, brand, now)
        if view == "day":
            day0 = _day_start(cfg.tz, now) - timedelta(days=29)
            buckets = q.mention_volume(db, brand, day0, timedelta(days=1), 30)
            option = mention_chart_option(buckets, cfg.tz, "%m-%d", None)
        else:
            view = "hour"
            buckets = hourly
            option = mention_chart_option(buckets, cfg.tz, "%d日%H时", bands.levels)
        auth = int(authority) if authority.isdigit() else None
        page = max(page, 1)
        found = wq.mentions(
            db,
            brand=brand,
            source=source,
            label=label,
            min_authority=auth,
            newest="posted",
            limit=50,
            offset=(page - 1) * 50,
        )
        rows, total = found.items, found.total
        crisis = q.current_crisis(db, brand)
        params = {"brand": brand, "view": view, "source": source, "label": label, "authority": authority}
        ctx.update(
            view=view,
            option=option,
            bands=bands,
            rows=rows,
            total=total,
            page=page,
            pages=max(1, math.ceil(total / 50)),
            page_url=lambda n: "/mentions?" + urlencode({**{k: v for k, v in params.items() if v}, "page": n}),
            sources=q.mention_sources(db, brand),
            source=source,
            label=label,
            authority=authority,
            crisis=crisis,
            playbook=RED_PLAYBOOK_STEPS if crisis and crisis.level == "red" else None,
            last_hour=hourly[-1],
        )
    return render(request, "mentions.html", "mentions", **ctx)


# ---------------------------------------------------------------- 告警


# One row of the 告警 list, rendered here for the reason given at _OBS_ROW (through Jinja, with the
# level macro and t(), a row cost ~20 us; the list shows up to 300). Ids and times are formatted
# here; the level, subject, summary and who acknowledged it are escaped.
_ALERT_ROW = (
    '<tr data-alert="{id}">\n'
    '        <td data-label="#"><a href="/alerts/{id}">#{id}</a></td>\n'
    '        <td data-label="级别"><span class="lvl lvl-{level_css}">{level}</span></td>\n'
    '        <td data-label="状态">{state}</td>\n'
    '        <td data-label="对象"><a href="/alerts/{id}">{subject}</a></td>\n'
    '        <td data-label="摘要">{summary}</td>\n'
    '        <td data-label="时间">{since}</td>\n'
    '        <td data-label="认领">{acked_by}</td>\n'
    "      </tr>"
)


def alert_rows(rows: list[Any], tz: Any) -> list[Markup]:
    """The 告警 list's rows (``<tr>`` markup) of ``alerts_repo.AlertRow``s, as _macros.html's
    ``level`` macro and ``t()`` show them."""
    out = []
    for a in rows:
        known = a.level in LEVEL_NAMES
        out.append(
            Markup(
                _ALERT_ROW.format(
                    id=int(a.id),
                    level_css=a.level if known else "none",
                    level=LEVEL_NAMES[a.level] if known else escape(a.level or "正常"),
                    state="未恢复" if a.state == "firing" else "已恢复",
                    subject=escape(a.subject),
                    summary=escape(a.summary),
                    since=_fmt_time(tz, a.since),
                    acked_by=escape(a.acked_by or "—"),
                )
            )
        )
    return out


@router.get("/alerts")
@inline_read
def alerts(request: Request, db: Session = Depends(get_db), state: str = "firing") -> Response:
    from jingshao.storage.alerts_repo import list_alerts, list_silences

    if state not in ("firing", "resolved", "all"):
        state = "firing"
    rows = list_alerts(db, state=None if state == "all" else state, limit=300)
    return render(
        request,
        "alerts.html",
        "alerts",
        alert_rows=alert_rows(rows, get_cfg(request).tz),
        state=state,
        silences=list_silences(db),
    )


@router.get("/alerts/backtest")
def alerts_backtest(
    request: Request,
    brand: str = "",
    start: str = "",
    end: str = "",
    step: str = "1h",
    competitors: str = "",
) -> Response:
    """Replays the rules over stored facts (alerts/backtest.py) on a scratch database: read-only here."""
    from jingshao.alerts.backtest import BacktestError, backtest, parse_moment

    cfg = get_cfg(request)
    brands = [b.name for b in getattr(cfg, "brands", []) or []]
    events, error = None, None
    now_local = _now().astimezone(cfg.tz)
    start = start or (now_local - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    end = end or now_local.strftime("%Y-%m-%d %H:%M")
    if "run" in request.query_params:
        try:
            t0, t1 = parse_moment(start, cfg.tz, "start"), parse_moment(end, cfg.tz, "end")
            if t1 - t0 > timedelta(days=31):
                raise BacktestError("回测区间最长 31 天")
            events = backtest(cfg, request.app.state.db, t0, t1, step, brand or None, competitors=competitors == "on")
        except (BacktestError, ValueError) as exc:
            error = str(exc)
    return render(
        request,
        "backtest.html",
        "alerts",
        brands=brands,
        brand=brand,
        start=start,
        end=end,
        step=step,
        competitors=competitors,
        events=events,
        error=error,
    )


@router.get("/alerts/{alert_id}")
@inline_read
def alert_page(request: Request, alert_id: int, db: Session = Depends(get_db)) -> Response:
    from jingshao.alerts.rules.playbook import RED_PLAYBOOK_STEPS
    from jingshao.storage.alerts_repo import AlertNotFound, get_alert, list_silences

    try:
        detail = get_alert(db, alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, f"没有编号为 {alert_id} 的告警") from exc
    keys = {detail.fingerprint, detail.subject_key, detail.alert.family}
    silences = [s for s in list_silences(db) if s.matcher in keys]
    return render(
        request,
        "alert.html",
        "alerts",
        title=f"告警 #{alert_id}",
        d=detail,
        a=detail.alert,
        silences=silences,
        playbook=RED_PLAYBOOK_STEPS if detail.alert.level == "red" and detail.alert.state == "firing" else None,
    )


@router.post("/alerts/{alert_id}/ack")
def alert_ack(alert_id: int, user: Principal = Depends(require_admin), db: Session = Depends(get_db)) -> Response:
    from jingshao.storage.alerts_repo import AlertNotFound, ack

    try:
        ack(db, alert_id, user.name)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        return back(f"/alerts/{alert_id}", err=str(exc))
    return back(f"/alerts/{alert_id}", ok="已认领：在升级之前不再重复提醒")


SILENCE_HOURS = (1, 2, 4, 8, 24, 72, 168)


@router.post("/alerts/{alert_id}/silence")
def alert_silence(
    alert_id: int,
    hours: float = Form(...),
    reason: str = Form(""),
    scope: str = Form("alert"),
    user: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> Response:
    from jingshao.storage.alerts_repo import AlertNotFound, add_silence, get_alert

    try:
        detail = get_alert(db, alert_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    if not reason.strip():
        return back(f"/alerts/{alert_id}", err="静默需要填写原因")
    if not 0 < hours <= 24 * 30:
        return back(f"/alerts/{alert_id}", err="静默时长须在 0 到 720 小时之间")
    matcher = detail.subject_key if scope == "subject" else detail.fingerprint
    now = _now()
    add_silence(db, matcher, user.name, reason.strip()[:500], now + timedelta(hours=hours), now)
    return back(f"/alerts/{alert_id}", ok=f"已静默 {hours:g} 小时")


@router.post("/silences/{silence_id}/unsilence")
def unsilence(
    silence_id: int, alert: int = Form(0), user: Principal = Depends(require_admin), db: Session = Depends(get_db)
) -> Response:
    from jingshao.storage.alerts_repo import AlertNotFound
    from jingshao.storage.alerts_repo import unsilence as end_silence

    try:
        end_silence(db, silence_id)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return back(f"/alerts/{alert}" if alert else "/alerts", ok=f"静默 #{silence_id} 已解除")


# ---------------------------------------------------------------- 抓取健康


@router.get("/health")
def health(request: Request, db: Session = Depends(get_db)) -> Response:
    from jingshao.storage.alerts_repo import channel_health, outbox_depth, parked_notifications
    from jingshao.storage.repository import current_failures

    cfg = get_cfg(request)
    runs = q.last_runs(db)
    product_run = next((r for r in runs if r.spider == "products"), None)
    names = [c.name for c in getattr(cfg, "channels", []) or []]
    depth: dict[str, dict[str, int]] = {}
    for d in outbox_depth(db):
        depth.setdefault(d.channel, {})[d.status] = d.count
    return render(
        request,
        "health.html",
        "health",
        runs=runs,
        product_run=product_run,
        competitors=q.competitor_health(db, product_run.id if product_run else None),
        failures=current_failures(db, _now() - timedelta(days=7), limit=30),
        channels=channel_health(db, names),
        depth=depth,
        parked=parked_notifications(db),
    )


# ---------------------------------------------------------------- 监控设置

MAX_PREVIEW_URLS = 10
FIELD_ORDER = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand")


def _urls(text: str) -> list[str]:
    """One URL per line (blank lines and duplicates dropped, order kept)."""
    return list(dict.fromkeys(u.strip() for u in text.splitlines() if u.strip()))


# The API's messages (English, for API clients) as 监控设置 shows them: Chinese, same facts.
API_MESSAGES = (
    (r"competitor '(.+)' is managed by the config file.*", "竞品“{0}”由配置文件管理，请在 jingshao.toml 中修改"),
    (r"(\S+) is already watched in the config file.*", "{0} 已在配置文件中监控"),
    (r"(\S+) is already watched \(product #(\d+)\)", "{0} 已在监控中（商品 #{1}）"),
    (r"product #(\d+) is managed by the config file.*", "商品 #{0} 由配置文件管理，请在 jingshao.toml 中修改"),
    (r"product #(\d+) was removed.*", "商品 #{0} 已移除；如需继续监控，请重新添加链接"),
    (r"no product #(\d+)", "没有编号为 {0} 的商品"),
    (r"expected an http:// or https:// URL", "链接须以 http:// 或 https:// 开头"),
    (r"the URL contains a space.*", "链接里有空格或其他空白字符，请写成 %20"),
)
FIELD_LABELS = {"url": "链接", "name": "名称", "competitor": "竞品店铺", "selectors": "选择器", "variant": "规格"}
PYDANTIC_TYPES = {
    "missing": "必填",
    "string_too_long": "太长",
    "string_too_short": "不能为空",
    "extra_forbidden": "不支持的字段",
    "url_parsing": "不是有效的链接",
}


def _chinese(message: str) -> str:
    for pattern, template in API_MESSAGES:
        if m := re.fullmatch(pattern, message.strip()):
            return template.format(*m.groups())
    return message


def _api_error(exc: HTTPException) -> str:
    detail = exc.detail
    if isinstance(detail, list):  # pydantic's field errors
        parts = []
        for d in detail:
            loc = [str(x) for x in d.get("loc", []) if x != "body"]
            where = "·".join(FIELD_LABELS.get(x, FIELD_NAMES.get(x, x)) for x in loc) or "输入"
            parts.append(f"{where}：{PYDANTIC_TYPES.get(d.get('type', ''), _chinese(str(d.get('msg'))))}")
        return "；".join(parts)
    return _chinese(str(detail))


def _value_error(exc: ValueError) -> str:
    """A form value the API's models refused (pydantic), said as the API's 422 is said here."""
    from pydantic import ValidationError

    from jingshao.web import api

    if isinstance(exc, ValidationError):
        return _api_error(HTTPException(422, api.field_errors(exc)))
    return _chinese(str(exc))


SETTINGS_ROWS = 50  # a page of the product list (each row carries its edit forms)


# One row of 在监控的商品, rendered here rather than in settings.html: through Jinja the 50 rows of
# a page cost ~1 ms (~8 autoescaped outputs each, two forms with their CSRF field for a web-added
# product), two thirds of the handler. Every value put in is an id or one of the fixed labels
# below, or escaped (competitor, name, URL and the spec: typed or crawled text).
_SETTINGS_STATUS = {"active": "监控中", "paused": "已暂停", "removed": "已移除"}
_SETTINGS_FORMS = (
    "<details><summary>编辑</summary>\n"
    '            <form method="post" action="/settings/products/{id}" class="filters edit-form">\n'
    "              {csrf_field}\n"
    '              <label>名称<input type="text" name="name" value="{name}"></label>\n'
    '              <label>价格选择器<input type="text" name="price_selector" value="{selector}"></label>\n'
    '              <label>规格<input type="text" name="variant" value="{variant}"></label>\n'
    '              <label><span>浏览器渲染</span><input type="checkbox" name="render" value="true"{checked}></label>\n'
    '              <button type="submit" name="action" value="save">保存</button>\n'
    "            </form>\n"
    "          </details>\n"
    '          <form method="post" action="/settings/products/{id}" class="row" style="margin-top:.3rem">\n'
    "            {csrf_field}\n"
    "            {toggle}\n"
    '            <button type="submit" name="action" value="remove" class="danger">移除</button>\n'
    "          </form>"
)
_PAUSE = '<button type="submit" name="action" value="pause" class="secondary">暂停</button>'
_RESUME = '<button type="submit" name="action" value="resume" class="secondary">恢复</button>'


def settings_rows(rows: list[wq.ProductRow], *, csrf_field: Markup | None) -> list[Markup]:
    """The 在监控的商品 table's rows (``<tr>`` markup); ``csrf_field`` (an admin's) adds the edit and
    pause / resume / remove forms to a web-added product not removed."""
    out = []
    for p in rows:
        if p.managed_by == "web" and csrf_field is not None and p.status != "removed":
            spec = p.spec or {}
            action = _SETTINGS_FORMS.format(
                id=p.id,
                csrf_field=csrf_field,
                name=escape(p.name or ""),
                selector=escape((spec.get("selectors") or {}).get("price", "")),
                variant=escape(spec.get("variant") or ""),
                checked=" checked" if p.render else "",
                toggle=_PAUSE if p.status == "active" else _RESUME,
            )
        elif p.managed_by == "file":
            action = '<span class="muted">在 jingshao.toml 中修改</span>'
        else:
            action = "—"
        # one f-string a row (str.format with seven keywords cost twice as much)
        source = "配置文件（只读）" if p.managed_by == "file" else "网页添加"
        out.append(
            Markup(
                f'<tr data-product="{p.id}">\n'
                f'        <td data-label="#">{p.id}</td>\n'
                f'        <td data-label="竞品">{escape(p.competitor)}</td>\n'
                f'        <td data-label="商品"><a href="/prices/{p.id}">{escape(p.name or p.url)}</a>'
                f'<br><small class="muted">{escape(p.url)}</small></td>\n'
                f'        <td data-label="来源">{source}</td>\n'
                f'        <td data-label="状态" class="status">{escape(_SETTINGS_STATUS.get(p.status, p.status))}'
                "</td>\n"
                '        <td data-label="操作">\n'
                f"          {action}\n"
                "        </td>\n"
                "      </tr>"
            )
        )
    return out


@router.get("/settings")
@inline_read
def settings(request: Request, db: Session = Depends(get_db), status: str = "all", page: int = 1) -> Response:
    if status not in ("all", "active", "paused", "removed"):
        status = "all"
    search = request.query_params.get("q", "").strip()  # `q` is this module's queries: read it by name
    page = max(page, 1)
    found = wq.products(
        db,
        status=None if status == "all" else status,
        q=search or None,
        newest_first=True,  # what was just added comes first
        limit=SETTINGS_ROWS,
        offset=(page - 1) * SETTINGS_ROWS,
    )
    params = {"status": status, "q": search}
    return render(
        request,
        "settings.html",
        "settings",
        rows=settings_rows(found.items, csrf_field=csrf_field(request) if _is_admin(request) else None),
        total=found.total,
        status=status,
        search=search,
        page=page,
        pages=max(1, math.ceil(found.total / SETTINGS_ROWS)),
        page_url=lambda n: "/settings?" + urlencode({**{k: v for k, v in params.items() if v}, "page": n}),
        web_competitors=wq.web_competitor_names(db),
    )


@router.post("/settings/preview")
async def settings_preview(
    request: Request,
    urls: str = Form(""),
    render_: bool = Form(False, alias="render"),
    price_selector: str = Form(""),
    variant: str = Form(""),
    user: Principal = Depends(require_admin),
) -> Response:
    """The extraction preview (web/preview.py) of each pasted URL, as an htmx fragment: nothing is stored."""
    from jingshao.web.preview import Preview, PreviewError, preview

    cfg = get_cfg(request)
    results: list[tuple[str, Preview | None, str | None]] = []
    selectors = {"price": price_selector.strip()} if price_selector.strip() else None
    for url in _urls(urls)[:MAX_PREVIEW_URLS]:
        try:
            results.append(
                (url, await preview(cfg, url, selectors=selectors, render=render_, variant=variant or None), None)
            )
        except (PreviewError, ValueError) as exc:
            results.append((url, None, str(exc)))
    return templates.TemplateResponse(
        request,
        "_preview.html",
        page_context(request, results=results, too_many=len(_urls(urls)) > MAX_PREVIEW_URLS, order=FIELD_ORDER),
    )


@router.post("/settings/products")
def settings_add(
    request: Request,
    competitor: str = Form(""),
    urls: str = Form(""),
    render_: bool = Form(False, alias="render"),
    price_selector: str = Form(""),
    variant: str = Form(""),
    user: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> Response:
    """Add every pasted URL under `competitor` through the API's own checks (web/api.py add_product)."""
    from jingshao.web import api

    links = _urls(urls)
    if not competitor.strip() or not links:
        return back("/settings", err="请填写竞品店铺名称和至少一个商品链接")
    added, errors = 0, []
    for url in links:
        body: dict[str, Any] = {"competitor": competitor.strip(), "url": url, "render": render_}
        if price_selector.strip():
            body["selectors"] = {"price": price_selector.strip()}
        if variant.strip():
            body["variant"] = variant.strip()
        try:
            with db.begin_nested():  # one bad URL does not undo the others
                api.add_product(api.ProductIn(**body), user, db, request)
            added += 1
        except HTTPException as exc:
            errors.append(f"{url}：{_api_error(exc)}")
        except ValueError as exc:  # pydantic's ValidationError
            errors.append(f"{url}：{_value_error(exc)}")
    if errors:
        return back("/settings", err=f"已添加 {added} 个；未添加：" + "；".join(errors)[:250])
    return back("/settings", ok=f"已添加 {added} 个商品，下次抓取时开始监控")


@router.post("/settings/products/{product_id}")
def settings_edit(
    request: Request,
    product_id: int,
    action: str = Form("save"),
    name: str = Form(""),
    render_: bool = Form(False, alias="render"),
    price_selector: str = Form(""),
    variant: str = Form(""),
    user: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> Response:
    """Edit, pause, resume or remove a web-managed product (file-managed ones answer 409 from the API)."""
    from jingshao.web import api

    try:
        if action == "pause":
            api.pause_product(product_id, user, db)
            msg = "已暂停"
        elif action == "resume":
            api.resume_product(product_id, user, db)
            msg = "已恢复监控"
        elif action == "remove":
            api.remove_product(product_id, user, db)
            msg = "已移除（历史记录保留）"
        else:
            patch: dict[str, Any] = {
                "name": name.strip() or None,
                "render": render_,
                "variant": variant.strip() or None,
            }
            patch["selectors"] = {"price": price_selector.strip()} if price_selector.strip() else None
            api.edit_product(product_id, api.ProductPatch(**patch), user, db)
            msg = "已保存"
    except HTTPException as exc:
        return back("/settings", err=f"商品 #{product_id}：{_api_error(exc)}")
    except ValueError as exc:
        return back("/settings", err=f"商品 #{product_id}：{_value_error(exc)}")
    return back("/settings", ok=f"商品 #{product_id} {msg}")


# ---------------------------------------------------------------- 日报

REPORT_NAME = re.compile(r"^jingshao-report-[0-9A-Za-z_.-]+\.html$")


def _reports_dir(request: Request) -> Path:
    from jingshao.reports.service import report_dir

    return report_dir(get_cfg(request))


@router.get("/reports")
def reports(request: Request) -> Response:
    folder = _reports_dir(request)
    files = []
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_file() and REPORT_NAME.match(f.name):
                st = f.stat()
                files.append((f.name, datetime.fromtimestamp(st.st_mtime, UTC), st.st_size))
    files.sort(key=lambda f: f[0], reverse=True)
    return render(request, "reports.html", "reports", files=files, folder_exists=folder.is_dir())


@router.get("/reports/view/{name}")
def report_view(request: Request, name: str) -> Response:
    return render(request, "report_view.html", "reports", title=name, report=_report_path(request, name).name)


@router.get("/reports/file/{name}")
def report_file(request: Request, name: str) -> Response:
    path = _report_path(request, name)
    # The report is our own HTML; it is still served under a CSP without scripts and framed only by us.
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


def _report_path(request: Request, name: str) -> Path:
    """A report file by bare name; anything that is not a report file name in the folder is a 404."""
    folder = _reports_dir(request).resolve()
    if not REPORT_NAME.match(name):
        raise HTTPException(404, "没有这份日报")
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise HTTPException(404, "没有这份日报")
    return path


__all__ = ["router", "templates"]
