"""One text fold for brand matching, crisis words, ad-law words and the models' normaliser."""

from __future__ import annotations

import pytest

from jingshao.alerts.rules.crisis import find_crisis_word
from jingshao.core.textfold import fold
from jingshao.crawlers.mentionparse import content_key, match_brand
from jingshao.nlp import normalize, scan_adlaw
from jingshao.nlp.social import clean_post, emoticon_char, split_repost


class Brand:
    name = "蜜橙"
    keywords = ["蜜橙"]
    aliases = ["MiCheng"]
    exclude = ["水果"]


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("消費者投訴 假貨", "消费者投诉 假货"),
        ("ＡＢＣ１２３", "abc123"),
        ("３１５晚會", "315晚会"),
        ("MiCheng", "micheng"),
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_keeps_length_and_offsets() -> None:
    for text in ("頭髮ＡＢ\u200b很好ß", "ﬁ最低價", "普通文本"):
        assert len(fold(text)) == len(text)


def test_every_matcher_uses_the_fold() -> None:
    assert find_crisis_word("消費者投訴 假貨") == "投诉"
    assert find_crisis_word("上了３１５晚會") == "315"
    assert match_brand("ＭＩＣＨＥＮＧ充電寶不錯", Brand())
    assert match_brand("蜜橙充電寶", Brand())
    assert not match_brand("蜜橙水果很甜", Brand())
    hits = scan_adlaw("全網最低價")
    assert [(h.word, h.start, h.end, h.context) for h in hits] == [("全网最低价", 0, 5, "全網最低價")]
    assert content_key(None, "蜜橙投訴") == content_key(None, "蜜橙投诉")
    assert normalize("消費者投訴 ＡＢＣ") == "消费者投诉 abc"


def test_social_normaliser() -> None:
    own, chain = split_repost("真垃圾[怒]//@小明: 蜜橙充电宝鼓包了//@小红:转发")
    assert own == "真垃圾[怒]" and chain.startswith("@小明")
    cleaned = clean_post("@蜜橙官方 太差了[怒][怒] http://t.cn/A6xYz #蜜橙维权# 退貨")
    assert "t.cn" not in cleaned and "蜜橙官方" not in cleaned and "#" not in cleaned
    assert cleaned.count(emoticon_char("怒")) == 2 and "[" not in cleaned
    assert "蜜橙维权" in cleaned and "退货" in cleaned  # topic words kept, traditional folded
    assert clean_post("ＯＫ！！") == "ok!!"
    assert clean_post(None) == ""
    # The reposter's words come first, the quoted chain after them.
    assert clean_post("支持//@甲:好用").startswith("支持")
