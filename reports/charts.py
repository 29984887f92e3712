"""Small PNG charts for the report: price trend steps and brand mention volume.

Matplotlib with the Agg canvas and `Figure` objects (no pyplot: no global figure state, safe in a
scheduler thread). Charts are 900x360 pixels shown at most 600 CSS pixels wide, and about 360 on a
phone: text is sized for the phone (TEXT_PT is about 12 px there, >= 11) and the chart carries little of
it; the product or brand name is in the HTML beside each chart.

Chinese needs a CJK font, which most servers lack. `cjk_font()` looks for one by family name among
the fonts matplotlib knows, then by file name in the system font folders (a font installed after
matplotlib built its cache is found that way). Without one, charts use ASCII labels only, and that
is logged once, so a missing font costs readability of two words, never tofu boxes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path

from .data import BrandMentions, PricePoint

log = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 4.0, 1.6, 225
#: Tick, label and title size in points: 9.5 pt at 225 dpi is 29.7 image px, 11.9 px on a 360 px wide chart.
TEXT_PT = 9.5
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Hiragino Sans GB",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
)
CJK_FILE_HINTS = (
    "notosanscjk",
    "notoserifcjk",
    "sourcehansans",
    "wqy-microhei",
    "wqy-zenhei",
    "simhei",
    "msyh",
    "droidsansfallback",
    "sarasa",
    "uming",
    "ukai",
)

COLORS = {
    "down": "#0a8a3a",
    "up": "#c62828",
    "line": "#1f5fbf",
    "pos": "#2e7d32",
    "neutral": "#b0b7c3",
    "neg": "#c62828",
    "grid": "#e6e8eb",
    "list": "#8f959e",
    "final": "#e07b00",
    "text": "#555b66",
}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed CJK font that matplotlib can use, or None (logged once)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in font_manager.findSystemFonts():
        if any(h in Path(path).name.lower().replace(" ", "") for h in CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except Exception:  # an unreadable font file: keep looking
                continue
    log.warning("no CJK font found (install fonts-noto-cjk or fonts-wqy-microhei): report charts use English labels")
    return None


def _labels(cjk: bool) -> dict[str, str]:
    if cjk:
        return {
            "pos": "正面",
            "neutral": "中性",
            "neg": "负面",
            "price": "价格 {span}",
            "volume": "每日声量",
            "now": "现价",
            "list": "划线价",
            "final": "到手价",
        }
    return {
        "pos": "pos",
        "neutral": "neutral",
        "neg": "neg",
        "price": "price {span}",
        "volume": "mentions/day",
        "now": "price",
        "list": "list",
        "final": "final",
    }


#: Height added above the title for the legend row when a price chart has 划线价 / 到手价 lines.
LEGEND_IN = 0.25


def _figure(font: str | None, extra_top: float = 0.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = HEIGHT_IN + extra_top
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(fig)
    # the same margins in inches whatever the height: ticks below, the title row (and legend row) above
    ax = fig.add_axes((0.17, 0.2 * HEIGHT_IN / height, 0.78, 0.64 * HEIGHT_IN / height))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(COLORS["grid"])
    ax.tick_params(colors=COLORS["text"], labelsize=TEXT_PT, length=2)
    ax.grid(axis="y", color=COLORS["grid"], linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _font_kw(font: str | None) -> dict[str, object]:
    return {"fontfamily": font} if font else {}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return _shrink(buf.getvalue())


def _shrink(png: bytes) -> bytes:
    """Quantise to a 64-colour palette: a flat chart loses nothing visible and the PNG shrinks ~3x."""
    try:
        from PIL import Image
    except ImportError:  # pillow comes with matplotlib; keep the RGBA PNG if it is missing
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def price_chart(
    points: Sequence[PricePoint], *, days: int, start: datetime, end: datetime, tz: tzinfo | None = None
) -> bytes:
    """A step line of one product's price over the trend window (dates in `tz`), the last move coloured
    by direction; `end` is where the line stops (the report's end, or now for today so far)."""
    return _png(price_figure(points, days=days, start=start, end=end, tz=tz))


def phone_px(points: float) -> float:
    """Text of `points` as rendered on a phone, where a chart is about 360 CSS px wide."""
    return points * DPI / 72 * 360 / (WIDTH_IN * DPI)


def price_figure(points: Sequence[PricePoint], *, days: int, start: datetime, end: datetime, tz: tzinfo | None = None):
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    font = cjk_font()
    labels = _labels(font is not None)
    has_extra = any(p.list_price is not None or p.final_price is not None for p in points)
    fig, ax = _figure(font, LEGEND_IN if has_extra else 0.0)
    xs = [p.at for p in points]
    ys = [float(p.price) for p in points]
    if xs and xs[-1] < end:
        xs.append(min(end, max(xs[-1], end - timedelta(seconds=1))))
        ys.append(ys[-1])
    ax.step(xs, ys, where="post", color=COLORS["line"], linewidth=1.4, label=labels["now"])
    # 划线价 (list price) and 到手价 (price after coupons) as their own steps where the pages gave them.
    extra: list[float] = []
    for key, attr, style in (("list", "list_price", (0, (4, 2))), ("final", "final_price", (0, (1, 1.5)))):
        vals = [getattr(p, attr) for p in points]
        if all(v is None for v in vals):
            continue
        line = [float("nan") if v is None else float(v) for v in vals]
        line += [line[-1]] * (len(xs) - len(line))  # the tail to `end` carries the last value
        ax.step(xs, line, where="post", color=COLORS[key], linewidth=1.1, linestyle=style, label=labels[key])
        extra += [v for v in line if v == v]
    if len(set(ys)) > 1:
        colour = COLORS["down"] if ys[-1] < ys[0] else COLORS["up"]
        ax.plot([xs[-1]], [ys[-1]], marker="o", markersize=3.5, color=colour)
        ax.annotate(
            f"¥{ys[-1]:,.2f}",
            (xs[-1], ys[-1]),
            xytext=(-4, 5),
            textcoords="offset points",
            ha="right",
            fontsize=TEXT_PT,
            color=colour,
        )
    lo, hi = min(ys + extra, default=0), max(ys + extra, default=1)
    pad = (hi - lo) * 0.15 or max(hi * 0.05, 1)
    ax.set_ylim(lo - pad, hi + pad)
    # From the window start, or from the first price known when the product is newer than the window;
    # a small margin before the first point so a step at the start is not hidden on the axis.
    left = max(start, end - timedelta(days=days), xs[0] if xs else start)
    ax.set_xlim(left - (end - left) * 0.03, end + (end - left) * 0.03)  # margins: no line is drawn there
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"¥{v:,.0f}"))
    locator = AutoDateLocator(minticks=3, maxticks=7, tz=tz or end.tzinfo)
    ax.xaxis.set_major_locator(locator)
    # Date ticks in numbers (03-05 for days, 2026-03 for month starts): matplotlib's default names months
    # in English (Mar), which reads oddly in a Chinese report; numbers need no CJK glyph on the tick labels.
    month = "%Y-%m"
    ax.xaxis.set_major_formatter(
        ConciseDateFormatter(
            locator,
            tz=tz or end.tzinfo,
            show_offset=False,
            formats=["%Y", month, "%m-%d", "%H:%M", "%H:%M", "%S.%f"],
            zero_formats=["", "%Y", month, "%m-%d", "%H:%M", "%H:%M"],
        )
    )
    # The span actually drawn (a new product has hours, not 30 days), in the report's time zone.
    zone = tz or end.tzinfo
    fmt = "%m-%d %H:%M" if end - left < timedelta(days=2) else "%m-%d"
    span = f"{left.astimezone(zone).strftime(fmt)} – {end.astimezone(zone).strftime(fmt)}"
    ax.set_title(
        labels["price"].format(span=span), loc="left", fontsize=TEXT_PT, color=COLORS["text"], **_font_kw(font)
    )
    if extra:
        fig.legend(
            loc="upper right",
            bbox_to_anchor=(0.95, 1.0),
            ncol=3,
            frameon=False,
            fontsize=TEXT_PT,
            handlelength=1.4,
            columnspacing=0.8,
            borderaxespad=0.1,
            labelcolor=COLORS["text"],
            prop={"family": font, "size": TEXT_PT} if font else None,
        )
    return fig


