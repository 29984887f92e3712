"""What a channel sends (:class:`Notification`), what it got back (:class:`SendResult`), and the
:class:`Channel` base class: render a platform payload, POST it, classify the platform's answer.

Channels only format and send. Routing, grouping, rate limiting, retries and the outbox belong to the
alert engine; a channel tells it what happened through :class:`SendResult`:

- ``sent``: the platform's *body* said success (``errcode 0``, ``code 0``, Slack's ``ok``);
- ``retry``: throttled, HTTP 429/5xx or a network error; ``retry_after`` is the platform's hint
  (``Retry-After``) or, for throttling codes without one, the platform's window;
- ``permanent``: bad signature, missing keyword, bad token, payload refused ... retrying cannot help,
  the channel is broken until someone fixes its configuration.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx

from jingshao.core.formatting import timestamp, zone_label
from jingshao.core.levels import DEFAULT_PREFIX, LEVEL_EMOJI, LEVEL_NAMES, LEVELS, MENTION_ID, Level
from jingshao.core.url_redaction import install_log_redaction, redact_url, scrub, sensitive_parts

log = logging.getLogger(__name__)

Kind = Literal["firing", "escalated", "followup", "repeat", "resolved", "summary", "test"]
Status = Literal["sent", "retry", "permanent"]

KINDS: tuple[Kind, ...] = ("firing", "escalated", "followup", "repeat", "resolved", "summary", "test")
TRUNCATED = "…(已截断)"

KIND_SUFFIX: dict[str, str] = {
    "firing": "",
    "escalated": "·升级",
    "followup": "·新变化",  # an event alert changed further (the price dropped again): the current value
    "repeat": "·持续",
    "summary": "·汇总",
    "resolved": "",
    "test": "",
}

PHONE = re.compile(r"^\+?\d{6,15}$")

# Caps applied before rendering, so one huge crawled field cannot crowd out the rest of a message.
MAX_TITLE = 120
MAX_FACTS = 20
MAX_FACT_LABEL = 40
MAX_FACT_VALUE = 300
MAX_PARAGRAPH = 1500
MAX_LINKS = 8
MAX_LINK_TEXT = 60


@dataclass(frozen=True)
class Notification:
    """One message for a group. Every text field may contain crawled text; channels escape it."""

    level: Level
    kind: Kind
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    subject: str = ""
    fingerprint: str = ""
    mention: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Notification.level must be one of {LEVELS}, got {self.level!r}")
        if self.kind not in KINDS:
            raise ValueError(f"Notification.kind must be one of {KINDS}, got {self.kind!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("Notification.created_at must be timezone-aware")


@dataclass(frozen=True)
class SendResult:
    """The platform's answer, classified. ``detail`` never contains a token, secret or signed URL."""

    status: Status
    code: str | int | None = None
    detail: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


@dataclass(frozen=True)
class OutgoingRequest:
    """A signed request ready to POST (tests inspect it; its ``url`` is a credential)."""

    url: str
    headers: dict[str, str]
    content: bytes

    def __repr__(self) -> str:
        return f"OutgoingRequest(url={redact_url(self.url)!r}, {len(self.content)} bytes)"


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON: what is sent is what size limits are measured on."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def fit_lines(lines: Sequence[str], fits: Callable[[list[str]], bool]) -> list[str]:
    """The longest head of ``lines`` that ``fits``, cut mid-line if need be and marked ``…(已截断)``.

    Works on *raw* lines (before escaping) so a cut never splits an entity such as ``&amp;``.
    Binary searches keep it at O(log n) renders.
    """
    lines = list(lines)
    if fits(lines):
        return lines

    def with_marker(kept: int, partial: str = "") -> list[str]:
        return [*lines[:kept], partial + TRUNCATED]

    if not lines or not fits(with_marker(0)):
        return [TRUNCATED]
    kept = _largest(len(lines) - 1, lambda k: fits(with_marker(k)))  # whole lines that fit
    nxt = lines[kept]
    cut = _largest(len(nxt), lambda c: fits(with_marker(kept, nxt[:c])))  # and a head of the next one
    return with_marker(kept, nxt[:cut])


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def clip_notification(n: Notification) -> Notification:
    """``n`` with every field capped (see ``MAX_*``), so the body is what size limits cut."""
    return dataclasses.replace(
        n,
        title=_clip(n.title, MAX_TITLE),
        facts=[(_clip(k, MAX_FACT_LABEL), _clip(v, MAX_FACT_VALUE)) for k, v in n.facts[:MAX_FACTS]],
        body=[_clip(p, MAX_PARAGRAPH) for p in n.body],
        links=[(_clip(t, MAX_LINK_TEXT), u) for t, u in n.links[:MAX_LINKS]],
        subject=_clip(n.subject, MAX_FACT_VALUE),
    )


