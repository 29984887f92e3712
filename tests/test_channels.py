"""Notification channels against local receivers that behave like each chat platform (real HTTP)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from jingshao.alerts.channels import (
    Channel,
    DingTalkChannel,
    FeishuChannel,
    Notification,
    SlackChannel,
    WebhookChannel,
    WeComChannel,
    build_channel,
    parse_channel_config,
)
from jingshao.alerts.channels.base import TRUNCATED, encode_json, fit_lines, parse_retry_after
from jingshao.alerts.channels.dingtalk import dingtalk_sign
from jingshao.alerts.channels.webhook import webhook_signature
from jingshao.core.url_redaction import redact_url
from jingshao.demo.webhooks import ChatReceivers

PLATFORMS = ["dingtalk", "wecom", "feishu", "slack", "webhook"]
PREFIX = "【竞哨】"
WHEN = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 Beijing time


@pytest.fixture
def chat(receivers: ChatReceivers) -> ChatReceivers:
    receivers.reset()
    receivers.start()  # a test may have stopped the server
    for name in ("slack",):  # Slack's default 1/s would throttle tests that send several messages
        receivers.set_limits(name, [])
    return receivers


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def channel(chat: ChatReceivers, name: str, **overrides: Any) -> Channel:
    return build_channel(parse_channel_config({**chat.channel_settings(name), **overrides}))


def note(level: str = "yellow", kind: str = "firing", **kw: Any) -> Notification:
    fields: dict[str, Any] = {
        "title": "小米 1小时负面量激增",
        "facts": [("规则", "1小时负面量超基线3σ"), ("负面数", "62")],
        "body": ["“充电器发烫，客服不理人”——微博用户"],
        "links": [("原帖", "https://weibo.example/p/1")],
        "subject": "小米",
        "fingerprint": "fp0123456789abcdef",
        "created_at": WHEN,
    }
    return Notification(level=level, kind=kind, **{**fields, **kw})  # type: ignore[arg-type]


def message_texts(name: str, payload: dict[str, Any]) -> list[str]:
    """The texts a reader sees first, per platform."""
    if name == "dingtalk":
        key = payload["msgtype"]
        return [payload[key]["title"], payload[key]["text"]]
    if name == "wecom":
        return [payload[payload["msgtype"]]["content"]]
    if name == "feishu":
        return [payload["card"]["header"]["title"]["content"]]
    if name == "slack":
        return [payload["text"], payload["blocks"][0]["text"]["text"]]
    return [payload["text"]]


# ---------------------------------------------------------------------------- delivery


@pytest.mark.parametrize("name", PLATFORMS)
def test_message_accepted_and_recorded_with_prefix(chat: ChatReceivers, client: httpx.Client, name: str) -> None:
    result = channel(chat, name).send(note(), client)
    assert result.status == "sent", result
    [delivery] = chat.accepted(name)
    assert all(text.startswith(PREFIX) for text in message_texts(name, delivery.payload))
    assert not chat.rejected(name)


@pytest.mark.parametrize("name", PLATFORMS)
@pytest.mark.parametrize("kind", ["resolved", "test", "summary"])
def test_every_kind_starts_with_the_prefix(chat: ChatReceivers, client: httpx.Client, name: str, kind: str) -> None:
    assert channel(chat, name).send(note("red", kind), client).status == "sent"
    texts = message_texts(name, chat.accepted(name)[-1].payload)
    assert all(text.startswith(PREFIX) for text in texts)
    if kind == "resolved":
        assert "已恢复" in texts[0]


@pytest.mark.parametrize(("name", "code"), [("dingtalk", 310000), ("feishu", 19021), ("webhook", 401)])
def test_wrong_secret_is_permanent_with_the_platform_code(
    chat: ChatReceivers, client: httpx.Client, name: str, code: int
) -> None:
    result = channel(chat, name, secret="not-the-robot-secret").send(note(), client)
    assert (result.status, result.code) == ("permanent", code)
    assert chat.rejected(name)[-1].code == code and not chat.accepted(name)


@pytest.mark.parametrize(("name", "code"), [("dingtalk", 310000), ("feishu", 19021)])
def test_stale_signature_timestamp_is_refused(chat: ChatReceivers, client: httpx.Client, name: str, code: int) -> None:
    cfg = parse_channel_config(chat.channel_settings(name))
    cls = DingTalkChannel if name == "dingtalk" else FeishuChannel
    stale = cls(cfg.name, cfg.url, secret=cfg.secret.get_secret_value(), clock=lambda: time.time() - 2 * 3600)
    result = stale.send(note(), client)
    assert (result.status, result.code) == ("permanent", code)


def test_dingtalk_signature_is_url_encoded_once(chat: ChatReceivers) -> None:
    fixed = 1_714_536_000_123
    ch = DingTalkChannel("d", chat.url_for("dingtalk"), secret="SECabc", clock=lambda: fixed / 1000)
    url = ch.prepare(note()).url
    query = urlsplit(url).query
    expected = dingtalk_sign("SECabc", fixed)
    assert parse_qs(query)["timestamp"] == [str(fixed)]
    assert parse_qs(query)["sign"] == [expected]  # one decode gives back the base64 exactly
    assert "+" not in query and "/" not in query.split("sign=")[1]


@pytest.mark.parametrize(("name", "code"), [("dingtalk", 310000), ("feishu", 19024)])
def test_missing_keyword_is_permanent(chat: ChatReceivers, client: httpx.Client, name: str, code: int) -> None:
    result = channel(chat, name, prefix="【别的前缀】").send(note(), client)
    assert (result.status, result.code) == ("permanent", code)
    assert "keyword" in result.detail.lower()


@pytest.mark.parametrize(
    ("name", "code", "wait"), [("dingtalk", 130101, 60.0), ("wecom", 45009, 60.0), ("feishu", 11232, 1.0)]
)
def test_throttling_is_retry_with_retry_after(
    chat: ChatReceivers, client: httpx.Client, name: str, code: int, wait: float
) -> None:
    chat.set_limits(name, [(2, 60)])
    ch = channel(chat, name)
    assert [ch.send(note(), client).status for _ in range(2)] == ["sent", "sent"]
    result = ch.send(note(), client)
    assert (result.status, result.code, result.retry_after) == ("retry", code, wait)
    assert len(chat.accepted(name)) == 2 and chat.rejected(name)[-1].code == code


def test_feishu_per_second_limit(chat: ChatReceivers, client: httpx.Client) -> None:
    ch = channel(chat, "feishu")
    started = time.monotonic()
    results = [ch.send(note(), client).status for _ in range(6)]  # default: 5 a second
    if time.monotonic() - started > 0.9:
        pytest.skip("machine too slow to send 6 messages within one second")
    assert results[:5] == ["sent"] * 5 and results[5] == "retry"


@pytest.mark.parametrize("name", PLATFORMS)
def test_receiver_down_then_up(chat: ChatReceivers, client: httpx.Client, name: str) -> None:
    ch = channel(chat, name)
    chat.down(name)
    result = ch.send(note(), client)
    assert (result.status, result.code) == ("retry", 503)
    chat.down(name, mode="close")
    result = ch.send(note(), client)
    assert result.status == "retry" and result.code is None and "network error" in result.detail
    chat.up(name)
    assert ch.send(note(), client).status == "sent"
    assert len(chat.accepted(name)) == 1


def test_server_stopped_is_retry_and_restarts_on_the_same_port(chat: ChatReceivers, client: httpx.Client) -> None:
    ch = channel(chat, "dingtalk")
    assert ch.send(note(), client).status == "sent"
    chat.stop()
    result = ch.send(note(), client)
    assert result.status == "retry" and "ConnectError" in result.detail
    chat.start()
    assert ch.send(note(), client).status == "sent"


def test_slack_429_retry_after_is_honoured(chat: ChatReceivers, client: httpx.Client) -> None:
    chat.set_limits("slack", [(1, 60)])
    chat["slack"].retry_after = 7
    ch = channel(chat, "slack")
    assert ch.send(note(), client).status == "sent"
    result = ch.send(note(), client)
    assert (result.status, result.code, result.retry_after) == ("retry", "rate_limited", 7.0)


def test_slack_errors(chat: ChatReceivers, client: httpx.Client) -> None:
    ch = channel(chat, "slack")
    chat.fail_next("slack", 1, "invalid_payload")
    assert (ch.send(note(), client).status, ch.send(note(), client).status) == ("permanent", "sent")
    wrong = SlackChannel("s", chat.url_for("slack").rsplit("/", 1)[0] + "/WRONGtoken123")
    result = wrong.send(note(), client)
    assert (result.status, result.code) == ("permanent", "no_service")
    chat.fail_next("slack", 1, 503)
    assert ch.send(note(), client).status == "retry"


@pytest.mark.parametrize(
    ("name", "code", "status"),
    [
        ("dingtalk", 300001, "permanent"),
        ("dingtalk", 130101, "retry"),
        ("wecom", 93000, "permanent"),
        ("wecom", 45009, "retry"),
        ("feishu", 19024, "permanent"),
        ("feishu", 11232, "retry"),
        ("webhook", 500, "retry"),
        ("webhook", 429, "retry"),
        ("webhook", 400, "permanent"),
    ],
)
def test_injected_platform_codes(chat: ChatReceivers, client: httpx.Client, name: str, code: int, status: str) -> None:
    chat.fail_next(name, 1, code)
    result = channel(chat, name).send(note(), client)
    assert (result.status, result.code) == (status, code)


def test_http_200_without_success_body_is_not_sent(chat: ChatReceivers, client: httpx.Client) -> None:
    # The generic receiver answers {"ok": true}; a DingTalk channel pointed at it finds no errcode.
    wrong = DingTalkChannel("d", chat.url_for("webhook"))
    result = wrong.send(note(), client)
    assert result.status == "permanent"


def test_generic_webhook_signature_header(chat: ChatReceivers, client: httpx.Client) -> None:
    ch = channel(chat, "webhook")
    request = ch.prepare(note())
    assert request.headers["X-Jingshao-Signature"] == webhook_signature(chat["webhook"].secret, request.content)
    assert ch.send(note(), client).status == "sent"
    unsigned = WebhookChannel("w", chat.url_for("webhook"))
    assert (unsigned.send(note(), client).status, chat.rejected("webhook")[-1].code) == ("permanent", 401)


# ---------------------------------------------------------------------------- formatting


def huge() -> Notification:
    return note("red", body=[f"第{i}条证据：" + "差评内容很长" * 150 for i in range(300)])


@pytest.mark.parametrize(
    ("name", "extra"), [("dingtalk", {}), ("wecom", {}), ("wecom", {"msgtype": "text"}), ("feishu", {}), ("slack", {})]
)
def test_size_limits_truncate_instead_of_being_rejected(
    chat: ChatReceivers, client: httpx.Client, name: str, extra: dict[str, str]
) -> None:
    ch = channel(chat, name, **extra)
    result = ch.send(huge(), client)
    assert result.status == "sent", result
    payload = chat.accepted(name)[-1].payload
    dumped = json.dumps(payload, ensure_ascii=False)
    assert TRUNCATED in dumped and "第0条证据" in dumped
    if name == "dingtalk":
        assert len(encode_json(payload)) <= 20_000
    elif name == "wecom":
        key = payload["msgtype"]
        assert len(payload[key]["content"].encode()) <= (4096 if key == "markdown" else 2048)
    elif name == "feishu":
        assert len(encode_json(payload)) <= 30 * 1024
    else:
        assert len(payload["blocks"]) <= 50
    assert all(text.startswith(PREFIX) for text in message_texts(name, payload))


def test_truncation_keeps_as_much_as_fits() -> None:
    lines = ["aaaa", "bbbb", "cccc"]
    assert fit_lines(lines, lambda ls: True) == lines
    assert len(TRUNCATED) == 6
    assert fit_lines(lines, lambda ls: sum(map(len, ls)) <= 11) == ["aaaa", "b" + TRUNCATED]
    assert fit_lines(lines, lambda ls: sum(map(len, ls)) <= 10) == ["aaaa", TRUNCATED]
    assert fit_lines(lines, lambda ls: sum(map(len, ls)) <= 3) == [TRUNCATED]


EVIL = note(
    "red",
    title="*爆* [点我](https://evil.example) @all # 标题",
    facts=[("负面数", '62 <at user_id="all"></at>')],
    body=["> 引用 _斜体_ `代码` <!channel> @所有人 & <b>粗</b>\n# 标题"],
    links=[("原帖]", "https://weibo.example/p/(1)"), ("坏链接", "javascript:alert(1)")],
    subject="小米",
    mention=[],
)


def test_dingtalk_markdown_injection_neutralised() -> None:
    text = DingTalkChannel("d", "https://x.example/robot/send?access_token=t").render(EVIL)["markdown"]["text"]
    assert text == (
        "【竞哨】🔴红色预警\n\n"
        "### ＊爆＊ ［点我］(https://evil.example) ＠all ＃ 标题\n\n"
        "**对象**：小米\n\n"
        '**负面数**：62 ＜at user＿id="all"＞＜/at＞\n\n'
        "> ＞ 引用 ＿斜体＿ ｀代码｀ ＜!channel＞ ＠所有人 & ＜b＞粗＜/b＞ ＃ 标题\n\n"
        "[原帖］](https://weibo.example/p/%281%29)\n\n"
        "坏链接\n\n"
        "指纹 fp0123456789 · 2024-05-01 12:00（北京时间）"
    )


def test_wecom_markdown_injection_neutralised() -> None:
    content = WeComChannel("w", "https://x.example/send?key=k").render(EVIL)["markdown"]["content"]
    assert content.splitlines()[:5] == [
        '【竞哨】<font color="warning">🔴红色预警</font>',
        "**＊爆＊ ［点我］(https://evil.example) ＠all ＃ 标题**",
        '> 对象：<font color="comment">小米</font>',
        '> 负面数：<font color="comment">62 ＜at user＿id="all"＞＜/at＞</font>',
        "＞ 引用 ＿斜体＿ ｀代码｀ ＜!channel＞ ＠所有人 & ＜b＞粗＜/b＞ ＃ 标题",
    ]


def test_feishu_lark_md_injection_neutralised() -> None:
    card = FeishuChannel("f", "https://x.example/hook/t").render(EVIL)["card"]
    assert card["header"]["title"]["content"] == "【竞哨】🔴红色预警｜*爆* [点我](https://evil.example) ＠all # 标题"
    facts, _, body = card["elements"][:3]
    assert facts["text"]["content"] == '**对象**：小米\n**负面数**：62 &lt;at user＿id="all"&gt;&lt;/at&gt;'
    assert body["text"]["content"] == (
        "&gt; 引用 ＿斜体＿ ｀代码｀ &lt;!channel&gt; ＠所有人 &amp; &lt;b&gt;粗&lt;/b&gt; ＃ 标题"
    )
    [action] = [e for e in card["elements"] if e["tag"] == "action"]
    assert [b["url"] for b in action["actions"]] == ["https://weibo.example/p/%281%29"]


def test_slack_mrkdwn_injection_neutralised() -> None:
    payload = SlackChannel("s", "https://x.example/services/T/B/X").render(EVIL)
    assert payload["text"] == "【竞哨】🔴红色预警｜＊爆＊ ［点我］(https://evil.example) ＠all ＃ 标题"
    texts = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert texts == [
        "&gt; 引用 ＿斜体＿ ｀代码｀ &lt;!channel&gt; ＠所有人 &amp; &lt;b&gt;粗&lt;/b&gt; ＃ 标题",
        "<https://weibo.example/p/%281%29|原帖］>",
    ]
    assert payload["blocks"][1]["fields"][1]["text"] == '*负面数*\n62 &lt;at user＿id="all"&gt;&lt;/at&gt;'


@pytest.mark.parametrize(
    ("level", "kind", "template"),
    [
        ("blue", "firing", "blue"),
        ("yellow", "repeat", "yellow"),
        ("red", "escalated", "red"),
        ("red", "resolved", "green"),
    ],
)
def test_feishu_header_colour_is_the_level(level: str, kind: str, template: str) -> None:
    card = FeishuChannel("f", "https://x.example/hook/t").render(note(level, kind))["card"]
    assert card["header"]["template"] == template


def test_red_mentions_and_none_below_red() -> None:
    ids = ["13800000000", "zhangsan"]
    red, yellow = note("red", mention=ids), note("yellow", mention=ids)
    ding = DingTalkChannel("d", "https://x.example/robot/send?access_token=t")
    payload = ding.render(red)
    assert payload["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["zhangsan"], "isAtAll": False}
    assert "@13800000000 @zhangsan" in payload["markdown"]["text"]
    assert "at" not in ding.render(yellow)
    wecom_md = WeComChannel("w", "https://x.example/send?key=k").render(red)["markdown"]["content"]
    assert "<@zhangsan>" in wecom_md
    wecom_text = WeComChannel("w", "https://x.example/send?key=k", msgtype="text").render(red)["text"]
    assert (wecom_text["mentioned_mobile_list"], wecom_text["mentioned_list"]) == (["13800000000"], ["zhangsan"])
    feishu = FeishuChannel("f", "https://x.example/hook/t", mention=["ou_abc"]).render(red)
    assert '"<at id=zhangsan></at> <at id=ou_abc></at>"' in json.dumps(feishu, ensure_ascii=False)
    slack = SlackChannel("s", "https://x.example/services/T/B/X", mention=["U123", "here"]).render(red)
    assert any(b.get("text", {}).get("text") == "<@zhangsan> <@U123> <!here>" for b in slack["blocks"])
    assert "<@" not in json.dumps(SlackChannel("s", "https://x.example/s/T/B/X").render(yellow))


def test_dingtalk_action_card_and_red_mentions_fall_back_to_markdown() -> None:
    ding = DingTalkChannel("d", "https://x.example/robot/send?access_token=t", msgtype="actionCard")
    card = ding.render(note(links=[("原帖", "https://a.example/1"), ("看板", "https://a.example/2")]))
    assert card["msgtype"] == "actionCard"
    assert card["actionCard"]["btns"] == [
        {"title": "原帖", "actionURL": "https://a.example/1"},
        {"title": "看板", "actionURL": "https://a.example/2"},
    ]
    assert card["actionCard"]["text"].startswith(PREFIX)
    assert ding.render(note("red", mention=["13800000000"]))["msgtype"] == "markdown"


# ---------------------------------------------------------------------------- secrets


def test_secrets_never_in_results_reprs_or_logs(
    chat: ChatReceivers, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_values = {
        chat["dingtalk"].token,
        chat["dingtalk"].secret,
        chat["wecom"].key,
        chat["feishu"].token,
        chat["feishu"].secret,
        chat["slack"].token,
        chat["webhook"].secret,
    }
    results, shown = [], []
    for name in PLATFORMS:
        cfg = parse_channel_config(chat.channel_settings(name))
        ch = build_channel(cfg)
        shown += [repr(ch), str(ch), repr(cfg), str(cfg), ch.redacted_url, cfg.redacted_url, repr(ch.prepare(note()))]
        results.append(ch.send(note(), client))
        chat.fail_next(name, 1, {"slack": "invalid_token", "webhook": 403}.get(name, 310000))
        results.append(ch.send(note(), client))
        chat.down(name, mode="close")
        results.append(ch.send(note(), client))
        chat.up(name)
    bad_url = DingTalkChannel("d", "ftp://x.example/robot/send?access_token=" + chat["dingtalk"].token)
    results.append(bad_url.send(note(), client))
    assert {r.status for r in results} == {"sent", "permanent", "retry"}
    texts = shown + [r.detail for r in results] + [r.getMessage() for r in caplog.records]
    assert any("HTTP Request" in t for t in texts)  # httpx's own URL logging went through the filter
    leaks = [(s, t) for t in texts for s in secret_values if s in t]
    assert not leaks


def test_redact_url() -> None:
    assert (
        redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc123")
        == "https://oapi.dingtalk.com/robot/send?access_token=***"
    )
    assert (
        redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-aaaa")
        == "https://open.feishu.cn/open-apis/bot/v2/hook/***"
    )
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/services/***"
    assert redact_url("https://user:pw@h.example/x/abcdef0123456789abcd") == "https://h.example/x/***"


# ---------------------------------------------------------------------------- config


def test_config_models_and_build_channel() -> None:
    base = {"name": "群", "url": "https://h.example/robot/send?access_token=t"}
    kinds = {
        "dingtalk": DingTalkChannel,
        "wecom": WeComChannel,
        "feishu": FeishuChannel,
        "slack": SlackChannel,
        "webhook": WebhookChannel,
    }
    for kind, cls in kinds.items():
        cfg = parse_channel_config({**base, "type": kind})
        ch = build_channel(cfg)
        assert type(ch) is cls and ch.prefix == PREFIX and ch.levels == {"blue", "yellow", "red"}
    routed = build_channel(parse_channel_config({**base, "type": "feishu", "levels": ["red"], "secret": "s"}))
    assert routed.accepts("red") and not routed.accepts("yellow")
    with pytest.raises(ValidationError, match="extra"):
        parse_channel_config({**base, "type": "dingtalk", "keyword": "x"})
    with pytest.raises(ValidationError, match="does not sign"):
        parse_channel_config({**base, "type": "wecom", "secret": "s"})
    with pytest.raises(ValidationError, match="http"):
        parse_channel_config({**base, "type": "slack", "url": "hooks.slack.com/x"})
    with pytest.raises(ValidationError, match="mention"):
        parse_channel_config({**base, "type": "dingtalk", "mention": ["<!channel>"]})
    with pytest.raises(ValidationError):
        parse_channel_config({**base, "type": "teams"})


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 01 May 2024 04:00:30 GMT", now=lambda: WHEN.timestamp()) == 30.0


def test_notification_validation() -> None:
    with pytest.raises(ValueError, match="level"):
        Notification(level="orange", kind="firing", title="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        Notification(level="red", kind="firing", title="x", created_at=datetime(2024, 1, 1))
