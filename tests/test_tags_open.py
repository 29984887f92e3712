"""Open-vocabulary preference tags: aspects no lexicon names, negation, implicit aspects, normalisation,
category inference, the shipped model's files, and `jingshao nlp tags` without --category.

Sentences are written for these tests (not taken from the training corpora), in the style of phone,
notebook and cosmetics reviews; none of 续航, 发热, 外形设计, 握感, 拍照速度 is in the general lexicon.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jingshao.nlp.aspects import SpanTagger, TaggerModelError
from jingshao.nlp.tags import extract_lexicon_tags, extract_tags, infer_category

DATA = Path(__file__).resolve().parents[1] / "nlp" / "data"


def found(text: str, category: str | None = None) -> dict[str, tuple[str, str]]:
    """aspect_text -> (aspect, polarity) of the default (auto) tagger, no category."""
    return {t.aspect_text: (t.aspect, t.polarity) for t in extract_tags(text, category)}


@pytest.mark.parametrize(
    ("text", "surface", "polarity"),
    [
        ("这款手机续航很给力，用一天没问题", "续航", "pos"),
        ("玩游戏的时候发热严重，烫手", "发热", "neg"),
        ("外形设计很漂亮，拿在手里很舒服", "外形设计", "pos"),
        ("握感一般，有点硌手", "握感", "neg"),
        ("拍照速度很快，夜景也清楚", "拍照速度", "pos"),
    ],
)
def test_open_vocabulary_aspects(text: str, surface: str, polarity: str) -> None:
    tags = found(text)
    hits = {k: v for k, v in tags.items() if surface in k}
    assert hits, f"{surface} not found in {text}: {tags}"
    assert {p for _, p in hits.values()} == {polarity}, tags


def test_closed_lexicon_misses_what_the_tagger_finds() -> None:
    text = "续航很给力，外形设计很漂亮"
    assert not extract_lexicon_tags(text)
    assert {"续航", "外形设计"} <= {t.aspect_text for t in extract_tags(text, None)}


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("屏幕显示不太清晰", "屏幕"),
        ("续航一点都不行，半天就没电", "续航"),
        ("散热不太好", "散热"),
    ],
)
def test_negation_flips(text: str, surface: str) -> None:
    tags = [t for t in extract_tags(text, None) if surface in t.aspect_text]
    assert tags and all(t.polarity == "neg" for t in tags), extract_tags(text, None)


def test_negated_complaint_is_praise() -> None:
    tags = [t for t in extract_tags("发热不严重，续航也还行", None) if "发热" in t.aspect_text]
    assert tags and tags[0].polarity == "pos", extract_tags("发热不严重，续航也还行", None)


@pytest.mark.parametrize(("text", "polarity"), [("很好用", "pos"), ("非常好用，会回购", "pos"), ("太难用了", "neg")])
def test_implicit_aspect(text: str, polarity: str) -> None:
    """No aspect written: the opinion names it (很好用 -> 整体, Zhijiang's annotators' most common reading)."""
    tags = extract_tags(text, None)
    assert tags, text
    assert tags[0].aspect in ("整体", "使用体验") and tags[0].polarity == polarity, tags


def test_normalisation_groups_surfaces_and_keeps_what_was_written() -> None:
    tags = extract_tags("快递很快，发货也及时，送货速度也快", None)
    assert {t.aspect for t in tags} <= {"物流"} and len(tags) >= 2, tags
    assert {"快递", "发货"} <= {t.aspect_text for t in tags}
    unseen = [t for t in extract_tags("音乐表现很出色", None) if "表现" in t.aspect_text]
    assert unseen and unseen[0].aspect == unseen[0].aspect_text, unseen  # an unseen aspect keeps its name


def test_lexicon_method_is_the_closed_vocabulary() -> None:
    text = "物流很快，续航很给力"
    assert extract_tags(text, "general", method="lexicon") == extract_lexicon_tags(text)
    with pytest.raises(ValueError, match="unknown tag method"):
        extract_tags(text, method="crf")


def test_category_inferred_from_reviews() -> None:
    apparel = ["尺码偏小，建议买大一码", "面料很舒服", "码数标准", "版型好看", "物流很快"]
    food = ["口感很好", "分量足", "味道不错，送餐也快", "菜品新鲜"]
    assert infer_category(apparel) == "apparel"
    assert infer_category(food) == "food"
    assert infer_category(["物流很快", "质量不错"]) == "general"


def test_shipped_model_is_plain_data() -> None:
    meta = json.loads((DATA / "tags-crf.json").read_text(encoding="utf-8"))
    assert meta["format"] == "jingshao-tags-crf/1"
    assert any("DiaASQ" in s for s in meta["sources"]) and any("Zhijiang" in s for s in meta["sources"])
    assert (DATA / "tags-crf.crfsuite").read_bytes()[:4] == b"lCRF"  # CRFsuite's own format, not a pickle
    assert meta["implicit"].get("很好用") == "整体"


def test_model_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TaggerModelError, match="nope.json"):
        SpanTagger(tmp_path / "nope")
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    (tmp_path / "bad.crfsuite").write_bytes(b"not a model")
    with pytest.raises(TaggerModelError, match="bad.crfsuite"):
        SpanTagger(tmp_path / "bad")


def test_cli_tags_without_category() -> None:
    from typer.testing import CliRunner

    from jingshao.cli import app

    lines = "续航很给力，外形设计很漂亮\n发热严重\n很好用\n"
    result = CliRunner().invoke(app, ["nlp", "tags"], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 3
    assert {"续航", "外形设计"} <= {t["aspect_text"] for t in rows[0]["tags"]}
    assert all({"aspect", "aspect_text", "opinion", "polarity"} <= set(t) for r in rows for t in r["tags"])


def test_mind_map_groups_aspects_with_shares_opinions_and_examples() -> None:
    from jingshao.nlp.mindmap import mind_map

    reviews = ["物流很快，续航很给力", "快递太慢了", "续航一般般，发热严重", "续航很给力", "很好用"]
    nodes = {n.aspect: n for n in mind_map((t, extract_tags(t, None)) for t in reviews)}
    assert nodes["物流"].reviews == 2 and nodes["物流"].positive == 0.5 and nodes["物流"].negative == 0.5
    assert {"物流", "快递"} == {s for s, _ in nodes["物流"].surfaces}
    battery = next(n for a, n in nodes.items() if "续航" in {s for s, _ in n.surfaces})
    assert battery.reviews == 3 and battery.top_positive and battery.examples


def test_aspect_named_without_opinion_is_a_mention() -> None:
    tags = extract_tags("拍照真的很重要！", None)
    assert [(t.aspect_text, t.opinion, t.polarity) for t in tags] == [("拍照", "", "neu")]
    # a mention of an aspect another tag already carries adds nothing; one with no opinion stays
    got = extract_tags("主要配置不行，不包括屏幕", None)
    assert ("配置", "neg") in {(t.aspect_text, t.polarity) for t in got}
    assert ("屏幕", "", "neu") in {(t.aspect_text, t.opinion, t.polarity) for t in got}
    both = extract_tags("续航很给力，聊聊续航", None)
    assert [(t.aspect_text, t.polarity) for t in both] == [("续航", "pos")]
    assert not any(t.polarity == "neu" for t in extract_tags("拍照真的很重要", None, mentions=False))


def test_mind_map_counts_mentions_apart_from_opinions() -> None:
    from jingshao.core.tags import tag_from_row, tag_to_row
    from jingshao.nlp.mindmap import build_mind_map, csv_rows
    from jingshao.nlp.tags import aggregate_tags

    reviews = ["拍照很清楚", "拍照真的很重要", "拍照太糊了", "拍照呢？"]
    tagged = [(t, [tag_from_row(tag_to_row(x)) for x in extract_tags(t, None)]) for t in reviews]  # stored and read
    node = next(n for n in build_mind_map(tagged).aspects if n.aspect == "拍照")
    assert node.reviews == 4 and node.mentions == 2
    assert node.positive == 0.5 and node.negative == 0.5  # over the opinions, not the mentions
    assert next(r for r in csv_rows(build_mind_map(tagged)) if r["aspect"] == "拍照")["mentions"] == 2
    assert all(s.polarity in ("pos", "neg") for s in aggregate_tags((t, tags, 0.5) for t, tags in tagged))


def test_byte_features_tag_as_their_strings() -> None:
    """The features are UTF-8 bytes for speed (python-crfsuite copies bytes, encodes str):
    every attribute decodes to the string the model was trained on, and the labels are the same."""
    from jingshao.core.textfold import fold
    from jingshao.nlp.aspects import get_span_tagger, sequence_features

    text = fold("这款手机续航很给力，用一天没问题！外形设计很漂亮，但是玩游戏发热严重abc123")
    feats = sequence_features(text)
    assert len(feats) == len(text)
    assert all(isinstance(a, bytes) for row in feats for a in row)
    as_str = [[a.decode("utf-8") if isinstance(a, bytes) else a for a in row] for row in feats]
    first = as_str[0]
    assert first[:5] == ["c=这", "c-1=^", "c+1=款", "b-1=^这", "b+1=这款"]
    assert first[5] == "p=B" and first[6].startswith("w=这") and first[-2] == "pw=^"
    assert as_str[-1][-1] == "nw=$"
    tagger = get_span_tagger(None)._tagger
    labels = tagger.tag(feats)
    assert labels == tagger.tag(as_str)
    assert any(lab != "O" for lab in labels)  # the sample has spans, so the comparison means something


def test_mention_words_are_labelled_often_where_written() -> None:
    from jingshao.nlp.train_tags import Gold, mention_words

    def gold(text: str, *aspects: str) -> Gold:
        return Gold("t", text, aspects=[(text.index(a), text.index(a) + len(a)) for a in aspects])

    golds = [gold(f"刷新率第{k}次", "刷新率") for k in range(3)]  # labelled 3 of 3 times written
    golds += [gold(f"体验{k}", "体验") for k in range(3)] + [gold(f"体验过{k}") for k in range(20)]  # 3 of 23
    golds += [gold("屏幕素质", "屏幕素质"), gold("屏幕素质!", "屏幕素质")]  # twice only
    assert mention_words(golds) == ["刷新率"]


def test_aspect_words_no_span_covers_are_mentions() -> None:
    from jingshao.nlp.aspects import Span
    from jingshao.nlp.tags import _lexicon_mentions, get_lexicon

    class Tagger:  # what _lexicon_mentions reads of a span tagger
        groups: dict[str, str] = {}
        mention_words = ("刷新率",)

    text = "主要看屏幕和刷新率,电池呢"
    at = text.index("电池")
    covered = [Span("A", at, at + 2, "电池")]  # the CRF's span: not a mention again
    got = _lexicon_mentions(text, covered, [], get_lexicon("general"), Tagger())
    assert [(t.aspect_text, t.polarity, t.opinion) for t in got] == [("屏幕", "neu", ""), ("刷新率", "neu", "")]


def test_a_word_inside_a_longer_word_is_no_mention() -> None:
    from jingshao.nlp.tags import _lexicon_mentions, get_lexicon

    class Tagger:
        groups: dict[str, str] = {}
        mention_words = ()

    got = _lexicon_mentions("大大小小的问题,大小正好", [], [], get_lexicon("general"), Tagger())
    assert [(t.aspect_text, t.aspect_span) for t in got] == [("大小", (8, 10))]  # not the one in 大大小小
