"""Who is asking: passwords (stdlib scrypt), API tokens, browser sessions, CSRF, login rate limit.

- Passwords are stored as ``scrypt$n$r$p$salt$hash`` (stdlib ``hashlib.scrypt``, memory-hard, no extra
  dependency); comparisons use ``hmac.compare_digest``.
- API tokens (``Authorization: Bearer ...``) and session keys are random 32-byte strings; only their
  SHA-256 is stored, so a copy of the database does not let anyone in.
- A browser session is a row in ``web_sessions`` with its own CSRF token; the cookie is HttpOnly,
  SameSite=Lax and Secure when ``web.public_url`` is https. Logout deletes the row.
- Without any user or token (config or database) the app is in *local mode*: it is only served on a
  loopback address (``serve`` refuses others), every request acts as the local admin, and the Host
  header must be a loopback name (so a DNS-rebinding page cannot talk to it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from jingshao.storage.models import ApiToken, WebSession, WebUser
from jingshao.web.settings import Role, WebConfig

SESSION_COOKIE = "jingshao_session"
CSRF_COOKIE = "jingshao_csrf"  # the anonymous (pre-login) CSRF token, double-submit style
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

# scrypt cost: n=2**14, r=8 needs 16 MiB per hash, about 50 ms here: slow for guessing, fine for a login.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "jst_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The current user: a person (session), an API token, or the local admin in local mode."""

    name: str
    role: Role
    via: str  # "session" | "token" | "local"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


LOCAL_ADMIN = Principal("local", "admin", "local")


def auth_configured(cfg: WebConfig, session: Session) -> bool:
    """True when any user or token exists (config or database): then every request must authenticate."""
    if cfg.users or cfg.tokens:
        return True
    return (
        session.scalar(select(WebUser.id).where(WebUser.disabled_at.is_(None)).limit(1)) is not None
        or session.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)).limit(1)) is not None
    )


def check_login(cfg: WebConfig, session: Session, name: str, password: str) -> Principal | None:
    for user in cfg.users:
        if user.name == name:
            if user.password is not None:
                ok = hmac.compare_digest(user.password.get_secret_value().encode(), password.encode())
            else:
                ok = verify_password(password, user.password_hash.get_secret_value())  # type: ignore[union-attr]
            return Principal(user.name, user.role, "session") if ok else None
    row = session.scalar(select(WebUser).where(WebUser.name == name, WebUser.disabled_at.is_(None)))
    if row is not None and verify_password(password, row.password_hash):
        return Principal(row.name, row.role, "session")  # type: ignore[arg-type]
    if row is None:
        # Spend the same time as a real check, so response times do not tell which names exist.
        verify_password(password, _DUMMY_HASH)
    return None


_DUMMY_HASH = hash_password(secrets.token_hex(8))


# `last_used_at` is a "when was this token last used" hint, not an audit log: it is written at most
# once a minute per token, so API reads do not each take the database's write lock.
TOKEN_TOUCH_SECONDS = 60


def check_token(
    cfg: WebConfig, session: Session, token: str, *, writer: Callable[[], AbstractContextManager[Session]] | None = None
) -> Principal | None:
    """The token's principal, or None. A database token's ``last_used_at`` is refreshed when it is
    ``TOKEN_TOUCH_SECONDS`` old or more: in ``session``, or in a short transaction of its own from
    ``writer`` when ``session`` only reads (a GET request's)."""
    for t in cfg.tokens:
        if hmac.compare_digest(t.token.get_secret_value().encode(), token.encode()):
            return Principal(t.name, t.role, "token")
    row = session.execute(
        select(ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.revoked_at, ApiToken.last_used_at).where(
            ApiToken.token_hash == token_digest(token)
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=TOKEN_TOUCH_SECONDS):
        touch = update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
        if writer is None:
            session.execute(touch)
        else:
            with writer() as w:
                w.execute(touch)
    return Principal(row.name, row.role, "token")


def start_session(cfg: WebConfig, session: Session, who: Principal) -> tuple[str, str]:
    """Store a new session for ``who``; return (cookie key, CSRF token)."""
    key, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(
        WebSession(
            key_hash=token_digest(key),
            user_name=who.name,
            role=who.role,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=cfg.session_hours),
        )
    )
    return key, csrf


def load_session(session: Session, key: str) -> WebSession | None:
    row = session.scalar(select(WebSession).where(WebSession.key_hash == token_digest(key)))
    if row is None or row.expires_at <= datetime.now(UTC):
        return None
    return row


def end_session(session: Session, key: str) -> None:
    session.execute(delete(WebSession).where(WebSession.key_hash == token_digest(key)))


class LoginLimiter:
    """At most ``attempts`` failed logins per (client address, user name) within ``window`` seconds,
    and four times that per client address over all names (so guessing across names is limited too).

    Own code (a few lines) rather than a rate-limit library: one process, in-memory counters, and the
    limit must count only failures, which the common libraries do not do.
    """

    ANY_NAME = "\x00any"
    PER_CLIENT_FACTOR = 4

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def _wait(self, q: deque[float], limit: int, now: float) -> int:
        if len(q) < limit:
            return 0
        return max(1, int(q[-limit] + self.window - now + 0.999))

    def retry_after(self, client: str, name: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            by_name = self._wait(self._recent((client, name), now), self.attempts, now)
            limit = self.attempts * self.PER_CLIENT_FACTOR
            by_client = self._wait(self._recent((client, self.ANY_NAME), now), limit, now)
            return max(by_name, by_client)

    def failed(self, client: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent((client, name), now).append(now)
            self._recent((client, self.ANY_NAME), now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys so a flood of names cannot grow memory
                for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window]:
                    del self._failures[key]

    def succeeded(self, client: str, name: str) -> None:
        with self._lock:
            self._failures.pop((client, name), None)
