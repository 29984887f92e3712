"""The demo crisis switch end to end: mentions crawled from the demo's sources, scored, evaluated,
and delivered to a DingTalk-like and a Feishu-like robot on 127.0.0.1 — blue, then yellow, then
red, then resolved, each once, every message with the keyword prefix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jingshao.alerts.service import dispatch_notifications, run_evaluation
from jingshao.config import load_config
from jingshao.demo.runner import write_demo_config
from jingshao.demo.webhooks import ChatReceivers

from .conftest import run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def titles(chat: ChatReceivers, name: str) -> list[str]:
    out = []
    for d in chat.accepted(name):
        p = d.payload
        if name == "dingtalk":
            out.append(p["markdown"]["title"] if "markdown" in p else p["actionCard"]["title"])
        else:
            out.append(p["card"]["header"]["title"]["content"])
    return out


def test_crisis_switch_blue_yellow_red_resolved(shop, tmp_path):
    with ChatReceivers() as chat:
        # The demo config routes to both robots and shortens the demo brand's 24-hour windows.
        cfg_path = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=[], chat=chat)
        cfg = load_config(cfg_path)
        assert cfg.brands[0].crisis == {"red_growth_hours": 2, "blue_share_hours": 2}
        seen = []

        def tick() -> list[str]:
            # The test evaluates at the shop's clock itself: the crawl's own evaluation (at the real clock) is off.
            run_cli("crawl", "mentions", "--config", str(cfg_path), "--no-progress", "--no-evaluate")
            report = run_evaluation(cfg, now=shop.now())
            dispatch_notifications(cfg, now=shop.now())
            events = [f"{c.event}:{c.level}" for c in report.changes if c.family == "crisis"]
            seen.append(events)
            return events

        assert tick() == []  # ordinary chatter: no alert
        shop.crisis_phase(1)
        assert tick() == ["opened:blue"]
        shop.crisis_phase(2)
        assert tick() == ["escalated:yellow"]
        shop.crisis_phase(3)
        assert tick() == ["escalated:red"]
        shop.stop_crisis()
        shop.clock.shift(timedelta(hours=3))
        tick()
        shop.clock.shift(timedelta(minutes=10))
        tick()
        assert any("resolved:" in e for events in seen for e in events), seen

        ding = titles(chat, "dingtalk")
        assert len([t for t in ding if "蓝色" in t]) == 1
        assert len([t for t in ding if "黄色" in t]) == 1
        assert any("红色" in t for t in ding)
        assert any("恢复" in t for t in ding)
        for d in chat.accepted("dingtalk"):
            assert d.payload["markdown"]["text"].startswith("【竞哨】") or d.payload["markdown"]["title"].startswith(
                "【竞哨】"
            )
        red = next(d for d in chat.accepted("dingtalk") if "红色" in d.payload["markdown"]["title"])
        assert "事实确认" in red.payload["markdown"]["text"]  # the response playbook rides along
        assert titles(chat, "feishu") and len(titles(chat, "feishu")) == len(ding)
        assert chat.rejected("dingtalk") == [] and chat.rejected("feishu") == []


def test_ordinary_chatter_raises_nothing_with_default_thresholds(shop, tmp_path):
    """A week of ordinary mentions (no crisis) with the default windows raises no crisis alert, at the
    last evaluation and at every hour of the last day replayed by the backtest: the mention model's
    neg label is what counts, and it leaves neutral chatter neutral."""
    from jingshao.alerts.backtest import backtest

    cfg_path = write_demo_config(shop.base_url, tmp_path, with_browser=False, products=[])
    cfg_path.write_text(
        cfg_path.read_text().replace("  [brands.crisis]\n  red_growth_hours = 2\n  blue_share_hours = 2\n", "")
    )
    cfg = load_config(cfg_path)
    assert cfg.brands[0].crisis == {}
    run_cli("crawl", "mentions", "--config", str(cfg_path), "--no-progress")
    report = run_evaluation(cfg, now=shop.now())
    assert [c for c in report.changes if c.family == "crisis"] == []
    now = shop.now()
    events = backtest(cfg, None, now - timedelta(hours=24), now, timedelta(hours=1), cfg.brands[0].name)
    assert [e for e in events if e.kind == "crisis"] == []
