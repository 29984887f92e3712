"""Exemptions from the absolute-term rule, after SAMR's 2023 《广告绝对化用语执法指南》 (issue 12).

The guide does not treat an absolute term as a violation when it

- compares the merchant's own products only ("我们最新的款", "本店最新款": self-comparison);
- is a consumption tip about time, method or condition ("最佳食用期", "最佳赏味期", "最佳冲泡温度");
- states a grade defined by a national or industry standard ("符合国家标准最高等级", "一级能效");
- is part of a registered trademark or names an award actually received ("第一坊®", "荣获2023年度金奖第一名").

A hit covered by one of these is left out, each kind switchable in ``[nlp.adlaw_exemptions]``, with your own
trademarks and self-references. A reviewer still decides; we stop pointing at what the guide allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

SELF_REFERENCES = ("我们", "我司", "本店", "本品牌", "本公司", "本厂", "自家", "我家", "本系列", "本品")
SELF_WORDS = ("最新", "最新款", "最新一代", "最高", "最大", "最强", "最好", "最先进", "最快", "最轻", "最薄", "最")
_TIPS = re.compile(r"最佳(?:食用|赏味|饮用|使用|观赏|冲泡|保存|储存|品尝|佩戴)(?:期限|期|时间|温度|方法|时段)?")
_GRADES = re.compile(
    r"(?:国家标准|国标|行业标准|GB(?:/T)?\s*\d+)[^，。；,;]{0,12}(?:最高等级|特级|一级|一等品|优等品|优级)"
    r"|一级能效|能效等级\s*[一1]\s*级|能效\s*[一1]\s*级|特级初榨"
)
_AWARDS = re.compile(
    r"(?:荣获|获得|获评|荣膺|斩获)[^，。；！,;!]{0,24}(?:第一名|第一|冠军|金奖|最佳[^，。；,;]{0,8}奖)"
)
_MARKED = re.compile(r"[\w\u4e00-\u9fff]+[®™]")


class AdlawExemptions(BaseModel):
    """``[nlp.adlaw_exemptions]``: which of the 2023 guide's exemptions apply (all on by default)."""

    model_config = ConfigDict(extra="forbid")

    self_comparison: bool = True
    consumption_tips: bool = True
    standard_grades: bool = True
    trademarks_and_awards: bool = True
    trademarks: list[str] = Field(default_factory=list, description="registered trademarks containing such words")
    self_references: list[str] = Field(default_factory=list, description="more words by which a shop means itself")


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def exemption_for(text: str, start: int, end: int, word: str, config: AdlawExemptions) -> str | None:
    """Why the hit ``text[start:end]`` (the listed ``word``) is exempt, or None."""

    def inside(spans: Iterable[tuple[int, int]]) -> bool:
        return any(a <= start and end <= b for a, b in spans)

    if config.consumption_tips and inside(_spans(_TIPS, text)):
        return "consumption tip (消费提示)"
    if config.standard_grades and inside(_spans(_GRADES, text)):
        return "national-standard grade (标准等级)"
    if config.trademarks_and_awards:
        marks = [
            (m.start(), m.end()) for t in config.trademarks if t for m in re.finditer(re.escape(t), text)
        ] + _spans(_MARKED, text)
        if inside(marks):
            return "registered trademark (注册商标)"
        if inside(_spans(_AWARDS, text)):
            return "award received (获奖事实)"
    if config.self_comparison and word in SELF_WORDS:
        before = text[max(0, start - 6) : start]
        if any(ref in before for ref in (*SELF_REFERENCES, *config.self_references)):
            return "self-comparison (自我比较)"
    return None


def apply_exemptions(text: str, hits: list, config: AdlawExemptions | None) -> list:
    """``hits`` (objects with ``start``, ``end``, ``word``) without the exempt ones."""
    if config is None:
        return hits
    return [h for h in hits if exemption_for(text, h.start, h.end, h.word, config) is None]
