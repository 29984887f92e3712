"""A generic JSON webhook for anything else (an on-call system, a bot of your own).

The body is a structured JSON object (raw texts: the receiver escapes for its own format; ``text`` is
a ready one-line summary that starts with the prefix). With a secret, the request carries
``X-Jingshao-Timestamp`` (Unix seconds) and ``X-Jingshao-Signature: sha256=<hex>``, the HMAC-SHA256 of
the raw body keyed by the secret; the body itself carries ``created_at``. 2xx is sent, 429/5xx retry,
any other status is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from jingshao.alerts.channels import escape
from jingshao.alerts.channels.base import Channel, Notification, OutgoingRequest, SendResult, encode_json

SIGNATURE_HEADER = "X-Jingshao-Signature"
TIMESTAMP_HEADER = "X-Jingshao-Timestamp"


def webhook_signature(secret: str, body: bytes) -> str:
    """The ``X-Jingshao-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    kind = "webhook"
    max_bytes = 256 * 1024
    throttle_retry_after = 1.0

    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        return {
            "source": "jingshao",
            "text": f"{self.prefix}{self.label(n)}｜{escape.plain(n.title)}",
            "level": n.level,
            "kind": n.kind,
            "title": n.title,
            "subject": n.subject,
            "facts": [{"label": k, "value": v} for k, v in self.facts_of(n)],
            "body": body,
            "links": [{"text": t, "url": u} for t, u in ((t, escape.safe_url(u)) for t, u in n.links) if u],
            "mention": self.mentions_for(n),
            "fingerprint": n.fingerprint,
            "created_at": n.created_at.isoformat(),
        }

    def sign(self, payload: dict[str, Any]) -> OutgoingRequest:
        content = encode_json(payload)
        headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP_HEADER: str(int(self._clock()))}
        if self._secret:
            headers[SIGNATURE_HEADER] = webhook_signature(self._secret, content)
        return OutgoingRequest(self._url, headers, content)

    def classify_body(self, response: httpx.Response) -> SendResult:
        return SendResult("sent", response.status_code, f"HTTP {response.status_code}")
