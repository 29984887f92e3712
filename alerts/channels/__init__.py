"""Notification channels: format a :class:`Notification` for a chat platform, send it, classify the answer.

- :mod:`.base`: :class:`Notification`, :class:`SendResult`, :class:`Channel`, truncation to size limits.
- :mod:`.escape`: escaping crawled text per format (no markdown or @all injection).
- :mod:`.redact`: tokens and secrets out of results, reprs and logs.
- :mod:`.dingtalk`, :mod:`.wecom`, :mod:`.feishu`, :mod:`.slack`, :mod:`.webhook`: one per platform.
- :mod:`.config`: pydantic config models (discriminated by ``type``) and :func:`build_channel`.

Local receivers that behave like each platform live in :mod:`jingshao.demo.webhooks`.
"""

from jingshao.alerts.channels.base import (
    DEFAULT_PREFIX,
    KINDS,
    LEVEL_NAMES,
    LEVELS,
    Channel,
    Notification,
    OutgoingRequest,
    SendResult,
)
from jingshao.alerts.channels.config import ChannelConfig, build_channel, parse_channel_config
from jingshao.alerts.channels.dingtalk import DingTalkChannel
from jingshao.alerts.channels.feishu import FeishuChannel
from jingshao.alerts.channels.slack import SlackChannel
from jingshao.alerts.channels.webhook import WebhookChannel
from jingshao.alerts.channels.wecom import WeComChannel

__all__ = [
    "DEFAULT_PREFIX",
    "KINDS",
    "LEVELS",
    "LEVEL_NAMES",
    "Channel",
    "ChannelConfig",
    "DingTalkChannel",
    "FeishuChannel",
    "Notification",
    "OutgoingRequest",
    "SendResult",
    "SlackChannel",
    "WeComChannel",
    "WebhookChannel",
    "build_channel",
    "parse_channel_config",
]
