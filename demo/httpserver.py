"""What the demo's local servers (the shop, the chat robots) share: a threaded HTTP server that
knows its open connections, served from a background thread and stopped for real.

Stopping must cut keep-alive connections too; otherwise a "stopped" server keeps answering on
them and a test of a platform that is down would pass for the wrong reason.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut open keep-alive connections so that a stopped server really stops answering."""
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def serve_in_background(server: ThreadingHTTPServer, name: str, poll_interval: float = 0.1) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
    )
    thread.start()
    return thread


def stop_serving(server: TrackingHTTPServer, thread: threading.Thread | None) -> None:
    server.shutdown()
    server.close_connections()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)
