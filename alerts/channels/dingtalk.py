"""DingTalk (钉钉) custom robot: markdown or actionCard, optional signing, keyword security.

Signing (when the robot has 加签): ``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}"))``
sent URL-encoded once as the ``timestamp`` and ``sign`` query parameters; DingTalk refuses timestamps
more than an hour off. Errors are HTTP 200 with a non-zero ``errcode``. A robot accepts 20 messages a
minute (then ``130101``, and DingTalk may mute it for a while); the body is at most 20,000 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar, Literal

import httpx

from jingshao.alerts.channels import escape
from jingshao.alerts.channels.base import PHONE, JsonCodeChannel, Notification, OutgoingRequest, encode_json


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (not yet URL-encoded) for ``timestamp_ms``."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel(JsonCodeChannel):
    kind = "dingtalk"
    max_bytes = 20_000
    throttle_retry_after = 60.0
    retry_codes = frozenset({130101})
    known_codes: ClassVar[dict[int, str]] = {
        130101: "sending too fast: 20 messages a minute per robot",
        310000: "security check failed: check the signing secret, the keyword (prefix) and the IP allowlist",
        300001: "bad access_token: check the webhook URL",
        300005: "robot does not exist or was removed",
        460101: "message too long",
    }

    def __init__(self, *args: Any, msgtype: Literal["markdown", "actionCard"] = "markdown", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.msgtype = msgtype

    def _markdown_lines(self, n: Notification, body: list[str], *, with_links: bool, mentions: list[str]) -> list[str]:
        lines = [f"{self.prefix}{self.label(n)}", f"### {escape.markdown(n.title)}"]
        lines += [f"**{escape.markdown(k)}**：{escape.markdown(v)}" for k, v in self.facts_of(n)]
        lines += [f"> {escape.markdown(p)}" for p in body]
        if with_links:
            for text, url in n.links:
                safe = escape.safe_url(url)
                lines.append(f"[{escape.markdown(text)}]({safe})" if safe else escape.markdown(text))
        if mentions:
            lines.append(" ".join(f"@{m}" for m in mentions))
        lines.append(escape.markdown(self.footer(n)))
        return lines

    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        mentions = self.mentions_for(n)
        title = f"{self.prefix}{self.label(n)}｜{escape.plain(n.title)}"
        buttons = [(escape.plain(t), u) for t, u in ((t, escape.safe_url(u)) for t, u in n.links) if u]
        # actionCard cannot @ anyone: a red alert with mentions goes out as markdown so the @ works.
        if self.msgtype == "actionCard" and buttons and not mentions:
            text = "\n\n".join(self._markdown_lines(n, body, with_links=False, mentions=[]))
            card: dict[str, Any] = {"title": title, "text": text, "btnOrientation": "0"}
            if len(buttons) == 1:
                card |= {"singleTitle": buttons[0][0], "singleURL": buttons[0][1]}
            else:
                card["btns"] = [{"title": t, "actionURL": u} for t, u in buttons]
            return {"msgtype": "actionCard", "actionCard": card}
        text = "\n\n".join(self._markdown_lines(n, body, with_links=True, mentions=mentions))
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        if mentions:
            payload["at"] = {
                "atMobiles": [m for m in mentions if PHONE.match(m)],
                "atUserIds": [m for m in mentions if not PHONE.match(m)],
                "isAtAll": False,
            }
        return payload

    def sign(self, payload: dict[str, Any]) -> OutgoingRequest:
        url = self._url
        if self._secret:
            timestamp = int(self._clock() * 1000)
            signed = httpx.URL(url).copy_merge_params(
                {"timestamp": str(timestamp), "sign": dingtalk_sign(self._secret, timestamp)}
            )
            url = str(signed)  # httpx percent-encodes the base64 exactly once (+ / = included)
        return OutgoingRequest(url, {"Content-Type": "application/json; charset=utf-8"}, encode_json(payload))
