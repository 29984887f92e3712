"""Issue 14: the user mind map (用户心智图谱) per competitor in the daily report and from `jingshao tags
--json / --csv`: aspects with counts, positive / negative share, top opinions, an example review and the
change against last week. Real SQLite, real report build, the real CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from typer.testing import CliRunner

from jingshao.nlp import extract_tags
from jingshao.nlp.mindmap import MindMapReview, build_mind_map
from jingshao.reports import build_report
from jingshao.storage.db import open_database
from jingshao.storage.models import Product, Review

from .test_report import DAY, TZ, at, seed

NOW = datetime(2026, 11, 25, 1, tzinfo=UTC)


def _add_battery_reviews(db) -> None:
    """优品数码旗舰店's earbuds: last week 续航 was praised twice; this week it is panned three times."""
    with db.session() as s:
        pid = s.query(Product).filter_by(name="华为 FreeBuds Pro 3").one().id
        rows = [(-24 * 9, "续航很给力"), (-24 * 10, "电池续航很好")] + [
            (-24 * 1 - i, t) for i, t in enumerate(["续航太差了", "续航很差，发热严重", "电池不耐用，续航太差"])
        ]
        for k, (hours, text) in enumerate(rows):
            tags = [t.to_dict() | {"opinion_norm": t.opinion_norm} for t in extract_tags(text, None)]
            s.add(Review(product_id=pid, fingerprint=f"mm{k}", text=text, posted_at=at(hours), tags=tags))


def test_the_mind_map_counts_aspects_shares_opinions_examples_and_the_week() -> None:
    week_ago = datetime(2026, 11, 15, tzinfo=UTC)
    reviews = [
        MindMapReview("物流很快，续航很给力", extract_tags("物流很快，续航很给力", None), week_ago),
        MindMapReview("续航太差了", extract_tags("续航太差了", None), NOW),
        MindMapReview("续航很差，发热严重", extract_tags("续航很差，发热严重", None), NOW),
        MindMapReview("快递太慢了", extract_tags("快递太慢了", None), None),
    ]
    m = build_mind_map(reviews, competitor="A", now=NOW)
    nodes = {a.aspect: a for a in m.aspects}
    battery = nodes["电池"]  # 续航 is written; the lexicon groups it with 电池, 待机, 充电
    assert m.reviews == 4 and m.tagged == 4 and m.aspects[0].aspect == "电池"
    assert battery.reviews == 3 and round(battery.negative, 2) == 0.67 and battery.top_negative
    assert battery.top_negative[0] == ("续航差", 2)  # 太差 and 很差 are one opinion, shown with what it is about
    assert battery.example_negative == "续航太差了" and battery.example_positive == "物流很快，续航很给力"
    assert battery.week is not None and (battery.week.this_week, battery.week.last_week) == (2, 1)
    assert battery.week.negative_this_week == 1.0 and battery.week.negative_last_week == 0.0
    assert nodes["物流"].reviews == 2 and nodes["物流"].week.this_week == 0  # an undated review: not in a week
    d = json.loads(json.dumps(m.to_dict(), ensure_ascii=False))
    assert d["aspects"][0]["week"]["this_week"] == 2 and d["now"].startswith("2026-11-25")


@pytest.mark.slow
def test_the_report_shows_each_competitors_mind_map(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seed(db)
    _add_battery_reviews(db)
    built = build_report(db, TZ, DAY, None, tmp_path / "out", now=NOW)
    teardown = next(t for t in built.data.teardowns if t.name == "优品数码旗舰店")
    m = teardown.mind_map
    assert m is not None and m.reviews == 15  # the 10 seeded reviews and these 5, all in the window
    battery = next(a for a in m.aspects if a.aspect == "电池")
    assert battery.reviews == 5 and battery.week.this_week == 3 and battery.week.last_week == 2
    page = lxml.html.fromstring(built.html_path.read_text(encoding="utf-8"))
    section = page.get_element_by_id("teardown").text_content()
    assert "用户心智图谱" in section and "电池" in section and "续航" in section and "物流" in section
    assert "3 / 2" in section  # this week / last week
    assert "差评占比 上周 0% → 本周 100%" in section
    assert "样本仅 15 条" in section  # few reviews: the caveat
    assert "用户心智图谱" in built.text and "电池 提及 5" in built.text


def test_cli_tags_json_and_csv_give_the_mind_map(tmp_path: Path) -> None:
    from jingshao.cli import app

    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    seed(db)
    _add_battery_reviews(db)
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite:///r.db"\n\n[[competitors]]\nname = "优品数码旗舰店"\n\n'
        '  [[competitors.products]]\n  url = "https://shop.example.com/item/1.html"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    got = runner.invoke(app, ["tags", "--competitor", "优品数码旗舰店", "--json", "--config", str(cfg)])
    assert got.exit_code == 0, got.output
    maps = json.loads(got.stdout)
    whole = next(m for m in maps if m["product"] is None)
    assert whole["competitor"] == "优品数码旗舰店" and whole["reviews"] == 15
    battery = next(a for a in whole["aspects"] if a["aspect"] == "电池")
    assert battery["reviews"] == 5 and battery["week"]["this_week"] == 3 and battery["top_negative"]
    assert {"aspect", "reviews", "share", "positive", "negative", "top_positive", "examples"} <= set(battery)
    got = runner.invoke(app, ["tags", "--competitor", "优品数码旗舰店", "--csv", "--config", str(cfg)])
    assert got.exit_code == 0, got.output
    rows = list(csv.DictReader(io.StringIO(got.stdout)))
    row = next(r for r in rows if r["aspect"] == "电池" and r["product"] == "")
    assert row["reviews"] == "5" and row["this_week"] == "3" and row["last_week"] == "2" and "(" in row["top_negative"]


def test_week_figures_are_left_out_when_nothing_was_said_in_two_weeks() -> None:
    old = datetime(2026, 11, 1, tzinfo=UTC)
    m = build_mind_map([MindMapReview("物流很快", extract_tags("物流很快", None), old)], now=NOW)
    assert m.aspects[0].week is not None and m.aspects[0].week.this_week == 0 and not m.has_weeks
    recent = build_mind_map([MindMapReview("物流很快", extract_tags("物流很快", None), NOW)], now=NOW)
    assert recent.has_weeks
