"""The bundled demo shop server on 127.0.0.1, used by tests, benchmarks and ``jingshao demo``.

In process::

    with DemoServer(port=0) as srv:           # port 0 picks a free port
        srv.base_url                          # "http://127.0.0.1:PORT"
        srv.advance()                         # next shop state: prices, promos and stock change

As a process (benchmarks, manual use)::

    python -m jingshao.demo.server --port 8765 [--state N]

Another process switches the state over HTTP (these ``/_demo/`` requests are not counted in hits):
``POST /_demo/advance``, ``POST /_demo/state?n=2``, ``GET /_demo/state``, ``GET /_demo/hits``,
``POST /_demo/reset-hits``, ``POST /_demo/reset-flaky``, ``POST /_demo/wall?path=P&kind=K`` (a blocked
variant of a product page, :mod:`jingshao.demo.walls`) and ``GET /_demo/catalog`` (the products with
what they should show in the current state).

Mention sources (:mod:`jingshao.demo.mentions`) follow a demo clock (``DemoServer(clock=DemoClock(...))``,
``srv.now()``) and a crisis switch: :meth:`DemoServer.start_crisis`, :meth:`DemoServer.crisis_phase`,
:meth:`DemoServer.stop_crisis`; over HTTP ``POST /_demo/crisis?on=1|0`` or ``?phase=N``, ``GET /_demo/crisis``,
``POST /_demo/clock?shift=SECONDS|freeze=now|unfreeze=1``. Review sources (:mod:`jingshao.demo.reviews`)
follow the shop state.

States cycle: :meth:`DemoServer.advance` after the last state returns to 0. :meth:`set_state`
rejects numbers outside ``0 .. STATE_COUNT - 1`` with ``ValueError`` (HTTP: 400).

A new demo site adds a *route provider*: ``def register(router: Router, shop: ShopState) -> None``,
listed in :data:`ROUTE_PROVIDERS` or passed as ``DemoServer(routes=[...])``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from jingshao.demo import catalog
from jingshao.demo.crisis import CrisisSegment, CrisisState, DemoClock
from jingshao.demo.httpserver import TrackingHTTPServer, serve_in_background, stop_serving
from jingshao.demo.mentions import register_mention_routes
from jingshao.demo.reviews import register_review_routes
from jingshao.demo.router import Request, Response, Router
from jingshao.demo.shop import ShopState, register_shop_routes

RouteProvider = Callable[[Router, ShopState], None]

#: Every demo site served by default. Later sites append here.
ROUTE_PROVIDERS: list[RouteProvider] = [register_shop_routes, register_review_routes, register_mention_routes]

CONTROL_PREFIX = "/_demo/"


class HitCounter:
    """GET requests served per path (query string excluded), thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._headers: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def record(self, path: str, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._counts[path] += 1
            if headers is not None:
                self._headers[path] = headers

    def last_headers(self, path: str) -> dict[str, str]:
        """The request headers of the latest GET of ``path`` (what a crawler announced itself as)."""
        with self._lock:
            return dict(self._headers.get(path, {}))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._headers.clear()


class _DemoHTTPServer(TrackingHTTPServer):
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], router: Router, hits: HitCounter) -> None:
        self.router = router
        self.hits = hits
        super().__init__(address, _DemoRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up; report real bugs."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


def with_etag(response: Response, if_none_match: str | None) -> Response:
    """A 200 gets a strong ETag (a digest of its body), like a real shop's CDN; a request whose
    If-None-Match names it gets 304 Not Modified without a body (the crawler's conditional requests)."""
    if response.status != 200 or "ETag" in response.headers:
        return response
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:20] + '"'
    headers = {**response.headers, "ETag": etag}
    if if_none_match and (if_none_match.strip() == "*" or etag in (t.strip() for t in if_none_match.split(","))):
        return dataclasses.replace(response, status=304, body=b"", headers=headers)
    return dataclasses.replace(response, headers=headers)


