"""Feishu / Lark (飞书) custom bot: an interactive card whose header colour is the alert level.

Signing (when the bot has 签名校验): the *key* is ``f"{timestamp_seconds}\\n{secret}"`` and the HMAC-SHA256
message is empty; the base64 digest goes in the JSON body as ``sign`` next to ``timestamp``. Feishu
refuses timestamps more than an hour off. Errors are HTTP 200 with a non-zero ``code`` (``19021`` bad
signature, ``19024`` keyword missing, ``11232`` throttled: 5 a second, 100 a minute). A card is at most
about 30 KB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar

from jingshao.alerts.channels import escape
from jingshao.alerts.channels.base import PHONE, JsonCodeChannel, Notification, OutgoingRequest, encode_json

#: Card header template per level; resolved notices are green whatever their level.
HEADER_TEMPLATE = {"blue": "blue", "yellow": "yellow", "red": "red"}
RESOLVED_TEMPLATE = "green"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The base64 signature for ``timestamp_s`` (key = timestamp + newline + secret, empty message)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuChannel(JsonCodeChannel):
    kind = "feishu"
    max_bytes = 30_000  # Feishu documents "about 30 KB" for a card request; stay under 30 KiB
    throttle_retry_after = 1.0
    code_fields = ("code", "StatusCode")
    message_fields = ("msg", "StatusMessage")
    retry_codes = frozenset({11232})
    known_codes: ClassVar[dict[int, str]] = {
        11232: "throttled: 5 messages a second, 100 a minute",
        19021: "bad signature or timestamp: check the signing secret and the clock",
        19024: "keyword missing: the bot's keyword must appear in the message (check the prefix)",
        19022: "IP not allowed",
        19001: "bad webhook token: check the URL",
    }

    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        template = RESOLVED_TEMPLATE if n.kind == "resolved" else HEADER_TEMPLATE[n.level]
        elements: list[dict[str, Any]] = []
        facts = self.facts_of(n)
        if facts:
            rows = "\n".join(f"**{escape.lark_md(k)}**：{escape.lark_md(v)}" for k, v in facts)
            elements.append(_div(rows))
        if body:
            elements += [{"tag": "hr"}, _div("\n\n".join(escape.lark_md(p) for p in body))]
        mentions = [m for m in self.mentions_for(n) if not PHONE.match(m)]  # Feishu @s open ids, not phones
        if mentions:
            elements.append(_div(" ".join(f"<at id={m}></at>" for m in mentions)))
        buttons = [
            {
                "tag": "button",
                "text": {"tag": "plain_text", "content": escape.plain(text)},
                "url": url,
                "type": "primary" if i == 0 else "default",
            }
            for i, (text, url) in enumerate((t, escape.safe_url(u)) for t, u in n.links)
            if url
        ]
        if buttons:
            elements.append({"tag": "action", "actions": buttons})
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": escape.plain(self.footer(n))}]})
        header = {
            "template": template,
            "title": {"tag": "plain_text", "content": f"{self.prefix}{self.label(n)}｜{escape.plain(n.title)}"},
        }
        return {
            "msg_type": "interactive",
            "card": {"config": {"wide_screen_mode": True}, "header": header, "elements": elements},
        }

    def sign(self, payload: dict[str, Any]) -> OutgoingRequest:
        if self._secret:
            timestamp = int(self._clock())
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(self._secret, timestamp), **payload}
        return OutgoingRequest(self._url, {"Content-Type": "application/json; charset=utf-8"}, encode_json(payload))


def _div(content: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": content}}
