"""ReportData -> the e-mail's HTML (CSS inlined, charts by `cid:`), its plain-text twin, and a
stand-alone HTML file (charts as `data:` URIs) that opens in any browser.

Both templates get the same context and the same list caps, so the text part says what the HTML
says. Every string that came from a crawled page goes through Jinja's autoescape in the HTML and
through `cut` (whitespace folded, length capped) in both; links to crawled URLs pass `href`, which
lets only http(s) through, so a `javascript:` URL in a page never becomes a clickable link.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from jingshao.core.formatting import clock, money, percent, stock_label, yuan
from jingshao.core.levels import LEVEL_COLOURS

from . import charts
from .data import ReportData

log = logging.getLogger(__name__)

KIND_NAMES = {"opened": "新开", "escalated": "升级", "resolved": "恢复"}
STATUS_NAMES = {"failed": "失败", "interrupted": "中断", "running": "运行中", "finished": "完成"}


@dataclass(frozen=True)
class InlineImage:
    cid: str  # Content-ID without angle brackets; the HTML says src="cid:<this>"
    filename: str
    data: bytes
    subtype: str = "png"


@dataclass(frozen=True)
class RenderedReport:
    subject: str
    html: str  # the e-mail body: CSS inlined, images as cid:
    text: str
    images: list[InlineImage] = field(default_factory=list)

    def standalone_html(self) -> str:
        """The HTML with each cid: image replaced by a data: URI, for saving to disk."""
        html = self.html
        for img in self.images:
            uri = f"data:image/{img.subtype};base64,{base64.b64encode(img.data).decode('ascii')}"
            html = html.replace(f'src="cid:{img.cid}"', f'src="{uri}"')
        return html


# ---------------------------------------------------------------- filters


def cut(value: Any, n: int = 60) -> str:
    """One line (whitespace and control characters folded), at most n characters."""
    if value is None:
        return ""
    s = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def href(url: str | None) -> str:
    """The URL if it is http(s), else '#': crawled links must never run script or open local files."""
    if not url:
        return "#"
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return "#"
    return url.strip() if scheme in ("http", "https") else "#"


def host(url: str | None) -> str:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return ""
    return cut(f"{parts.hostname or ''}{parts.path}", 40)


def pct(v: float | None) -> str:
    return percent(v, signed=True)


def share(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"


def score(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def band(lo: Decimal | None, hi: Decimal | None) -> str:
    if lo is None or hi is None:
        return "—"
    return yuan(lo) if lo == hi else f"{yuan(lo)}–{yuan(hi)}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("jingshao.reports", "templates"),
        autoescape=lambda name: name is not None and name.endswith(".html"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        cut=cut, href=href, host=host, pct=pct, share=share, score=score, money=money, yuan=yuan, stock=stock_label
    )
    env.globals.update(band=band, level_names=LEVEL_COLOURS, kind_names=KIND_NAMES, status_names=STATUS_NAMES)
    return env


# ---------------------------------------------------------------- context


def period_label(data: ReportData) -> str:
    if data.is_single_day:
        return data.date_from.isoformat()
    return f"{data.date_from.isoformat()} 至 {data.date_to.isoformat()}"


def subject_for(data: ReportData) -> str:
    """'【竞哨】竞品日报 2026-11-24' (the prefix keeps the report findable by a mail filter)."""
    return f"{data.settings.subject_prefix}{data.settings.title} {period_label(data)}"


def _tiles(data: ReportData) -> list[dict[str, Any]]:
    h = data.headline
    return [
        {"label": "竞品价格变动", "value": h.price_changes, "note": f"降价 {h.price_drops} · 涨价 {h.price_rises}"},
        {"label": "促销变化", "value": h.promo_changes, "note": f"广告法违禁词 {h.adlaw_findings} 处"},
        {"label": "库存变化", "value": h.stock_changes, "note": f"当前缺货 {h.out_of_stock} 个"},
        {"label": "新增评价", "value": h.new_reviews, "note": f"好评率 {share(h.new_reviews_positive_share)}"},
        {"label": "品牌声量", "value": h.mentions, "note": f"负面 {h.mentions_negative} 条"},
        {"label": "新开告警", "value": h.alerts_opened, "note": f"进行中 {h.alerts_firing} 条"},
        {"label": "数据源异常", "value": h.failing_sources, "note": f"通道故障 {h.broken_channels} 个"},
        {"label": "监控商品", "value": h.products, "note": f"{h.competitors} 家竞品"},
    ]


def _points(data: ReportData) -> list[str]:
    """The few sentences a reader should take away; every one is backed by a section below."""
    out = []
    for a in data.alerts.items:
        if a.kind in ("opened", "escalated") and a.level == "red":
            out.append(f"红色告警：{cut(a.subject, 30)}——{cut(a.summary, 50)}")
    for c in data.price_changes[:2]:
        verb = "降价" if c.is_drop else "涨价"
        out.append(
            f"{cut(c.product.competitor, 16)}「{cut(c.product.name, 24)}」{verb} {abs(c.pct):.1f}%："
            f"{money(c.old)} → {money(c.new)}"
        )
    out_now = [c for c in data.stock_changes if c.now_out]
    if out_now:
        out.append(f"{len(out_now)} 个竞品商品断货，如「{cut(out_now[0].product.name, 24)}」")
    for b in data.brands:
        if b.neg and b.total:
            out.append(f"{cut(b.brand, 16)} 本期负面声量 {b.neg} 条，占 {b.neg / b.total:.0%}")
    worst = [s for s in data.sentiment if s.reviews >= 10 and s.negative_share is not None and s.cons]
    if worst:
        s = max(worst, key=lambda s: (s.negative_share or 0, s.reviews))
        out.append(f"「{cut(s.product.name, 24)}」差评率 {share(s.negative_share)}，买家主要抱怨 {s.cons[0].label}")
    h = data.headline
    if h.failing_sources or h.broken_channels:
        out.append(f"{h.failing_sources} 个数据源抓取失败、{h.broken_channels} 个通知通道故障，详见文末")
    return out[:6]


def _charts(data: ReportData, tz: tzinfo) -> tuple[list[InlineImage], dict[tuple[str, int], str], list[Any]]:
    tag = data.date_to.strftime("%Y%m%d")
    images: list[InlineImage] = []
    cids: dict[tuple[str, int], str] = {}
    charted = [c for c in data.price_changes[: data.settings.max_charts] if c.trend]
    trend_start = data.day_end - timedelta(days=data.settings.price_trend_days)
    for c in charted:
        cid = f"price-{c.product.id}.{tag}@jingshao"
        # A report of today so far ends now: no line drawn into hours that have not happened.
        png = charts.price_chart(
            c.trend,
            days=data.settings.price_trend_days,
            start=trend_start,
            end=min(data.day_end, data.generated_at),
            tz=tz,
        )
        images.append(InlineImage(cid, f"price-{c.product.id}.png", png))
        cids["price", c.product.id] = cid
    for i, b in enumerate(data.brands):
        cid = f"brand-{i}.{tag}@jingshao"
        images.append(InlineImage(cid, f"brand-{i}.png", charts.mention_chart(b)))
        cids["brand", i] = cid
    return images, cids, charted


def _row_caps(max_rows: int) -> list[int]:
    """The list lengths to try, longest first, until the HTML fits the budget."""
    caps = [max_rows, max_rows * 2 // 3, max_rows // 2, 5, 3, 1]
    return sorted({c for c in caps if 1 <= c <= max_rows}, reverse=True)


def render_report(data: ReportData) -> RenderedReport:
    """Render both parts; if the HTML is over `settings.max_html_kb`, lists get shorter (the report
    says how many rows each one left out) rather than the mail being clipped by the reader's client."""
    import css_inline

    tz = data.day_start.tzinfo
    assert tz is not None
    images, cids, charted = _charts(data, tz)
    env = environment().overlay()
    env.filters["when"] = lambda dt: "" if dt is None else clock(dt, tz)
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, minify_css=True)
    budget = data.settings.max_html_kb * 1024
    html = text = ""
    for row_cap in _row_caps(data.settings.max_rows):

        def cap(items: Any, n: int = row_cap) -> tuple[list[Any], int]:
            items = list(items)
            return items[:n], max(0, len(items) - n)

        ctx = {
            "data": data,
            "h": data.headline,
            "settings": data.settings,
            "subject": subject_for(data),
            "period": period_label(data),
            "tiles": _tiles(data),
            "points": _points(data),
            "cap": cap,
            "row_cap": row_cap,
            "shortened": row_cap < data.settings.max_rows,
            "charted": charted,
            "hidden_competitors": max(0, data.headline.competitors - len(data.teardowns)),
            "cid": lambda kind, key: cids[kind, key],
        }
        html = inliner.inline(env.get_template("report.html").render(ctx))
        text = env.get_template("report.txt").render(ctx)
        if len(html.encode("utf-8")) <= budget:
            break
        log.info(
            "report HTML over %d KB with %d rows per list: shortening the lists", data.settings.max_html_kb, row_cap
        )
    return RenderedReport(subject_for(data), html, text, images)