class Channel(ABC):
    """A chat group (or any JSON endpoint) reachable by webhook.

    Subclasses say how to :meth:`build` a payload for a given list of body lines, whether a payload
    :meth:`fits` the platform's limits, how to :meth:`sign` it and how to :meth:`classify_body` the
    answer. :meth:`render` trims body lines until the payload fits; :meth:`send` does the I/O.
    """

    kind: ClassVar[str] = ""
    #: Largest encoded request body the platform accepts (subclasses may check more in :meth:`fits`).
    max_bytes: ClassVar[int] = 256 * 1024
    #: Suggested wait after a throttling answer without ``Retry-After`` (roughly the platform's window).
    throttle_retry_after: ClassVar[float] = 60.0

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        levels: Iterable[str] = LEVELS,
        mention: Iterable[str] = (),
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        roles: Iterable[str] = ("business",),
    ) -> None:
        if not prefix:
            raise ValueError("a channel prefix must not be empty (keyword-secured robots need it)")
        self.name = name
        self._url = url
        self._secret = secret or None
        self.prefix = prefix
        self.levels = frozenset(levels)
        self.mention = tuple(mention)
        self.timeout = timeout
        self.roles = frozenset(roles)  # business | admin (issue 12: alerts about the crawler go to admin)
        self._clock = clock
        self._sensitive = tuple(sensitive_parts(url)) + ((self._secret,) if self._secret else ())
        install_log_redaction()

    # ------------------------------------------------------------------ identity

    @property
    def redacted_url(self) -> str:
        """The webhook URL with its token hidden, for logs and status pages."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, url={self.redacted_url!r})"

    def accepts(self, level: str) -> bool:
        """Whether notifications of ``level`` are routed to this channel."""
        return level in self.levels

    # ------------------------------------------------------------------ formatting

    def label(self, n: Notification) -> str:
        """Our fixed words after the prefix: ``🔴红色预警·升级``, ``✅已恢复``, ``🧪测试消息``."""
        if n.kind == "resolved":
            return "✅已恢复"
        if n.kind == "test":
            return "🧪测试消息"
        return f"{LEVEL_EMOJI[n.level]}{LEVEL_NAMES[n.level]}{KIND_SUFFIX[n.kind]}"

    def footer(self, n: Notification) -> str:
        """``指纹 … · time (北京时间)`` in the display time zone (``Config.timezone``), raw (escape per format)."""
        parts = [f"指纹 {n.fingerprint[:12]}"] if n.fingerprint else []
        parts.append(f"{timestamp(n.created_at)}（{zone_label()}）")
        return " · ".join(parts)

    def facts_of(self, n: Notification) -> list[tuple[str, str]]:
        """The fact rows, with the subject first when the title does not already name it."""
        if n.subject and n.subject not in n.title:
            return [("对象", n.subject), *n.facts]
        return list(n.facts)

    def mentions_for(self, n: Notification) -> list[str]:
        """Who to @: on red only, the notification's and this channel's ids, validated, deduplicated."""
        if n.level != "red" or n.kind == "resolved":
            return []
        ids: list[str] = []
        for raw in (*n.mention, *self.mention):
            ident = str(raw).strip()
            if not MENTION_ID.match(ident):
                log.warning("channel %s: ignoring invalid mention id %r", self.name, ident[:40])
                continue
            if ident not in ids:
                ids.append(ident)
        return ids

    @abstractmethod
    def build(self, n: Notification, body: list[str]) -> dict[str, Any]:
        """The platform payload for ``n`` with ``body`` (raw lines, possibly already truncated)."""

    def fits(self, payload: dict[str, Any]) -> bool:
        """Whether ``payload`` is within the platform's limits."""
        return len(encode_json(payload)) <= self.max_bytes

    def render(self, n: Notification) -> dict[str, Any]:
        """The payload to send: every field escaped, body lines truncated (marked) to fit the limits."""
        n = clip_notification(n)
        body = fit_lines(n.body, lambda lines: self.fits(self.build(n, lines)))
        payload = self.build(n, body)
        if self.fits(payload):
            return payload
        # The head alone is too big (many long facts on a small platform): keep the facts that fit.
        body = [TRUNCATED]
        kept = _largest(len(n.facts), lambda k: self.fits(self.build(dataclasses.replace(n, facts=n.facts[:k]), body)))
        n = dataclasses.replace(n, facts=[*n.facts[:kept], ("…", TRUNCATED)] if kept < len(n.facts) else n.facts)
        return self.build(n, body)  # if even this is too big the platform refuses it: a loud permanent error

    # ------------------------------------------------------------------ sending

    def sign(self, payload: dict[str, Any]) -> OutgoingRequest:
        """The request to POST; platforms with signing override this."""
        return OutgoingRequest(self._url, {"Content-Type": "application/json; charset=utf-8"}, encode_json(payload))

    def prepare(self, n: Notification) -> OutgoingRequest:
        return self.sign(self.render(n))

    def send(self, n: Notification, client: httpx.Client) -> SendResult:
        """POST ``n`` and classify the answer. Never raises for HTTP or network trouble."""
        request = self.prepare(n)
        try:
            response = client.post(request.url, content=request.content, headers=request.headers, timeout=self.timeout)
        except httpx.UnsupportedProtocol as exc:
            result = SendResult("permanent", None, f"bad webhook URL: {exc}")
        except httpx.TimeoutException as exc:
            result = SendResult("retry", None, f"timeout ({type(exc).__name__})")
        except httpx.TransportError as exc:
            result = SendResult("retry", None, f"network error ({type(exc).__name__}: {exc})")
        else:
            result = self.classify(response)
        result = dataclasses.replace(result, detail=scrub(result.detail, self._sensitive)[:300])
        level = logging.INFO if result.status == "sent" else logging.WARNING
        if result.status == "permanent":
            level = logging.ERROR
        log.log(
            level,
            "%s channel %r (%s): %s %s %s",
            self.kind,
            self.name,
            self.redacted_url,
            result.status,
            result.code,
            result.detail,
        )
        return result

    def classify(self, response: httpx.Response) -> SendResult:
        """HTTP-level answer first (429/5xx retry, other non-2xx permanent), then the platform's body."""
        status = response.status_code
        if status == 429 or status >= 500:
            return SendResult(
                "retry",
                status,
                f"HTTP {status}: {_snippet(response)}",
                parse_retry_after(response.headers.get("Retry-After"), self._clock),
            )
        if not 200 <= status < 300:
            return SendResult("permanent", status, f"HTTP {status}: {_snippet(response)}")
        return self.classify_body(response)

    @abstractmethod
    def classify_body(self, response: httpx.Response) -> SendResult:
        """Classify a 2xx answer by what its body says."""


