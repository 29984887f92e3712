"""The mentions spider over the demo's sources: brand matching with exclusions, dedup by URL and
by content, scoring, pagination, and `jingshao ingest mentions`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from jingshao.crawlers.mentionparse import content_key
from jingshao.demo.mentions_data import DEMO_BRAND, expected_mentions, normalise_content
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Mention

from .conftest import run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def demo_cfg(shop, tmp_path, *, browser: bool = False):
    # The demo config backfills the demo's 7 days of history in one crawl (max_pages = 100).
    return write_demo_config(shop.base_url, tmp_path, with_browser=browser, products=[])


def stored(db) -> list[Mention]:
    with db.session() as s:
        return list(s.scalars(select(Mention)))


def test_mentions_match_the_brand_dedup_and_score(shop, tmp_path):
    cfg = demo_cfg(shop, tmp_path)
    run_cli("crawl", "mentions", "--config", str(cfg))
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    rows = stored(db)
    names = [*DEMO_BRAND["keywords"], *DEMO_BRAND["aliases"]]  # the spider searches aliases too
    truth = [
        m
        for m in expected_mentions(
            0, shop.now(), base_url=shop.base_url, timeline=shop.crisis_timeline(), keywords=names
        )
        if m.source != "热搜榜"
    ]
    about = [m for m in truth if m.is_about_brand]
    # One row per distinct content (reposts and the same URL in two sources collapse).
    distinct = {normalise_content(m.text) for m in about}
    assert len(rows) == len(distinct)
    assert all(r.brand == DEMO_BRAND["name"] for r in rows)
    fruit_urls = {m.url for m in truth if not m.is_about_brand}
    assert not fruit_urls & {r.url for r in rows}, "exclusion words must drop the fruit posts"
    assert all(r.sentiment is not None and r.label in ("pos", "neu", "neg") for r in rows)
    assert {r.authority for r in rows} >= {1, 2}

    before = len(rows)
    run_cli("crawl", "mentions", "--config", str(cfg))
    assert len(stored(db)) == before  # a re-crawl adds nothing

    shop.crisis_phase(3)
    run_cli("crawl", "mentions", "--config", str(cfg))
    crisis = stored(db)
    assert len(crisis) > before + 30
    with db.session() as s:
        auth3 = s.scalar(select(func.count()).select_from(Mention).where(Mention.authority == 3))
    assert auth3 >= 1


def test_ingest_mentions_jsonl(shop, tmp_path):
    cfg = demo_cfg(shop, tmp_path)
    lines = [
        {
            "url": "https://bbs.example.com/t/1",
            "text": "蜜橙充电宝用了两天就鼓包了，已经投诉",
            "authority": 1,
            "posted_at": "2026-11-25 10:00",
        },
        {"url": "https://bbs.example.com/t/1?utm_source=x", "text": "重复的URL"},
        {"url": "https://weibo.example.com/2", "text": "转发: 蜜橙充电宝用了两天就鼓包了，已经投诉"},
        {"url": "https://fruit.example.com/3", "text": "蜜橙真甜，十斤装好吃"},
        "not json",
        {"url": "https://x.example.com/4", "text": "蜜橙", "authority": 5},
        {"url": "https://x.example.com/5", "text": "蜜橙新品发布", "brand": "别的品牌"},
        {"url": "https://x.example.com/6", "text": "蜜橙新品", "posted_at": "99999999999999999999"},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8"
    )
    proc = run_cli("ingest", "mentions", str(path), "--config", str(cfg), check=False)
    assert proc.returncode == 1
    assert f"{path}:5: skipped: not valid JSON" in proc.stderr
    assert f"{path}:6: skipped: 'authority' must be 1, 2 or 3" in proc.stderr
    assert f"{path}:7: skipped: unknown brand '别的品牌'" in proc.stderr
    # An unreadable time is no reason to drop a mention: kept, flagged, without a time.
    assert f"{path}:8: unreadable posted_at '99999999999999999999': kept without a time" in proc.stderr
    assert "1 with an unreadable posted_at" in proc.stdout
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    rows = sorted(stored(db), key=lambda r: r.url)
    # URL dup, repost and fruit dropped
    assert [r.url for r in rows] == ["https://bbs.example.com/t/1", "https://x.example.com/6"]
    assert (rows[1].posted_at, rows[1].time_raw) == (None, "99999999999999999999")
    assert rows[0].label == "neg"
    assert content_key(None, "转发: 蜜橙充电宝用了两天就鼓包了，已经投诉") == rows[0].content_key
