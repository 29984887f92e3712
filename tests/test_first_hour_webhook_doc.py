"""Issue 18: the webhook channel's contract is in the README, and it is the one the channel keeps:
every body key and header documented, checked against a real request to the local receiver."""

from __future__ import annotations

import json
import re

import httpx

from jingshao.alerts.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

from .conftest import REPO
from .test_channels import channel, chat, client, note

__all__ = ["chat", "client"]


def test_readme_documents_every_key_and_header_of_a_webhook_request(chat, client):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### The webhook channel's contract") :]
    section = section[: section.index("\n### ", 5)]
    documented = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)? \|", section, re.M))
    keys = {k for pair in documented for k in pair if k}
    ch = channel(chat, "webhook")
    request = ch.prepare(note())
    body = json.loads(request.content)
    assert set(body) == keys, f"undocumented: {set(body) - keys}; documented but not sent: {keys - set(body)}"
    for header in (SIGNATURE_HEADER, TIMESTAMP_HEADER):
        assert header in request.headers and header in section
    assert ch.send(note(), client).status == "sent"
    assert isinstance(client, httpx.Client)
