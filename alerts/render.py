"""Alerts (plain records from storage) -> :class:`~jingshao.alerts.channels.Notification` (Chinese text),
and back from the outbox.

The engine renders a notification when it writes the outbox, so what is sent is what the alert said
*at that moment* (a later escalation does not rewrite an earlier message). The payload stored in
``notifications.payload`` is plain JSON (:func:`to_payload`); the dispatcher rebuilds the
:class:`Notification` with :func:`from_payload` and the channel formats it (and adds the fixed prefix).

Merged messages: :func:`render_group` (several notices about one subject for one channel: the most
severe in full, the others listed) and :func:`render_summary` (rate-limit overflow: one line each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from jingshao.alerts.channels.base import Notification
from jingshao.alerts.rules.playbook import POSTMORTEM_HOURS, POSTMORTEM_REMINDER, RED_PLAYBOOK_STEPS
from jingshao.core.formatting import clock
from jingshao.core.levels import LEVEL_NAMES, LEVEL_RANK
from jingshao.storage.queries.alerts import AlertRecord

KIND_NAMES: dict[str, str] = {
    "firing": "新告警",
    "escalated": "升级",
    "followup": "新变化",
    "repeat": "重复提醒",
    "resolved": "已恢复",
    "summary": "汇总",
    "test": "测试",
}
FAMILY_NAMES: dict[str, str] = {
    "crisis": "品牌舆情危机",
    "price_drop": "竞品降价",
    "price_floor": "竞品低于底价",
    "price_anomaly": "竞品价格异常",
    "stock_out": "竞品缺货",
    "back_in_stock": "竞品恢复供货",
    "promo_change": "竞品促销变化",
    "fake_original_price": "划线价高于7日最低价",
    "adlaw": "竞品广告法违规用语",
    "review_spike": "竞品差评激增",
    "crawl_blocked": "竞品抓取被拦截",
    "cookie_expired": "抓取登录态失效",
}
MAX_SUMMARY_LINES = 60


def duration_text(span: timedelta) -> str:
    """``2 小时 15 分钟``, ``45 分钟``, ``3 天 2 小时`` (minutes dropped beyond a day)."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} 天")
    if hours:
        parts.append(f"{hours} 小时")
    if mins and not days:
        parts.append(f"{mins} 分钟")
    return " ".join(parts) or "不到 1 分钟"


def _pairs(value: Any) -> list[tuple[str, str]]:
    """Stored JSON ``[[label, value], ...]`` back to tuples (tolerating anything odd)."""
    out = []
    for item in value or []:
        if isinstance(item, list | tuple) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
    return out


