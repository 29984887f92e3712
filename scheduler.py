"""Scheduling. Each crawl runs in a child process (`jingshao crawl SPIDER`): Twisted's reactor
cannot restart, and a browser's memory is returned to the system when the child exits, so the
long-lived scheduler stays small.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SPIDERS = ("products", "reviews", "mentions")


@dataclass(frozen=True)
class ChildResult:
    spider: str
    returncode: int | None  # None: killed after the timeout
    seconds: float
    output_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def crawl_command(spider: str, config_path: Path) -> list[str]:
    if spider not in SPIDERS:
        raise ValueError(f"unknown spider {spider!r}; expected one of {', '.join(SPIDERS)}")
    return [sys.executable, "-m", "jingshao.cli", "crawl", spider, "--config", str(config_path), "--no-progress"]


def run_crawl_child(spider: str, config_path: Path, *, timeout: float = 3600, capture: bool = True) -> ChildResult:
    """Run one crawl as a child process; past `timeout` it gets SIGTERM, then SIGKILL.

    The crawl writes each page in its own transaction, so a child stopped at any point leaves a
    consistent database; its run row is marked interrupted by the next crawl.
    """
    start = time.monotonic()
    proc = subprocess.Popen(crawl_command(spider, config_path), stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.STDOUT if capture else None, text=True, env={**os.environ},
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        code = None
    return ChildResult(spider, code, time.monotonic() - start, (out or "")[-4000:])
