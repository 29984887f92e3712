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
