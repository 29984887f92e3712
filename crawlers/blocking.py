"""Is this page the product, or the shop saying no? (issue 12)

Real shops answer crawlers with login walls, slider captchas (滑块验证), "访问过于频繁" pages, redirects to
passport / verify hosts and near-empty shells. Such a page must never become an observation (a sold-out word
on a login wall is no stock change) and never a plain "no price" failure either: the team needs to know
*blocked* from *changed*.

:func:`detect_block` is a pure function of what any page gives: the HTTP status, the URL asked for and the
URL answered, the body, whether extraction found the product's own block, and the product's usual page
size. Nothing here knows a site: every signal is generic.

- HTTP 403 / 412 / 429: the site refused (also after redirects);
- a redirect to a URL whose host or path speaks of login / passport / verify / captcha / risk checks;
- captcha and wall markers (滑块, 验证码, 安全验证, nc_ / geetest widgets, 访问过于频繁, 请登录后查看 ...) on a
  page *without the product block* -- a normal product page whose review says "验证码收不到" has its price,
  so markers alone never block it;
- a body far below the product's usual size (``shell_ratio`` of it) without the product block: an empty
  shell, or a tiny page with almost no visible text when no usual size is known yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

#: Statuses that mean "refused": forbidden, precondition failed (a common anti-bot answer), too many requests.
BLOCK_STATUSES = frozenset({403, 412, 429})

#: Words in a redirect target's host or path that mean a login wall or a check, not the product.
WALL_URL_WORDS = (
    "login",
    "signin",
    "sign-in",
    "passport",
    "verify",
    "captcha",
    "checkcode",
    "security-check",
    "punish",
)
_WALL_URL = re.compile(r"(?<![a-z])(" + "|".join(re.escape(w) for w in WALL_URL_WORDS) + r")", re.I)

#: (marker, what it means) in page text or markup; checked only when the product block is missing.
CAPTCHA_MARKERS: tuple[tuple[str, str], ...] = (
    ("滑块", "slider captcha (滑块验证)"),
    ("拖动滑块", "slider captcha (滑块验证)"),
    ("安全验证", "security check (安全验证)"),
    ("验证码", "captcha (验证码)"),
    ("人机验证", "captcha (人机验证)"),
    ("geetest", "captcha (geetest)"),
    ("nc_wrapper", "slider captcha (nc_)"),
    ("nc_1_", "slider captcha (nc_)"),
    ("nocaptcha", "slider captcha (nocaptcha)"),
    ("访问过于频繁", "rate limited (访问过于频繁)"),
    ("请求过于频繁", "rate limited (请求过于频繁)"),
    ("操作过于频繁", "rate limited (操作过于频繁)"),
    ("请登录后查看", "login wall (请登录后查看)"),
    ("请先登录", "login wall (请先登录)"),
    ("登录后查看", "login wall (登录后查看)"),
    ("扫码登录", "login wall (扫码登录)"),
    ("账号登录", "login wall (账号登录)"),
)

#: The reason words the crawl summary and `status` group by (the part before the colon).
SIGNAL_STATUS, SIGNAL_REDIRECT, SIGNAL_MARKER, SIGNAL_SHELL = "status", "redirect", "marker", "shell"
#: Signals that mean "log in": a login wall after cookies were sent marks those cookies expired.
LOGIN_REASON_WORDS = ("login", "passport", "signin", "sso", "登录")

_TAGS = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.S | re.I)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class BlockVerdict:
    """Why a page is taken for a wall: ``signal`` (status, redirect, marker, shell) and a reason for people."""

    signal: str
    reason: str

    @property
    def is_login(self) -> bool:
        return any(w in self.reason.lower() for w in LOGIN_REASON_WORDS)


@dataclass(frozen=True)
class BlockingPolicy:
    """Thresholds of the size signal (from ``[crawl.blocking]``)."""

    shell_ratio: float = 0.2  # a body below this share of the product's usual size is a shell
    min_text_chars: int = 40  # with no usual size yet: fewer visible characters than this is a shell


def visible_text(html: str) -> str:
    """The page's visible text, roughly (scripts, styles and tags removed, blanks folded)."""
    return _SPACE.sub(" ", _TAGS.sub(" ", html)).strip()