class JsonCodeChannel(Channel):
    """Platforms that answer HTTP 200 with a JSON code (DingTalk, WeCom, Feishu): 0 is success."""

    code_fields: ClassVar[tuple[str, ...]] = ("errcode",)
    message_fields: ClassVar[tuple[str, ...]] = ("errmsg",)
    #: Codes meaning "too fast": retried after ``throttle_retry_after``.
    retry_codes: ClassVar[frozenset[int]] = frozenset()
    #: What a code means and what to do, for the detail text.
    known_codes: ClassVar[dict[int, str]] = {}

    def classify_body(self, response: httpx.Response) -> SendResult:
        try:
            data = response.json()
        except ValueError:
            return SendResult(
                "permanent",
                response.status_code,
                f"HTTP {response.status_code} but the answer is not JSON: {_snippet(response)}",
            )
        if not isinstance(data, dict):
            return SendResult("permanent", response.status_code, f"unexpected answer: {_snippet(response)}")
        code = next((data[f] for f in self.code_fields if f in data), None)
        message = str(next((data[f] for f in self.message_fields if f in data), ""))
        if code is None:
            return SendResult(
                "permanent", response.status_code, f"answer has no {self.code_fields[0]}: {_snippet(response)}"
            )
        if code == 0:
            return SendResult("sent", 0, message or "ok")
        hint = self.known_codes.get(code if isinstance(code, int) else -1)
        detail = f"{self.code_fields[0]} {code}" + (f" ({hint})" if hint else "") + (f": {message}" if message else "")
        if code in self.retry_codes:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock)
            return SendResult(
                "retry", code, detail, retry_after if retry_after is not None else self.throttle_retry_after
            )
        return SendResult("permanent", code, detail)


def _largest(upper: int, ok: Callable[[int], bool]) -> int:
    """The largest ``k`` in ``0..upper`` with ``ok(k)`` (``ok`` monotone; 0 if none)."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _snippet(response: httpx.Response, limit: int = 120) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body
        return "<unreadable body>"
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")
