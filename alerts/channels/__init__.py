"""Notification channels: format a :class:`Notification` for a chat platform, send it, classify the answer.

- :mod:`.base`: :class:`Notification`, :class:`SendResult`, :class:`Channel`, truncation to size limits.
- :mod:`.escape`: escaping crawled text per format (no markdown or @all injection).
- :mod:`.dingtalk`, :mod:`.wecom`, :mod:`.feishu`, :mod:`.slack`, :mod:`.webhook`: one per platform.
- :mod:`.config`: pydantic config models (discriminated by ``type``), the channel-kind registry
  (entry-point group ``jingshao.channels`` for third-party kinds) and :func:`build_channel`.

Names are loaded on first use: the config loader imports :mod:`.config` (the schema) on every run,
crawls included, and that must not import every platform module and httpx (PEP 562 ``__getattr__``).
Local receivers that behave like each platform live in :mod:`jingshao.demo.webhooks`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jingshao.alerts.channels.base import KINDS, Channel, Notification, OutgoingRequest, SendResult
    from jingshao.alerts.channels.config import ChannelConfig, ChannelKind, build_channel, parse_channel_config
    from jingshao.alerts.channels.dingtalk import DingTalkChannel
    from jingshao.alerts.channels.feishu import FeishuChannel
    from jingshao.alerts.channels.slack import SlackChannel
    from jingshao.alerts.channels.webhook import WebhookChannel
    from jingshao.alerts.channels.wecom import WeComChannel
    from jingshao.core.levels import DEFAULT_PREFIX, LEVEL_NAMES, LEVELS

_LAZY = {
    "DEFAULT_PREFIX": "jingshao.core.levels",
    "LEVEL_NAMES": "jingshao.core.levels",
    "LEVELS": "jingshao.core.levels",
    "KINDS": "jingshao.alerts.channels.base",
    "Channel": "jingshao.alerts.channels.base",
    "Notification": "jingshao.alerts.channels.base",
    "OutgoingRequest": "jingshao.alerts.channels.base",
    "SendResult": "jingshao.alerts.channels.base",
    "ChannelConfig": "jingshao.alerts.channels.config",
    "ChannelKind": "jingshao.alerts.channels.config",
    "build_channel": "jingshao.alerts.channels.config",
    "parse_channel_config": "jingshao.alerts.channels.config",
    "DingTalkChannel": "jingshao.alerts.channels.dingtalk",
    "FeishuChannel": "jingshao.alerts.channels.feishu",
    "SlackChannel": "jingshao.alerts.channels.slack",
    "WebhookChannel": "jingshao.alerts.channels.webhook",
    "WeComChannel": "jingshao.alerts.channels.wecom",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Channel",
    "ChannelConfig",
    "ChannelKind",
    "DEFAULT_PREFIX",
    "DingTalkChannel",
    "FeishuChannel",
    "KINDS",
    "LEVELS",
    "LEVEL_NAMES",
    "Notification",
    "OutgoingRequest",
    "SendResult",
    "SlackChannel",
    "WeComChannel",
    "WebhookChannel",
    "build_channel",
    "parse_channel_config",
]
