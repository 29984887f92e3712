"""The REST API and its security over a real database (SQLite and PostgreSQL) with FastAPI's TestClient:
auth (401 / 403), CSRF, login rate limit, pagination, CSV, managed products, alerts, file downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jingshao.config import parse_config
from jingshao.storage.db import open_database
from jingshao.storage.models import Alert, Competitor, Mention, Observation, Product
from jingshao.web.app import create_app

ADMIN_TOKEN = "admin-token-0123456789abcdef"
VIEWER_TOKEN = "viewer-token-0123456789abcdef"
ADMIN_PW = "admin-password-1"
VIEWER_PW = "viewer-password-1"
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> @all =HYPERLINK("http://evil")'


def make_cfg(database_url: str, tmp_path: Path, **web) -> object:
    data = {
        "database": {"url": database_url},
        "report": {"out_dir": str(tmp_path / "reports")},
        "competitors": [
            {"name": "文件店", "products": [{"url": "https://file.example.com/item/1.html", "name": "文件商品"}]}
        ],
        "web": {
            "users": [
                {"name": "ops", "role": "admin", "password": ADMIN_PW},
                {"name": "boss", "role": "viewer", "password": VIEWER_PW},
            ],
            "tokens": [
                {"name": "robot", "role": "admin", "token": ADMIN_TOKEN},
                {"name": "grafana", "role": "viewer", "token": VIEWER_TOKEN},
            ],
            **web,
        },
    }
    cfg = parse_config(data, "test.toml")
    cfg.source = tmp_path / "jingshao.toml"
    return cfg


@pytest.fixture
def env(database_url, tmp_path):
    cfg = make_cfg(database_url, tmp_path)
    db = open_database(database_url)
    app = create_app(cfg, db=db)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield cfg, db, client
    db.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, name: str, password: str) -> str:
    """Log in through the form as a browser would; returns the session's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    anon = client.cookies.get("jingshao_csrf")
    r = client.post(
        "/login",
        data={"username": name, "password": password, "next": "/", "csrf_token": anon},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    me = client.get("/api/v1/me").json()
    assert me == {"name": name, "role": me["role"], "via": "session"}
    from jingshao.storage.models import WebSession
    from jingshao.web.auth import token_digest

    with client.app.state.db.session() as s:
        row = s.query(WebSession).filter_by(key_hash=token_digest(client.cookies["jingshao_session"])).one()
        return row.csrf_token


def seed_products(db, n: int) -> list[int]:
    with db.session() as s:
        comp = Competitor(name="种子店")
        s.add(comp)
        s.flush()
        ids = []
        for i in range(n):
            p = Product(competitor_id=comp.id, url=f"https://seed.example.com/item/{i}.html", name=f"商品{i}")
            s.add(p)
            s.flush()
            ids.append(p.id)
        return ids


# ---------------------------------------------------------------- auth


def test_requests_without_credentials_get_401_and_viewers_get_403_on_changes(env):
    cfg, db, client = env
    assert client.get("/api/v1/health").json() == {"status": "ok"}  # liveness needs no login
    for path in ("/api/v1/products", "/api/v1/alerts", "/api/v1/prices.csv", "/api/v1/me", "/api/v1/reports"):
        assert client.get(path).status_code == 401, path
    assert client.get("/api/v1/products", headers=bearer("wrong-token-0123456789")).status_code == 401
    assert client.get("/api/v1/products", headers={"Authorization": "Basic b3BzOng="}).status_code == 401

    assert client.get("/api/v1/products", headers=bearer(VIEWER_TOKEN)).status_code == 200
    body = {"competitor": "网页店", "url": "https://web.example.com/item/9.html"}
    r = client.post("/api/v1/products", json=body, headers=bearer(VIEWER_TOKEN))
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = client.post("/api/v1/products", json=body, headers=bearer(ADMIN_TOKEN))
    assert r.status_code == 201, r.text
    assert r.json()["managed_by"] == "web" and r.json()["status"] == "active"


def test_a_page_without_login_redirects_to_the_login_form(env):
    _, _, client = env
    r = client.get("/alerts?state=all", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Falerts%3Fstate%3Dall"
    assert client.get("/api/v1/alerts").status_code == 401  # the API answers 401, never a redirect
    r = client.get("/login?next=//evil.example.com/x")
    assert "evil.example.com" not in r.text  # never an open redirect target


def test_secrets_are_never_returned(env):
    _, _, client = env
    texts = [
        client.get("/api/v1/me", headers=bearer(ADMIN_TOKEN)).text,
        client.get("/api/openapi.json").text,
        client.get("/login").text,
    ]
    for text in texts:
        for secret in (ADMIN_TOKEN, VIEWER_TOKEN, ADMIN_PW, VIEWER_PW):
            assert secret not in text


def test_session_login_sets_hardened_cookie_and_logout_ends_it(env):
    _, _, client = env
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "ops", "password": ADMIN_PW, "csrf_token": client.cookies["jingshao_csrf"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie
    assert page.headers["x-content-type-options"] == "nosniff"
    csrf = login(client, "ops", ADMIN_PW)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_cookie_is_secure_when_public_url_is_https(database_url, tmp_path):
    cfg = make_cfg(database_url, tmp_path, public_url="https://jingshao.example.com")
    with TestClient(create_app(cfg), base_url="https://127.0.0.1") as client:
        client.get("/login")
        r = client.post(
            "/login",
            data={"username": "ops", "password": ADMIN_PW, "csrf_token": client.cookies["jingshao_csrf"]},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_and_rate_limit(env):
    _, _, client = env
    client.get("/login")
    anon = client.cookies["jingshao_csrf"]
    for _ in range(5):
        r = client.post("/login", data={"username": "ops", "password": "nope-nope", "csrf_token": anon})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    # The limit holds even for the right password now, and says when to come back.
    r = client.post("/login", data={"username": "ops", "password": ADMIN_PW, "csrf_token": anon})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "jingshao_session" not in client.cookies
    # Another user from the same client is not locked out by ops' failures.
    r = client.post(
        "/login", data={"username": "boss", "password": VIEWER_PW, "csrf_token": anon}, follow_redirects=False
    )
    assert r.status_code == 303


# ---------------------------------------------------------------- CSRF


def test_cookie_sessions_need_the_csrf_token_and_bearer_calls_do_not(env):
    _, _, client = env
    # The login form itself is protected: no token, no login.
    client.get("/login")
    r = client.post("/login", data={"username": "ops", "password": ADMIN_PW})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]

    csrf = login(client, "ops", ADMIN_PW)
    body = {"competitor": "网页店", "url": "https://web.example.com/item/1.html"}
    r = client.post("/api/v1/products", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post("/api/v1/products", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = client.post("/api/v1/products", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    # Another browser's anonymous token is no good for this session either.
    r = client.post(f"/api/v1/products/{pid}/pause", headers={"X-CSRF-Token": client.cookies["jingshao_csrf"]})
    assert r.status_code == 403
    assert client.post(f"/api/v1/products/{pid}/pause", headers={"X-CSRF-Token": csrf}).status_code == 200
    # Bearer-token calls (no cookies: a browser never adds this header by itself) need no CSRF token.
    fresh = TestClient(client.app, base_url="http://127.0.0.1")
    assert fresh.post(f"/api/v1/products/{pid}/resume", headers=bearer(ADMIN_TOKEN)).status_code == 200


def test_local_mode_without_users_is_admin_on_localhost_only(database_url, tmp_path):
    cfg = parse_config({"database": {"url": database_url}}, "t.toml")
    app = create_app(cfg)
    with TestClient(app, base_url="http://127.0.0.1:8080") as local:
        assert local.get("/api/v1/me").json()["role"] == "admin"
        body = {"competitor": "网页店", "url": "https://web.example.com/item/2.html"}
        assert local.post("/api/v1/products", json=body).status_code == 403  # CSRF still applies
        local.get("/login")
        r = local.post("/api/v1/products", json=body, headers={"X-CSRF-Token": local.cookies["jingshao_csrf"]})
        assert r.status_code == 201
    with TestClient(app, base_url="http://attacker.example.com") as rebound:
        assert rebound.get("/api/v1/me").status_code == 403  # DNS rebinding: not localhost, no access


# ---------------------------------------------------------------- catalog


def test_products_pagination_never_overlaps(env):
    _, db, client = env
    seed_products(db, 7)
    seen, totals = [], set()
    for offset in (0, 3, 6, 9):
        page = client.get(f"/api/v1/products?competitor=种子店&limit=3&offset={offset}", headers=bearer(VIEWER_TOKEN))
        assert page.status_code == 200
        body = page.json()
        totals.add(body["total"])
        assert body["limit"] == 3 and body["offset"] == offset
        seen += [p["id"] for p in body["items"]]
    assert totals == {7} and len(seen) == 7 and len(set(seen)) == 7
    assert client.get("/api/v1/products?limit=0", headers=bearer(VIEWER_TOKEN)).status_code == 422
    assert client.get("/api/v1/products?limit=501", headers=bearer(VIEWER_TOKEN)).status_code == 422


def test_managed_product_crud_and_file_products_are_read_only(env):
    cfg, db, client = env
    h = bearer(ADMIN_TOKEN)
    bad = client.post("/api/v1/products", json={"competitor": "网页店", "url": "ftp://x.example.com/1"}, headers=h)
    assert bad.status_code == 422 and "http" in bad.text
    bad = client.post(
        "/api/v1/products",
        json={"competitor": "网页店", "url": "https://x.example.com/1", "selectors": {"price": "div[[["}},
        headers=h,
    )
    assert bad.status_code == 422 and "invalid CSS selector" in bad.text
    r = client.post(
        "/api/v1/products",
        json={
            "competitor": "网页店",
            "url": "https://web.example.com/item/5.html",
            "name": "网页商品",
            "selectors": {"price": ".p-price::text"},
            "variant": "256GB 黑色",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    dupe = client.post(
        "/api/v1/products", json={"competitor": "网页店", "url": "https://web.example.com/item/5.html"}, headers=h
    )
    assert dupe.status_code == 409
    in_file = client.post(
        "/api/v1/products", json={"competitor": "网页店", "url": "https://file.example.com/item/1.html"}, headers=h
    )
    assert in_file.status_code == 409

    r = client.patch(f"/api/v1/products/{pid}", json={"name": "改名", "render": True, "variant": None}, headers=h)
    assert r.status_code == 200
    assert r.json()["name"] == "改名" and r.json()["render"] is True and "variant" not in r.json()["spec"]
    assert r.json()["spec"]["selectors"] == {"price": ".p-price::text"}
    assert client.patch(f"/api/v1/products/{pid}", json={"paused": True}, headers=h).json()["status"] == "paused"
    assert client.delete(f"/api/v1/products/{pid}", headers=h).json()["status"] == "removed"
    listed = client.get("/api/v1/products", headers=h).json()["items"]
    assert pid not in [p["id"] for p in listed]
    every = client.get("/api/v1/products?status=all", headers=h).json()["items"]
    assert pid in [p["id"] for p in every]  # history kept

    # The file's product is synced by a crawl; simulate that and try to edit it.
    from jingshao.crawlers.catalog import watched_products

    watched = watched_products(cfg, db)
    file_id = next(w.product_id for w in watched if w.managed_by == "file")
    r = client.patch(f"/api/v1/products/{file_id}", json={"name": "x"}, headers=h)
    assert r.status_code == 409 and "config file" in r.json()["detail"]
    assert client.delete(f"/api/v1/products/{file_id}", headers=h).status_code == 409
    assert client.get("/api/v1/products/999999", headers=h).status_code == 404


# ---------------------------------------------------------------- observations, prices, CSV


def seed_history(db) -> tuple[int, list[int]]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    with db.session() as s:
        comp = Competitor(name="历史店")
        s.add(comp)
        s.flush()
        p = Product(competitor_id=comp.id, url="https://hist.example.com/item/1.html", name=HOSTILE)
        s.add(p)
        s.flush()
        ids = []
        for day in range(10):
            o = Observation(
                product_id=p.id,
                title=HOSTILE,
                price=Decimal("100.00") + day,
                currency="CNY",
                availability="InStock",
                promo="-5 立减" if day == 9 else None,
                content_hash=f"h{day}",
                first_seen_at=base + timedelta(days=day),
                last_seen_at=base + timedelta(days=day, hours=23),
            )
            s.add(o)
            s.flush()
            ids.append(o.id)
        return p.id, ids


def test_observations_time_range_pagination_and_void(env):
    _, db, client = env
    pid, ids = seed_history(db)
    h = bearer(ADMIN_TOKEN)
    r = client.get(
        f"/api/v1/products/{pid}/observations",
        params={"since": "2026-11-03T00:00:00+00:00", "until": "2026-11-06T00:00:00Z", "limit": 2},
        headers=h,
    )
    body = r.json()
    assert body["total"] == 3 and [o["id"] for o in body["items"]] == ids[2:4]
    assert body["items"][0]["price"] == "102.00"
    r = client.get(f"/api/v1/products/{pid}/observations", params={"since": "2026-11-03T00:00:00"}, headers=h)
    assert r.status_code == 422 and "offset" in r.json()["detail"]  # a naive time is ambiguous

    r = client.post(f"/api/v1/observations/{ids[-1]}/void", json={"reason": "页面抓错了"}, headers=h)
    assert r.status_code == 200 and r.json()["voided_by"] == "robot"
    prices = client.get("/api/v1/prices?competitor=历史店", headers=h).json()
    assert prices[0]["observation_id"] == ids[-2] and prices[0]["price"] == "108.00"
    all_obs = client.get(f"/api/v1/products/{pid}/observations?limit=500", headers=h).json()["items"]
    assert all_obs[-1]["status"] == "void"


def test_price_and_alert_csv_exports_are_spreadsheet_safe(env):
    _, db, client = env
    pid, _ = seed_history(db)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(
            Alert(
                fingerprint="fp-csv",
                family="price_drop",
                subject=HOSTILE,
                subject_key=f"product:{pid}",
                level="yellow",
                max_level="yellow",
                rule="price_drop",
                summary="=1+1 降价 23%",
                started_at=now,
                level_since=now,
                last_active_at=now,
            )
        )
    r = client.get("/api/v1/prices.csv", headers=bearer(VIEWER_TOKEN))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    row = next(x for x in rows if x["competitor"] == "历史店")
    assert row["price"] == "109.00" and row["promo"] == "'-5 立减"  # a leading - would be a formula
    assert row["product"] == HOSTILE  # starts with '<': kept as is
    alerts = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/alerts.csv", headers=bearer(VIEWER_TOKEN)).text.lstrip("\ufeff"))
        )
    )
    assert alerts[0]["summary"] == "'=1+1 降价 23%" and alerts[0]["level"] == "yellow"


def test_crawled_injection_strings_come_back_as_inert_json(env):
    _, db, client = env
    pid, _ = seed_history(db)
    with db.session() as s:
        s.add(
            Mention(
                brand="蜜橙",
                source="论坛",
                url="javascript:alert(3)",
                url_key="k1",
                content_key="c1",
                title=HOSTILE,
                text=HOSTILE,
                posted_at=datetime.now(UTC),
            )
        )
    h = bearer(VIEWER_TOKEN)
    for path in (f"/api/v1/products/{pid}", "/api/v1/mentions", f"/api/v1/products/{pid}/observations"):
        r = client.get(path, headers=h)
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in r.headers["content-security-policy"]
    mention = client.get("/api/v1/mentions", headers=h).json()["items"][0]
    assert mention["text"] == HOSTILE and mention["url"] == "javascript:alert(3)"  # data, never markup


# ---------------------------------------------------------------- alerts


def test_alert_ack_silence_unsilence(env):
    _, db, client = env
    now = datetime.now(UTC)
    with db.session() as s:
        a = Alert(
            fingerprint="fp-1",
            family="crisis",
            subject="蜜橙",
            subject_key="brand:蜜橙",
            level="red",
            max_level="red",
            rule="negative_burst",
            summary="负面声量激增",
            started_at=now,
            level_since=now,
            last_active_at=now,
        )
        s.add(a)
        s.flush()
        aid = a.id
    h = bearer(ADMIN_TOKEN)
    listed = client.get("/api/v1/alerts", headers=bearer(VIEWER_TOKEN)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == aid
    assert client.post(f"/api/v1/alerts/{aid}/ack", headers=bearer(VIEWER_TOKEN)).status_code == 403
    assert client.post(f"/api/v1/alerts/{aid}/ack", headers=h).json()["acked_by"] == "robot"
    bad = client.post(f"/api/v1/alerts/{aid}/silence", json={"duration": "forever", "reason": "x"}, headers=h)
    assert bad.status_code == 422
    other = client.post(
        f"/api/v1/alerts/{aid}/silence", json={"duration": "2h", "reason": "x", "matcher": "price_drop"}, headers=h
    )
    assert other.status_code == 422  # only this alert's own fingerprint / subject / family
    r = client.post(f"/api/v1/alerts/{aid}/silence", json={"duration": "2h", "reason": "已在处理"}, headers=h)
    assert r.status_code == 201 and r.json()["matcher"] == "fp-1"
    sid = r.json()["id"]
    assert [x["id"] for x in client.get("/api/v1/silences", headers=h).json()] == [sid]
    detail = client.get(f"/api/v1/alerts/{aid}", headers=h).json()
    assert [e["kind"] for e in detail["events"]] == ["acked", "silenced"]
    assert client.post(f"/api/v1/silences/{sid}/unsilence", headers=h).json()["ended_at"] is not None
    assert client.get("/api/v1/silences", headers=h).json() == []
    assert client.get("/api/v1/alerts/424242", headers=h).status_code == 404


def test_chat_notice_links_to_the_alert_page_when_public_url_is_set():
    from jingshao.alerts.render import render_alert

    now = datetime.now(UTC)
    a = Alert(
        id=17,
        fingerprint="fp",
        family="crisis",
        subject="蜜橙",
        subject_key="brand:蜜橙",
        level="blue",
        max_level="blue",
        rule="r",
        summary="s",
        started_at=now,
        level_since=now,
        last_active_at=now,
        is_crisis=True,
    )
    n = render_alert(a, "firing", now, public_url="https://jingshao.example.com/")
    assert n.links[0][1] == "https://jingshao.example.com/alerts/17"
    assert not render_alert(a, "firing", now).links
    a.resolved_at = now
    assert render_alert(a, "resolved", now, public_url="https://j.example.com").links[0][1].endswith("/alerts/17")


# ---------------------------------------------------------------- files


def test_report_and_evidence_downloads_cannot_escape(database_url, tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "jingshao-report-2026-11-26.html").write_text("<h1>日报</h1>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    (tmp_path / "reports" / "jingshao-report-link.html").symlink_to(tmp_path / "secret.txt")
    cfg = make_cfg(database_url, tmp_path)
    db = open_database(database_url)
    pid, _ = seed_history(db)
    other = seed_products(db, 1)[0]
    from jingshao.storage.evidence import attach_evidence

    page = b"<html><script>window.__x=1</script><p>\xe8\xaf\x81\xe6\x8d\xae</p></html>"
    with db.session() as s:
        assert attach_evidence(s, pid, "https://hist.example.com/item/1.html", page)
    with TestClient(create_app(cfg, db=db), base_url="http://127.0.0.1") as client:
        h = bearer(VIEWER_TOKEN)
        listed = client.get("/api/v1/reports", headers=h).json()
        assert [r["period"] for r in listed] == ["2026-11-26"]  # the symlink out is not listed
        r = client.get("/api/v1/reports/jingshao-report-2026-11-26.html", headers=h)
        assert r.status_code == 200 and "日报" in r.text and r.headers["content-security-policy"].startswith("sandbox")
        (ev,) = client.get(f"/api/v1/products/{pid}/evidence", headers=h).json()
        r = client.get(f"/api/v1/products/{pid}/evidence/{ev['html_sha256']}", headers=h)
        assert r.status_code == 200 and r.content == page
        assert "attachment" in r.headers["content-disposition"]
        assert r.headers["content-security-policy"].startswith("sandbox")  # the competitor's script never runs
        for path in (
            f"/api/v1/products/{other}/evidence/{ev['html_sha256']}",  # another product's digest: not reachable
            f"/api/v1/products/{pid}/evidence/{'0' * 64}",
            f"/api/v1/products/{pid}/evidence/..%2F..%2Fsecret.txt",
            "/api/v1/reports/jingshao-report-link.html",  # a symlink out of the folder
            "/api/v1/reports/..%2Fsecret.txt",
            "/api/v1/reports/jingshao-report-..%2F..%2Fsecret.txt.html",
            "/api/v1/reports/jingshao-report-..%5C..%5Csecret.txt.html",
        ):
            r = client.get(path, headers=h)
            assert r.status_code == 404, path
            assert "top secret" not in r.text
    db.dispose()


def test_web_competitor_selectors_reach_the_crawl_targets(env):
    cfg, db, client = env
    h = bearer(ADMIN_TOKEN)
    r = client.post(
        "/api/v1/competitors",
        json={"name": "网页店", "category": "apparel", "selectors": {"price": ".p-price::text", "promo": ".promo"}},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["managed_by"] == "web" and r.json()["category"] == "apparel"
    cid = r.json()["id"]
    assert client.post("/api/v1/competitors", json={"name": "文件店"}, headers=h).status_code == 409
    r = client.post(
        "/api/v1/products",
        json={"competitor": "网页店", "url": "https://web.example.com/item/7.html", "selectors": {"promo": ".p2"}},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["category"] == "apparel"  # the competitor's category
    from jingshao.crawlers.catalog import watched_products

    (web,) = [w for w in watched_products(cfg, db) if w.managed_by == "web"]
    assert web.selectors == {"price": ".p-price::text", "promo": ".p2"}  # the product's own win per field
    r = client.patch(f"/api/v1/competitors/{cid}", json={"selectors": {"price": "xpath://span[@id='p']"}}, headers=h)
    assert r.status_code == 200 and r.json()["selectors"] == {"price": "xpath://span[@id='p']"}
    (web,) = [w for w in watched_products(cfg, db) if w.managed_by == "web"]
    assert web.selectors == {"price": "xpath://span[@id='p']", "promo": ".p2"}
    bad = client.patch(f"/api/v1/competitors/{cid}", json={"selectors": {"price": "xpath://["}}, headers=h)
    assert bad.status_code == 422
    status = client.get("/api/v1/status", headers=bearer(VIEWER_TOKEN)).json()
    assert set(status) == {"last_runs", "failing_sources", "channels", "outbox"}


def test_login_guessing_across_names_is_limited_per_client():
    from jingshao.web.auth import LoginLimiter

    limiter = LoginLimiter(attempts=2, window=300)
    for i in range(8):
        assert limiter.retry_after("10.0.0.1", f"user{i}") == 0
        limiter.failed("10.0.0.1", f"user{i}")
    assert limiter.retry_after("10.0.0.1", "someone-new") > 0  # 4 x 2 failures over any names
    assert limiter.retry_after("10.0.0.2", "user0") == 0  # another client is not affected
    limiter.failed("10.0.0.2", "ops")
    limiter.failed("10.0.0.2", "ops")
    assert limiter.retry_after("10.0.0.2", "ops") > 0
    assert limiter.retry_after("10.0.0.2", "boss") == 0


def test_openapi_documents_the_api_and_its_bearer_scheme(env):
    _, _, client = env
    spec = client.get("/api/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    paths = set(spec["paths"])
    for path in ("/api/v1/products", "/api/v1/alerts/{alert_id}/silence", "/api/v1/prices.csv", "/api/v1/crawl-runs"):
        assert path in paths
    assert not any(p.startswith("/login") or not p.startswith("/api/") for p in paths)  # pages stay out of it


def _response_schema(spec: dict, path: str, method: str = "get") -> dict:
    """The 2xx JSON schema of an operation, with a top-level $ref resolved."""
    responses = spec["paths"][path][method]["responses"]
    body = next(v for k, v in responses.items() if k.startswith("2"))["content"]["application/json"]["schema"]
    if "$ref" in body:
        return spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return body


def test_openapi_shows_typed_response_schemas(env):
    """/api/docs shows what each main call answers (pydantic models), not an untyped object."""
    _, _, client = env
    spec = client.get("/api/openapi.json").json()
    schemas = spec["components"]["schemas"]
    prices = _response_schema(spec, "/api/v1/prices")
    assert prices["type"] == "array" and prices["items"]["$ref"].endswith("/PriceTableRow")
    assert {"price", "final_price", "original_price", "suspect"} <= set(schemas["PriceTableRow"]["properties"])
    for path, row in (
        ("/api/v1/products", "ProductRow"),
        ("/api/v1/reviews", "ReviewRow"),
        ("/api/v1/mentions", "MentionRow"),
        ("/api/v1/alerts", "AlertRow"),
        ("/api/v1/crawl-runs", "CrawlRunRow"),
    ):
        page = _response_schema(spec, path)
        assert set(page["properties"]) == {"items", "total", "limit", "offset"}, path
        assert page["properties"]["items"]["items"]["$ref"].endswith("/" + row), path
    detail = _response_schema(spec, "/api/v1/alerts/{alert_id}")
    assert {"alert", "events", "notifications", "facts"} <= set(detail["properties"])
    assert _response_schema(spec, "/api/v1/products", "post")["properties"]["managed_by"]["type"] == "string"
    # The answers keep their documented shape: decimal strings and times with an offset.
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_chat_robot_receives_the_link_to_the_alert_page(tmp_path, chat):
    """End to end: the engine with web.public_url, the dispatcher, a local DingTalk robot."""
    from jingshao.alerts.dispatcher import Dispatcher
    from jingshao.alerts.engine import Engine
    from jingshao.alerts.settings import AlertsConfig

    from .test_alert_engine import T0, Scripted, crisis, make_channel

    db = open_database(f"sqlite:///{tmp_path / 'links.db'}")
    source = Scripted()
    source.instances = [crisis("蜜橙", "yellow")]
    channel = make_channel(chat, "dingtalk", "钉钉群")
    Engine(AlertsConfig(), [source], [channel], public_url="https://jingshao.example.com").evaluate(db, T0)
    Dispatcher(db, {channel.name: channel}, AlertsConfig()).run_once(T0)
    with db.session() as s:
        alert_id = s.query(Alert).one().id
    (text,) = [d.payload["markdown"]["text"] for d in chat.accepted("dingtalk")]
    assert f"https://jingshao.example.com/alerts/{alert_id}" in text
    db.dispose()
