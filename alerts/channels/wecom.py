"""WeCom (企业微信) group robot: markdown (content at most 4,096 bytes) or text (2,048 bytes).

No signing: the ``key`` in the URL is the credential. Errors are HTTP 200 with a non-zero ``errcode``
(``45009`` too fast, 20 messages a minute; ``93000`` bad key). Markdown can @ WeCom user ids with
``<@userid>`` (phone numbers are ignored there); the text message type also @s phone numbers
(``mentioned_mobile_list``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from jingshao.alerts.channels import escape
from jingshao.alerts.channels.base import PHONE, JsonCodeChannel, Notification

MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048

#: WeCom markdown has three font colours: info (green), comment (grey), warning (orange-red).
_LEVEL_COLOUR = {"blue": "comment", "yellow": "warning", "red": "warning"}


class WeComChannel(JsonCodeChannel):
    kind = "wecom"
    throttle_retry_after = 60.0
    retry_codes = frozenset({45009})
    known_codes: ClassVar[dict[int, str]] = {
        45009: "sending too fast: 20 messages a minute per robot",
        93000: "bad webhook key: check the URL",
        40058: "content too long",
        40008: "invalid message type",
    }

    def __init__(self, *args: Any, msgtype: Literal["markdown", "text"] = "markdown", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.msgtype = msgtype

    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        return self._text(n, body) if self.msgtype == "text" else self._markdown(n, body)

    def _markdown(self, n: Notification, body: list[str]) -> dict[str, Any]:
        colour = "info" if n.kind == "resolved" else _LEVEL_COLOUR[n.level]
        lines = [f'{self.prefix}<font color="{colour}">{self.label(n)}</font>', f"**{escape.markdown(n.title)}**"]
        lines += [
            f'> {escape.markdown(k)}：<font color="comment">{escape.markdown(v)}</font>' for k, v in self.facts_of(n)
        ]
        lines += [escape.markdown(p) for p in body]
        for text, url in n.links:
            safe = escape.safe_url(url)
            lines.append(f"[{escape.markdown(text)}]({safe})" if safe else escape.markdown(text))
        user_ids = [m for m in self.mentions_for(n) if not PHONE.match(m)]
        if user_ids:
            lines.append(" ".join(f"<@{m}>" for m in user_ids))
        lines.append(f'<font color="comment">{escape.markdown(self.footer(n))}</font>')
        return {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)}}

    def _text(self, n: Notification, body: list[str]) -> dict[str, Any]:
        lines = [f"{self.prefix}{self.label(n)}｜{escape.plain(n.title)}"]
        lines += [f"{escape.plain(k)}：{escape.plain(v)}" for k, v in self.facts_of(n)]
        lines += [escape.plain(p) for p in body]
        lines += [f"{escape.plain(t)} {u}" for t, u in ((t, escape.safe_url(u)) for t, u in n.links) if u]
        lines.append(escape.plain(self.footer(n)))
        text: dict[str, Any] = {"content": "\n".join(lines)}
        mentions = self.mentions_for(n)
        if mentions:
            text["mentioned_list"] = [m for m in mentions if not PHONE.match(m)]
            text["mentioned_mobile_list"] = [m for m in mentions if PHONE.match(m)]
        return {"msgtype": "text", "text": text}

    def fits(self, payload: dict[str, Any]) -> bool:
        if payload["msgtype"] == "text":
            return len(payload["text"]["content"].encode()) <= TEXT_MAX_BYTES
        return len(payload["markdown"]["content"].encode()) <= MARKDOWN_MAX_BYTES
