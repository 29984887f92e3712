"""Issue 18: report wording a manager can act on: the red alert first, 上次 -> 本次 for a change (not 原价,
which is the 划线价), and a footer that does not send the reader to a command line. Real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html

from jingshao.reports import build_report
from jingshao.storage.db import open_database
from jingshao.storage.models import Alert, AlertEvent

from .test_report import DAY, TZ, at, seed


def test_alerts_are_listed_red_first_then_by_time_and_the_wording_is_for_managers(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seed(db)
    with db.session() as s:
        for i, (level, hour) in enumerate([("blue", 8), ("yellow", 9), ("red", 15)]):
            alert = Alert(
                fingerprint=f"w{i}",
                family="stock_out",
                subject=f"对象{level}",
                subject_key=f"p:w{i}",
                summary=f"{level} 摘要",
                level=level,
                max_level=level,
                state="firing",
                rule="t",
                started_at=at(hour),
                level_since=at(hour),
                last_active_at=at(hour),
            )
            s.add(alert)
            s.flush()
            s.add(AlertEvent(alert_id=alert.id, kind="opened", level=level, at=at(hour)))
    built = build_report(db, TZ, DAY, None, tmp_path / "out", now=datetime(2026, 11, 25, 1, tzinfo=UTC))
    levels = [i.level for i in built.data.alerts.items]
    assert levels[0] == "red" and levels == sorted(levels, key=lambda lv: {"red": 0, "yellow": 1, "blue": 2}[lv])
    same = [i.at for i in built.data.alerts.items if i.level == "yellow"]
    assert same == sorted(same)
    page = lxml.html.fromstring(built.html_path.read_text(encoding="utf-8"))
    text = page.text_content()
    assert "上次 → 本次" in text and "原价 → 现价" not in text
    foot = page.find_class("foot")[0].text_content()
    assert "jingshao prices" not in foot and "jingshao tags" not in foot


def test_review_counts_say_what_they_count_and_small_samples_carry_a_caveat(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seed(db)
    built = build_report(db, TZ, DAY, None, tmp_path / "out", now=datetime(2026, 11, 25, 1, tzinfo=UTC))
    text = lxml.html.fromstring(built.html_path.read_text(encoding="utf-8")).text_content()
    small = [s for s in built.data.sentiment if s.reviews < 30]
    assert "（新增" not in text
    for s in built.data.sentiment:
        assert f"发布 {s.reviews} 条 · 本期新抓取 {s.new_reviews} 条" in text
    if small:
        assert f"样本仅 {small[0].reviews} 条，比例仅供参考" in text
