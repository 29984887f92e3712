"""Secrets are redacted by value: 12 secrets passed as ${ENV} go through every command, and none of them
appears in any output, log line, the daily report or the database.

The secrets have every shape a user may have: a short webhook token in a path no rule knows
(``/notify/hunter2hunter2``), an API key in a mention source's query string, signing secrets, an SMTP
login. Each is used for real (the robots, the SMTP server and the shop see it), so a missing secret
would fail the run, not pass the test.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jingshao.demo.catalog import demo_products
from jingshao.demo.webhooks import (
    ChatReceivers,
    DingTalkReceiver,
    FeishuReceiver,
    GenericReceiver,
    SlackReceiver,
    WeComReceiver,
)

from .conftest import REPO, free_port, run_cli

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402


class NotifyReceiver(GenericReceiver):
    """A generic webhook at ``/notify/<token>``: a path no token-shape rule recognises."""

    name = "notify"
    prefix = "/notify/"


def make_secrets() -> dict[str, str]:
    rand = secrets.token_hex
    return {
        "DINGTALK_TOKEN": f"dt{rand(16)}",
        "DINGTALK_SECRET": f"SEC{rand(20)}",
        "WECOM_KEY": f"{rand(4)}-{rand(2)}-{rand(2)}-{rand(6)}",
        "FEISHU_HOOK": f"fs{rand(8)}",
        "FEISHU_SECRET": f"fsSecret{rand(6)}",
        "SLACK_TOKEN": f"xs{rand(10)}",
        "WH_TOKEN": "hunter2hunter2",
        "WH_SECRET": f"whs{rand(6)}",
        "SOCIAL_API_KEY": f"sk{rand(9)}",
        "NEWS_TOKEN": f"nt{rand(5)}",
        "SMTP_USER": f"robot{rand(3)}@example.com",
        "SMTP_PASSWORD": f"Pw{rand(6)}!x",
    }


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        return "250 2.0.0 queued"


def test_twelve_secrets_never_leave_the_process(tmp_path, shop):
    s = make_secrets()
    assert len(s) == 12
    robots = [
        DingTalkReceiver(token=s["DINGTALK_TOKEN"], secret=s["DINGTALK_SECRET"]),
        WeComReceiver(key=s["WECOM_KEY"]),
        FeishuReceiver(token=s["FEISHU_HOOK"], secret=s["FEISHU_SECRET"]),
        SlackReceiver(token=s["SLACK_TOKEN"]),
        NotifyReceiver(hook=s["WH_TOKEN"], secret=s["WH_SECRET"]),
    ]
    inbox = Inbox()
    smtp_port = free_port()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == s["SMTP_USER"].encode()
            and auth_data.password == s["SMTP_PASSWORD"].encode()
        )
        return AuthResult(success=ok, handled=False)

    smtp = Controller(
        inbox,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=authenticator,
        auth_exclude_mechanism=["PLAIN"],
        auth_require_tls=False,
    )
    smtp.start()
    with ChatReceivers(receivers=robots) as chat:
        for r in chat:
            chat.set_limits(r.name, [])

        def templated(name: str, *keys: str) -> str:
            url = chat.url_for(name)
            for key in keys:
                assert s[key] in url
                url = url.replace(s[key], "${" + key + "}")
            return url

        products = [p for p in demo_products(shop.base_url) if not p.render][:2]
        cfg_path = tmp_path / "jingshao.toml"
        root = shop.base_url.rstrip("/")
        channels = [
            ("钉钉群", "dingtalk", templated("dingtalk", "DINGTALK_TOKEN"), "DINGTALK_SECRET"),
            ("企微群", "wecom", templated("wecom", "WECOM_KEY"), None),
            ("飞书群", "feishu", templated("feishu", "FEISHU_HOOK"), "FEISHU_SECRET"),
            ("slack", "slack", templated("slack", "SLACK_TOKEN"), None),
            ("值班系统", "webhook", templated("notify", "WH_TOKEN"), "WH_SECRET"),
        ]
        lines = [
            f'[database]\nurl = "sqlite:///{tmp_path / "s.db"}"',
            '[schedule]\nproducts = "off"\nreviews = "off"\nmentions = "off"\nevaluate = "every 2s"\n'
            'dispatch = "every 2s"\nreport = "off"',
            "[crawl]\ndownload_delay = 0\nautothrottle = false\nretry_times = 0\ntimeout = 10",
            '[alerts]\nadmin_email = "ops@example.com"\n[alerts.retry]\nmax_attempts = 1',
            f'[report]\nout_dir = "out"\n[report.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
            'security = "none"\nusername = "${SMTP_USER}"\npassword = "${SMTP_PASSWORD}"\n'
            'from_addr = "jingshao@example.com"\nto = ["team@example.com"]\ntimeout = 5\nretry_backoff = 0.05',
            '[[competitors]]\nname = "测试店"',
        ]
        for i, p in enumerate(products):
            lines.append(f'  [[competitors.products]]\n  url = "{p.url}"\n  name = "{p.name}"')
            if i == 0:  # a review source that signs its requests, and fails (404)
                lines.append(
                    '    [competitors.products.reviews]\n    kind = "json"\n'
                    f'    url = "{root}/nope/reviews?page={{page}}&sign=${{NEWS_TOKEN}}"\n'
                    '    items = "comments"\n    [competitors.products.reviews.fields]\n    text = "content"'
                )
        lines += [
            '[[brands]]\nname = "蜜橙"\nkeywords = ["蜜橙"]',
            f'[[mention_sources]]\nname = "微博搜索"\nkind = "json"\n'
            f'url = "{root}/social/api/nope?keyword={{keyword}}&apikey=${{SOCIAL_API_KEY}}"\n'
            'item = "data.statuses"\nlink = "url"\nsnippet = "text"',
            f'[[mention_sources]]\nname = "行业资讯搜索"\nkind = "html"\n'
            f'url = "{root}/news/search?q={{keyword}}&page=1&token=${{NEWS_TOKEN}}"\n'
            'item = "div.news-item"\ntitle = "h3 a::text"\nlink = "h3 a::attr(href)"\n'
            'snippet = "p.snippet::text"\ntime = "span.time::text"',
        ]
        for name, kind, url, secret in channels:
            lines.append(
                f'[[channels]]\nname = "{name}"\ntype = "{kind}"\nurl = "{url}"'
                + (f'\nsecret = "${{{secret}}}"' if secret else "")
            )
        cfg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        text = cfg_path.read_text()
        assert not any(v in text for v in s.values())  # the config itself only names the variables

        outputs: list[str] = []

        def cli(*args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
            proc = run_cli(*args, "--config", str(cfg_path), env={**s, "JINGSHAO_TEST_VERBOSE": "1"}, check=False)
            outputs.append(f"$ jingshao {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
            if ok is not None:
                assert (proc.returncode == 0) is ok, outputs[-1]
            return proc

        cli("crawl", "products", "-v")
        cli("crawl", "reviews", "-v", ok=None)
        cli("crawl", "mentions", "-v", ok=None)
        queue_notifications(tmp_path / "s.db", [c[0] for c in channels])
        chat.fail_next("dingtalk", 1, 310000)  # keyword/signature: the channel breaks (admin mail)
        chat.down("slack")  # retry budget 1: parked at once (admin mail)
        cli("alerts", "evaluate", ok=None)
        chat.up("slack")
        for name, *_ in channels:
            cli("channels", "test", name)
        chat.fail_next("wecom", 1, 93000)
        cli("channels", "test", "企微群", ok=False)  # a refusal's details are printed too
        cli("channels", "list")
        cli("alerts", "list", "--all")
        status = cli("status", ok=None)
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        report = cli("report", "--date", today, "--send")
        outputs.append(run_scheduler_briefly(cfg_path, s))
    smtp.stop()

    # The secrets were used for real: every robot accepted messages, the mail went out, the key was sent.
    assert all(chat.accepted(r.name) for r in robots), [(r.name, len(chat.accepted(r.name))) for r in robots]
    assert inbox.messages and "mail: sent" in report.stdout
    assert "apikey=***" in status.stdout  # the failing source is listed, its key hidden
    assert "暂存通知 parked notifications:" in status.stdout

    html = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.html"))
    assert "apikey=***" in html or "微博搜索" in html or "social" in html
    database = dump_database(tmp_path / "s.db")
    assert "sk" in database and "***" in database  # the stored failure records are there, redacted
    mails = b"\n".join(inbox.messages).decode("utf-8", "replace")
    everything = {"output": "\n".join(outputs), "report": html, "database": database, "mail": mails}
    leaks = {
        (name, where)
        for name, value in s.items()
        for where, blob in everything.items()
        if value in blob or value.replace("@", "%40") in blob
    }
    assert not leaks, leaks


def queue_notifications(db_path: Path, names: list[str]) -> None:
    """One notification per channel in the outbox (as the engine writes them)."""
    from jingshao.alerts.channels import Notification
    from jingshao.alerts.render import to_payload
    from jingshao.storage.db import open_database
    from jingshao.storage.models import Notification as OutboxRow

    db = open_database(f"sqlite:///{db_path}")
    now = datetime.now(UTC)
    with db.session() as session:
        for name in names:
            n = Notification(
                level="red", kind="firing", title="蜜橙：负面舆情激增", subject="蜜橙", fingerprint="fp", created_at=now
            )
            session.add(
                OutboxRow(
                    channel=name,
                    kind="firing",
                    level="red",
                    payload=to_payload(n, group=None),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    db.dispose()


def run_scheduler_briefly(cfg_path: Path, env: dict[str, str]) -> str:
    """`jingshao run` for a few seconds (evaluate and dispatch every 2 s), then SIGTERM; its log."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jingshao.cli", "run", "--config", str(cfg_path)],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert re.search(r"dispatch|evaluate", out), out
    return f"$ jingshao run\n{out}"


def dump_database(path: Path) -> str:
    conn = sqlite3.connect(str(path))
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()
