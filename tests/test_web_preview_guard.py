"""The admin-only extraction preview does not fetch internal addresses (loopback, private, link-local
cloud metadata) unless ``[web] preview_allow_private = true``: a clear Chinese error instead, on the
first URL and on a redirect. A real local HTTP server stands in for the internal service."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from jingshao.config import parse_config
from jingshao.web.app import create_app


class _Internal(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        _Internal.hits.append(self.path)
        if self.path.startswith("/go"):  # a page that redirects to the cloud metadata address
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (
            '<html><head><script type="application/ld+json">{"@type":"Product","name":"内网商品",'
            '"offers":{"price":"99.00","priceCurrency":"CNY"}}</script></head></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def internal() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Internal.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _client(tmp_path, allow: bool) -> TestClient:
    cfg = parse_config(
        {"database": {"url": f"sqlite:///{tmp_path / 'g.db'}"}, "web": {"preview_allow_private": allow}}, "t.toml"
    )
    client = TestClient(create_app(cfg), base_url="http://127.0.0.1")
    client.get("/login")
    client.headers["X-CSRF-Token"] = client.cookies["jingshao_csrf"]
    return client


def test_internal_addresses_are_refused_unless_allowed(tmp_path, internal):
    with _client(tmp_path, allow=False) as client:
        for url in (
            internal + "/item.html",
            "http://localhost:9/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://[::1]:9/",
        ):
            r = client.post("/api/v1/extract/preview", json={"url": url})
            assert r.status_code == 422, url
            assert "不能预览内网" in r.json()["detail"] and "preview_allow_private" in r.json()["detail"], url
        assert _Internal.hits == []  # nothing was fetched
        # The 监控设置 form shows the same message, in Chinese.
        r = client.post("/settings/preview", data={"urls": internal + "/item.html"})
        assert r.status_code == 200 and "不能预览内网" in r.text
    with _client(tmp_path, allow=True) as client:
        r = client.post("/api/v1/extract/preview", json={"url": internal + "/item.html"})
        assert r.status_code == 200, r.text
        assert {f["name"]: f["value"] for f in r.json()["fields"]}["price"] == "99.00"
        assert _Internal.hits == ["/item.html"]


def test_a_redirect_to_an_internal_address_is_refused(tmp_path, internal, monkeypatch):
    """The first hop passes (a public page cannot run here: the local server stands in for one), the
    redirect's target is checked again and refused before it is requested."""
    from jingshao.web import preview

    real = preview.check_public
    calls: list[str] = []

    async def first_hop_public(cfg, url):
        calls.append(url)
        if url.startswith(internal + "/go"):  # stands in for a public page that redirects inside
            return
        await real(cfg, url)

    monkeypatch.setattr(preview, "check_public", first_hop_public)

    with _client(tmp_path, allow=False) as client:
        _Internal.hits = []
        r = client.post("/api/v1/extract/preview", json={"url": internal + "/go"})
    assert r.status_code == 422 and "169.254.169.254" in r.json()["detail"], r.text
    assert _Internal.hits == ["/go"] and calls[-1].startswith("http://169.254.169.254/")
