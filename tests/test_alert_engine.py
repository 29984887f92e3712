"""The alert engine: state machine, stages and outbox, against real SQLite/PostgreSQL and local chat receivers.

Time is driven (``now`` is a parameter everywhere), so an hour of alert life takes milliseconds.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jingshao.alerts.channels import Channel, build_channel, parse_channel_config
from jingshao.alerts.dispatcher import Dispatcher
from jingshao.alerts.engine import AlertBook, Engine, SourceResult, evaluate
from jingshao.alerts.rules.model import AlertInstance, fingerprint
from jingshao.alerts.settings import AlertsConfig
from jingshao.alerts.stages import DEFAULT_PIPELINE, Candidate, Group, Inhibit, Route, StageContext
from jingshao.crawlers.config import BrandConfig
from jingshao.demo.webhooks import ChatReceivers
from jingshao.storage import alerts_repo
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import Alert, AlertEvent, Mention
from jingshao.storage.models import Notification as OutboxRow

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
PREFIX = "【竞哨】"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield database
    database.dispose()


def make_channel(chat: ChatReceivers, platform: str, name: str | None = None, **overrides) -> Channel:
    return build_channel(parse_channel_config({**chat.channel_settings(platform, name), **overrides}))


class Scripted:
    """A rule source whose instances the test sets before each evaluation."""

    def __init__(self, families: frozenset[str] = frozenset({"crisis", "review_spike", "price_drop"})) -> None:
        self.instances: list[AlertInstance] = []
        self.families = families
        self.current: dict[str, str] = {}  # subject key -> what it shows now (for resolved notices)

    def evaluate(self, session, now, book: AlertBook) -> SourceResult:
        return SourceResult([_at(i, now) for i in self.instances], self.families, current=dict(self.current))


def _at(inst: AlertInstance, now: datetime) -> AlertInstance:
    return AlertInstance(**{**inst.__dict__, "at": now})


def crisis(brand: str, level: str, summary: str = "负面声量上升") -> AlertInstance:
    return AlertInstance(
        fingerprint=fingerprint("crisis", f"brand:{brand}"),
        family="crisis",
        level=level,
        subject=brand,
        subject_key=f"brand:{brand}",
        rule=f"{level}.test",
        summary=summary,
        facts=[("1小时负面", "12 条")],
        evidence=[("某论坛：质量太差了", "https://bbs.example/1")],
        at=T0,
        is_crisis=True,
    )


def other(brand: str, level: str, family: str = "review_spike") -> AlertInstance:
    return AlertInstance(
        fingerprint=fingerprint(family, f"brand:{brand}"),
        family=family,
        level=level,
        subject=brand,
        subject_key=f"brand:{brand}",
        rule=f"{family}.test",
        summary=f"{family} 触发",
        facts=[("差评", "9 条")],
        at=T0,
    )


class Rig:
    """A database, a scripted source, channels on local receivers and a dispatcher, with a driven clock."""

    def __init__(
        self,
        db: Database,
        chat: ChatReceivers,
        config: AlertsConfig | None = None,
        channels: list[Channel] | None = None,
    ) -> None:
        self.db, self.chat = db, chat
        self.config = config or AlertsConfig()
        self.source = Scripted()
        self.channels = channels or [make_channel(chat, "dingtalk", "钉钉群")]
        self.engine = Engine(self.config, [self.source], self.channels)
        self.dispatcher = Dispatcher(db, {c.name: c for c in self.channels}, self.config)

    def step(self, now: datetime, *instances: AlertInstance, dispatch: bool = True):
        self.source.instances = list(instances)
        report = self.engine.evaluate(self.db, now)
        if dispatch:
            self.dispatcher.run_once(now)
        return report

    def texts(self, platform: str = "dingtalk") -> list[str]:
        return [d.payload["markdown"]["text"] for d in self.chat.accepted(platform)]

    def alert(self, fp: str) -> Alert:
        with self.db.session() as s:
            return s.scalars(select(Alert).where(Alert.fingerprint == fp)).one()

    def events(self, fp: str) -> list[str]:
        with self.db.session() as s:
            alert = s.scalars(select(Alert).where(Alert.fingerprint == fp)).one()
            return [
                e.kind
                for e in s.scalars(
                    select(AlertEvent)
                    .where(AlertEvent.alert_id == alert.id, AlertEvent.kind != "memo")
                    .order_by(AlertEvent.id)
                )
            ]


@pytest.fixture
def rig(db: Database, chat: ChatReceivers) -> Iterator[Rig]:
    r = Rig(db, chat)
    yield r
    r.dispatcher.close()


# ---------------------------------------------------------------- real rules over stored mentions

_ids = itertools.count()


def add_mention(
    db: Database,
    brand: str,
    at: datetime,
    *,
    negative: bool = True,
    sentiment: float | None = None,
    authority: int = 1,
    source: str = "某论坛",
    text: str = "质量太差了",
) -> None:
    n = next(_ids)
    key = hashlib.sha256(f"{brand}{n}{text}".encode()).hexdigest()
    with db.session() as s:
        s.add(
            Mention(
                brand=brand,
                source=source,
                authority=authority,
                url=f"https://news.example/{n}",
                url_key=key,
                content_key=key,
                title=text[:20],
                text=text,
                posted_at=at,
                sentiment=sentiment if sentiment is not None else (0.05 if negative else 0.9),
                label="neg" if negative else "pos",
            )
        )


def test_demo_like_crisis_goes_blue_yellow_red_then_resolves_notifying_each_step(db, chat):
    brand = BrandConfig(name="蜜橙")
    config = AlertsConfig()
    channel = make_channel(chat, "dingtalk", "钉钉群")
    dispatcher = Dispatcher(db, {channel.name: channel}, config)

    def run(now: datetime):
        report = evaluate(db, config, [brand], [channel], now)
        dispatcher.run_once(now)
        return report

    add_mention(db, "蜜橙", T0 - 5 * MIN, text="蜜橙面霜被曝光，消费者集体投诉过敏")
    assert run(T0).count("opened") == 1
    add_mention(db, "蜜橙", T0 + 5 * MIN, authority=2, source="行业媒体", text="蜜橙多地门店被投诉")
    assert run(T0 + 10 * MIN).count("escalated") == 1
    add_mention(db, "蜜橙", T0 + 15 * MIN, authority=3, source="央视新闻", text="记者调查蜜橙面霜质量问题")
    assert run(T0 + 20 * MIN).count("escalated") == 1
    texts = [d.payload["markdown"]["text"] for d in chat.accepted("dingtalk")]
    assert len(texts) == 3
    assert "蓝色预警" in texts[0] and "强负面提及含危机词" in texts[0]
    assert "黄色预警·升级" in texts[1] and "蓝色预警 → 黄色预警" in texts[1]
    assert "红色预警·升级" in texts[2] and "事实确认" in texts[2] and "red.authority3" in texts[2]

    # The authority mentions age out of the event window: two clear evaluations later it is resolved.
    run(T0 + 2 * HOUR)
    assert len(chat.accepted("dingtalk")) == 3
    run(T0 + 2 * HOUR + 5 * MIN)
    texts = [d.payload["markdown"]["text"] for d in chat.accepted("dingtalk")]
    assert len(texts) == 4
    assert texts[3].startswith(PREFIX) and "已恢复" in texts[3] and "复盘" in texts[3] and "72" in texts[3]
    with db.session() as s:
        alert = s.scalars(select(Alert)).one()
        assert (alert.state, alert.max_level) == ("resolved", "red")
    dispatcher.close()


def test_crisis_history_feeds_time_based_rules_from_the_alert_row_and_memo(db, chat):
    """Blue for 6 hours becomes yellow (yellow.blue_6h) because the engine remembers when it started."""
    brand = BrandConfig(name="蜜橙")
    config = AlertsConfig(repeat_interval={"blue": None})
    channel = make_channel(chat, "dingtalk", "钉钉群")
    for h in range(0, 7):  # a strongly negative crisis-word mention every hour keeps it blue
        add_mention(db, "蜜橙", T0 + h * HOUR - 10 * MIN, text=f"蜜橙 投诉 第{h}次")
    levels = []
    for h in range(0, 7):
        evaluate(db, config, [brand], [channel], T0 + h * HOUR)
        with db.session() as s:
            alert = s.scalars(select(Alert)).one()
            levels.append(alert.level)
            memo = alerts_repo.memo_of(s, alert.id)
    assert levels[:6] == ["blue"] * 6 and levels[6] == "yellow"
    assert memo["negatives_1h"] == 1 and "yellow_since" in memo


# ---------------------------------------------------------------- state machine and stages


def test_escalation_notifies_at_once_regardless_of_repeat_interval(rig):
    fp = crisis("A", "blue").fingerprint
    rig.step(T0, crisis("A", "blue"))
    rig.step(T0 + MIN * 2, crisis("A", "yellow"))
    rig.step(T0 + MIN * 4, crisis("A", "red"))
    texts = rig.texts()
    heads = [t.split("\n")[0] for t in texts]
    assert heads == [f"{PREFIX}🔵蓝色预警", f"{PREFIX}🟡黄色预警·升级", f"{PREFIX}🔴红色预警·升级"]
    assert rig.events(fp) == ["opened", "escalated", "escalated"]


def test_repeat_follows_the_level_interval_and_blue_never_repeats(rig):
    rig.step(T0, crisis("A", "red"), other("B", "yellow"), other("C", "blue", "price_drop"))
    assert len(rig.texts()) == 3
    rig.step(T0 + 30 * MIN, crisis("A", "red"), other("B", "yellow"), other("C", "blue", "price_drop"))
    assert len(rig.texts()) == 3
    rig.step(T0 + 61 * MIN, crisis("A", "red"), other("B", "yellow"), other("C", "blue", "price_drop"))
    texts = rig.texts()
    assert len(texts) == 4 and "红色预警·持续" in texts[3] and "重复提醒" in texts[3] and "已持续" in texts[3]
    rig.step(T0 + 4 * HOUR + MIN, crisis("A", "red"), other("B", "yellow"), other("C", "blue", "price_drop"))
    texts = rig.texts()
    assert len(texts) == 6  # red again (3 h later) and yellow's first repeat; blue never
    assert sum("黄色预警·持续" in t for t in texts) == 1
    assert not any("蓝色预警·持续" in t for t in texts)


def test_deescalation_is_recorded_not_notified_and_the_max_level_is_kept(rig):
    fp = crisis("A", "red").fingerprint
    rig.step(T0, crisis("A", "red"))
    rig.step(T0 + 10 * MIN, crisis("A", "yellow"))
    assert len(rig.texts()) == 1
    alert = rig.alert(fp)
    assert (alert.level, alert.max_level) == ("yellow", "red")
    assert rig.events(fp) == ["opened", "deescalated"]
    rig.step(T0 + 20 * MIN, crisis("A", "red"))  # back up to an already notified level: no new notice
    assert len(rig.texts()) == 1
    rig.step(T0 + 61 * MIN, crisis("A", "yellow"))  # still handled as red: red's hourly repeat
    texts = rig.texts()
    assert len(texts) == 2 and "红色预警·持续" in texts[1] and "当前级别" in texts[1]


def test_red_crisis_mutes_yellow_and_blue_of_the_same_brand_only(rig):
    rig.step(T0, crisis("A", "red"), other("A", "yellow"), other("B", "yellow"), other("A", "blue", "price_drop"))
    texts = rig.texts()
    assert len(texts) == 2
    assert "红色预警" in texts[0] and "B" in texts[1]
    muted = rig.alert(other("A", "yellow").fingerprint)
    assert muted.last_notified_at is None
    assert "inhibited" in rig.events(muted.fingerprint)


def test_silence_with_expiry_then_the_first_notice_goes_out(rig):
    with rig.db.session() as s:
        silence = alerts_repo.add_silence(s, "brand:A", "小王", "已知问题，公关处理中", T0 + HOUR, now=T0 - MIN)
    rig.step(T0, crisis("A", "yellow"), other("B", "yellow"))
    assert len(rig.texts()) == 1 and "B" in rig.texts()[0]
    assert rig.events(crisis("A", "yellow").fingerprint) == ["opened", "silenced"]
    rig.step(T0 + 30 * MIN, crisis("A", "yellow"), other("B", "yellow"))
    assert len(rig.texts()) == 1
    assert rig.events(crisis("A", "yellow").fingerprint) == ["opened", "silenced"]  # no event per evaluation
    rig.step(T0 + HOUR + MIN, crisis("A", "yellow"), other("B", "yellow"))  # expired
    texts = rig.texts()
    assert len(texts) == 2 and "🟡黄色预警\n" in texts[1] + "\n" and "A：" in texts[1]
    with rig.db.session() as s:
        assert alerts_repo.list_silences(s, now=T0 + 2 * HOUR) == []
        assert alerts_repo.unsilence(s, silence.id, now=T0 + 2 * HOUR).ended_at is not None


@pytest.mark.slow
def test_silence_by_family_and_by_fingerprint(rig):
    with rig.db.session() as s:
        alerts_repo.add_silence(s, "price_drop", "小王", "大促期间", T0 + HOUR, now=T0 - MIN)
        alerts_repo.add_silence(s, other("B", "yellow").fingerprint, "小王", "误报", T0 + HOUR, now=T0 - MIN)
    rig.step(T0, other("A", "yellow", "price_drop"), other("B", "yellow"), crisis("C", "blue"))
    texts = rig.texts()
    assert len(texts) == 1 and "C" in texts[0]


@pytest.mark.slow
def test_ack_stops_repeats_until_the_alert_escalates(rig):
    fp = crisis("A", "yellow").fingerprint
    rig.step(T0, crisis("A", "yellow"))
    with rig.db.session() as s:
        alerts_repo.ack(s, rig.alert(fp).id, "小李", now=T0 + MIN)
    rig.step(T0 + 5 * HOUR, crisis("A", "yellow"))
    assert len(rig.texts()) == 1
    rig.step(T0 + 5 * HOUR + MIN, crisis("A", "red"))
    rig.step(T0 + 6 * HOUR + 2 * MIN, crisis("A", "red"))
    texts = rig.texts()
    assert len(texts) == 3 and "升级" in texts[1] and "持续" in texts[2]
    assert rig.alert(fp).acked_by is None
    assert rig.events(fp)[:2] == ["opened", "acked"]


@pytest.mark.slow
def test_resolved_after_two_clear_windows_with_the_fixed_prefix(rig):
    fp = other("B", "yellow").fingerprint
    rig.step(T0, other("B", "yellow"))
    rig.step(T0 + 5 * MIN)
    assert rig.alert(fp).state == "firing" and rig.alert(fp).clear_windows == 1
    rig.step(T0 + 10 * MIN, other("B", "yellow"))  # active again: the clear count starts over
    rig.step(T0 + 15 * MIN)
    assert rig.alert(fp).state == "firing"
    rig.step(T0 + 20 * MIN)
    assert rig.alert(fp).state == "resolved"
    texts = rig.texts()
    assert len(texts) == 2 and texts[1].startswith(f"{PREFIX}✅已恢复") and "持续时长" in texts[1]
    assert "20 分钟" in texts[1] and "复盘" not in texts[1]
    # fires again later: the same row is reopened as a new episode
    rig.step(T0 + 2 * HOUR, other("B", "yellow"))
    assert rig.alert(fp).state == "firing" and len(rig.texts()) == 3
    assert rig.events(fp) == ["opened", "resolved", "opened"]


@pytest.mark.slow
def test_a_source_that_did_not_run_does_not_resolve_its_alerts(rig):
    rig.step(T0, other("B", "yellow", "price_drop"))
    rig.source.families = frozenset({"crisis"})
    for k in range(1, 4):
        rig.step(T0 + k * 5 * MIN)
    assert rig.alert(other("B", "yellow", "price_drop").fingerprint).state == "firing"


@pytest.mark.slow
def test_grouping_merges_notices_about_one_subject_per_channel(db, chat):
    rig = Rig(db, chat, channels=[make_channel(chat, "dingtalk", "钉钉群"), make_channel(chat, "wecom", "企微群")])
    rig.step(T0, crisis("A", "yellow"), other("A", "blue"), other("B", "blue"))
    for platform in ("dingtalk", "wecom"):
        assert len(chat.accepted(platform)) == 2  # A's two notices in one message, B's alone
    text = next(t for t in rig.texts() if "A：" in t)
    assert text.startswith(f"{PREFIX}🟡黄色预警") and "同一对象另有 1 条通知" in text and "蓝色预警·新告警" in text
    with db.session() as s:
        statuses = sorted(s.scalars(select(OutboxRow.status)).all())
        assert statuses.count("merged") == 4 and statuses.count("sent") == 4

    # Across evaluations: a notice still unsent within group_interval is folded into the next one.
    still = (crisis("A", "yellow"), other("A", "blue"), other("B", "blue"))  # no repeats due
    rig.step(T0 + HOUR, *still, crisis("C", "blue"), dispatch=False)
    rig.step(T0 + HOUR + rig.config.group_interval / 2, *still, crisis("C", "yellow"), dispatch=False)
    rig.dispatcher.run_once(T0 + HOUR + MIN)
    texts = rig.texts()
    assert len(texts) == 3 and "黄色预警·升级" in texts[2] and "同一对象另有 1 条通知" in texts[2]
    rig.dispatcher.close()


@pytest.mark.slow
def test_outbox_is_written_in_the_same_transaction_as_the_state(database_url, chat):
    db = open_database(database_url)

    class Boom:
        def apply(self, candidates: list[Candidate], ctx: StageContext) -> list[Candidate]:
            raise RuntimeError("crash after the state was written")

    source = Scripted()
    source.instances = [crisis("A", "red")]
    channel = make_channel(chat, "webhook")
    engine = Engine(AlertsConfig(), [source], [channel], [*DEFAULT_PIPELINE, Boom()])
    with pytest.raises(RuntimeError):
        engine.evaluate(db, T0)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
        assert s.scalar(select(func.count()).select_from(AlertEvent)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0
    report = Engine(AlertsConfig(), [source], [channel]).evaluate(db, T0)
    assert report.notifications == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 1
    db.dispose()


def test_levels_route_to_channels(db, chat):
    red_only = make_channel(chat, "wecom", "高管群", levels=["red"])
    rig = Rig(db, chat, channels=[make_channel(chat, "dingtalk", "钉钉群"), red_only])
    rig.step(T0, crisis("A", "yellow"), other("B", "blue"))
    assert len(chat.accepted("dingtalk")) == 2 and chat.accepted("wecom") == []
    rig.step(T0 + MIN, crisis("A", "red"), other("B", "blue"))
    assert len(chat.accepted("wecom")) == 1
    rig.dispatcher.close()


def test_the_pipeline_is_a_list_you_can_print_and_reorder(rig):
    assert [repr(s) for s in DEFAULT_PIPELINE] == ["Inhibit", "Silence", "Ack", "RepeatInterval", "Route", "Group"]
    without_inhibit = [s for s in DEFAULT_PIPELINE if not isinstance(s, Inhibit)]
    engine = Engine(rig.config, [rig.source], rig.channels, without_inhibit)
    rig.source.instances = [crisis("A", "red"), other("A", "yellow")]
    engine.evaluate(rig.db, T0)
    rig.dispatcher.run_once(T0)
    assert "同一对象另有 1 条通知" in rig.texts()[0]  # not inhibited: grouped instead
    assert isinstance(without_inhibit[-1], Group) and isinstance(without_inhibit[-2], Route)


def test_alert_queries_for_the_cli(rig):
    rig.step(T0, crisis("A", "red"), other("B", "blue"))
    with rig.db.session() as s:
        rows = alerts_repo.list_alerts(s)
        assert [r.max_level for r in rows] == ["red", "blue"]
        detail = alerts_repo.get_alert(s, rows[0].id)
        assert detail.facts[0] == ("1小时负面", "12 条") and detail.evidence[0][1] == "https://bbs.example/1"
        assert [e.kind for e in detail.events] == ["opened"]
        assert [(n.channel, n.status) for n in detail.notifications] == [("钉钉群", "sent")]
        depth = {(d.channel, d.status): d.count for d in alerts_repo.outbox_depth(s)}
        assert depth == {("钉钉群", "sent"): 2}
        assert alerts_repo.broken_channels(s) == []
        with pytest.raises(alerts_repo.AlertNotFound):
            alerts_repo.get_alert(s, 999)
        with pytest.raises(ValueError):
            alerts_repo.add_silence(s, "brand:A", "小王", "过期", T0 - HOUR, now=T0)


def test_report_lines_name_changes(rig):
    report = rig.step(T0, crisis("A", "red"))
    lines = report.lines()
    assert "1 active" in lines[0] and "opened" in lines[1] and "钉钉群" in lines[1]


def test_competitor_source_reads_observations_reviews_and_adlaw_hits(database_url, chat):
    from decimal import Decimal

    from jingshao.storage.models import Observation
    from jingshao.storage.repository import CatalogEntry, record_observation, replace_adlaw_hits, sync_catalog

    db = open_database(database_url)
    url = "https://shop.example/item/1"
    with db.session() as s:
        pid = sync_catalog(s, [CatalogEntry("竞品甲", url, name="保湿面霜")])[url]
    for k, price in enumerate(["199", "199", "199"]):
        with db.session() as s:
            record_observation(
                s,
                pid,
                {"title": f"保湿面霜 v{k}", "price": Decimal(price), "availability": "InStock"},
                seen_at=T0 - timedelta(days=3 - k),
            )
    with db.session() as s:
        record_observation(
            s,
            pid,
            {"title": "全网最低 保湿面霜", "price": Decimal("139"), "availability": "InStock"},
            seen_at=T0 - HOUR,
        )
        oid = s.scalars(select(Observation.id).order_by(Observation.id.desc())).first()
        replace_adlaw_hits(
            s,
            oid,
            pid,
            [
                {
                    "field": "title",
                    "word": "最低",
                    "category": "absolute",
                    "start": 2,
                    "end": 4,
                    "context": "全网最低 保湿面霜",
                }
            ],
        )
    channel = make_channel(chat, "webhook")
    report = evaluate(db, AlertsConfig(), [], [channel], T0)
    families = {c.family for c in report.changes}
    assert {"price_drop", "adlaw"} <= families
    with db.session() as s:
        drop = s.scalars(select(Alert).where(Alert.family == "price_drop")).one()
        assert drop.level == "red" and drop.subject_key == f"product:{pid}"  # 30% >= 25%
    db.dispose()


def test_concurrent_evaluations_are_serialised(database_url, chat):
    """The scheduler's job, the evaluation after a mention crawl and a manual one may overlap: over the same
    facts they must open ONE alert and queue ONE notification per channel (PostgreSQL: an advisory lock)."""
    import threading
    import time

    open_database(database_url).dispose()  # migrate once, before the threads race

    class Slow(Scripted):
        def evaluate(self, session, now, book: AlertBook) -> SourceResult:
            time.sleep(0.3)  # both transactions would read an empty alert book without serialisation
            return super().evaluate(session, now, book)

    channels = [make_channel(chat, "dingtalk", "钉钉群"), make_channel(chat, "webhook", "webhook")]
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    reports = []

    def run() -> None:
        db = open_database(database_url)  # one engine each, like separate processes
        source = Slow()
        source.instances = [crisis("A", "red")]
        try:
            start.wait()
            reports.append(Engine(AlertsConfig(), [source], channels).evaluate(db, T0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(reports) == 2
    db = open_database(database_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1
        assert s.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "opened")) == 1
        rows = s.scalars(select(OutboxRow).where(OutboxRow.status == "pending")).all()
        assert sorted(r.channel for r in rows) == ["webhook", "钉钉群"]
    assert sorted(r.notifications for r in reports) == [0, 2]
    db.dispose()
