"""Issue 18: the report's price chart is readable on a phone, says the span it really shows, draws
nothing into hours that have not happened, shows the drop as a step and carries the ¥ unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from matplotlib.dates import num2date

from jingshao.reports.charts import phone_px, price_chart, price_figure
from jingshao.reports.data import PricePoint

NOW = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # 14:30 Beijing time


def test_a_first_day_chart_spans_the_hours_it_has_and_stops_now():
    from zoneinfo import ZoneInfo

    points = [
        PricePoint(NOW - timedelta(hours=3), Decimal("129.90")),
        PricePoint(NOW - timedelta(hours=1), Decimal("99.90")),
    ]
    fig = price_figure(points, days=30, start=NOW - timedelta(days=30), end=NOW, tz=ZoneInfo("Asia/Shanghai"))
    ax = fig.axes[0]
    title = ax.get_title(loc="left")
    assert "30天" not in title and "30 days" not in title and "11:30 – 12-01 14:30" in title, title
    line = ax.get_lines()[0]
    xs = [x if isinstance(x, datetime) else num2date(x) for x in line.get_xdata()]
    assert max(xs) <= NOW  # nothing drawn after now
    ys = list(line.get_ydata())
    assert ys[0] == 129.90 and ys[-1] == 99.90 and line.get_drawstyle().startswith("steps")
    lo, hi = ax.get_ylim()
    assert lo < 99.90 < 129.90 < hi  # both levels inside the axes: the drop is visible
    assert num2date(ax.get_xlim()[0]) < xs[0]  # a margin: the first step is not on the axis
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(t.startswith("¥") for t in labels), labels
    sizes = [t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()] + [ax.title.get_fontsize()]
    assert min(phone_px(s) for s in sizes) >= 11


def test_the_png_is_phone_sized():
    from io import BytesIO

    from PIL import Image

    png = price_chart(
        [PricePoint(NOW - timedelta(days=2), Decimal("10"))], days=30, start=NOW - timedelta(days=30), end=NOW
    )
    assert Image.open(BytesIO(png)).size == (900, 360)


def test_list_and_final_prices_get_their_own_lines_where_known():
    """Issue 18: the 划线价 (list price) and, when known, the 到手价 (after coupons) beside the price."""
    from jingshao.reports.charts import cjk_font

    points = [
        PricePoint(NOW - timedelta(days=5), Decimal("4799"), Decimal("4999"), None),
        PricePoint(NOW - timedelta(days=2), Decimal("4299"), Decimal("4999"), Decimal("4249")),
    ]
    fig = price_figure(points, days=30, start=NOW - timedelta(days=30), end=NOW)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    names = ("现价", "划线价", "到手价") if cjk_font() else ("price", "list", "final")
    assert set(names) <= set(lines), list(lines)
    listed = list(lines[names[1]].get_ydata())
    final = list(lines[names[2]].get_ydata())
    assert listed[0] == listed[-1] == 4999.0
    assert final[0] != final[0] and final[-1] == 4249.0  # unknown at first (a gap), then known
    lo, hi = ax.get_ylim()
    assert lo < 4249 < 4999 < hi  # every line inside the axes
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(names)
    assert min(phone_px(t.get_fontsize()) for t in legend.get_texts()) >= 11
    fig.canvas.draw()  # the legend row sits above the title: no overlap
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y0 >= ax.title.get_window_extent(renderer).y1 - 1
    plain = price_figure([PricePoint(p.at, p.price) for p in points], days=30, start=NOW - timedelta(days=30), end=NOW)
    assert not plain.legends and len(plain.axes[0].get_lines()) == 2  # the price and its end marker only


def test_the_report_trend_carries_list_and_final_prices(tmp_path):
    from jingshao.reports import build_report
    from jingshao.storage.db import open_database
    from jingshao.storage.models import Observation

    from .test_report import DAY, TZ, seed

    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seed(db)
    with db.session() as s:
        for o in s.query(Observation).filter(Observation.price == Decimal("1299.00")):
            o.original_price, o.final_price = Decimal("1599.00"), Decimal("1199.00")
    built = build_report(db, TZ, DAY, None, tmp_path / "out", now=datetime(2026, 11, 25, 1, tzinfo=UTC))
    trend = next(c.trend for c in built.data.price_changes if c.new == Decimal("1299.00"))
    assert trend[0].list_price is None and trend[-1].list_price == Decimal("1599.00")
    assert trend[-1].final_price == Decimal("1199.00")


def test_date_ticks_are_numbers_not_english_month_names():
    """A 90-day chart crosses month starts; matplotlib would label them Oct, Nov, Dec."""
    import re

    points = [PricePoint(NOW - timedelta(days=d), Decimal(100 + d)) for d in range(90, 0, -10)]
    fig = price_figure(points, days=90, start=NOW - timedelta(days=90), end=NOW)
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(ticks) >= 3, ticks
    assert not any(re.search(r"[A-Za-z]", t) for t in ticks), ticks
    assert any(re.fullmatch(r"\d{2}-\d{2}|\d{4}-\d{2}|\d{4}", t) for t in ticks), ticks
