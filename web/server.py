"""Running the app: ``jingshao serve`` (foreground) and ``jingshao run --web`` (a thread beside the scheduler)."""

from __future__ import annotations

import gc
import threading
from typing import TYPE_CHECKING

from jingshao.web.settings import is_loopback

if TYPE_CHECKING:
    import uvicorn

    from jingshao.config import Config


class UnsafeBindError(Exception):
    """Listening on a non-loopback address without any user or token would expose the dashboard."""


def check_bind(cfg: Config, host: str) -> None:
    """Refuse a non-loopback ``host`` unless a user or token exists (config or ``jingshao users add``)."""
    if is_loopback(host):
        return
    from jingshao.storage.db import open_database
    from jingshao.web.auth import auth_configured

    db = open_database(cfg.database_url)
    try:
        with db.session() as s:
            if auth_configured(cfg.web, s):
                return
    finally:
        db.dispose()
    raise UnsafeBindError(
        f"refusing to listen on {host}: no web user or API token is configured, so anyone who can reach "
        f"this address could read and change everything. Add one (`jingshao users add NAME --role admin`, "
        f"or [[web.users]] in the config) or bind 127.0.0.1."
    )


def make_server(cfg: Config, host: str, port: int, *, log_level: str = "warning") -> uvicorn.Server:
    import uvicorn

    from jingshao.web.app import create_app

    check_bind(cfg, host)
    app = create_app(cfg)
    # Everything imported and built so far (FastAPI, SQLAlchemy, pydantic, the routes) lives as long
    # as the process: freeze it, so the cyclic collector's full passes stop walking it during
    # requests (they were the long tail of the p95 on the price pages, bench/web.py).
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)
    return uvicorn.Server(config)


def serve_in_thread(server: uvicorn.Server) -> threading.Thread:
    """Start ``server`` in a daemon thread (uvicorn leaves signals to the main thread's scheduler there)."""
    thread = threading.Thread(target=server.run, name="jingshao-web", daemon=True)
    thread.start()
    return thread
