"""Cookies and sessions (issue 12): cookie files and Cookie headers are sent by plain HTTP and by the browser,
never appear in logs or output, their expiry is tracked, and a login wall after they were sent marks them
expired in `status` and on the admin channel, with the command that refreshes them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from jingshao.crawlers.cookies import CookieError, CookieSourceConfig, load_jar, parse_json_export, parse_netscape
from jingshao.demo.catalog import ITEMS_BY_ID, demo_products
from jingshao.demo.runner import toml_inline, write_demo_config
from jingshao.demo.walls import DEMO_SESSION_COOKIE
from jingshao.storage.db import open_database
from jingshao.storage.models import CookieJarState, FailedObservation, Observation

from .conftest import run_cli

SECRET = "s3ss10n-9f8e7d6c5b4a"
FUTURE = int((datetime.now(UTC) + timedelta(days=30)).timestamp())


def netscape(value: str, domain: str = "127.0.0.1", expires: int = FUTURE) -> str:
    return (
        "# Netscape HTTP Cookie File\n"
        f"{domain}\tFALSE\t/\tFALSE\t{expires}\t{DEMO_SESSION_COOKIE}\t{value}\n"
        f"#HttpOnly_{domain}\tFALSE\t/\tFALSE\t0\tlang\tzh-CN\n"
    )


def test_cookie_files_and_headers_are_read():
    cookies = parse_netscape(netscape(SECRET), "jar.txt")
    assert [(c.name, c.value, c.expires is not None) for c in cookies] == [
        (DEMO_SESSION_COOKIE, SECRET, True),
        ("lang", "zh-CN", False),
    ]
    export = json.dumps(
        [{"name": "pt_key", "value": "AAJk-very-secret", "domain": ".jd.com", "path": "/", "expirationDate": FUTURE}]
    )
    (c,) = parse_json_export(export, "jd.json")
    assert c.matches("item.jd.com") and c.expires.timestamp() == FUTURE
    with pytest.raises(CookieError, match="line 1") as bad:
        parse_netscape(f"127.0.0.1 {SECRET}\n", "broken.txt")
    assert SECRET not in str(bad.value)  # the error names the line, never a value
    os.environ["JINGSHAO_TEST_COOKIE"] = f"a=1; {DEMO_SESSION_COOKIE}={SECRET}"
    try:
        jar = load_jar("店", CookieSourceConfig(env="JINGSHAO_TEST_COOKIE"), ["http://127.0.0.1:1/x.html"])
    finally:
        del os.environ["JINGSHAO_TEST_COOKIE"]
    assert jar.header_for("127.0.0.1") == f"a=1; {DEMO_SESSION_COOKIE}={SECRET}" and jar.expires_at is None
    from jingshao.core.redaction import redact

    assert SECRET not in redact(f"Cookie: {DEMO_SESSION_COOKIE}={SECRET}")


def cookie_config(shop, tmp_path: Path, products, cookie_file: Path, *, browser: bool = False, channels=()) -> Path:
    cfg = write_demo_config(shop.base_url, tmp_path, with_browser=browser, products=products, mentions=False)
    text = cfg.read_text(encoding="utf-8").replace("[database]", "[alerts]\nblocked_crawls = 5\n[database]")
    text += f"[competitors.cookies]\nfile = {json.dumps(str(cookie_file))}\n"
    for c in channels:
        text += "[[channels]]\n" + "".join(f"{k} = {toml_inline(v)}\n" for k, v in c.items())
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_cookies_pass_a_login_wall_over_http_and_expire_visibly(shop, tmp_path, chat):
    product = next(p for p in demo_products(shop.base_url) if p.id == "youpin-10001")
    path = ITEMS_BY_ID[product.id].path
    shop.walls.set(path, "login")
    shop.walls.valid_sessions = {SECRET}
    jar = tmp_path / "cookies.txt"
    jar.write_text(netscape(SECRET), encoding="utf-8")
    admin = {**chat.channel_settings("dingtalk", "运维群"), "roles": ["admin"]}
    business = chat.channel_settings("feishu", "运营群")
    cfg = cookie_config(shop, tmp_path, [product], jar, channels=(admin, business))

    first = run_cli("crawl", "products", "-v", "--config", str(cfg))
    assert SECRET in shop.last_headers(path).get("Cookie", "")
    assert SECRET not in first.stdout + first.stderr
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        assert s.scalars(select(Observation)).first() is not None  # the wall let the session through
        row = s.get(CookieJarState, "优品数码旗舰店")
        assert row.status == "ok" and abs(row.expires_at.timestamp() - FUTURE) < 2
        assert SECRET not in json.dumps([row.source, row.fingerprint, row.refresh])

    shop.walls.valid_sessions = set()  # the shop logged the session out
    second = run_cli("crawl", "products", "-v", "--config", str(cfg), check=False)
    assert second.returncode == 3  # its one page was blocked
    assert SECRET not in second.stdout + second.stderr
    with db.session() as s:
        row = s.get(CookieJarState, "优品数码旗舰店")
        failure = s.scalars(select(FailedObservation)).one()
    assert row.status == "expired" and failure.kind == "blocked" and "passport/login" in failure.reason
    expired = run_cli("status", "--config", str(cfg), check=False)
    status = expired.stdout
    assert "cookies expired: 优品数码旗舰店" in status and "jingshao cookies check" in status
    assert expired.returncode == 1  # someone must refresh the jar: monitoring scripts see it
    texts = [str(d.payload) for d in chat.accepted("dingtalk")]
    assert any("抓取登录态失效" in t and "jingshao cookies check" in t for t in texts), texts
    assert not [d for d in chat.accepted("feishu") if "登录态" in str(d.payload)]
    assert SECRET not in str([d.payload for d in chat.accepted("dingtalk")])

    # Refreshed: a new export, `cookies check`, and the jar is ok again.
    fresh = "n3w-s3ss10n-0a1b2c3d"
    jar.write_text(netscape(fresh), encoding="utf-8")
    checked = run_cli("cookies", "check", "--config", str(cfg))
    assert "有效 ok" in checked.stdout and fresh not in checked.stdout
    with db.session() as s:
        assert s.get(CookieJarState, "优品数码旗舰店").status == "ok"
    assert run_cli("status", "--config", str(cfg), check=False).returncode == 0


@pytest.mark.browser
def test_the_browser_sends_the_cookie_file_too(shop, tmp_path, chromium):
    product = next(p for p in demo_products(shop.base_url) if p.render)
    path = ITEMS_BY_ID[product.id].path
    shop.walls.set(path, "login")
    shop.walls.valid_sessions = {SECRET}
    jar = tmp_path / "cookies.json"
    jar.write_text(
        json.dumps([{"name": DEMO_SESSION_COOKIE, "value": SECRET, "domain": "127.0.0.1", "path": "/"}]),
        encoding="utf-8",
    )
    cfg = cookie_config(shop, tmp_path, [product], jar, browser=True)
    out = run_cli("crawl", "products", "-v", "--config", str(cfg))
    assert SECRET in shop.last_headers(path).get("Cookie", "")
    assert SECRET not in out.stdout + out.stderr
    db = open_database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        obs = s.scalars(select(Observation)).one()
    assert obs.price is not None
