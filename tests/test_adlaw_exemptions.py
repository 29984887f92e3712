"""Ad-law exemptions of the 2023 enforcement guide (issue 12): self-comparison, consumption tips, national-standard
grades, registered trademarks and awards are not flagged, each switchable; the same words elsewhere still are."""

from __future__ import annotations

import json

import pytest

from jingshao.crawlers.enrichment import Enricher
from jingshao.nlp import scan_adlaw
from jingshao.nlp.adlaw_exemptions import AdlawExemptions, apply_exemptions

from .conftest import run_cli

ON = AdlawExemptions()


def words(text: str, config: AdlawExemptions | None = ON) -> list[str]:
    return [h.word for h in apply_exemptions(text, scan_adlaw(text), config)]


@pytest.mark.parametrize(
    ("exempt", "flagged", "switch"),
    [
        ("这是我们最新的款，欢迎选购", "全网最新的款，欢迎选购", "self_comparison"),
        ("开封后请在最佳食用期内吃完", "最佳零食，吃了还想吃", "consumption_tips"),
        ("符合国家标准GB 19298最高等级", "品质最高等级，远超同行", "standard_grades"),
        ("第一坊®手工坚果", "第一手工坚果品牌", "trademarks_and_awards"),
        ("荣获2023年度中国坚果大赛金奖第一名", "全国销量第一", "trademarks_and_awards"),
    ],
)
def test_each_exemption_and_its_counterpart(exempt, flagged, switch):
    assert scan_adlaw(exempt), "the exempt copy must contain a listed word, or the test proves nothing"
    assert words(exempt) == []
    assert words(flagged)  # the same word used as a claim is still flagged
    off = AdlawExemptions(**{switch: False})
    assert words(exempt, off)  # switched off: flagged again


def test_configured_trademark_and_self_reference():
    text = "极品坊坚果礼盒 | 咱家最好的坚果"
    assert {"极品", "最好"} <= set(words(text))
    config = AdlawExemptions(trademarks=["极品坊"], self_references=["咱家"])
    assert words(text, config) == []


def test_stored_hits_and_the_adlaw_command_use_the_exemptions(tmp_path):
    from jingshao.config import NlpConfig

    copy = "本店最好的款 | 全网最低价"
    assert [h.word for h in scan_adlaw(copy)] == ["最好", "全网最低价"]
    hits = Enricher(NlpConfig()).adlaw_hits({"promo": copy})
    assert [h["word"] for h in hits] == ["全网最低价"]
    out = run_cli("adlaw", "--json", "开封后请在最佳食用期内吃完，全网最低价").stdout
    assert [h["word"] for h in json.loads(out)] == ["全网最低价"]
