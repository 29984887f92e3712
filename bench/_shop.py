"""The demo shop as a separate process on 127.0.0.1, shared by the benches that crawl it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo_shop(asset_latency: float = 0.05) -> tuple[subprocess.Popen, str]:
    """Start `jingshao.demo.server` and wait until it answers; images and fonts answer after
    `asset_latency` seconds, like a CDN across the internet, pages at once. Returns (process, base URL);
    the caller terminates the process."""
    import httpx

    port = free_port()
    shop = subprocess.Popen(
        [sys.executable, "-m", "jingshao.demo.server", "--port", str(port), "--asset-latency", str(asset_latency)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/robots.txt", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return shop, base