def wall_redirect(requested: str, answered: str, chain: Sequence[str] = ()) -> str | None:
    """The wall URL a request was redirected to, or None (the same page, or a redirect to another product)."""
    asked = urlsplit(requested)
    for url in (*chain[1:], answered):
        parts = urlsplit(url)
        if (parts.netloc, parts.path) == (asked.netloc, asked.path):
            continue
        where = f"{parts.netloc}{parts.path}"
        if _WALL_URL.search(where) and not _WALL_URL.search(f"{asked.netloc}{asked.path}"):
            return url
    return None


def find_marker(text: str) -> str | None:
    lowered = text.lower()
    for marker, meaning in CAPTCHA_MARKERS:
        if marker.lower() in lowered:
            return meaning
    return None


def detect_block(
    *,
    status: int,
    requested_url: str,
    url: str,
    body: bytes,
    html: str,
    has_product: bool,
    usual_bytes: int | None = None,
    redirect_chain: Sequence[str] = (),
    policy: BlockingPolicy | None = None,
) -> BlockVerdict | None:
    """A :class:`BlockVerdict` when the page is a wall, else None (the page is the product or a plain failure).

    ``has_product``: extraction found the product's own block (its price; an out-of-stock page that hides
    its price is checked for walls like a page without one).
    ``usual_bytes``: the size of this product's recent good pages, if known.
    """
    policy = policy or BlockingPolicy()
    if status in BLOCK_STATUSES:
        return BlockVerdict(SIGNAL_STATUS, f"HTTP {status}")
    target = wall_redirect(requested_url, url, redirect_chain)
    if target is not None:
        parts = urlsplit(target)
        return BlockVerdict(SIGNAL_REDIRECT, f"redirected to {parts.netloc}{parts.path}")
    if has_product:
        return None
    text = visible_text(html)
    # Markers are read in the text and in the markup's class names / script sources (nc_, geetest).
    meaning = find_marker(text) or find_marker(html[:200_000])
    if meaning:
        return BlockVerdict(SIGNAL_MARKER, meaning)
    if usual_bytes and len(body) < usual_bytes * policy.shell_ratio:
        return BlockVerdict(
            SIGNAL_SHELL, f"empty shell ({len(body):,} bytes, usually {usual_bytes:,}; no product block)"
        )
    if not usual_bytes and len(text) < policy.min_text_chars:
        return BlockVerdict(SIGNAL_SHELL, f"empty shell ({len(text)} visible characters; no product block)")
    return None


def reason_text(verdict: BlockVerdict) -> str:
    """What is stored and shown: ``blocked: slider captcha (滑块验证)``."""
    return f"blocked: {verdict.reason}"


class BlockingConfig(BaseModel):
    """``[crawl.blocking]``: how walls are told apart and how a crawl backs off from a domain that shows them."""

    model_config = ConfigDict(extra="forbid")

    shell_ratio: float = Field(
        default=0.2, gt=0, lt=1, description="a page without the product below this share of its usual size is a shell"
    )
    min_text_chars: int = Field(
        default=40, ge=0, description="no usual size known yet: fewer visible characters than this is a shell"
    )
    first_delay: float = Field(
        default=5.0, ge=0, description="seconds between requests to a domain after its first blocked page"
    )
    slow_factor: float = Field(default=2.0, ge=1, description="the delay grows by this factor with every further block")
    max_delay: float = Field(default=120.0, gt=0, description="the delay never exceeds this (seconds)")
    pause_after: int = Field(default=3, ge=1, description="blocked pages in a row before the domain is paused")
    pause_minutes: float = Field(default=60.0, gt=0, description="how long a paused domain is left alone")

    def policy(self) -> BlockingPolicy:
        return BlockingPolicy(shell_ratio=self.shell_ratio, min_text_chars=self.min_text_chars)
