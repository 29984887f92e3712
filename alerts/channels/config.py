"""Channel configuration (pydantic v2), discriminated by ``type``, and :func:`build_channel`.

Example (TOML)::

    [[channels]]
    name = "品牌危机群"
    type = "dingtalk"
    url = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret = "SEC..."
    levels = ["yellow", "red"]
    mention = ["13800000000"]

The webhook URL is a credential too: it is left out of ``repr`` (use ``redacted_url``); ``secret`` is a
``SecretStr``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from jingshao.alerts.channels.base import DEFAULT_PREFIX, LEVELS, MENTION_ID, Channel, Level
from jingshao.alerts.channels.dingtalk import DingTalkChannel
from jingshao.alerts.channels.feishu import FeishuChannel
from jingshao.alerts.channels.redact import redact_url
from jingshao.alerts.channels.slack import SlackChannel
from jingshao.alerts.channels.webhook import WebhookChannel
from jingshao.alerts.channels.wecom import WeComChannel


class _ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    url: str = Field(repr=False, description="the webhook URL, token included")
    secret: SecretStr | None = Field(default=None, description="signing secret, if the robot has one")
    prefix: str = Field(
        default=DEFAULT_PREFIX,
        min_length=1,
        description="fixed start of every message; must contain the robot's keyword",
    )
    levels: list[Level] = Field(
        default_factory=lambda: list(LEVELS), min_length=1, description="alert levels routed to this channel"
    )
    mention: list[str] = Field(default_factory=list, description="ids to @ on red alerts")
    roles: list[Literal["business", "admin"]] = Field(
        default_factory=lambda: ["business"],
        min_length=1,
        description="business: market alerts (prices, crises); admin: the crawler's own (blocked, cookies)",
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="the robot's security keywords (DingTalk/Feishu 自定义关键词); "
        "a prefix containing none of them is warned about at load",
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="HTTP timeout in seconds")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) webhook URL")
        return value.strip()

    @field_validator("mention")
    @classmethod
    def _mention_ids(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not MENTION_ID.match(m)]
        if bad:
            raise ValueError(f"mention ids must be phone numbers or user ids (letters, digits, _ . + -), got {bad}")
        return value

    @field_validator("url")
    @classmethod
    def _no_blanks(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError("the webhook URL contains a space or another blank")
        return value

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def prefix_warning(self) -> str | None:
        """Why the robot may drop this channel's messages: a prefix without any of its keywords."""
        if self.keywords and not any(k in self.prefix for k in self.keywords):
            return (
                f"channel {self.name!r}: the prefix {self.prefix!r} contains none of the robot's keywords "
                f"{self.keywords}; a keyword-secured robot drops messages without one (set `prefix`)"
            )
        return None

    def accepts(self, level: str) -> bool:
        return level in self.levels

    def _common(self) -> dict[str, object]:
        return {
            "secret": self.secret.get_secret_value() if self.secret else None,
            "prefix": self.prefix,
            "levels": self.levels,
            "mention": self.mention,
            "timeout": self.timeout,
            "roles": self.roles,
        }


class _Unsigned(_ChannelConfig):
    """Platforms without request signing: the URL is the only credential."""

    @field_validator("secret")
    @classmethod
    def _no_secret(cls, value: SecretStr | None) -> None:
        if value is not None:
            raise ValueError("this platform does not sign requests; remove `secret` (the URL is the credential)")
        return None


class DingTalkConfig(_ChannelConfig):
    type: Literal["dingtalk"]
    msgtype: Literal["markdown", "actionCard"] = "markdown"


class WeComConfig(_Unsigned):
    type: Literal["wecom"]
    msgtype: Literal["markdown", "text"] = "markdown"


class FeishuConfig(_ChannelConfig):
    type: Literal["feishu"]


class SlackConfig(_Unsigned):
    type: Literal["slack"]


class WebhookConfig(_ChannelConfig):
    type: Literal["webhook"]


ChannelConfig = Annotated[
    DingTalkConfig | WeComConfig | FeishuConfig | SlackConfig | WebhookConfig, Field(discriminator="type")
]
channel_config_adapter: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)


def parse_channel_config(data: object) -> ChannelConfig:
    """Validate one ``[[channels]]`` table."""
    return channel_config_adapter.validate_python(data)


def build_channel(cfg: ChannelConfig) -> Channel:
    """The :class:`Channel` described by ``cfg``."""
    common = cfg._common()
    match cfg:
        case DingTalkConfig():
            return DingTalkChannel(cfg.name, cfg.url, msgtype=cfg.msgtype, **common)  # type: ignore[arg-type]
        case WeComConfig():
            return WeComChannel(cfg.name, cfg.url, msgtype=cfg.msgtype, **common)  # type: ignore[arg-type]
        case FeishuConfig():
            return FeishuChannel(cfg.name, cfg.url, **common)  # type: ignore[arg-type]
        case SlackConfig():
            return SlackChannel(cfg.name, cfg.url, **common)  # type: ignore[arg-type]
        case WebhookConfig():
            return WebhookChannel(cfg.name, cfg.url, **common)  # type: ignore[arg-type]
    raise TypeError(f"not a channel config: {type(cfg).__name__}")
