"""Channel configuration (pydantic v2), discriminated by ``type``, and the channel registry.

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

**The registry.** Every channel kind is one :class:`ChannelKind` row: its ``type`` word, its config
class (a :class:`ChannelSettings` subclass) and its channel class. Adding a built-in channel is a new
module with the channel class plus one row in :data:`BUILTIN_KINDS` (and its config class here);
a third-party package registers a kind without touching jingshao, through the entry-point group
``jingshao.channels`` whose objects are :class:`ChannelKind` rows. The channel class is named by its
import path and imported only when a channel is built, so parsing a config (which every crawl does)
never imports a channel, httpx or a third-party sender.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from jingshao.core.levels import DEFAULT_PREFIX, LEVELS, MENTION_ID, Level
from jingshao.core.url_redaction import redact_url

if TYPE_CHECKING:
    from jingshao.alerts.channels.base import Channel

log = logging.getLogger(__name__)

#: The entry-point group third-party channel packages register their :class:`ChannelKind` rows in.
ENTRY_POINT_GROUP = "jingshao.channels"

Role = Literal["business", "admin"]


def _business_role() -> list[Role]:
    return ["business"]


class ChannelSettings(BaseModel):
    """What every channel kind's config has; a kind's own fields (``msgtype`` ...) go to its channel
    class as keyword arguments."""

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
    roles: list[Role] = Field(
        default_factory=_business_role,
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

    def channel_kwargs(self) -> dict[str, Any]:
        """The channel class's keyword arguments: the common ones plus every field the kind adds."""
        own = {k: getattr(self, k) for k in type(self).model_fields if k not in ChannelSettings.model_fields}
        own.pop("type", None)
        return {
            "secret": self.secret.get_secret_value() if self.secret else None,
            "prefix": self.prefix,
            "levels": self.levels,
            "mention": self.mention,
            "timeout": self.timeout,
            "roles": self.roles,
            **own,
        }


class UnsignedSettings(ChannelSettings):
    """Platforms without request signing: the URL is the only credential."""

    @field_validator("secret")
    @classmethod
    def _no_secret(cls, value: SecretStr | None) -> None:
        if value is not None:
            raise ValueError("this platform does not sign requests; remove `secret` (the URL is the credential)")
        return None


class DingTalkConfig(ChannelSettings):
    type: Literal["dingtalk"]
    msgtype: Literal["markdown", "actionCard"] = "markdown"


class WeComConfig(UnsignedSettings):
    type: Literal["wecom"]
    msgtype: Literal["markdown", "text"] = "markdown"


class FeishuConfig(ChannelSettings):
    type: Literal["feishu"]


class SlackConfig(UnsignedSettings):
    type: Literal["slack"]


class WebhookConfig(ChannelSettings):
    type: Literal["webhook"]


@dataclass(frozen=True)
class ChannelKind:
    """One channel kind: the ``type`` word in ``[[channels]]``, its config class and its channel class
    (a class, or ``"module:Class"`` imported when the first channel of this kind is built)."""

    kind: str
    config: type[ChannelSettings]
    channel: str | type[Channel]

    def channel_class(self) -> type[Channel]:
        if not isinstance(self.channel, str):
            return self.channel
        module, _, name = self.channel.partition(":")
        return getattr(importlib.import_module(module), name)


BUILTIN_KINDS: tuple[ChannelKind, ...] = (
    ChannelKind("dingtalk", DingTalkConfig, "jingshao.alerts.channels.dingtalk:DingTalkChannel"),
    ChannelKind("wecom", WeComConfig, "jingshao.alerts.channels.wecom:WeComChannel"),
    ChannelKind("feishu", FeishuConfig, "jingshao.alerts.channels.feishu:FeishuChannel"),
    ChannelKind("slack", SlackConfig, "jingshao.alerts.channels.slack:SlackChannel"),
    ChannelKind("webhook", WebhookConfig, "jingshao.alerts.channels.webhook:WebhookChannel"),
)


def _plugin_kinds() -> list[ChannelKind]:
    """The :class:`ChannelKind` rows installed packages register under :data:`ENTRY_POINT_GROUP`."""
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            row = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole product down
            log.warning("channel plugin %r (%s) cannot be loaded: %s", ep.name, ep.value, exc)
            continue
        if not isinstance(row, ChannelKind) or not issubclass(row.config, ChannelSettings):
            log.warning("channel plugin %r (%s) is not a jingshao ChannelKind; ignored", ep.name, ep.value)
            continue
        found.append(row)
    return found


@cache
def channel_kinds() -> dict[str, ChannelKind]:
    """Every channel kind by its ``type`` word: the built-in ones, then installed plugins (a plugin
    cannot replace a built-in kind)."""
    kinds = {row.kind: row for row in BUILTIN_KINDS}
    for row in _plugin_kinds():
        if row.kind in kinds:
            log.warning("channel plugin kind %r is already registered; ignored", row.kind)
            continue
        kinds[row.kind] = row
    return kinds


def _union() -> Any:
    configs = tuple(row.config for row in channel_kinds().values())
    return Annotated[Union[configs], Field(discriminator="type")]  # noqa: UP007 (a runtime tuple of classes)


# The union is built once, from the registry, when the config schema is first imported.
ChannelConfig = _union()
channel_config_adapter: TypeAdapter[Any] = TypeAdapter(ChannelConfig)


def parse_channel_config(data: object) -> ChannelSettings:
    """Validate one ``[[channels]]`` table."""
    return channel_config_adapter.validate_python(data)


def build_channel(cfg: ChannelSettings) -> Channel:
    """The :class:`Channel` described by ``cfg`` (its kind's channel class, imported now)."""
    kind = getattr(cfg, "type", None)
    row = channel_kinds().get(kind) if isinstance(kind, str) else None
    if row is None or not isinstance(cfg, row.config):
        raise TypeError(f"not a channel config: {type(cfg).__name__}")
    return row.channel_class()(cfg.name, cfg.url, **cfg.channel_kwargs())
