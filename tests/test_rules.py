"""Pure alert rules: synthetic mention streams for every crisis rule and its boundary, competitor rules
with their exact facts. No database, no network, no clock (``NOW`` is a parameter)."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from jingshao.alerts.rules import (
    RED_PLAYBOOK,
    AlertInstance,
    CompetitorThresholds,
    CrisisHistory,
    CrisisThresholds,
    MentionFact,
    ObservationFact,
    ProductRef,
    ReviewFact,
    crisis_stats,
    evaluate_competitor,
    evaluate_crisis,
    find_crisis_word,
)

NOW = datetime(2024, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
BRAND = "蜜橙"
SERIAL = itertools.count(1)


# ---------------------------------------------------------------- mention streams


def in_hour(bucket: int, minute: int = 30) -> datetime:
    """A moment inside hour bucket ``bucket`` (0 = the current hour (NOW-1h, NOW])."""
    return NOW - timedelta(hours=bucket, minutes=minute)


def neg(bucket: int = 0, **kw: object) -> MentionFact:
    values: dict[str, object] = {
        "posted_at": in_hour(bucket),
        "sentiment": 0.2,
        "is_negative": True,
        "source": "微博搜索",
        "url": f"https://weibo.example/{next(SERIAL)}",
        "title": "蜜橙充电宝用了两个月就坏了",
    }
    values.update(kw)
    return MentionFact(**values)  # type: ignore[arg-type]


def pos(bucket: int = 0) -> MentionFact:
    return MentionFact(
        posted_at=in_hour(bucket),
        sentiment=0.9,
        is_negative=False,
        source="微博搜索",
        url="https://weibo.example/p",
        title="蜜橙充电宝真香",
    )


def stream(hours: dict[int, tuple[int, int]]) -> list[MentionFact]:
    """``{bucket: (negatives, positives)}`` -> mentions."""
    out: list[MentionFact] = []
    for bucket, (negatives, positives) in hours.items():
        out += [neg(bucket) for _ in range(negatives)]
        out += [pos(bucket) for _ in range(positives)]
    return out


def background(negatives: Iterable[int] | int, positives: int = 40) -> dict[int, tuple[int, int]]:
    """Hours 1..168 (the baseline week): ``negatives`` per hour (one number, or 168 of them)."""
    if isinstance(negatives, int):
        per_hour = [negatives] * 168
    else:
        per_hour = list(negatives)
    return {bucket: (per_hour[bucket - 1], positives) for bucket in range(1, 169)}


def alternating(even: int, odd: int) -> list[int]:
    """Buckets 1..168: odd buckets ``odd``, even buckets ``even`` (24 and 168 are even)."""
    return [even if bucket % 2 == 0 else odd for bucket in range(1, 169)]


def evaluate(
    mentions: list[MentionFact], history: CrisisHistory | None = None, thresholds: CrisisThresholds | None = None
) -> AlertInstance | None:
    alerts = evaluate_crisis(BRAND, mentions, NOW, thresholds, history)
    assert len(alerts) <= 1
    return alerts[0] if alerts else None


def rule_of(mentions: list[MentionFact], history: CrisisHistory | None = None) -> str | None:
    alert = evaluate(mentions, history)
    return alert.rule if alert else None


def fact(alert: AlertInstance | None, label: str) -> str:
    assert alert is not None
    values = dict(alert.facts)
    assert label in values, f"{label!r} not in {alert.facts}"
    return values[label]


# ---------------------------------------------------------------- blue


def test_blue_by_sigma_and_just_under() -> None:
    week = background(alternating(2, 6))  # mean 4, std 2: 2σ -> 8
    alert = evaluate(stream({**week, 0: (8, 40)}))
    assert alert is not None and (alert.level, alert.rule) == ("blue", "blue.sigma2")
    assert alert.summary == "1小时负面声量 8 条，超过7日基线 4.0 + 2σ"
    assert alert.facts[:4] == [
        ("触发规则", "blue.sigma2（1小时负面声量上升（2σ））"),
        ("1小时负面", "8 条"),
        ("7日小时基线", "均值 4.0，标准差 2.0（计算用 2）"),
        ("偏离", "2.0σ（阈值 2σ，即 ≥ 8.0 条）"),
    ]
    assert fact(alert, "1小时负面/提及") == "8 / 48 条"
    assert alert.metrics == {
        "negatives_1h": 8,
        "mentions_1h": 48,
        "baseline_mean": 4.0,
        "baseline_std": 2.0,
        "deviations": 2.0,
    }
    assert evaluate(stream({**week, 0: (7, 40)})) is None


def test_blue_sigma_needs_five_negatives() -> None:
    week = background(0)  # flat zero: σ floor 1 -> 2σ is 2, the minimum 5 decides
    assert rule_of(stream({**week, 0: (5, 40)})) == "blue.sigma2"
    assert evaluate(stream({**week, 0: (4, 40)})) is None


def test_flat_zero_baseline_is_not_infinite_sigmas() -> None:
    alert = evaluate(stream({0: (1, 0)}))
    assert alert is None
    alert = evaluate(stream({0: (5, 20)}))
    assert alert is not None and alert.rule == "blue.sigma2"
    assert fact(alert, "7日小时基线") == "均值 0.0，标准差 0.0（计算用 1）"
    assert fact(alert, "偏离") == "5.0σ（阈值 2σ，即 ≥ 2.0 条）"


def test_blue_by_24h_share_and_boundaries() -> None:
    alert = evaluate(stream({5: (7, 13)}))
    assert alert is not None and (alert.level, alert.rule) == ("blue", "blue.share24h")
    assert alert.summary == "24小时负面占比 35.0%（7/20），超过 30%"
    assert fact(alert, "阈值") == "> 30% 且提及 ≥ 20 条"
    assert evaluate(stream({5: (6, 14)})) is None  # exactly 30%: not "over"
    assert evaluate(stream({5: (7, 12)})) is None  # 19 mentions


def test_blue_by_crisis_word() -> None:
    word = neg(
        sentiment=0.02,
        negative_prob=0.95,
        title="蜜橙充电宝鼓包，已向平台投诉",
        url="https://forum.example/t/1",
        source="机友论坛",
    )
    alert = evaluate([word])
    assert alert is not None and (alert.level, alert.rule) == ("blue", "blue.crisis_word")
    assert alert.summary == "强负面提及含危机词「投诉」：机友论坛《蜜橙充电宝鼓包，已向平台投诉》"
    assert fact(alert, "危机词") == "投诉"
    assert fact(alert, "负面概率") == "0.95（≥ 0.8 为强负面）"
    assert alert.evidence == [("机友论坛：蜜橙充电宝鼓包，已向平台投诉", "https://forum.example/t/1")]
    # Boundaries: not strongly negative, a digit neighbour, out of the event window, flagged off upstream.
    assert evaluate([replace(word, negative_prob=0.79)]) is None
    assert evaluate([replace(word, is_negative=False)]) is None  # the mention model said neu: not counted
    assert evaluate([replace(word, title="蜜橙3150mAh小电池，垃圾")]) is None
    assert evaluate([replace(word, posted_at=NOW - timedelta(hours=1))]) is None
    assert evaluate([replace(word, has_crisis_word=False)]) is None
    assert rule_of([replace(word, negative_prob=0.8, title="蜜橙上了３１５")]) == "blue.crisis_word"
    assert rule_of([replace(word, title="消費者投訴 假貨")]) == "blue.crisis_word"  # traditional characters fold


def test_crisis_word_matching() -> None:
    assert find_crisis_word("要求召回！") == "召回"
    assert find_crisis_word("315晚会") == "315"
    assert find_crisis_word("容量3150mAh") is None
    assert find_crisis_word("蜜橙 2315") is None
    assert find_crisis_word("ABC投诉", ["abc"]) == "abc"


# ---------------------------------------------------------------- yellow


def test_yellow_by_sigma_with_yesterday_and_last_week() -> None:
    week = background(alternating(2, 6))  # 3σ -> 10, the minimum 15 decides; yesterday 2, last week 2
    alert = evaluate(stream({**week, 0: (15, 40)}))
    assert alert is not None and (alert.level, alert.rule) == ("yellow", "yellow.sigma3")
    assert alert.summary == "1小时负面声量 15 条，超过7日基线 4.0 + 3σ，昨日同时段 2 条，上周同时段 2 条"
    assert fact(alert, "昨日同时段负面") == "2 条"
    assert fact(alert, "上周同时段负面") == "2 条"
    assert fact(alert, "同时触发") == "blue.sigma2（1小时负面声量上升（2σ））"
    assert rule_of(stream({**week, 0: (14, 40)})) == "blue.sigma2"


def test_yellow_sigma_binds_when_baseline_is_noisy() -> None:
    week = background(alternating(6, 14))  # mean 10, std 4: 3σ -> 22
    assert rule_of(stream({**week, 0: (22, 40)})) == "yellow.sigma3"
    assert rule_of(stream({**week, 0: (21, 40)})) == "blue.sigma2"


@pytest.mark.parametrize("bucket", [24, 168])
def test_yellow_sigma_needs_double_same_hour_yesterday_and_last_week(bucket: int) -> None:
    week = background(alternating(2, 6))
    week[bucket] = (8, 40)
    assert rule_of(stream({**week, 0: (16, 40)})) == "yellow.sigma3"  # exactly double
    week[bucket] = (9, 40)
    assert rule_of(stream({**week, 0: (16, 40)})) == "blue.sigma2"


def test_yellow_by_2h_share_and_boundaries() -> None:
    alert = evaluate(stream({1: (13, 17)}))
    assert alert is not None and (alert.level, alert.rule) == ("yellow", "yellow.share2h")
    assert alert.summary == "2小时负面占比 43.3%（13/30），超过 40%"
    assert fact(alert, "同时触发") == "blue.share24h（24小时负面占比偏高）"
    assert rule_of(stream({1: (12, 18)})) == "blue.share24h"  # exactly 40%
    assert rule_of(stream({1: (13, 16)})) == "blue.share24h"  # 29 mentions


def test_yellow_by_authority_2() -> None:
    article = neg(
        authority=2,
        source="行业资讯搜索",
        title="蜜橙充电宝批次质量调查",
        sentiment=0.3,
        url="https://news.example/a/7",
    )
    alert = evaluate([*stream({0: (0, 10)}), article])
    assert alert is not None and (alert.level, alert.rule) == ("yellow", "yellow.authority2")
    assert alert.summary == "2级来源负面：行业资讯搜索《蜜橙充电宝批次质量调查》"
    assert fact(alert, "来源") == "行业资讯搜索（权威度 2）"
    assert fact(alert, "发布时间") == "11-20 13:30"
    assert alert.evidence[0] == ("行业资讯搜索：蜜橙充电宝批次质量调查", "https://news.example/a/7")
    assert evaluate([replace(article, is_negative=False, sentiment=0.8)]) is None


def test_yellow_by_blue_for_6_hours() -> None:
    word = neg(sentiment=0.05, title="蜜橙维权群已经 200 人")
    assert rule_of([word], CrisisHistory("blue", NOW - timedelta(hours=6))) == "yellow.blue_6h"
    assert rule_of([word], CrisisHistory("blue", NOW - timedelta(hours=5, minutes=59))) == "blue.crisis_word"
    # Once yellow through this rule it stays yellow (started_at keeps the clock), no flapping to blue.
    again = CrisisHistory("yellow", NOW - timedelta(minutes=10), 1, started_at=NOW - timedelta(hours=7))
    alert = evaluate([word], again)
    assert alert is not None and alert.rule == "yellow.blue_6h"
    assert fact(alert, "已持续") == "7 小时"
    assert fact(alert, "同时触发") == "blue.crisis_word（强负面提及含危机词）"
    # Nothing fires on its own numbers: history alone raises nothing.
    assert evaluate([], CrisisHistory("blue", NOW - timedelta(hours=9))) is None


# ---------------------------------------------------------------- red


def test_red_by_authority_3() -> None:
    article = neg(
        authority=3,
        source="财经要闻RSS",
        title="央媒：蜜橙充电宝起火事故调查",
        sentiment=0.15,
        url="https://rss.example/n/1",
    )
    alert = evaluate([neg(), article, neg(authority=2)])
    assert alert is not None and (alert.level, alert.rule) == ("red", "red.authority3")
    assert alert.is_crisis and alert.family == "crisis" and alert.subject == BRAND
    assert alert.subject_key == "brand:蜜橙" and alert.at == NOW
    assert fact(alert, "来源") == "财经要闻RSS（权威度 3）"
    assert fact(alert, "负面概率") == "0.85"
    assert fact(alert, "同时触发") == "yellow.authority2（行业来源负面）"
    assert alert.evidence[0] == ("财经要闻RSS：央媒：蜜橙充电宝起火事故调查", "https://rss.example/n/1")
    assert len(alert.evidence) == 3
    assert evaluate([replace(article, is_negative=False, sentiment=0.7)]) is None
    assert evaluate([replace(article, posted_at=NOW - timedelta(hours=1))]) is None  # left the event window
    assert (
        rule_of([replace(article, posted_at=NOW - timedelta(hours=1) + timedelta(microseconds=1))]) == "red.authority3"
    )
    assert rule_of([replace(article, posted_at=NOW)]) == "red.authority3"
    assert evaluate([replace(article, posted_at=NOW + timedelta(seconds=1))]) is None  # after now: not known yet


def test_red_by_5_sigma_with_50_negatives_and_half_share() -> None:
    week = background(1)  # std 0 -> floor 1; 50 and 50% decide
    alert = evaluate(stream({**week, 0: (50, 50)}))
    assert alert is not None and (alert.level, alert.rule) == ("red", "red.sigma5")
    assert alert.summary == "1小时负面声量 50 条，超过7日基线 1.0 + 5σ，负面占比 50.0%（50/100）"
    assert alert.facts[1:5] == [
        ("1小时负面", "50 条"),
        ("7日小时基线", "均值 1.0，标准差 0.0（计算用 1）"),
        ("偏离", "49.0σ（阈值 5σ，即 ≥ 6.0 条）"),
        ("1小时负面占比", "50.0%（50/100）"),
    ]
    assert (
        fact(alert, "同时触发") == "yellow.sigma3（1小时负面声量突增（3σ，高于昨日与上周同时段））；"
        "blue.sigma2（1小时负面声量上升（2σ））"
    )
    assert rule_of(stream({**week, 0: (49, 49)})) == "yellow.sigma3"  # 49 negatives
    assert rule_of(stream({**week, 0: (50, 51)})) == "yellow.sigma3"  # 49.5% negative


@pytest.mark.slow
def test_red_5_sigma_binds_on_a_loud_baseline() -> None:
    week = background(alternating(20, 60), positives=200)  # mean 40, std 20: 5σ -> 140
    assert rule_of(stream({**week, 0: (140, 100)})) == "red.sigma5"
    assert rule_of(stream({**week, 0: (139, 100)})) == "yellow.sigma3"


def test_red_by_5x_growth_in_24_hours() -> None:
    alert = evaluate(stream({10: (30, 200), 30: (6, 0)}))
    assert alert is not None and (alert.level, alert.rule) == ("red", "red.growth5x")
    assert alert.summary == "24小时负面 30 条，前24小时 6 条（5.0 倍）"
    assert alert.facts[1:4] == [
        ("近24小时负面", "30 条"),
        ("前24小时负面", "6 条"),
        ("增长", "5.0 倍（阈值 5 倍且 ≥ 30 条）"),
    ]
    assert evaluate(stream({10: (30, 200), 30: (7, 0)})) is None
    assert evaluate(stream({10: (29, 200), 30: (5, 0)})) is None
    assert fact(evaluate(stream({10: (30, 200)})), "增长") == "此前为 0（阈值 5 倍且 ≥ 30 条）"


def test_red_by_yellow_for_2_hours_and_rising() -> None:
    yellow_now = stream({0: (15, 40)})  # flat-zero baseline: yellow.sigma3
    assert rule_of(yellow_now) == "yellow.sigma3"
    history = CrisisHistory("yellow", NOW - timedelta(hours=2), previous_negatives_1h=14)
    alert = evaluate(yellow_now, history)
    assert alert is not None and (alert.level, alert.rule) == ("red", "red.yellow_2h_rising")
    assert alert.summary == "黄色预警已持续 2 小时，仍在上升：1小时负面 14 → 15 条"
    assert fact(alert, "1小时负面") == "上次评估 14 条 → 本次 15 条"
    assert fact(alert, "黄色预警开始") == "11-20 12:00"
    # Just under: not rising, not yet 2 hours, no previous count.
    assert rule_of(yellow_now, replace(history, previous_negatives_1h=15)) == "yellow.sigma3"
    assert rule_of(yellow_now, replace(history, since=NOW - timedelta(minutes=119))) == "yellow.sigma3"
    assert rule_of(yellow_now, replace(history, previous_negatives_1h=None)) == "yellow.sigma3"
    # Red reached another way keeps its yellow clock when the engine records it.
    red = CrisisHistory("red", NOW - timedelta(minutes=30), 10, yellow_since=NOW - timedelta(hours=3))
    assert rule_of(yellow_now, red) == "red.yellow_2h_rising"


def test_sustained_blue_does_not_climb_to_red() -> None:
    blue_now = stream({0: (5, 40)})  # blue.sigma2 on its own numbers
    history = CrisisHistory("yellow", NOW - timedelta(hours=3), 0, started_at=NOW - timedelta(hours=9))
    assert rule_of(blue_now, history) == "yellow.blue_6h"


# ---------------------------------------------------------------- shape, fingerprint, scale


def test_fingerprint_is_stable_across_levels() -> None:
    blue = evaluate(stream({0: (5, 40)}))
    red = evaluate([neg(authority=3)])
    assert blue is not None and red is not None and (blue.level, red.level) == ("blue", "red")
    expected = hashlib.sha1("crisis\x1fbrand:蜜橙".encode()).hexdigest()
    assert blue.fingerprint == red.fingerprint == expected
    other = evaluate_crisis("倍思", [neg(authority=3)], NOW)[0]
    assert other.fingerprint != expected


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MentionFact(posted_at=datetime(2024, 11, 20), sentiment=0.1, is_negative=True)
    with pytest.raises(ValueError, match="authority"):
        neg(authority=4)
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_crisis(BRAND, [], datetime(2024, 11, 20))
    with pytest.raises(ValueError, match=r"brands\.蜜橙: unknown key\(s\) red_sigmaa"):
        CrisisThresholds.from_mapping({"red_sigmaa": 4}, where="brands.蜜橙")
    with pytest.raises(ValueError, match="yellow_share must be between 0 and 1"):
        CrisisThresholds(yellow_share=40)
    assert CrisisThresholds.from_mapping({"red_min_negatives": 20}).red_min_negatives == 20


def test_thresholds_are_configurable() -> None:
    t = CrisisThresholds(blue_min_negatives=3, crisis_words=("退货",))
    assert evaluate(stream({0: (3, 40)}), thresholds=t).rule == "blue.sigma2"  # type: ignore[union-attr]
    assert evaluate([neg(sentiment=0.05, title="必须退货")], thresholds=t).rule == "blue.crisis_word"  # type: ignore[union-attr]
    assert evaluate([neg(sentiment=0.05, title="要投诉")], thresholds=t) is None


@pytest.mark.slow
def test_100k_mentions_evaluate_and_count_exactly() -> None:
    rng = random.Random(5)
    mentions = [
        MentionFact(
            posted_at=NOW - timedelta(seconds=rng.randrange(-600, 9 * 86400)),
            sentiment=rng.random(),
            is_negative=rng.random() < 0.15,
            authority=1,
            source="s",
            url=f"u{i}",
            title="蜜橙",
        )
        for i in range(100_000)
    ]
    alerts = evaluate_crisis(BRAND, mentions, NOW)
    assert len(alerts) <= 1
    stats = crisis_stats(mentions, NOW, CrisisThresholds())
    hour = [m for m in mentions if NOW - timedelta(hours=1) < m.posted_at <= NOW]
    assert stats.mentions_1h == len(hour)
    assert stats.negatives_1h == sum(m.is_negative for m in hour)
    day = [m for m in mentions if NOW - timedelta(hours=24) < m.posted_at <= NOW and m.is_negative]
    assert stats.negatives_in(0, 24) == len(day)


def test_red_playbook() -> None:
    for part in ("2小时内组建应对小组", "事实确认", "处理进展", "补偿方案", "72小时内完成复盘", "回避"):
        assert part in RED_PLAYBOOK


# ---------------------------------------------------------------- competitor

PRODUCT = ProductRef(42, "磁吸充电宝", "安克", "https://shop.example/p/42")


def obs(hours_ago: float, price: str | None, **kw: object) -> ObservationFact:
    return ObservationFact(
        at=NOW - timedelta(hours=hours_ago),
        price=Decimal(price) if price else None,
        title="安克磁吸充电宝 10000mAh",
        **kw,
    )  # type: ignore[arg-type]


def competitor(
    observations: list[ObservationFact],
    reviews: list[ReviewFact] | None = None,
    thresholds: CompetitorThresholds | None = None,
    adlaw: list[object] | None = None,
    family: str | None = None,
) -> list[AlertInstance]:
    alerts = evaluate_competitor(PRODUCT, observations, reviews or [], NOW, thresholds, adlaw or [])
    return [a for a in alerts if family is None or a.family == family]


def test_price_drop_yellow_with_exact_facts() -> None:
    alerts = competitor([obs(48, "459"), obs(2, "399")])
    assert [a.family for a in alerts] == ["price_drop"]
    alert = alerts[0]
    assert (alert.level, alert.rule) == ("yellow", "price_drop.yellow")
    assert alert.summary == "降价 13.1%：¥459.00 → ¥399.00"
    assert alert.facts == [
        ("原价格", "¥459.00（11-18 14:00 起）"),
        ("现价格", "¥399.00（11-20 12:00 起）"),
        ("降幅", "13.1%（黄色 ≥ 10%，红色 ≥ 25%）"),
    ]
    assert alert.subject == "安克 / 磁吸充电宝" and alert.subject_key == "product:42" and not alert.is_crisis
    assert alert.fingerprint == hashlib.sha1(b"price_drop\x1fproduct:42").hexdigest()
    assert alert.evidence == [("安克磁吸充电宝 10000mAh", "https://shop.example/p/42")]


def test_price_drop_boundaries_red_and_window() -> None:
    assert competitor([obs(48, "500"), obs(2, "450")])[0].rule == "price_drop.yellow"  # exactly 10%
    assert competitor([obs(48, "500"), obs(2, "451")]) == []  # 9.8%
    red = competitor([obs(48, "400"), obs(2, "300")], family="price_drop")[0]
    assert (red.level, red.summary) == ("red", "降价 25.0%：¥400.00 → ¥300.00")
    assert competitor([obs(48, "400"), obs(30, "300")], family="price_drop") == []  # older than a day
    # A promo-only change after the drop does not hide it; the fingerprint stays.
    later = competitor([obs(48, "500"), obs(3, "450"), obs(1, "450", promo="满200减20")], family="price_drop")
    assert later[0].summary == "降价 10.0%：¥500.00 → ¥450.00"
    assert later[0].fingerprint == competitor([obs(48, "500"), obs(2, "450")])[0].fingerprint


def test_price_floor() -> None:
    floors = CompetitorThresholds(price_floors={"product:42": Decimal("400")})
    alerts = competitor([obs(2, "399")], thresholds=floors)
    assert [(a.family, a.level) for a in alerts] == [("price_floor", "red")]
    assert alerts[0].summary == "价格 ¥399.00 低于底价 ¥400.00"
    assert alerts[0].facts == [
        ("现价格", "¥399.00（11-20 12:00 起）"),
        ("底价", "¥400.00"),
        ("低于底价", "¥1.00（0.3%）"),
    ]
    assert competitor([obs(2, "400")], thresholds=floors) == []
    by_name = CompetitorThresholds(price_floors={"磁吸充电宝": "450"})
    assert competitor([obs(200, "399")], thresholds=by_name)[0].family == "price_floor"  # a condition: no window


def test_price_anomaly() -> None:
    history = [obs(200 - 10 * i, p) for i, p in enumerate(["100", "101", "99", "100", "100"])]
    alerts = competitor([*history, obs(1, "120")], family="price_anomaly")
    assert len(alerts) == 1 and alerts[0].level == "yellow"
    assert alerts[0].summary == "价格异常：¥120.00 高于近 5 次均值 ¥100.00 20.0σ"
    assert alerts[0].facts == [
        ("现价格", "¥120.00（11-20 13:00 起）"),
        ("近 5 次价格", "均值 ¥100.00，标准差 ¥0.63（计算用 ¥1.00）"),
        ("偏离", "+20.0σ（阈值 ±3σ）"),
    ]
    assert competitor([*history[1:], obs(1, "120")], family="price_anomaly") == []  # 4 prices of history
    flat = [obs(200 - 10 * i, "100") for i in range(5)]  # σ 0 -> floor 1% of the mean
    assert competitor([*flat, obs(1, "97")], family="price_anomaly") == []
    assert competitor([*flat, obs(1, "96")], family="price_anomaly")[0].facts[-1] == ("偏离", "-4.0σ（阈值 ±3σ）")
    assert competitor([*flat, obs(30, "96")], family="price_anomaly") == []  # older than the change window


def test_stock_out_and_back_in_stock() -> None:
    out = competitor([obs(72, "399", in_stock=True), obs(50, "399", in_stock=False)])
    assert [(a.family, a.level, a.rule) for a in out] == [("stock_out", "blue", "stock_out")]
    assert out[0].summary == "竞品缺货（11-18 12:00 起），可加推同类商品"
    assert out[0].facts == [("缺货时间", "11-18 12:00 起，已 50.0 小时"), ("此前有货", "至 11-17 14:00")]
    assert competitor([obs(50, "399", in_stock=False)]) == []  # never seen in stock: no change observed
    back = competitor([obs(72, "399", in_stock=True), obs(50, "399", in_stock=False), obs(3, "399", in_stock=True)])
    assert [(a.family, a.level) for a in back] == [("back_in_stock", "blue")]
    assert back[0].facts == [("恢复时间", "11-20 11:00"), ("缺货期间", "11-18 12:00 至 11-20 11:00")]
    stale = [obs(72, "399", in_stock=True), obs(50, "399", in_stock=False), obs(30, "399", in_stock=True)]
    assert competitor(stale) == []
    unknown_last = [obs(72, "399", in_stock=True), obs(5, "399", in_stock=False), obs(1, "389")]
    assert competitor(unknown_last, family="stock_out")[0].facts[0] == ("缺货时间", "11-20 09:00 起，已 5.0 小时")


def test_promo_change() -> None:
    new = competitor([obs(48, "399"), obs(2, "399", promo="满300减50")])
    assert [(a.family, a.level) for a in new] == [("promo_change", "blue")]
    assert new[0].summary == "新促销：满300减50"
    assert new[0].facts == [("原促销", "（无）"), ("新促销", "满300减50"), ("变更时间", "11-20 12:00")]
    changed = competitor([obs(48, "399", promo="满300减50"), obs(2, "399", promo="满300减80  ")])
    assert changed[0].summary == "促销变更：满300减50 → 满300减80"
    assert changed[0].facts[:2] == [("原促销", "满300减50"), ("新促销", "满300减80")]
    assert changed[0].fingerprint != new[0].fingerprint  # a new promo is a new alert
    assert (
        competitor([obs(48, "399", promo="满300减50"), obs(2, "389", promo=" 满300减50")], family="promo_change") == []
    )  # whitespace only
    assert competitor([obs(48, "399", promo="满300减50"), obs(2, "399")]) == []  # a promo ending
    assert competitor([obs(2, "399", promo="满300减50")]) == []  # first observation: nothing changed
    assert competitor([obs(48, "399"), obs(30, "399", promo="满300减50")]) == []  # older than a day


def test_fake_original_price() -> None:
    history = [obs(24 * 5, "459"), obs(24, "459", original_price=Decimal("599"))]
    alerts = competitor(history, family="fake_original_price")
    assert len(alerts) == 1 and alerts[0].level == "yellow"
    alert = alerts[0]
    assert alert.summary == "划线价 ¥599.00 高于促销前7日最低售价 ¥459.00（11-15 14:00 观测）"
    assert alert.facts == [
        ("划线价", "¥599.00"),
        ("现价格", "¥459.00"),
        ("促销开始", "11-19 14:00"),
        ("前7日最低售价", "¥459.00（11-15 14:00 观测）"),
        ("观测覆盖", "4 天，1 次观测"),
        ("依据", "划线价应不高于促销前7日内最低售价"),
        ("合规风险", "可能违反《明码标价和禁止价格欺诈规定》第十六条（依据展示价格推断，非成交价）"),
    ]
    assert alert.fingerprint == hashlib.sha1(b"fake_original_price\x1fproduct:42\x1f599").hexdigest()


def test_fake_original_price_honest_and_tricky_cases() -> None:
    claim = obs(24, "459", original_price=Decimal("599"))
    # Sold at ¥599 for the whole week before: an honest discount.
    assert (
        competitor([obs(24 * 9, "599", last_seen=NOW - timedelta(hours=25)), claim], family="fake_original_price") == []
    )
    # 先涨后降: ¥459, raised to ¥599 for three days, then "¥599 -> ¥459".
    raised = competitor([obs(24 * 6, "459"), obs(24 * 4, "599"), claim], family="fake_original_price")
    assert dict(raised[0].facts)["前7日最低售价"] == "¥459.00（11-14 14:00 观测）"
    assert dict(raised[0].facts)["观测覆盖"] == "5 天，2 次观测"
    # The ¥459 ended more than 7 days before the claim: it no longer counts ...
    old_low = [obs(24 * 20, "459", last_seen=NOW - timedelta(days=9)), obs(24 * 8, "599"), claim]
    assert competitor(old_low, family="fake_original_price") == []
    # ... but a price still seen inside the window does, even if first seen long before.
    lingering = [obs(24 * 20, "459", last_seen=NOW - timedelta(days=6)), obs(24 * 5, "599"), claim]
    assert competitor(lingering, family="fake_original_price")[0].level == "yellow"
    # Only the claim itself: nothing to compare with.
    assert competitor([claim], family="fake_original_price") == []
    # A claim that has lasted 3 weeks is still judged against the week before it began.
    long_claim = [
        obs(24 * 25, "459"),
        obs(24 * 21, "459", original_price=Decimal("599")),
        obs(2, "449", original_price=Decimal("599")),
    ]
    assert competitor(long_claim, family="fake_original_price")[0].facts[2] == ("促销开始", "10-30 14:00")
    # The original price equal to the selling price is no claim.
    assert (
        competitor([obs(24 * 5, "399"), obs(24, "459", original_price=Decimal("459"))], family="fake_original_price")
        == []
    )


def test_adlaw() -> None:
    hits = [("最", "全网最低价，错过再等一年"), ("第一", "销量第一的磁吸充电宝"), ("最", "最安全")]
    alerts = competitor([obs(2, "399")], adlaw=hits)  # type: ignore[arg-type]
    assert [(a.family, a.level) for a in alerts] == [("adlaw", "blue")]
    assert alerts[0].summary == "竞品文案含广告法违禁词 2 个：最、第一"
    assert alerts[0].facts == [
        ("违禁词", "最、第一"),
        ("「最」", "全网最低价，错过再等一年"),
        ("「第一」", "销量第一的磁吸充电宝"),
        ("「最」", "最安全"),
    ]
    assert alerts[0].evidence[0] == ("「最」全网最低价，错过再等一年", "https://shop.example/p/42")
    same_words = competitor(
        [obs(2, "399")], adlaw=[SimpleNamespace(word="第一", context="x"), SimpleNamespace(word="最", context="y")]
    )
    assert same_words[0].fingerprint == alerts[0].fingerprint
    new_word = competitor([obs(2, "399")], adlaw=[("国家级", "国家级品质")])  # type: ignore[list-item]
    assert new_word[0].fingerprint != alerts[0].fingerprint


def review(hours_ago: float, negative: bool = True, text: str = "充电很慢，差评") -> ReviewFact:
    return ReviewFact(posted_at=NOW - timedelta(hours=hours_ago), is_negative=negative, text=text)


def test_review_spike() -> None:
    recent = [review(h) for h in (1, 2, 3, 4, 23)]
    alerts = competitor([], reviews=[*recent, review(1, negative=False), ReviewFact(None, True)])
    assert [(a.family, a.level) for a in alerts] == [("review_spike", "yellow")]
    assert alerts[0].summary == "24小时差评 5 条，前14日日均 0.0 条"
    assert alerts[0].facts == [
        ("24小时差评", "5 条"),
        ("前14日日均差评", "0.0 条（共 0 条）"),
        ("阈值", "≥ max(5, 3 × 0.0) = 5 条"),
    ]
    assert len(alerts[0].evidence) == 3
    assert competitor([], reviews=recent[:4]) == []
    assert competitor([], reviews=[*recent[:4], review(24)]) == []  # 24h ago exactly: the previous day
    baseline = [review(24 + 12 * i) for i in range(28)]  # 28 in the 14 days before: 2 a day -> 6 needed
    assert competitor([], reviews=[*baseline, *recent]) == []
    spike = competitor([], reviews=[*baseline, *recent, review(5)])
    assert dict(spike[0].facts)["阈值"] == "≥ max(5, 3 × 2.0) = 6 条"


def test_evaluate_competitor_ignores_the_future_and_orders_rules() -> None:
    observations = [obs(2, "399", promo="满300减50", in_stock=False), obs(48, "459", in_stock=True), obs(-1, "199")]
    alerts = competitor(observations)
    assert [a.family for a in alerts] == ["price_drop", "stock_out", "promo_change"]
    assert all(a.at == NOW for a in alerts)
    with pytest.raises(ValueError, match="drop_red_percent"):
        CompetitorThresholds(drop_percent=30)
