"""Channels by kind: one registry row per kind (config class + channel class), third-party kinds
through the `jingshao.channels` entry-point group, sent to a real local HTTP receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jingshao.alerts.channels import DingTalkChannel, build_channel, parse_channel_config
from jingshao.alerts.channels.config import BUILTIN_KINDS, channel_kinds
from jingshao.config import ConfigError, parse_config

PLUGIN = textwrap.dedent(
    """
    from typing import Literal

    from jingshao.alerts.channels.config import ChannelKind, ChannelSettings
    from jingshao.alerts.channels.webhook import WebhookChannel


    class TeamsConfig(ChannelSettings):
        type: Literal["teams"]
        theme: str = "0076D7"


    class TeamsChannel(WebhookChannel):
        kind = "teams"

        def __init__(self, name, url, *, theme="0076D7", **common):
            super().__init__(name, url, **common)
            self.theme = theme

        def build(self, n, lines):
            payload = super().build(n, lines)
            payload["themeColor"] = self.theme
            return payload


    KIND = ChannelKind("teams", TeamsConfig, "jingshao_teams:TeamsChannel")
    BROKEN = "not a ChannelKind"
    """
)


def _install_plugin(root: Path, entry_points: str) -> None:
    (root / "jingshao_teams.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "jingshao_teams-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jingshao-teams\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[jingshao.channels]\n{entry_points}\n", encoding="utf-8")


SEND = textwrap.dedent(
    """
    import json, sys
    import httpx
    from jingshao.alerts.channels import Notification, build_channel
    from jingshao.config import parse_config

    table = {**json.loads(sys.argv[1]), "name": "t", "type": "teams", "theme": "FF0000"}
    cfg = parse_config({"channels": [table]})
    channel = build_channel(cfg.channels[0])
    n = Notification(level="red", kind="firing", title="蜜橙：负面声量激增", subject="蜜橙")
    with httpx.Client() as client:
        result = channel.send(n, client)
    print(json.dumps({"status": result.status, "class": type(channel).__name__, "theme": channel.theme,
                      "config": type(cfg.channels[0]).__name__}))
    """
)


def test_builtin_kinds_are_one_row_each() -> None:
    kinds = channel_kinds()
    assert [k.kind for k in BUILTIN_KINDS] == ["dingtalk", "wecom", "feishu", "slack", "webhook"]
    for row in BUILTIN_KINDS:
        assert kinds[row.kind] is row
        assert row.channel_class().kind == row.kind  # the registry names the class that sends it
    cfg = parse_channel_config(
        {"name": "d", "type": "dingtalk", "url": "https://x.example/r?a=1", "msgtype": "actionCard"}
    )
    channel = build_channel(cfg)
    assert isinstance(channel, DingTalkChannel) and channel.msgtype == "actionCard"  # kind fields reach the class


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"channels": [{"name": "t", "type": "teams", "url": "https://x.example/hook"}]})
    assert "channels[0]" in str(info.value) and "'dingtalk'" in str(info.value)


def test_a_third_party_kind_registers_through_an_entry_point(tmp_path: Path, receivers) -> None:
    _install_plugin(tmp_path, "teams = jingshao_teams:KIND\nbroken = jingshao_teams:BROKEN\nmissing = no_such_mod:X")
    table = json.dumps(receivers.channel_settings("webhook"))  # the signed generic receiver on 127.0.0.1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", SEND, table], capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"status": "sent", "class": "TeamsChannel", "theme": "FF0000", "config": "TeamsConfig"}
    # the broken entries are named in a warning and skipped; the good one still works
    assert "'broken'" in proc.stderr and "'missing'" in proc.stderr
    got = receivers.accepted("webhook")[-1].payload
    assert got["themeColor"] == "FF0000" and got["text"].startswith("【竞哨】🔴红色预警")
