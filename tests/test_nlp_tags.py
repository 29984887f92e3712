"""Preference tags: exact tags on crafted sentences (negation, degree, synonyms, problems), aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jingshao.nlp.tags import LexiconError, Tag, aggregate_tags, extract_tags


def tags(text: str, category: str = "general") -> list[tuple[str, str, str, str]]:
    """Tags naming an aspect; implicit overall opinions (整体 / 使用体验: 很满意) are tests/test_tags_open.py's."""
    return [
        (t.aspect, t.aspect_text, t.opinion, t.polarity)
        for t in extract_tags(text, category)
        if t.aspect not in ("整体", "使用体验")
    ]


@pytest.mark.parametrize(
    ("text", "category", "expected"),
    [
        ("物流很快，质量不错", "general", [("物流", "物流", "很快", "pos"), ("质量", "质量", "不错", "pos")]),
        ("快递一点都不快", "general", [("物流", "快递", "一点都不快", "neg")]),
        ("质量不太好", "general", [("质量", "质量", "不太好", "neg")]),
        ("物流超级快", "general", [("物流", "物流", "超级快", "pos")]),
        ("发货有点慢", "general", [("物流", "发货", "有点慢", "neg")]),
        ("做工不是很好", "general", [("质量", "做工", "不是很好", "neg")]),
        ("质量没问题", "general", [("质量", "质量", "没问题", "pos")]),
        ("很快的物流", "general", [("物流", "物流", "很快", "pos")]),
        ("物流和包装都很好", "general", [("物流", "物流", "很好", "pos"), ("包装", "包装", "很好", "pos")]),
        ("性价比很高，价格也便宜", "general", [("价格", "性价比", "很高", "pos"), ("价格", "价格", "便宜", "pos")]),
        ("价格太高了", "general", [("价格", "价格", "太高", "neg")]),
        ("客服态度很差，回复慢", "general", [("客服", "客服态度", "很差", "neg"), ("客服", "回复", "慢", "neg")]),
        ("快递员态度很差", "general", [("物流", "快递员态度", "很差", "neg")]),
        ("质量好但是价格贵", "general", [("质量", "质量", "好", "pos"), ("价格", "价格", "贵", "neg")]),
        ("價格便宜，質量好", "general", [("价格", "价格", "便宜", "pos"), ("质量", "质量", "好", "pos")]),
        ("尺码偏小，颜色没有色差", "apparel", [("尺码", "尺码", "偏小", "neg"), ("颜色", "色差", "没有色差", "pos")]),
        ("大小合适，面料也不错", "apparel", [("尺码", "大小", "合适", "pos"), ("面料", "面料", "不错", "pos")]),
        ("色差很大", "apparel", [("颜色", "色差", "色差很大", "neg")]),
        ("色差不大", "apparel", [("颜色", "色差", "色差不大", "pos")]),
        ("有点起球", "apparel", [("面料", "起球", "起球", "neg")]),
        ("衣服很好看，就是偏大了一码", "apparel", [("尺码", "偏大", "偏大", "neg")]),
        ("屏幕清晰，充电很快", "electronics", [("屏幕", "屏幕", "清晰", "pos"), ("电池", "充电", "很快", "pos")]),
        ("电池续航一般", "electronics", [("电池", "电池续航", "一般", "neg")]),
        ("味道不错，分量有点少", "food", [("味道", "味道", "不错", "pos"), ("分量", "分量", "有点少", "neg")]),
        ("味道有点刺鼻", "beauty", [("香味", "味道", "有点刺鼻", "neg")]),
        ("安装很麻烦", "home", [("安装", "安装", "很麻烦", "neg")]),
        ("噪音很小", "home", [("噪音", "噪音", "噪音很小", "pos")]),
        ("包装破损", "general", [("包装", "包装", "破损", "neg")]),
        ("很满意，好评", "general", []),
        ("", "general", []),
        ("👍👍", "general", []),
    ],
)
def test_exact_tags(text: str, category: str, expected: list[tuple[str, str, str, str]]) -> None:
    assert tags(text, category) == expected


def test_quick_is_not_an_opinion_about_quality() -> None:
    # 快 only has a polarity for 物流, 客服, 性能 ...: 质量 is named (a mention), no preference
    assert [t for t in tags("质量很快") if t[3] != "neu"] == []


def test_category_changes_aspect() -> None:
    assert tags("味道很好", "food")[0][0] == "味道"
    assert tags("味道很好", "beauty")[0][0] == "香味"
    assert tags("大小合适", "apparel")[0][0] == "尺码"
    assert tags("大小合适", "home")[0][0] == "尺寸"


def test_to_dict_shape() -> None:
    (tag,) = extract_tags("快递一点都不快")
    assert tag.to_dict() == {"aspect": "物流", "aspect_text": "快递", "opinion": "一点都不快", "polarity": "neg"}
    assert tag.opinion_norm == "不快"


def test_unknown_category() -> None:
    with pytest.raises(ValueError, match="unknown product category 'toys'"):
        extract_tags("很好", "toys")


def test_extra_lexicon(tmp_path: Path) -> None:
    extra = tmp_path / "mine.json"
    extra.write_text(
        json.dumps({"aspects": {"general": {"续杯": ["续杯"]}}, "aspect_opinions": {"续杯": {"pos": ["免费"]}}}),
        encoding="utf-8",
    )
    assert extract_tags("续杯免费", extra_lexicons=[extra]) == [Tag("续杯", "续杯", "免费", "pos")]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(LexiconError, match="bad.json: invalid JSON at line 1"):
        extract_tags("很好", extra_lexicons=[bad])


def test_aggregate_tags() -> None:
    reviews = [
        "物流很快，质量不错",
        "物流超级快，就是质量不太好",
        "快递一点都不快，质量不好",
        "物流挺快的",
        "包装一般",
    ]
    scores = [0.95, 0.6, 0.05, 0.9, 0.3]
    summaries = aggregate_tags((t, extract_tags(t), s) for t, s in zip(reviews, scores, strict=True))
    top = summaries[0]
    assert (top.aspect, top.polarity, top.opinion) == ("物流", "pos", "快")
    assert top.count == 3 and top.reviews == 3 and top.share == 0.6
    assert top.mean_sentiment == pytest.approx((0.95 + 0.6 + 0.9) / 3, abs=1e-4)
    assert top.examples == ("物流挺快的", "物流很快，质量不错")  # the two shortest quotes
    by_key = {(s.aspect, s.polarity, s.opinion): s for s in summaries}
    assert by_key[("质量", "neg", "不好")].reviews == 2  # 不太好 and 不好 group together
    assert by_key[("物流", "neg", "不快")].examples == ("快递一点都不快，质量不好",)
    assert by_key[("包装", "neg", "一般")].share == 0.2
    assert set(top.to_dict()) >= {"aspect", "polarity", "opinion", "count", "share", "mean_sentiment", "examples"}
    assert aggregate_tags([]) == []
