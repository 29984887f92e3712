"""Keep webhook tokens and secrets out of results, reprs and logs.

A chat webhook URL *is* a credential: DingTalk and WeCom carry the token in the query string
(``access_token``, ``key``), Feishu and Slack in the path (``/hook/<token>``, ``/services/T/B/X``).
:func:`redact_url` hides all of those; :func:`scrub` also removes known secret strings from free text.

httpx logs every request URL at INFO (``HTTP Request: POST https://...?access_token=...``).
:func:`install_log_redaction` adds a filter to the ``httpx``/``httpcore`` loggers that rewrites URLs in
those records, so an application that logs at INFO does not leak tokens.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from jingshao.core.redaction import MASK, redact

#: Path prefixes after which everything is a token (Feishu ``/bot/v2/hook/<token>``, Slack ``/services/T/B/X``).
_TOKEN_PATH = re.compile(r"(/(?:hook|services)/)(.+)$")
#: A path segment that looks like a generated token: long, letters and digits mixed.
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}$")
_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """``url`` with userinfo, every query value, token-like path parts and every registered secret
    (:mod:`jingshao.core.redaction`: a short token in any path segment too) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    netloc = f"{host}:{port}" if port else host
    path = parts.path
    match = _TOKEN_PATH.search(path)
    if match:
        path = path[: match.start(2)] + MASK
    path = "/".join(MASK if _TOKEN_SEGMENT.match(seg) else seg for seg in path.split("/"))
    query = "&".join(f"{key}={MASK}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return redact(urlunsplit((parts.scheme, netloc, path, query, "")))


def sensitive_parts(url: str) -> list[str]:
    """The fragments of ``url`` that :func:`redact_url` hides (to scrub them from other text)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    if parts.username:
        found.append(parts.username)
    if parts.password:
        found.append(parts.password)
    match = _TOKEN_PATH.search(parts.path)
    if match:
        found.extend(match.group(2).split("/"))
    found.extend(seg for seg in parts.path.split("/") if _TOKEN_SEGMENT.match(seg))
    return [f for f in found if len(f) >= 4]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URLs redacted and every string in ``secrets`` (longest first) and every registered
    secret replaced by ``***``."""
    text = redact(_URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text))
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites URLs in a log record's message with :func:`redact_url` (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's problem, not ours
            return True
        redacted = scrub(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction(logger_names: Iterable[str] = ("httpx", "httpcore")) -> None:
    """Attach one :class:`RedactingFilter` to each named logger (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
