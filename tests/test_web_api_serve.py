"""The web API as users run it: `jingshao serve` (real uvicorn in a child process, real HTTP), users and
tokens from the CLI, the non-loopback refusal, and products added through the API crawled by a real
crawl of the demo shop beside the config file's (paused and removed ones leave `prices`)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jingshao.config import load_config
from jingshao.demo.catalog import demo_products, expected
from jingshao.demo.runner import write_demo_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Observation, Product
from jingshao.web.app import create_app

from .conftest import REPO, free_port, run_cli, wait_for

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out


def _plain_products(shop, n: int):
    """``n`` demo products with a price that a plain HTTP crawl reads (no browser)."""
    out = [p for p in demo_products(shop.base_url) if not p.render and expected(p.id, 0).price is not None]
    return out[:n]


def _local_client(cfg) -> TestClient:
    client = TestClient(create_app(cfg), base_url="http://127.0.0.1")
    client.get("/login")  # the pre-login CSRF cookie (local mode: no users, loopback only)
    client.headers["X-CSRF-Token"] = client.cookies["jingshao_csrf"]
    return client


def _observations(db, url: str) -> list[Observation]:
    with db.session() as s:
        return list(
            s.scalars(select(Observation).join(Product).where(Product.url == url).order_by(Observation.id)).all()
        )


def test_products_added_through_the_api_are_crawled_and_paused_or_removed_ones_leave_prices(
    shop, tmp_path, database_url
):
    file_product, web_product, other = _plain_products(shop, 3)
    cfg_path = write_demo_config(
        shop.base_url, tmp_path, False, products=[file_product], mentions=False, database_url=database_url
    )
    cfg = load_config(cfg_path)
    db = open_database(cfg.database_url)

    with _local_client(cfg) as client:
        r = client.post(
            "/api/v1/products",
            json={"competitor": "网页添加的竞品", "url": web_product.url, "name": "网页添加的商品", "category": "home"},
        )
        assert r.status_code == 201, r.text
        web_id = r.json()["id"]
        r = client.post("/api/v1/products", json={"competitor": "网页添加的竞品", "url": other.url})
        assert r.status_code == 201
        other_id = r.json()["id"]
        assert client.post(f"/api/v1/products/{other_id}/pause").json()["status"] == "paused"

    # A new process (the scheduler's child crawl) reads the database's products beside the file's.
    run_cli("crawl", "products", "--config", str(cfg_path), "--no-evaluate")
    assert _observations(db, file_product.url)[-1].price == expected(file_product.id, 0).price
    web_obs = _observations(db, web_product.url)
    assert len(web_obs) == 1 and web_obs[0].price == expected(web_product.id, 0).price
    assert _observations(db, other.url) == []  # paused: not crawled

    # The product leaves the file: kept with its history, out of `prices`, the API's price table.
    write_demo_config(shop.base_url, tmp_path, False, products=[], mentions=False, database_url=database_url)
    run_cli("crawl", "products", "--config", str(cfg_path), "--no-evaluate")
    lines = run_cli("prices", "--json", "--config", str(cfg_path)).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert {r["url"] for r in rows} == {web_product.url}
    assert rows[0]["price"] == format(expected(web_product.id, 0).price, "f")
    assert rows[0]["first_seen_at"].endswith("+08:00")  # the configured time zone, with its offset
    named = run_cli("prices", "--product", file_product.url, "--config", str(cfg_path)).stdout
    assert "已移除 removed" in named  # asked for by name: the history is still there
    with db.session() as s:
        gone = s.scalar(select(Product).where(Product.url == file_product.url))
        assert gone.removed_at is not None and not gone.active and gone.managed_by == "file"
    cfg = load_config(cfg_path)
    with _local_client(cfg) as client:
        table = client.get("/api/v1/prices").json()
        assert [r["product_id"] for r in table] == [web_id]
        assert client.get("/api/v1/products?status=removed").json()["items"][0]["url"] == file_product.url
        # Removing the web product too: nothing is left to crawl, and the crawl says so.
        assert client.delete(f"/api/v1/products/{web_id}").json()["status"] == "removed"
    proc = run_cli("crawl", "products", "--config", str(cfg_path), check=False)
    assert proc.returncode == 2 and "nor added in the web UI" in proc.stderr
    csv_rows = list(
        csv.DictReader(
            io.StringIO(run_cli("prices", "--csv", "--product", web_product.url, "--config", str(cfg_path)).stdout)
        )
    )
    assert csv_rows[0]["url"] == web_product.url  # --csv: a header and one row per observation
    db.dispose()


def test_extraction_preview_shows_fields_and_layers_and_refuses_other_schemes(shop, tmp_path):
    product = _plain_products(shop, 1)[0]
    cfg = load_config(write_demo_config(shop.base_url, tmp_path, False, products=[], mentions=False))
    with _local_client(cfg) as client:
        r = client.post("/api/v1/extract/preview", json={"url": product.url})
        assert r.status_code == 200, r.text
        fields = {f["name"]: f for f in r.json()["fields"]}
        assert fields["price"]["value"] == format(expected(product.id, 0).price, "f")
        assert fields["price"]["layer"] and fields["title"]["value"]
        for bad in ("file:///etc/passwd", "javascript:alert(1)", "ftp://127.0.0.1/x", "//127.0.0.1/x"):
            r = client.post("/api/v1/extract/preview", json={"url": bad})
            assert r.status_code == 422 and "http" in r.json()["detail"], bad
        r = client.post("/api/v1/extract/preview", json={"url": shop.url("/no-such-page")})
        assert r.status_code == 422 and "HTTP 404" in r.json()["detail"]


# ---------------------------------------------------------------- jingshao serve


def _serve(cfg_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "serve", "--config", str(cfg_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
        env={**os.environ, "COLUMNS": "200"},
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_refuses_a_public_address_without_users_and_serves_with_them(tmp_path):
    cfg_path = tmp_path / "jingshao.toml"
    cfg_path.write_text('[database]\nurl = "sqlite:///j.db"\n', encoding="utf-8")
    refused = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--config", str(cfg_path), check=False)
    assert refused.returncode == 2 and "refusing to listen on 0.0.0.0" in refused.stderr

    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "jingshao.cli",
            "users",
            "add",
            "ops",
            "--role",
            "admin",
            "--password-stdin",
            "--config",
            str(cfg_path),
        ],
        input="s3cret-enough\n",
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    token = run_cli("users", "token", "grafana", "--role", "viewer", "--config", str(cfg_path)).stdout.strip()
    assert token.startswith("jst_")
    listed = run_cli("users", "list", "--config", str(cfg_path)).stdout
    assert "ops" in listed and "grafana" in listed and token not in listed
    with open_database(load_config(cfg_path).database_url).session() as s:
        from jingshao.storage.models import ApiToken, WebUser

        assert s.scalar(select(WebUser.password_hash)).startswith("scrypt$")
        assert token not in s.scalar(select(ApiToken.token_hash))

    port = free_port()
    proc = _serve(cfg_path, "--host", "0.0.0.0", "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _up(base + "/api/v1/health") or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.communicate()
        assert httpx.get(base + "/api/v1/products").status_code == 401
        me = httpx.get(base + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"name": "grafana", "role": "viewer", "via": "token"}
        assert (
            httpx.post(base + "/api/v1/products", json={}, headers={"Authorization": f"Bearer {token}"}).status_code
            == 403
        )
        docs = httpx.get(base + "/api/docs")
        assert docs.status_code == 200 and "/api/docs-assets/swagger-ui-bundle.js" in docs.text  # no CDN
        assert httpx.get(base + "/api/docs-assets/swagger-ui-bundle.js").status_code == 200
        with httpx.Client(base_url=base) as browser:
            browser.get("/login")
            r = browser.post(
                "/login",
                data={"username": "ops", "password": "s3cret-enough", "csrf_token": browser.cookies["jingshao_csrf"]},
            )
            assert r.status_code in (200, 303)
            assert browser.get("/api/v1/me").json()["name"] == "ops"
    finally:
        out, err = _stop(proc)
    assert "s3cret-enough" not in out + err and token not in out + err


# ---------------------------------------------------------------- hostile pages


HOSTILE_TITLE = "黑店 <script>window.__x=1</script> <img src=x onerror=alert(2)> @all 特价"
HOSTILE_PROMO = '=HYPERLINK("javascript:alert(3)") 立减 @all'


class _HostileShop:
    """A shop page whose title and promo carry injection strings, the way a hostile site delivers them."""

    def __enter__(self):
        import html
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "Product",
                "name": HOSTILE_TITLE,
                "offers": {
                    "@type": "Offer",
                    "price": "88.00",
                    "priceCurrency": "CNY",
                    "availability": "https://schema.org/InStock",
                },
            },
            ensure_ascii=False,
        ).replace("</", "<\\/")
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(HOSTILE_TITLE)}</title>"
            f"<script type='application/ld+json'>{ld}</script></head><body>"
            f"<h1>{html.escape(HOSTILE_TITLE)}</h1><div class='promo'>{html.escape(HOSTILE_PROMO)}</div>"
            "<a href='javascript:alert(4)'>加入购物车</a></body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/item/666.html":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/item/666.html"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_injection_strings_stored_by_a_crawl_come_back_as_inert_data(tmp_path):
    cfg_path = write_demo_config("http://127.0.0.1:9", tmp_path, False, products=[], mentions=False)
    cfg = load_config(cfg_path)
    with _HostileShop() as hostile:
        with _local_client(cfg) as client:
            r = client.post(
                "/api/v1/products",
                json={"competitor": "可疑店铺", "url": hostile.url, "selectors": {"promo": ".promo::text"}},
            )
            assert r.status_code == 201, r.text
        run_cli("crawl", "products", "--config", str(cfg_path), "--no-evaluate")
    with _local_client(load_config(cfg_path)) as client:
        r = client.get("/api/v1/prices")
        assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
        (row,) = r.json()
        # Stored and returned exactly as crawled, as a JSON string: data for the consumer, never markup.
        assert row["product"] == HOSTILE_TITLE and row["promo"] == HOSTILE_PROMO and row["price"] == "88.00"
        assert "<script>" in r.text and "text/html" not in r.headers["content-type"]
        obs = client.get(f"/api/v1/products/{row['product_id']}/observations").json()["items"][0]
        assert obs["title"] == HOSTILE_TITLE and obs["sources"]["promo"]["layer"] == "selector"
        rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/prices.csv").content.decode("utf-8-sig"))))
        assert rows[0]["promo"] == "'" + HOSTILE_PROMO  # a spreadsheet would run it as a formula otherwise
    exported = run_cli("prices", "--csv", "--config", str(cfg_path)).stdout
    assert list(csv.DictReader(io.StringIO(exported)))[0]["promo"] == "'" + HOSTILE_PROMO


def test_run_web_serves_beside_the_scheduler(tmp_path):
    cfg_path = tmp_path / "jingshao.toml"
    cfg_path.write_text('[database]\nurl = "sqlite:///j.db"\n', encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "run", "--web", "--port", str(port), "--config", str(cfg_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert wait_for(lambda: _up(f"http://127.0.0.1:{port}/api/v1/health") or proc.poll() is not None, timeout=60)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"看板 web: http://127.0.0.1:{port}/" in out and "evaluate" in out