class _DemoRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    disable_nagle_algorithm = True
    server: _DemoHTTPServer
    server_version = "jingshao-demo/1.0"
    sys_version = ""

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = Request(method, target.path, parse_qs(target.query), dict(self.headers.items()), body)
        if method == "GET" and not target.path.startswith(CONTROL_PREFIX):
            self.server.hits.record(target.path, dict(self.headers.items()))
        response = self.server.router.dispatch(request)
        if method in ("GET", "HEAD") and not target.path.startswith(CONTROL_PREFIX):
            response = with_etag(response, self.headers.get("If-None-Match"))
        self._send(response, with_body=method != "HEAD")

    def _send(self, response: Response, *, with_body: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging."""


class DemoServer:
    """The demo shop on a background thread. ``port=0`` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: int = 0,
        *,
        asset_latency: float = 0.0,
        routes: Iterable[RouteProvider] = (),
        clock: DemoClock | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.shop = ShopState(state, asset_latency=asset_latency, clock=clock)
        self._hits = HitCounter()
        self.router = Router()
        register_control_routes(self.router, self)
        for provider in (*ROUTE_PROVIDERS, *routes):
            provider(self.router, self.shop)
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("demo server already started")
        self._httpd = _DemoHTTPServer((self.host, self.requested_port), self.router, self._hits)
        self._thread = serve_in_background(self._httpd, f"jingshao-demo-{self.port}")
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        stop_serving(httpd, self._thread)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("demo server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- shop state ---

    @property
    def state(self) -> int:
        return self.shop.state

    def advance(self) -> int:
        """Next state (cycling to 0 after the last); returns the new state."""
        return self.shop.advance()

    def set_state(self, n: int) -> int:
        return self.shop.set_state(n)

    def hits(self) -> dict[str, int]:
        """GET requests served per path (no query string), control endpoints excluded."""
        return self._hits.snapshot()

    def reset_hits(self) -> None:
        self._hits.reset()

    def last_headers(self, path_or_url: str) -> dict[str, str]:
        """Headers of the latest GET of a path (or a full URL on this server)."""
        return self._hits.last_headers(urlsplit(path_or_url).path)

    def reset_flaky(self) -> None:
        """Make every ``/flaky/`` page fail again for its next :data:`FLAKY_FAILURES` requests."""
        self.shop.reset_flaky()

    def products(self) -> list[catalog.DemoProduct]:
        return catalog.demo_products(self.base_url)

    @property
    def walls(self):
        """Switchable walls in front of product pages (:mod:`jingshao.demo.walls`)."""
        return self.shop.walls

    # --- mention sources: clock and crisis switch (see jingshao.demo.crisis / mentions_data) ---

    @property
    def clock(self) -> DemoClock:
        return self.shop.clock

    @property
    def crisis(self) -> CrisisState:
        return self.shop.crisis

    def now(self) -> datetime:
        """The demo clock's time: what "now" means to every mention source."""
        return self.shop.clock.now()

    def start_crisis(self) -> int:
        """Phase 1 (a few negatives, one with 投诉) unless a crisis is already running."""
        return self.shop.crisis.start()

    def stop_crisis(self) -> int:
        """No new negatives from now on; the ones already posted stay."""
        return self.shop.crisis.stop()

    def crisis_phase(self, n: int) -> int:
        """Enter crisis phase ``n`` (1 blue, 2 yellow, 3 red; 0 stops)."""
        return self.shop.crisis.set_phase(n)

    def crisis_timeline(self) -> tuple[CrisisSegment, ...]:
        return self.shop.crisis.timeline()


def _jsonable(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def catalog_json(server: DemoServer) -> dict[str, object]:
    state = server.state
    products = []
    for product in server.products():
        exp = catalog.expected(product.id, state)
        expected_json = {k: _jsonable(v) for k, v in dataclasses.asdict(exp).items()}
        products.append({**dataclasses.asdict(product), "expected": expected_json})
    return {"state": state, "states": catalog.STATE_COUNT, "products": products}


def register_control_routes(router: Router, server: DemoServer) -> None:
    """``/_demo/...``: switch the shop state and read hit counts from another process."""

    def state_json() -> Response:
        return Response.json({"state": server.state, "states": catalog.STATE_COUNT})

    @router.get(r"/_demo/state")
    def get_state(request: Request) -> Response:
        return state_json()

    @router.post(r"/_demo/state")
    def set_state(request: Request) -> Response:
        raw = request.arg("n")
        try:
            server.set_state(int(raw if raw is not None else ""))
        except ValueError:
            return Response.error(400, f"n must be an integer in 0..{catalog.STATE_COUNT - 1}, got {raw!r}")
        return state_json()

    @router.post(r"/_demo/advance")
    def advance(request: Request) -> Response:
        server.advance()
        return state_json()

    @router.get(r"/_demo/hits")
    def hits(request: Request) -> Response:
        return Response.json(server.hits())

    @router.post(r"/_demo/reset-hits")
    def reset_hits(request: Request) -> Response:
        server.reset_hits()
        return Response.json({"ok": True})

    @router.post(r"/_demo/reset-flaky")
    def reset_flaky(request: Request) -> Response:
        server.reset_flaky()
        return Response.json({"ok": True})

    @router.post(r"/_demo/wall")
    def set_wall(request: Request) -> Response:
        path, kind = request.arg("path") or "*", request.arg("kind") or "off"
        if kind == "off":
            server.walls.remove(path)
        else:
            try:
                server.walls.set(path, kind)
            except ValueError as exc:
                return Response.error(400, str(exc))
        return Response.json(server.walls.snapshot())

    @router.get(r"/_demo/catalog")
    def products(request: Request) -> Response:
        return Response.json(catalog_json(server))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jingshao.demo.server", description="Serve the jingshao demo shop until interrupted."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default: 8765)")
    parser.add_argument("--state", type=int, default=0, help=f"initial shop state, 0..{catalog.STATE_COUNT - 1}")
    parser.add_argument(
        "--asset-latency",
        type=float,
        default=0.0,
        help="seconds to wait before serving each image or font (simulates a CDN)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.state < catalog.STATE_COUNT:
        parser.error(f"--state must be in 0..{catalog.STATE_COUNT - 1}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = DemoServer(args.host, args.port, args.state, asset_latency=args.asset_latency).start()
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"jingshao demo shop serving on {server.base_url} (state {server.state}); Ctrl-C stops", flush=True)
    try:
        stopped.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
