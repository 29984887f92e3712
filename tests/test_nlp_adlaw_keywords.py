"""Ad-law words (hits, positions, context, allowances) and selling points."""

from __future__ import annotations

import pytest

from jingshao.nlp.adlaw import AdlawHit, parse_adlaw_list, scan_adlaw
from jingshao.nlp.keywords import selling_points


def hits(text: str, **kw: object) -> list[tuple[str, str, int, int]]:
    return [(h.word, h.category, h.start, h.end) for h in scan_adlaw(text, **kw)]  # type: ignore[arg-type]


def test_hits_with_positions_and_context() -> None:
    text = "全网最低价！国家级品质，100%纯棉"
    assert hits(text) == [
        ("全网最低价", "absolute", 0, 5),
        ("国家级", "authority", 6, 9),
        ("100%", "guarantee", 12, 16),
    ]
    first = scan_adlaw(text)[0]
    assert text[first.start : first.end] == "全网最低价"
    assert first.context == "全网最低价！国家级品质，100"
    assert isinstance(first, AdlawHit) and first.to_dict()["word"] == "全网最低价"


def test_longest_word_wins_and_efficacy() -> None:
    assert hits("这是最好的面霜，根治痘痘") == [("最好", "absolute", 2, 4), ("根治", "efficacy", 8, 10)]


def test_full_width_and_traditional_keep_original_offsets() -> None:
    text = "ＮＯ．１ 銷量第一的最佳選擇"
    assert hits(text) == [("no.1", "absolute", 0, 4), ("销量第一", "absolute", 5, 9), ("最佳", "absolute", 10, 12)]
    assert text[5:9] == "銷量第一"


def test_fixed_phrases_are_not_claims() -> None:
    assert hits("最近买的，第一次用，最后一件") == []
    assert hits("最后一天，手慢无") == [("最后一天", "urgency", 0, 4)]  # longer than the allowed 最后
    assert hits("最强的") == [("最强", "absolute", 0, 2)]


def test_extra_words_and_allow() -> None:
    assert hits("爆款神器", extra_words=["神器:absolute"]) == [("神器", "absolute", 2, 4)]
    assert hits("爆款神器", extra_words=["神器"]) == [("神器", "custom", 2, 4)]
    assert hits("独家配方", allow=["独家配方"]) == []
    assert hits("") == []


def test_list_format_errors() -> None:
    parsed = parse_adlaw_list("# comment\n最\tabsolute\n!最近\n")
    assert parsed.words == {"最": "absolute"} and parsed.allowed == ("最近",)
    with pytest.raises(ValueError, match="mine.txt:1"):
        parse_adlaw_list("最\tabsolute\textra", source="mine.txt")


@pytest.mark.slow
def test_selling_points() -> None:
    titles = [
        "2024新款纯棉短袖T恤男宽松透气 圆领 包邮",
        "冰丝防晒衣女 UPF50+ 透气 轻薄 速干",
        "纯棉 透气 不起球 宽松版型 显瘦 旗舰店正品",
    ]
    points = selling_points(titles, topk=5)
    words = [w for w, _ in points]
    assert len(points) == 5 and words[:2] == ["透气", "纯棉"]
    assert all(w not in words for w in ("包邮", "新款", "旗舰店", "正品", "2024"))
    assert [s for _, s in points] == sorted((s for _, s in points), reverse=True)
    assert "透气" in [w for w, _ in selling_points(titles, topk=3, method="textrank")]
    assert selling_points([]) == []
    with pytest.raises(ValueError, match="unknown method"):
        selling_points(titles, method="lda")


def test_selling_phrases_are_the_sellers_phrases_not_tokens() -> None:
    """Issue 18: "gen3、plus、封顶" said nothing; a teardown shows the phrase each keyword sits in."""
    from jingshao.nlp.keywords import selling_phrases

    copy = [
        "小米 Redmi K70 第二代骁龙8 澎湃OS 2K高光屏 120W快充 12GB+256GB 5G手机",
        "小米 Redmi K70 至尊版 120W快充 2K高光屏",
        "领券立减100元 | 12期免息",
        "2024新款纯棉短袖T恤男宽松透气 圆领 包邮",
    ]
    got = [p for p, _ in selling_phrases(copy, topk=8)]
    assert "120W快充" in got and "2K高光屏" in got, got  # whole segments, as written (case kept)
    promo = [p for p, _ in selling_phrases(["领券立减100元 | 12期免息", "限时秒杀 | 领券立减50元"], topk=3)]
    assert promo == ["12期免息"], promo  # the phrase, not 免息; 领券, 秒杀 are promo mechanics (stop words)
    assert not {"快充", "光屏", "立减", "包邮", "新款"} & set(got), got  # tokens and stop words are not phrases
    assert all(len(p) <= 12 for p in got)
    assert len(got) == len({p.lower() for p in got})  # no repeats
    for a in got:  # no phrase inside another
        assert not any(a != b and a.lower() in b.lower() for b in got), got
    assert selling_phrases([]) == [] and selling_phrases(["", "  "]) == []
    long = [p for p, _ in selling_phrases(["2024新款纯棉短袖T恤男宽松透气", "纯棉短袖T恤男宽松透气"], topk=3)]
    assert long and all(2 < len(p) <= 12 and "新款" not in p for p in long), long  # runs from a long segment


def test_the_package_lists_each_lazy_name_once_in_all_and_serves_it() -> None:
    """jingshao.nlp loads its names on first use: every name of __all__ has a submodule to come from
    (and no other), and each resolves to that submodule's object."""
    import importlib

    import jingshao.nlp as nlp

    assert sorted(nlp.__all__) == sorted(nlp._SOURCES)
    for name, source in nlp._SOURCES.items():
        assert getattr(nlp, name) is getattr(importlib.import_module(f"jingshao.nlp.{source}"), name)
