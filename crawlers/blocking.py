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
from collections.abc import Callable, Sequence
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


#: :func:`wall_before_extraction`: the page may be a wall or not, depending on what extraction finds.
UNDECIDED = BlockVerdict("undecided", "extraction decides")

# The byte search of :func:`_marker_possible` lowers only ASCII letters; ``str.lower`` also turns KELVIN SIGN into
# "k" and LATIN CAPITAL LETTER I WITH DOT ABOVE into "i" + a combining dot. No ASCII marker holds those letters,
# so a marker found in the lowered text is found in the lowered UTF-8 bytes (checked here, not assumed).
_BYTES_SEARCH_EXACT = not any(c in marker.lower() for marker, _ in CAPTCHA_MARKERS for c in "ki")


def _marker_groups() -> tuple[tuple[bytes, tuple[bytes, ...], bool], ...]:
    """(core, markers, lowered) triples: every marker holds its group's core, so a body without the core holds
    none of them (one search skips the group). Cores are the two-character pieces shared by the most markers
    (登录 stands for the five login walls); an ASCII marker is its own core. ``lowered``: a marker holds ASCII
    letters, so the group is searched in the lowered body (any letter case); else in the body itself."""
    left = [m.lower() for m, _ in CAPTCHA_MARKERS]
    groups = []
    while left:
        wide = [m for m in left if not m.isascii()]
        if wide:
            pieces = {m[i : i + 2] for m in wide for i in range(len(m) - 1)}
            core = max(sorted(pieces), key=lambda p: sum(p in m for m in wide))
        else:
            core = left[0]
        members = [m for m in left if core in m]
        left = [m for m in left if core not in m]
        lowered = any(c.isascii() and c.isalpha() for m in members for c in m)
        groups.append((core.encode("utf-8"), tuple(m.encode("utf-8") for m in members), lowered))
    return tuple(groups)


_MARKER_GROUPS = _marker_groups()


def _marker_possible(body: bytes, html: Callable[[], str], utf8: bool) -> bool:
    """Whether :func:`find_marker` could find a marker in the page's text or markup (False: it cannot).

    Every marker found in the visible text is in the markup too (markers hold no blank; tags become blanks),
    so one search of the whole markup covers both. A UTF-8 page is searched as bytes (a marker's characters
    are contiguous valid sequences in the body), without decoding it."""
    if utf8 and _BYTES_SEARCH_EXACT:
        lowered = None
        for core, members, in_lowered in _MARKER_GROUPS:
            if in_lowered:
                lowered = body.lower() if lowered is None else lowered
                where = lowered
            else:  # no ASCII letter: the lowered text holds the marker where the body does
                where = body
            if core in where and any(marker in where for marker in members):
                return True
        return False
    return find_marker(html()) is not None


def _little_text(html: str, at_least: int) -> bool:
    """Whether the page's visible text could be shorter than ``at_least`` characters (False: it is not).

    Counts the non-blank characters between tags up to ``at_least`` and stops there (the title alone usually
    gets there), instead of building the whole visible text: a lower bound of ``len(visible_text(html))``."""
    if at_least <= 0:
        return False
    seen, last = 0, 0
    for match in _TAGS.finditer(html):
        seen += len("".join(html[last : match.start()].split()))
        if seen >= at_least:
            return False
        last = match.end()
    seen += len("".join(html[last:].split()))
    return seen < at_least


def wall_before_extraction(
    *,
    status: int,
    requested_url: str,
    url: str,
    body: bytes,
    html: Callable[[], str],
    utf8: bool,
    usual_bytes: int | None = None,
    redirect_chain: Sequence[str] = (),
    policy: BlockingPolicy | None = None,
) -> BlockVerdict | None:
    """What :func:`detect_block` can tell before the page is extracted (issue 15: a crawl that extracts in
    worker processes learns of a wall at once, as an in-process crawl does, so back-off starts as early):

    - a status or redirect verdict: the page is a wall whatever extraction finds (the same verdict);
    - None: no signal could fire even without the product block, so the page is no wall whatever extraction
      finds (:func:`detect_block` would return None for it);
    - :data:`UNDECIDED`: a marker or the size signal could fire, so it depends on the product block.

    ``html``: the decoded page, called only when needed (a UTF-8 page's markers are searched in its bytes);
    ``utf8``: ``body`` is the page in UTF-8."""
    policy = policy or BlockingPolicy()
    verdict = detect_block(
        status=status,
        requested_url=requested_url,
        url=url,
        body=body,
        html="",
        has_product=True,  # only the status and redirect signals: they do not depend on the product block
        redirect_chain=redirect_chain,
        policy=policy,
    )
    if verdict is not None:
        return verdict
    if usual_bytes and len(body) < usual_bytes * policy.shell_ratio:
        return UNDECIDED
    if not usual_bytes and _little_text(html(), policy.min_text_chars):
        return UNDECIDED
    if _marker_possible(body, html, utf8):
        return UNDECIDED
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
