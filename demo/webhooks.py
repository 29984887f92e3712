"""Local chat receivers that behave like DingTalk, WeCom, Feishu, Slack and a generic JSON webhook.

One threaded HTTP server on 127.0.0.1 serves every platform at its own path, with the real checks and
the real error codes: token, signature (and its one-hour timestamp window), keyword, size limits and
rate limits. Tests, the demo and ``bench/alerts.py`` point channels at it::

    with ChatReceivers() as chat:                      # a free port on 127.0.0.1
        url = chat.url_for("dingtalk")                 # full webhook URL, token included
        secret = chat["dingtalk"].secret               # what the robot expects
        ...
        chat.accepted("dingtalk")                      # [Delivery(at=..., payload={...}, code=0), ...]
        chat.rejected("dingtalk")                      # refused requests with the code they got

Paths (``<...>`` are the receiver's tokens)::

    POST /dingtalk/robot/send?access_token=<token>[&timestamp=..&sign=..]
    POST /wecom/webhook/send?key=<key>
    POST /feishu/open-apis/bot/v2/hook/<token>
    POST /slack/services/<team>/<bot>/<token>
    POST /hook/<any name>                               (X-Jingshao-Signature, X-Jingshao-Timestamp)

Faults: :meth:`ChatReceivers.down` (HTTP 503, or ``mode="close"``: the connection is closed without an
answer), :meth:`ChatReceivers.up`, :meth:`ChatReceivers.fail_next` (inject a platform error code),
:meth:`ChatReceivers.set_limits` (small rate limits for tests), and :meth:`ChatReceivers.stop` /
:meth:`ChatReceivers.start`, which reopens the *same* port (connection refused in between).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from jingshao.demo.httpserver import TrackingHTTPServer, serve_in_background, stop_serving

log = logging.getLogger(__name__)

#: The keyword the keyword-secured robots (DingTalk, Feishu) require: the channels' default prefix.
KEYWORD = "【竞哨】"
SIGN_WINDOW_S = 3600  # DingTalk and Feishu refuse signatures more than an hour off

Limits = Iterable[tuple[int, float]]


# ---------------------------------------------------------------------------- plain data


@dataclass(frozen=True)
class Incoming:
    """One request as a receiver sees it (header names lower-case)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    """What the server answers; ``close`` means hang up without answering."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    close: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(
            status,
            json.dumps(data, ensure_ascii=False).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def text(cls, text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


@dataclass(frozen=True)
class Delivery:
    """A recorded request: the parsed payload (``None`` if it did not parse) and the code it got."""

    at: datetime
    path: str
    payload: Any
    code: int | str | None
    detail: str = ""


class Refused(Exception):
    """Raised by a receiver's checks: the platform refuses the request with ``code``."""

    def __init__(self, code: int | str, message: str, payload: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.payload = code, message, payload


class RateLimit:
    """Sliding windows, e.g. ``[(5, 1.0), (100, 60.0)]``: at most 5 a second and 100 a minute."""

    def __init__(self, limits: Limits = (), clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.set(limits)

    def set(self, limits: Limits) -> None:
        self.limits = [(int(n), float(s)) for n, s in limits]
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        """Count one message if every window has room; a refused message is not counted."""
        if not self.limits:
            return True
        now = self._clock()
        longest = max(s for _, s in self.limits)
        while self._times and now - self._times[0] >= longest:
            self._times.popleft()
        for count, seconds in self.limits:
            if sum(1 for t in self._times if now - t < seconds) >= count:
                return False
        self._times.append(now)
        return True


# ---------------------------------------------------------------------------- receivers


class Receiver(ABC):
    """One platform. Subclasses implement :meth:`verify` (raise :class:`Refused`) and the answers.

    Tokens and secrets are generated per instance unless given; for ``secret``, ``""`` (the default)
    means "generate one" and ``None`` means the robot does not sign (keyword or nothing only).
    Attributes (``token``, ``secret``, ``keyword``, ``max_bytes`` ...) may be changed while serving.
    """

    name: ClassVar[str]
    prefix: ClassVar[str]  # path prefix
    throttle_code: ClassVar[int | str]
    default_limits: ClassVar[tuple[tuple[int, float], ...]] = ()

    def __init__(self, *, limits: Limits | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.initial_limits = list(self.default_limits if limits is None else limits)
        self.limit = RateLimit(self.initial_limits)
        self.accepted: list[Delivery] = []
        self.rejected: list[Delivery] = []
        self.down_mode: str | None = None
        self._faults: deque[tuple[int | str, int | None]] = deque()
        self._lock = threading.Lock()

    # -- switches
    def fail_next(self, n: int, code: int | str, status: int | None = None) -> None:
        """Answer the next ``n`` requests with platform error ``code`` (HTTP ``status`` if given)."""
        with self._lock:
            self._faults.extend([(code, status)] * n)

    def reset(self) -> None:
        """Forget deliveries and faults, bring the receiver up, restore its initial rate limits."""
        with self._lock:
            self.accepted.clear()
            self.rejected.clear()
            self._faults.clear()
            self.down_mode = None
            self.limit.set(self.initial_limits)

    # -- serving
    def handle(self, req: Incoming) -> Reply:
        with self._lock:
            if self.down_mode is not None:
                self._record(self.rejected, req, None, "down", self.down_mode)
                return Reply(close=True) if self.down_mode == "close" else Reply.text("Service Unavailable", 503)
            if self._faults:
                code, status = self._faults.popleft()
                self._record(self.rejected, req, _try_json(req.body), code, "injected fault")
                return self.error(code, "injected fault", status)
            if req.method != "POST":
                return Reply.text("Method Not Allowed", 405)
            try:
                payload = self.verify(req)
                if not self.limit.allow():
                    raise Refused(self.throttle_code, "too many messages", payload)
            except Refused as refused:
                payload = refused.payload if refused.payload is not None else _try_json(req.body)
                self._record(self.rejected, req, payload, refused.code, refused.message)
                return self.error(refused.code, refused.message)
            self._record(self.accepted, req, payload, 0, "ok")
            return self.success()

    def _record(self, into: list[Delivery], req: Incoming, payload: Any, code: int | str | None, detail: str) -> None:
        into.append(Delivery(datetime.now(UTC), req.path, payload, code, detail))

    @abstractmethod
    def verify(self, req: Incoming) -> Any:
        """The parsed payload if the platform would accept ``req``; raise :class:`Refused` otherwise."""

    @abstractmethod
    def error(self, code: int | str, message: str, status: int | None = None) -> Reply: ...

    @abstractmethod
    def success(self) -> Reply: ...

    @abstractmethod
    def url(self, base: str) -> str:
        """The full webhook URL (token included) under ``base``."""

    def settings(self) -> dict[str, Any]:
        """Channel settings that this receiver accepts (``url`` filled in by :class:`ChatReceivers`)."""
        return {"type": self.name}

    def _parse(self, body: bytes, code: int | str, message: str) -> dict[str, Any]:
        data = _try_json(body)
        if not isinstance(data, dict):
            raise Refused(code, message)
        return data


class _JsonCodeReceiver(Receiver):
    """Platforms answering HTTP 200 with a JSON error code."""

    code_field: ClassVar[str] = "errcode"
    message_field: ClassVar[str] = "errmsg"

    def error(self, code: int | str, message: str, status: int | None = None) -> Reply:
        return Reply.json({self.code_field: code, self.message_field: message}, status or 200)

    def success(self) -> Reply:
        return Reply.json({self.code_field: 0, self.message_field: "ok"})


class DingTalkReceiver(_JsonCodeReceiver):
    """DingTalk custom robot: token, optional signing, keyword, 20,000 bytes, 20 a minute."""

    name = "dingtalk"
    prefix = "/dingtalk/robot/send"
    throttle_code = 130101
    default_limits = ((20, 60.0),)

    def __init__(
        self,
        *,
        token: str | None = None,
        secret: str | None = "",
        keyword: str | None = KEYWORD,
        max_bytes: int = 20_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token = token or secrets.token_hex(16)
        self.secret = ("SEC" + secrets.token_hex(24)) if secret == "" else secret  # None: no signing
        self.keyword = keyword
        self.max_bytes = max_bytes

    def verify(self, req: Incoming) -> Any:
        if req.path != self.prefix or req.arg("access_token") != self.token:
            raise Refused(300001, "token is not exist")
        if self.secret:
            self._check_sign(req.arg("timestamp"), req.arg("sign"))
        if len(req.body) > self.max_bytes:
            raise Refused(460101, f"message too long, exceed {self.max_bytes} bytes")
        payload = self._parse(req.body, 40035, "缺少参数 json")
        content = _dingtalk_content(payload)
        if content is None:
            raise Refused(40035, "不合法的参数: msgtype", payload)
        if self.keyword and self.keyword not in content:
            raise Refused(310000, "keywords not in content, more: [https://ding-doc.dingtalk.com]", payload)
        return payload

    def _check_sign(self, timestamp: str | None, sign: str | None) -> None:
        assert self.secret is not None  # only called when the robot signs
        if not timestamp or not sign or not timestamp.isdigit():
            raise Refused(310000, "sign not match, more: missing timestamp or sign")
        if abs(self.clock() * 1000 - int(timestamp)) > SIGN_WINDOW_S * 1000:
            raise Refused(310000, "invalid timestamp, more: not within one hour")
        digest = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sign, base64.b64encode(digest).decode()):
            raise Refused(310000, "sign not match, more: [https://ding-doc.dingtalk.com]")

    def url(self, base: str) -> str:
        return f"{base}{self.prefix}?access_token={self.token}"

    def settings(self) -> dict[str, Any]:
        return {"type": "dingtalk", **({"secret": self.secret} if self.secret else {})}


class WeComReceiver(_JsonCodeReceiver):
    """WeCom group robot: key, markdown 4,096 bytes, text 2,048 bytes, 20 a minute."""

    name = "wecom"
    prefix = "/wecom/webhook/send"
    throttle_code = 45009
    default_limits = ((20, 60.0),)
    limits_bytes: ClassVar[dict[str, int]] = {"markdown": 4096, "text": 2048, "markdown_v2": 4096}

    def __init__(self, *, key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key or f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"

    def verify(self, req: Incoming) -> Any:
        if req.path != self.prefix or req.arg("key") != self.key:
            raise Refused(93000, "invalid webhook url, hint: check the key")
        payload = self._parse(req.body, 40035, "invalid json")
        msgtype = payload.get("msgtype")
        if msgtype not in ("markdown", "text", "markdown_v2", "news", "image", "file", "template_card"):
            raise Refused(40008, "invalid message type", payload)
        if msgtype in self.limits_bytes:
            content = (payload.get(msgtype) or {}).get("content")
            if not isinstance(content, str) or not content:
                raise Refused(44004, "empty content", payload)
            limit = self.limits_bytes[msgtype]
            if len(content.encode()) > limit:
                raise Refused(40058, f"{msgtype}.content exceed max length {limit}", payload)
        return payload

    def url(self, base: str) -> str:
        return f"{base}{self.prefix}?key={self.key}"


class FeishuReceiver(_JsonCodeReceiver):
    """Feishu custom bot: token in the path, signature in the body, keyword, 5 a second and 100 a minute."""

    name = "feishu"
    prefix = "/feishu/open-apis/bot/v2/hook/"
    throttle_code = 11232
    default_limits = ((5, 1.0), (100, 60.0))
    code_field = "code"
    message_field = "msg"

    def __init__(
        self,
        *,
        token: str | None = None,
        secret: str | None = "",
        keyword: str | None = KEYWORD,
        max_bytes: int = 30 * 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token = token or str(uuid.uuid4())
        self.secret = secrets.token_urlsafe(16) if secret == "" else secret
        self.keyword = keyword
        self.max_bytes = max_bytes

    def verify(self, req: Incoming) -> Any:
        if req.path != self.prefix + self.token:
            raise Refused(19001, "param invalid: incoming webhook access token invalid")
        if len(req.body) > self.max_bytes:
            raise Refused(9499, "Bad Request: request body too large")
        payload = self._parse(req.body, 9499, "Bad Request")
        if self.secret:
            self._check_sign(payload.get("timestamp"), payload.get("sign"), payload)
        if not payload.get("msg_type"):
            raise Refused(19002, "params error, msg_type need", payload)
        texts = "\n".join(_strings({k: v for k, v in payload.items() if k not in ("timestamp", "sign")}))
        if self.keyword and self.keyword not in texts:
            raise Refused(19024, "Key Words Not Found", payload)
        return payload

    def _check_sign(self, timestamp: Any, sign: Any, payload: Any) -> None:
        stale = "sign match fail or timestamp is not within one hour from current time"
        if not isinstance(timestamp, str | int) or not str(timestamp).isdigit() or not isinstance(sign, str):
            raise Refused(19021, stale, payload)
        if abs(self.clock() - int(timestamp)) > SIGN_WINDOW_S:
            raise Refused(19021, stale, payload)
        digest = hmac.new(f"{timestamp}\n{self.secret}".encode(), b"", hashlib.sha256).digest()
        if not hmac.compare_digest(sign, base64.b64encode(digest).decode()):
            raise Refused(19021, stale, payload)

    def success(self) -> Reply:
        return Reply.json({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})

    def error(self, code: int | str, message: str, status: int | None = None) -> Reply:
        return Reply.json({"code": code, "data": {}, "msg": message}, status or 200)

    def url(self, base: str) -> str:
        return f"{base}{self.prefix}{self.token}"

    def settings(self) -> dict[str, Any]:
        return {"type": "feishu", **({"secret": self.secret} if self.secret else {})}


class SlackReceiver(Receiver):
    """Slack incoming webhook: ``ok``, or an HTTP error with a short error string; 429 + Retry-After."""

    name = "slack"
    prefix = "/slack/services/"
    throttle_code = "rate_limited"
    default_limits = ((1, 1.0),)
    statuses: ClassVar[dict[str, int]] = {
        "invalid_payload": 400,
        "invalid_blocks": 400,
        "no_text": 400,
        "msg_too_long": 400,
        "invalid_token": 403,
        "action_prohibited": 403,
        "no_service": 404,
        "channel_not_found": 404,
        "channel_is_archived": 410,
        "rate_limited": 429,
        "server_error": 500,
    }

    def __init__(self, *, token: str | None = None, retry_after: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.team, self.bot = "T0" + secrets.token_hex(4).upper(), "B0" + secrets.token_hex(4).upper()
        self.token = token or secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
        self.retry_after = retry_after

    def verify(self, req: Incoming) -> Any:
        if req.path != f"{self.prefix}{self.team}/{self.bot}/{self.token}":
            raise Refused("no_service", "no_service")
        payload = self._parse(req.body, "invalid_payload", "invalid_payload")
        text, blocks = payload.get("text"), payload.get("blocks")
        if not text and not blocks:
            raise Refused("no_text", "no_text", payload)
        if blocks is not None and not _slack_blocks_ok(blocks):
            raise Refused("invalid_blocks", "invalid_blocks", payload)
        if isinstance(text, str) and len(text) > 40_000:
            raise Refused("msg_too_long", "msg_too_long", payload)
        return payload

    def error(self, code: int | str, message: str, status: int | None = None) -> Reply:
        if isinstance(code, int):  # an HTTP status: find its error word
            status, code = code, next((w for w, s in self.statuses.items() if s == code), "server_error")
        status = status or self.statuses.get(code, 400)
        headers = {"Retry-After": f"{self.retry_after:g}"} if status == 429 else {}
        return Reply.text(str(code), status, headers)

    def success(self) -> Reply:
        return Reply.text("ok")

    def url(self, base: str) -> str:
        return f"{base}{self.prefix}{self.team}/{self.bot}/{self.token}"


class GenericReceiver(Receiver):
    """The generic JSON webhook: ``X-Jingshao-Signature: sha256=<hex HMAC of the body>``; HTTP statuses."""

    name = "webhook"
    prefix = "/hook/"
    throttle_code = 429
    default_limits = ()

    def __init__(
        self, *, secret: str | None = "", hook: str = "jingshao", retry_after: float = 1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.secret = secrets.token_urlsafe(24) if secret == "" else secret
        self.hook = hook
        self.retry_after = retry_after

    def verify(self, req: Incoming) -> Any:
        if not req.path.startswith(self.prefix) or len(req.path) == len(self.prefix):
            raise Refused(404, "no such hook")
        if self.secret:
            expected = "sha256=" + hmac.new(self.secret.encode(), req.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(req.headers.get("x-jingshao-signature", ""), expected):
                raise Refused(401, "bad signature")
            timestamp = req.headers.get("x-jingshao-timestamp", "")
            if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > SIGN_WINDOW_S:
                raise Refused(401, "stale or missing timestamp")
        data = _try_json(req.body)
        if data is None:
            raise Refused(400, "invalid json")
        return data

    def error(self, code: int | str, message: str, status: int | None = None) -> Reply:
        status = status or (code if isinstance(code, int) else 400)
        headers = {"Retry-After": f"{self.retry_after:g}"} if status == 429 else {}
        return Reply.json({"ok": False, "error": message}, status, headers)

    def success(self) -> Reply:
        return Reply.json({"ok": True})

    def url(self, base: str) -> str:
        return f"{base}{self.prefix}{self.hook}"

    def settings(self) -> dict[str, Any]:
        return {"type": "webhook", **({"secret": self.secret} if self.secret else {})}


def default_receivers() -> list[Receiver]:
    return [DingTalkReceiver(), WeComReceiver(), FeishuReceiver(), SlackReceiver(), GenericReceiver()]


# ---------------------------------------------------------------------------- the server


class ChatReceivers:
    """Every platform receiver behind one threaded HTTP server on 127.0.0.1."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        receivers: Iterable[Receiver] | None = None,
        limits: Mapping[str, Limits] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.receivers: dict[str, Receiver] = {r.name: r for r in (receivers or default_receivers())}
        for name, value in (limits or {}).items():
            self.set_limits(name, value)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> Self:
        """Serve in a background thread; after :meth:`stop`, the same port is reused."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = serve_in_background(self._server, f"chat-receivers:{self.port}", poll_interval=0.05)
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections: clients get "connection refused" until :meth:`start`."""
        server, self._server = self._server, None
        if server is None:
            return
        stop_serving(server, self._thread)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lookups
    def __getitem__(self, name: str) -> Receiver:
        try:
            return self.receivers[name]
        except KeyError:
            raise KeyError(f"no receiver {name!r}; have {sorted(self.receivers)}") from None

    def __iter__(self) -> Iterator[Receiver]:
        return iter(self.receivers.values())

    def url_for(self, name: str) -> str:
        """The full webhook URL for ``name`` (token included: it is a credential on real platforms)."""
        return self[name].url(self.base_url)

    def channel_settings(self, name: str, channel_name: str | None = None) -> dict[str, Any]:
        """A ``[[channels]]`` table that this receiver accepts: name, type, url and secret if signed."""
        return {"name": channel_name or name, **self[name].settings(), "url": self.url_for(name)}

    def accepted(self, name: str) -> list[Delivery]:
        with self[name]._lock:
            return list(self[name].accepted)

    def rejected(self, name: str) -> list[Delivery]:
        with self[name]._lock:
            return list(self[name].rejected)

    # -- faults
    def down(self, name: str, mode: str = "503") -> None:
        """``mode="503"``: answer HTTP 503; ``mode="close"``: close the connection without an answer."""
        if mode not in ("503", "close"):
            raise ValueError("mode must be '503' or 'close'")
        self[name].down_mode = mode

    def up(self, name: str) -> None:
        self[name].down_mode = None

    def fail_next(self, name: str, n: int, code: int | str, status: int | None = None) -> None:
        """Answer the next ``n`` requests to ``name`` with the platform error ``code``."""
        self[name].fail_next(n, code, status)

    def set_limits(self, name: str, limits: Limits) -> None:
        """Replace ``name``'s rate limits, e.g. ``[(2, 60)]``; ``[]`` removes them."""
        self[name].limit.set(limits)

    def reset(self) -> None:
        for receiver in self:
            receiver.reset()

    def dispatch(self, req: Incoming) -> Reply:
        for receiver in self:
            if req.path.startswith(receiver.prefix):
                return receiver.handle(req)
        return Reply.text("Not Found", 404)


class _Server(TrackingHTTPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ChatReceivers) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("chat receivers: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = urlsplit(self.path)
        req = Incoming(
            self.command,
            target.path,
            parse_qs(target.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        reply = self.server.owner.dispatch(req)
        if reply.close:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# ---------------------------------------------------------------------------- helpers


def _try_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _dingtalk_content(payload: dict[str, Any]) -> str | None:
    """The text DingTalk checks for the keyword, or ``None`` for an unknown message type."""
    msgtype = payload.get("msgtype")
    if msgtype not in ("text", "markdown", "actionCard", "link", "feedCard"):
        return None
    return "\n".join(_strings(payload.get(msgtype) or {}))


def _slack_blocks_ok(blocks: Any) -> bool:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return False
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "header" and len(text) > 150:
            return False
        if block["type"] == "section" and (len(text) > 3000 or len(block.get("fields") or []) > 10):
            return False
    return True
