"""Slack incoming webhook: Block Kit blocks plus a fallback ``text`` (used in notifications).

Success is HTTP 200 with the body ``ok``. Throttling is HTTP 429 with ``Retry-After`` (about one
message a second per webhook); configuration errors are 400/403/404/410 with a short error string
(``invalid_payload``, ``no_service``, ``channel_is_archived`` ...). Limits: 50 blocks, 3,000 characters
per section text, 150 per header, 10 fields per section, 40,000 for ``text``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from jingshao.alerts.channels import escape
from jingshao.alerts.channels.base import PHONE, Channel, Notification, SendResult

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_TEXT = 40_000
_SPECIAL_MENTIONS = {"here", "channel", "everyone"}
_ERROR_WORD = re.compile(r"^[a-z_]{3,64}$")


class SlackChannel(Channel):
    kind = "slack"
    throttle_retry_after = 1.0

    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        headline = f"{self.prefix}{self.label(n)}｜{escape.plain(n.title)}"
        if len(headline) > MAX_HEADER_TEXT:
            headline = headline[: MAX_HEADER_TEXT - 1] + "…"
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": headline}}]
        fields = [{"type": "mrkdwn", "text": f"*{escape.mrkdwn(k)}*\n{escape.mrkdwn(v)}"} for k, v in self.facts_of(n)]
        blocks += [{"type": "section", "fields": fields[i : i + MAX_FIELDS]} for i in range(0, len(fields), MAX_FIELDS)]
        if body:
            blocks += [_section(chunk) for chunk in _chunks([escape.mrkdwn(p) for p in body], MAX_SECTION_TEXT)]
        links = [f"<{url}|{escape.mrkdwn(text)}>" for text, url in ((t, escape.safe_url(u)) for t, u in n.links) if url]
        if links:
            blocks.append(_section("  ".join(links)))
        mentions = [m for m in self.mentions_for(n) if not PHONE.match(m)]  # Slack @s member ids, not phones
        if mentions:
            blocks.append(_section(" ".join(f"<!{m}>" if m in _SPECIAL_MENTIONS else f"<@{m}>" for m in mentions)))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape.mrkdwn(self.footer(n))}]})
        text = f"{self.prefix}{self.label(n)}｜{escape.mrkdwn(n.title)}"
        return {"text": text, "blocks": blocks}

    def fits(self, payload: dict[str, Any]) -> bool:
        blocks = payload["blocks"]
        texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
        total = len(payload["text"]) + sum(len(t) for t in texts)
        return len(blocks) <= MAX_BLOCKS and all(len(t) <= MAX_SECTION_TEXT for t in texts) and total <= MAX_TEXT

    def classify(self, response: httpx.Response) -> SendResult:
        result = super().classify(response)
        error = response.text.strip()
        if result.status != "sent" and _ERROR_WORD.match(error):
            return SendResult(result.status, error, result.detail, result.retry_after)
        return result

    def classify_body(self, response: httpx.Response) -> SendResult:
        if response.text.strip() == "ok":
            return SendResult("sent", response.status_code, "ok")
        return SendResult(
            "permanent",
            response.status_code,
            f"HTTP {response.status_code} without 'ok': {response.text.strip()[:120]}",
        )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(paragraphs: list[str], limit: int) -> list[str]:
    """Paragraphs packed into texts of at most ``limit`` characters (long ones split, never mid-entity)."""
    pieces: list[str] = []
    for p in paragraphs:
        while len(p) > limit:
            cut = limit
            amp = p.rfind("&", 0, cut)
            if amp != -1 and ";" not in p[amp:cut]:
                cut = amp or limit
            pieces.append(p[:cut])
            p = p[cut:]
        pieces.append(p)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] += "\n\n" + piece
        else:
            chunks.append(piece)
    return chunks
