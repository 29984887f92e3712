"""The notify pipeline's stages on plain values: no database, no channel, no clock.

The engine hands the stages storage's plain alert records (``AlertRecord``) and silences
(``SilenceRow``), so each stage is tested here on values built in the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jingshao.alerts.settings import AlertsConfig
from jingshao.alerts.stages import (
    DEFAULT_PIPELINE,
    Ack,
    Candidate,
    Group,
    Inhibit,
    RepeatInterval,
    Route,
    Silence,
    StageContext,
    active_silences,
    run_pipeline,
    silence_matches,
)
from jingshao.storage.alerts_repo import SilenceRow
from jingshao.storage.queries.alerts import AlertRecord

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
_ids = iter(range(1, 10_000))


def alert(
    subject: str = "蜜橙",
    level: str = "yellow",
    *,
    family: str = "crisis",
    crisis: bool = True,
    key: str | None = None,
    **changes,
) -> AlertRecord:
    values = dict(
        fingerprint=f"fp-{family}-{subject}",
        family=family,
        subject=subject,
        subject_key=key or f"brand:{subject}",
        level=level,
        max_level=level,
        state="firing",
        rule=f"{level}.test",
        summary="负面声量上升",
        facts=[],
        evidence=[],
        is_crisis=crisis,
        started_at=T0,
        level_since=T0,
        last_active_at=T0,
        id=next(_ids),
    )
    values.update(changes)
    return AlertRecord(**values)


@dataclass
class Chan:
    name: str
    levels: tuple[str, ...] = ("blue", "yellow", "red")

    def accepts(self, level: str) -> bool:
        return level in self.levels


def ctx(now: datetime = T0, *, channels=(Chan("钉钉群"),), silences=(), red=None, **config) -> StageContext:
    return StageContext(
        now=now,
        config=AlertsConfig(**config),
        channels=list(channels),
        silences=list(silences),
        red_subjects=red or {},
    )


def silence(matcher: str, *, ended: datetime | None = None, expires: datetime = T0 + HOUR) -> SilenceRow:
    return SilenceRow(next(_ids), matcher, "小王", "发布会", T0 - HOUR, expires, ended)


# ---------------------------------------------------------------- Inhibit


def test_a_firing_red_crisis_mutes_the_same_brands_lower_notices_only():
    red = alert("蜜橙", "red")
    yellow_same = Candidate(alert("蜜橙", "yellow", family="review_spike", crisis=False), "firing")
    yellow_other = Candidate(alert("橘子", "yellow"), "firing")
    red_itself = Candidate(red, "escalated", previous_level="yellow")
    out = Inhibit().apply([yellow_same, yellow_other, red_itself], ctx(red={red.subject_key: red}))
    assert yellow_same.muted and f"#{red.id}" in yellow_same.muted and yellow_same.muted_by == "inhibited"
    assert yellow_other.live and red_itself.live
    assert out == [yellow_same, yellow_other, red_itself]  # muting keeps the candidate (an event is recorded)


def test_without_a_red_crisis_nothing_is_inhibited():
    c = Candidate(alert("蜜橙", "blue"), "firing")
    Inhibit().apply([c], ctx())
    assert c.live


# ---------------------------------------------------------------- Silence


def test_a_silence_matches_fingerprint_subject_key_or_family():
    a = alert("蜜橙", family="price_drop", crisis=False, key="product:7")
    assert silence_matches(silence(a.fingerprint), a)
    assert silence_matches(silence("product:7"), a)
    assert silence_matches(silence("price_drop"), a)
    assert not silence_matches(silence("brand:蜜橙"), a)


def test_only_active_silences_mute():
    ended = silence("brand:蜜橙", ended=T0 - timedelta(minutes=5))
    expired = silence("brand:蜜橙", expires=T0)
    live = silence("crisis")
    assert active_silences([ended, expired, live], T0) == [live]
    c = Candidate(alert("蜜橙"), "firing")
    Silence().apply([c], ctx(silences=[ended, expired]))
    assert c.live
    Silence().apply([c], ctx(silences=[ended, expired, live]))
    assert c.muted_by == "silenced" and f"#{live.id}" in (c.muted or "") and "发布会" in (c.muted or "")


# ---------------------------------------------------------------- Ack and RepeatInterval


def test_an_acknowledged_alert_gets_no_repeats_but_still_escalates():
    acked = alert("蜜橙", acked_by="小李", acked_at=T0)
    repeat, escalation = Candidate(acked, "repeat", news=False), Candidate(acked, "escalated")
    Ack().apply([repeat, escalation], ctx())
    assert repeat.dropped == "已确认（小李）" and escalation.live


def test_repeats_follow_the_levels_interval():
    cfg = {"repeat_interval": {"red": "1h", "yellow": "4h"}}
    due = Candidate(alert("A", "red", last_notified_at=T0 - HOUR), "repeat", news=False)
    early = Candidate(alert("B", "yellow", last_notified_at=T0 - HOUR), "repeat", news=False)
    blue = Candidate(alert("C", "blue", last_notified_at=T0 - 30 * HOUR), "repeat", news=False)
    first = Candidate(alert("D", "yellow"), "firing")
    RepeatInterval().apply([due, early, blue, first], ctx(**cfg))
    assert due.live and first.live
    assert early.dropped == "未到重复间隔" and blue.dropped == "该级别不重复提醒"


def test_the_level_of_a_notice_is_the_episodes_highest():
    cooled = alert("蜜橙", "yellow", max_level="red", last_notified_at=T0 - HOUR)
    c = Candidate(cooled, "repeat", news=False)
    RepeatInterval().apply([c], ctx(repeat_interval={"red": "1h", "yellow": "4h"}))
    assert c.level == "red" and c.live  # repeated hourly as red, not every 4 h as yellow


# ---------------------------------------------------------------- Route and Group


def test_route_picks_the_channels_of_the_level_in_config_order():
    chans = [Chan("值班群", ("red",)), Chan("钉钉群"), Chan("飞书", ("yellow", "red"))]
    red, blue = Candidate(alert("A", "red"), "firing"), Candidate(alert("B", "blue"), "firing")
    muted = Candidate(alert("C", "red"), "firing", muted="静默")
    Route().apply([red, blue, muted], ctx(channels=chans))
    assert red.channels == ["值班群", "钉钉群", "飞书"] and blue.channels == ["钉钉群"] and muted.channels == []


def test_group_keys_by_subject_unless_grouping_is_off():
    c = Candidate(alert("A", key="product:3", family="price_drop", crisis=False), "firing")
    Group().apply([c], ctx(group_interval="0s"))
    assert c.group is None
    Group().apply([c], ctx(group_interval="60s"))
    assert c.group == "product:3"


# ---------------------------------------------------------------- the pipeline as a value


def test_the_default_pipeline_in_order():
    red = alert("蜜橙", "red")
    cands = [
        Candidate(red, "firing"),
        Candidate(alert("蜜橙", "blue", family="review_spike", crisis=False), "firing"),
        Candidate(alert("橘子", "yellow", acked_by="小李", acked_at=T0), "repeat", news=False),
        Candidate(alert("柚子", "yellow"), "firing"),
    ]
    out = run_pipeline(cands, ctx(silences=[silence("brand:柚子")], red={red.subject_key: red}))
    assert [repr(s) for s in DEFAULT_PIPELINE] == ["Inhibit", "Silence", "Ack", "RepeatInterval", "Route", "Group"]
    assert [c.live for c in out] == [True, False, False, False]
    assert out[0].channels == ["钉钉群"] and out[0].group == "brand:蜜橙"
    assert out[1].muted_by == "inhibited" and out[2].dropped and out[3].muted_by == "silenced"
    assert out[1].channels == [] and out[3].channels == []  # nothing routed for what is not sent


def test_a_pipeline_without_inhibit_lets_the_lower_notice_through():
    red = alert("蜜橙", "red")
    blue = Candidate(alert("蜜橙", "blue", family="review_spike", crisis=False), "firing")
    run_pipeline([blue], ctx(red={red.subject_key: red}), [s for s in DEFAULT_PIPELINE if not isinstance(s, Inhibit)])
    assert blue.live and blue.channels == ["钉钉群"]
