"""`train_tags.evaluate`, the held-out scorer bench/tags.py prints: polarity is judged once per labelled
(aspect span, opinion span), right when the tag's polarity is among those labelled on the spans.

The sentences and labels are written for these tests; the tagger is a fixed function, so each figure is
known by hand.
"""

from __future__ import annotations

from jingshao.core.tags import Tag
from jingshao.nlp.train_tags import Gold, evaluate

# iqoo充电比小米强: the same (充电, 强) spans are labelled positive (about iqoo) and negative (about 小米)
TEXT = "iqoo充电比小米强"
ASPECT, OPINION = (4, 6), (9, 10)
BOTH = Gold(
    "diaasq",
    TEXT,
    aspects=[ASPECT],
    opinions=[(*OPINION, "P")],
    pairs=[(ASPECT, OPINION, "P", ""), (ASPECT, OPINION, "N", "")],
)
# 屏幕很好: one polarity only
TEXT2 = "屏幕很好"
ONE = Gold("diaasq", TEXT2, aspects=[(0, 2)], opinions=[(2, 4, "P")], pairs=[((0, 2), (2, 4), "P", "")])


def tagger(polarity: str):
    def tag(text: str) -> list[Tag]:
        if text == TEXT:
            return [Tag("充电", "充电", "强", polarity, "强", ASPECT, OPINION)]  # type: ignore[arg-type]
        return [Tag("屏幕", "屏幕", "很好", "neg", "好", (0, 2), (2, 4))]  # wrong on purpose

    return tag


def test_polarity_is_set_based_per_span_pair() -> None:
    for said in ("pos", "neg"):
        s = evaluate([BOTH], tagger(said))
        assert s["polarity"] == 1.0  # either reading is one of the labelled polarities
        assert s["polarity_strict"] == 0.5  # the old rule: one of the two labels is always a miss
        assert s["conflicting_pairs"] == 1 and s["polar_pairs"] == 1
        assert s["pair_R"] == 1.0


def test_unambiguous_leaves_out_pairs_labelled_both_ways() -> None:
    s = evaluate([BOTH, ONE], tagger("pos"))
    assert s["polarity"] == 0.5  # right on 充电强 (either), wrong on 屏幕很好
    assert s["polarity_strict"] == 1 / 3
    assert s["polarity_unambiguous"] == 0.0  # only 屏幕很好 counts, and it is wrong
    assert s["conflicting_pairs"] == 1 and s["polar_pairs"] == 2


def test_a_polarity_nobody_labelled_is_wrong() -> None:
    s = evaluate([ONE], tagger("pos"))
    assert s["polarity"] == s["polarity_strict"] == s["polarity_unambiguous"] == 0.0
