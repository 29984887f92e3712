"""The shared vocabulary in jingshao.core: one money / percent / time formatter, levels, identities,
the Tag row codec, and alert times that follow Config.timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jingshao.alerts.channels import DingTalkChannel, Notification
from jingshao.alerts.rules.competitor import ProductRef
from jingshao.config import parse_config
from jingshao.core.formatting import (
    clock,
    display_zone,
    money,
    percent,
    price_change,
    shop_price,
    stock_label,
    timestamp,
    yuan,
    zone_label,
)
from jingshao.core.identities import brand_key, product_key
from jingshao.core.levels import DEFAULT_PREFIX, LEVEL_NAMES, LEVELS, higher
from jingshao.core.tags import Tag, tag_from_row, tag_to_row
from jingshao.nlp import extract_tags

NOON_UTC = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing, 06:00 in Berlin (CEST)


def test_money_spellings_share_one_rounding() -> None:
    assert money(Decimal("4799")) == "4,799.00"
    assert yuan(Decimal("4799")) == "¥4,799.00"
    assert shop_price(Decimal("4799")) == "¥4799.00"
    assert money(None) == yuan(None) == "—"
    # half up everywhere (a table and an alert never disagree about the same price)
    assert money(Decimal("0.005")) == "0.01"
    assert shop_price(Decimal("1.005")) == "¥1.01"
    assert price_change(Decimal("4799"), Decimal("4299")) == "4,799.00 → 4,299.00 (-10.4%)"
    assert price_change(Decimal("10"), Decimal("10")) == "10.00 → 10.00"


def test_percent_and_stock_words() -> None:
    assert percent(12.5) == "12.5%"
    assert percent(Decimal("12.25")) == "12.3%"
    assert percent(3, signed=True) == "+3.0%"
    assert percent(-0.04, signed=True) == "+0.0%"  # never "-0.0%"
    assert percent(None) == "—"
    assert [stock_label(a) for a in ("InStock", "OutOfStock", "PreOrder", None)] == ["有货", "缺货", "预售", "未知"]


def test_times_follow_the_display_zone() -> None:
    assert clock(NOON_UTC) == "05-01 12:00" and zone_label() == "北京时间"
    with display_zone("Europe/Berlin"):
        assert clock(NOON_UTC) == "05-01 06:00"
        assert timestamp(NOON_UTC) == "2024-05-01 06:00"
        assert zone_label() == "Europe/Berlin"
    assert timestamp(NOON_UTC) == "2024-05-01 12:00"  # the block ended


def test_a_channel_footer_uses_the_configured_zone() -> None:
    cfg = parse_config({"timezone": "America/New_York"})
    n = Notification(level="red", kind="firing", title="蜜橙", fingerprint="fp0123456789", created_at=NOON_UTC)
    channel = DingTalkChannel("d", "https://x.example/robot/send?access_token=t")
    assert channel.render(n)["markdown"]["text"].endswith("2024-05-01 12:00（北京时间）")
    with display_zone(cfg.tz):
        assert channel.render(n)["markdown"]["text"].endswith("2024-05-01 00:00（America/New＿York）")  # _ escaped


def test_levels_prefix_and_identities() -> None:
    assert LEVELS == ("blue", "yellow", "red") and higher("red", "yellow") and not higher("blue", "blue")
    assert LEVEL_NAMES["red"] == "红色预警" and DEFAULT_PREFIX == "【竞哨】"
    assert brand_key("蜜橙") == "brand:蜜橙" == parse_config({"brands": [{"name": "蜜橙"}]}).brands[0].subject_key
    assert product_key(12) == "product:12" == ProductRef(12, "iPhone", "优品").key


def test_tag_rows_round_trip() -> None:
    tags = extract_tags("物流很快，但是尺码偏小", "apparel")
    assert tags, "the tagger found nothing to round-trip"
    rows = [tag_to_row(t) for t in tags]
    assert all(set(r) == {"aspect", "aspect_text", "opinion", "polarity", "opinion_norm"} for r in rows)
    back = [tag_from_row(r) for r in rows]
    assert back == tags and [b.opinion_norm for b in back] == [t.opinion_norm for t in tags]
    # rows stored before aspect_text / opinion_norm existed still read
    assert tag_from_row({"aspect": "物流", "opinion": "快", "polarity": "pos"}) == Tag("物流", "物流", "快", "pos")
    # the same object Tag(...) builds (tag_from_row fills the fields directly): every field, hash, repr
    for row, built in (
        (rows[0], Tag(**rows[0])),  # type: ignore[arg-type]
        ({"aspect": "物流", "opinion": "快", "polarity": "pos"}, Tag("物流", "物流", "快", "pos")),
    ):
        read = tag_from_row(row)
        assert read.__dict__ == built.__dict__ and hash(read) == hash(built) and repr(read) == repr(built)
        with pytest.raises(AttributeError):  # still frozen
            read.aspect = "质量"  # type: ignore[misc]


def test_brand_crisis_overrides_are_still_checked() -> None:
    with pytest.raises(Exception, match="brand '蜜橙' crisis: unknown key"):
        parse_config({"brands": [{"name": "蜜橙", "crisis": {"no_such_threshold": 1}}]})