def _links(evidence: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """Evidence with a URL becomes a link; without one, a quoted line."""
    links, quotes = [], []
    for text, url in _pairs(evidence):
        if url:
            links.append((text, url))
        else:
            quotes.append(f"引用：{text}")
    return links, quotes


def _family(alert: AlertRecord) -> str:
    return FAMILY_NAMES.get(alert.family, alert.family)


def alert_link(alert: AlertRecord, public_url: str | None) -> list[tuple[str, str]]:
    """The link to the alert's page in the dashboard, when ``web.public_url`` is set."""
    if not public_url or alert.id is None:
        return []
    return [("在看板中查看告警", f"{public_url.rstrip('/')}/alerts/{alert.id}")]


def render_alert(
    alert: AlertRecord,
    kind: str,
    now: datetime,
    *,
    previous_level: str | None = None,
    previous_summary: str | None = None,
    current: str | None = None,
    public_url: str | None = None,
) -> Notification:
    """The notice for ``alert`` of ``kind`` (firing / escalated / followup / repeat / resolved) at ``now``.

    A ``followup`` (an event alert that changed further) leads with the current summary (the current
    price) and names what the previous notice said (``previous_summary``).

    The level shown is the alert's highest level in this episode (``max_level``): a crisis that cooled
    from red to yellow is still handled as red until it resolves. With ``public_url`` (``web.public_url``)
    the notice links to the alert's page first.
    """
    if kind == "resolved":
        return _render_resolved(alert, now, public_url, current)
    level = alert.max_level
    status = KIND_NAMES[kind]
    if kind == "escalated" and previous_level:
        status += f"（{LEVEL_NAMES[previous_level]} → {LEVEL_NAMES[level]}）"
    facts = [("状态", status), ("级别", LEVEL_NAMES[level]), ("类型", _family(alert)), ("对象", alert.subject)]
    rule_facts = _pairs(alert.facts)
    if not any(k == "触发规则" for k, _ in rule_facts):  # crisis facts name the rule in Chinese already
        facts.append(("触发规则", alert.rule))
    facts += rule_facts
    if alert.level != alert.max_level:
        facts.append(("当前级别", f"{LEVEL_NAMES[alert.level]}（按最高级别 {LEVEL_NAMES[level]} 处理，直至恢复）"))
    facts.append(("开始时间", clock(alert.started_at)))
    if kind == "repeat":
        facts.append(("已持续", duration_text(now - alert.started_at)))
    if kind == "followup" and previous_summary:
        facts.append(("上次通知", previous_summary))
    if alert.acked_by:
        facts.append(("已确认", f"{alert.acked_by}（{clock(alert.acked_at)}）" if alert.acked_at else alert.acked_by))
    links, quotes = _links(alert.evidence)
    links = alert_link(alert, public_url) + links
    body = [alert.summary, *quotes]
    if alert.is_crisis and level == "red":
        body += ["红色预警处置要求：", *(f"{i}. {step}" for i, step in enumerate(RED_PLAYBOOK_STEPS, 1))]
    return Notification(
        level=level,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        title=f"{alert.subject}：{alert.summary}",
        facts=facts,
        body=body,
        links=links,
        subject=alert.subject,
        fingerprint=alert.fingerprint,
        created_at=now,
    )


def _render_resolved(
    alert: AlertRecord, now: datetime, public_url: str | None = None, current: str | None = None
) -> Notification:
    """A state's resolved notice: how long it lasted, and (``current``, from the sources) where it stands now."""
    level = alert.max_level
    ended = alert.resolved_at or now
    lasted = duration_text(ended - alert.started_at)
    facts = [
        ("状态", KIND_NAMES["resolved"]),
        ("类型", _family(alert)),
        ("对象", alert.subject),
        ("最高级别", LEVEL_NAMES[level]),
        ("持续时长", lasted),
        ("开始时间", clock(alert.started_at)),
        ("恢复时间", clock(ended)),
        ("最后触发规则", alert.rule),
    ]
    body = [f"{_family(alert)}已恢复，持续 {lasted}（最高 {LEVEL_NAMES[level]}）。最后一次：{alert.summary}"]
    if current:
        facts.insert(1, ("当前", current))
        body.insert(0, f"当前：{current}")
    if alert.is_crisis and level == "red":
        due = ended + timedelta(hours=POSTMORTEM_HOURS)
        body.append(POSTMORTEM_REMINDER.format(brand=alert.subject, resolved_at=clock(ended), due=clock(due)))
    return Notification(
        level=level,  # type: ignore[arg-type]
        kind="resolved",
        title=f"{alert.subject}：{_family(alert)}已恢复",
        facts=facts,
        body=body,
        links=alert_link(alert, public_url),
        subject=alert.subject,
        fingerprint=alert.fingerprint,
        created_at=now,
    )


def _rank(n: Notification) -> int:
    return LEVEL_RANK[n.level]


def _line(n: Notification) -> str:
    return f"{LEVEL_NAMES[n.level]}·{KIND_NAMES.get(n.kind, n.kind)}｜{n.title}"


def render_group(parts: Sequence[Notification], now: datetime) -> Notification:
    """Several notices about one subject for one channel: the most severe in full, the rest listed.

    Ties go to the latest part (an escalation after a first notice shows the escalation)."""
    if len(parts) == 1:
        return parts[0]
    top = max(reversed(parts), key=_rank)  # max keeps the first maximum: reversed -> the latest
    others = [p for p in parts if p is not top]
    body = [*top.body, f"同一对象另有 {len(others)} 条通知（已合并为一条）：", *(_line(p) for p in others)]
    facts = [*top.facts, ("合并", f"共 {len(parts)} 条")]
    return Notification(
        level=top.level,
        kind=top.kind,
        title=top.title,
        facts=facts,
        body=body,
        links=top.links,
        subject=top.subject,
        fingerprint=top.fingerprint,
        mention=top.mention,
        created_at=now,
    )


def render_summary(parts: Sequence[Notification], now: datetime, reason: str) -> Notification:
    """One message standing for many (rate-limit overflow): counts per level, one line per notice."""
    level = max(parts, key=_rank).level
    counts = {lv: sum(1 for p in parts if p.level == lv) for lv in ("red", "yellow", "blue")}
    facts = [("合并条数", f"{len(parts)} 条"), ("原因", reason)]
    facts += [(LEVEL_NAMES[lv], f"{n} 条") for lv, n in counts.items() if n]
    ordered = sorted(parts, key=lambda p: -_rank(p))  # stable: same level keeps creation order
    lines = [_line(p) for p in ordered[:MAX_SUMMARY_LINES]]
    if len(ordered) > MAX_SUMMARY_LINES:
        lines.append(f"……另有 {len(ordered) - MAX_SUMMARY_LINES} 条，见 `jingshao alerts list`")
    links = [link for p in ordered if p.level == level for link in p.links][:3]
    return Notification(
        level=level,
        kind="summary",
        title=f"{len(parts)} 条告警通知汇总",
        facts=facts,
        body=lines,
        links=links,
        created_at=now,
    )


# ---------------------------------------------------------------- outbox payloads


def notification_dict(n: Notification) -> dict[str, Any]:
    return {
        "level": n.level,
        "kind": n.kind,
        "title": n.title,
        "facts": [list(f) for f in n.facts],
        "body": list(n.body),
        "links": [list(link) for link in n.links],
        "subject": n.subject,
        "fingerprint": n.fingerprint,
        "mention": list(n.mention),
        "created_at": n.created_at.isoformat(),
    }


def notification_from_dict(d: dict[str, Any]) -> Notification:
    return Notification(
        level=d["level"],
        kind=d["kind"],
        title=d["title"],
        facts=_pairs(d.get("facts")),
        body=[str(b) for b in d.get("body") or []],
        links=_pairs(d.get("links")),
        subject=d.get("subject", ""),
        fingerprint=d.get("fingerprint", ""),
        mention=list(d.get("mention") or []),
        created_at=datetime.fromisoformat(d["created_at"]),
    )


def to_payload(
    n: Notification, *, group: str | None = None, alert_ids: Sequence[int] = (), parts: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The JSON stored in the outbox: the notification, its group key, the alerts it speaks for and,
    for a merged message, the original notifications it stands for (so merges can be merged again)."""
    payload: dict[str, Any] = {"notification": notification_dict(n), "group": group, "alert_ids": list(alert_ids)}
    if parts:
        payload["parts"] = list(parts)
    return payload


def from_payload(payload: dict[str, Any]) -> Notification:
    return notification_from_dict(payload["notification"])


def payload_parts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The original notifications a payload stands for (itself, unless it is a merge)."""
    return list(payload.get("parts") or [payload["notification"]])