def mention_chart(brand: BrandMentions) -> bytes:
    """Stacked daily bars (negative, neutral, positive) with the day's mean sentiment as a line."""
    font = cjk_font()
    labels = _labels(font is not None)
    fig, ax = _figure(font)
    xs = list(range(len(brand.days)))
    neg = [d.neg for d in brand.days]
    neu = [d.neutral for d in brand.days]
    pos = [d.pos for d in brand.days]
    other = [d.total - d.neg - d.neutral - d.pos for d in brand.days]  # unscored mentions
    bottom = [0] * len(xs)
    for key, values in (("neg", neg), ("neutral", [a + b for a, b in zip(neu, other, strict=True)]), ("pos", pos)):
        ax.bar(xs, values, bottom=bottom, color=COLORS[key], width=0.7, label=labels[key])
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_xticks(
        xs[::2] if len(xs) > 8 else xs, [d.day.strftime("%m-%d") for d in brand.days][:: 2 if len(xs) > 8 else 1]
    )
    ax.set_ylim(0, max(max(bottom, default=0) * 1.15, 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    twin = ax.twinx()
    means = [(x, d.mean) for x, d in zip(xs, brand.days, strict=True) if d.mean is not None]
    if means:
        twin.plot(
            [x for x, _ in means],
            [m for _, m in means],
            color=COLORS["line"],
            linewidth=1.2,
            marker="o",
            markersize=2.5,
        )
    twin.set_ylim(0, 1)
    twin.set_yticks([0, 0.5, 1], ["0", ".5", "1"])
    twin.tick_params(colors=COLORS["text"], labelsize=TEXT_PT, length=2)
    for side in ("top", "left", "bottom"):
        twin.spines[side].set_visible(False)
    twin.spines["right"].set_color(COLORS["grid"])
    ax.legend(
        loc="upper left",
        fontsize=TEXT_PT,
        frameon=False,
        ncols=3,
        prop={"family": font, "size": TEXT_PT} if font else None,
    )
    ax.set_title(labels["volume"], loc="right", fontsize=TEXT_PT, color=COLORS["text"], **_font_kw(font))
    return _png(fig)
