"""Find a Chromium and build scrapy-playwright settings for it.

Order (DESIGN.md): the config's `browser.executable_path`, `$JINGSHAO_CHROMIUM`, a system
`chromium` / `chromium-browser` / `google-chrome`, then Playwright's own download
(`playwright install chromium`, for users whose machine can reach the download host).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags for a headless crawler: no sandbox when running as root in containers, and no
# background networking (component updates, sync, safe browsing) that would call home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-blink-features=AutomationControlled",
]


class BrowserNotFound(Exception):
    pass


def find_chromium(configured: str | None = None) -> str | None:
    """Path of the Chromium to launch, or None to let Playwright use its own download."""
    for candidate in (configured, os.environ.get("JINGSHAO_CHROMIUM")):
        if candidate:
            path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
            if not path:
                raise BrowserNotFound(f"configured Chromium {candidate!r} does not exist")
            return path
    for name in SYSTEM_BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def playwright_has_own_chromium() -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    try:
        with sync_playwright() as p:
            return Path(p.chromium.executable_path).exists()
    except Exception:
        return False


def resolve_chromium(configured: str | None = None) -> str | None:
    """Like `find_chromium`, but fails with advice when there is no browser at all."""
    path = find_chromium(configured)
    if path is None and not playwright_has_own_chromium():
        raise BrowserNotFound(
            "no Chromium found for render = true pages: install one (Debian: `apt-get install chromium`), "
            "set browser.executable_path or $JINGSHAO_CHROMIUM, or run `playwright install chromium`"
        )
    return path


def abort_blocked_resources(blocked: frozenset[str]):
    """A PLAYWRIGHT_ABORT_REQUEST predicate that drops the given resource types."""

    def should_abort(request) -> bool:
        return request.resource_type in blocked

    return should_abort
