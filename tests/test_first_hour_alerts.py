"""Issue 18: a competitor *event* (a price drop, a new promo, a new ad-law word) is a one-off notice and
never sends "✅已恢复"; a *state* (out of stock, a crisis level) still does. Real SQLite, the engine and the
dispatcher sending to a local DingTalk-like robot."""

from __future__ import annotations

from decimal import Decimal

from jingshao.alerts.facts import current_value
from jingshao.alerts.rules.competitor import ObservationFact
from jingshao.alerts.rules.model import EVENT_FAMILIES, AlertInstance, fingerprint

from .test_alert_engine import HOUR, MIN, PREFIX, T0, db, rig

__all__ = ["db", "rig"]


def competitor(family: str, level: str = "yellow", summary: str = "降价 10.0%：¥129.90 → ¥116.90") -> AlertInstance:
    return AlertInstance(
        fingerprint=fingerprint(family, "product:7"),
        family=family,
        level=level,
        subject="三只松鼠官方旗舰店 / 每日坚果",
        subject_key="product:7",
        rule=f"{family}.test",
        summary=summary,
        facts=[("价格", "¥116.90")],
        at=T0,
    )


def test_a_price_drop_that_drops_further_never_says_resolved(rig):
    fp = competitor("price_drop").fingerprint
    rig.step(T0, competitor("price_drop"))
    rig.step(T0 + 10 * MIN, competitor("price_drop", summary="降价 23.1%：¥129.90 → ¥99.90"))
    rig.step(T0 + 25 * HOUR)  # the change window ends: the rule stops firing
    rig.step(T0 + 25 * HOUR + 5 * MIN)
    assert rig.alert(fp).state == "resolved"  # closed, so a later drop opens a new notice
    texts = rig.texts()
    assert len(texts) == 2 and "已恢复" not in "".join(texts), texts
    rig.step(T0 + 30 * HOUR, competitor("price_drop", summary="降价 5.0%：¥99.90 → ¥94.90"))
    assert len(rig.texts()) == 3 and "94.90" in rig.texts()[2]


def test_a_further_drop_is_followed_up_at_once_with_the_current_price(rig):
    """The first notice said ¥116.90; the price fell to ¥99.90 ten minutes later. Waiting for a repeat (or
    saying nothing, as an event never repeats usefully) would leave the group believing ¥116.90."""
    first = competitor("price_drop")
    rig.step(T0, first)
    rig.step(T0 + 5 * MIN, first)  # unchanged: nothing new to say
    assert len(rig.texts()) == 1
    further = competitor("price_drop", summary="降价 23.1%：¥129.90 → ¥99.90")
    rig.step(T0 + 10 * MIN, further)
    texts = rig.texts()
    assert len(texts) == 2, texts
    assert texts[1].startswith(f"{PREFIX}🟡黄色预警·新变化") and "¥99.90" in texts[1]
    assert "上次通知" in texts[1] and "¥116.90" in texts[1]  # and what the group was told before
    assert "changed" in rig.events(first.fingerprint)
    rig.step(T0 + 15 * MIN, further)  # the same value again: no third message
    assert len(rig.texts()) == 2


def test_a_state_that_changes_its_wording_is_not_followed_up(rig):
    rig.source.families = frozenset({"stock_out"})
    rig.step(T0, competitor("stock_out", "blue", "缺货"))
    rig.step(T0 + 5 * MIN, competitor("stock_out", "blue", "缺货（已 5 分钟）"))
    assert len(rig.texts()) == 1  # states repeat on their level's interval, they do not follow up


def test_a_state_still_resolves_with_a_notice(rig):
    rig.source.families = frozenset({"stock_out", "price_drop"})
    rig.step(T0, competitor("stock_out", "blue", "缺货"))
    rig.step(T0 + 5 * MIN)
    rig.step(T0 + 10 * MIN)
    texts = rig.texts()
    assert len(texts) == 2 and texts[1].startswith(f"{PREFIX}✅已恢复")


def test_a_resolved_state_says_where_it_stands_now(rig):
    rig.source.families = frozenset({"stock_out"})
    rig.step(T0, competitor("stock_out", "blue", "竞品缺货（10:00 起）"))
    rig.source.current = {"product:7": "现价 ¥99.90，有货"}
    rig.step(T0 + 5 * MIN)
    rig.step(T0 + 10 * MIN)
    texts = rig.texts()
    assert len(texts) == 2 and texts[1].startswith(f"{PREFIX}✅已恢复")
    assert "现价 ¥99.90，有货" in texts[1]  # not only "最后一次：竞品缺货"


def test_the_current_value_of_a_product():
    at = T0
    assert current_value(ObservationFact(at=at, price=Decimal("99.9"), in_stock=True)) == "现价 ¥99.90，有货"
    assert current_value(ObservationFact(at=at, price=None, in_stock=False)) == "现价 未读到，缺货"


def test_the_event_families_are_the_one_off_ones():
    assert {"price_drop", "promo_change", "adlaw", "back_in_stock", "price_anomaly"} <= EVENT_FAMILIES
    assert not EVENT_FAMILIES & {"crisis", "stock_out", "price_floor"}
