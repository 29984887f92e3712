"""The report mailer against a real SMTP server (aiosmtpd on 127.0.0.1): STARTTLS or SSL with a
self-signed certificate made here, AUTH LOGIN, the MIME tree as a client sees it, and exactly one
delivery across failures and retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import logging
import re
import sqlite3
import ssl
import threading
from email import policy
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from jingshao.reports import BuiltReport, FileSendLedger, SmtpConfig, build_report, send_report  # noqa: E402
from jingshao.reports.mailer import message_id  # noqa: E402
from jingshao.storage.db import open_database  # noqa: E402
from jingshao.storage.models import Competitor, Mention, Observation, Product  # noqa: E402

from .conftest import free_port  # noqa: E402

USER, PASSWORD = "robot@example.com", "s3cret-Pa55"
DAY = dt.date(2026, 11, 24)


class Inbox:
    """aiosmtpd handler: keeps what it accepts; can refuse the first N DATA commands with 421."""

    def __init__(self, fail_first: int = 0) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.fail_first = fail_first

    async def handle_DATA(self, server, session, envelope):
        if self.fail_first:
            self.fail_first -= 1
            return "421 4.3.2 try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with `cryptography`."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return d / "cert.pem", d / "key.pem"


def server_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, tls_files))
    return ctx


def start_server(inbox: Inbox, port: int, security: str, tls_files: tuple[Path, Path] | None) -> Controller:
    kw: dict = {"authenticator": authenticator, "auth_exclude_mechanism": ["PLAIN"]}  # AUTH LOGIN only
    if security == "starttls":
        kw.update(tls_context=server_context(tls_files), require_starttls=True)
    elif security == "ssl":  # aiosmtpd only counts STARTTLS as TLS for AUTH; the socket is TLS here
        kw.update(ssl_context=server_context(tls_files), auth_require_tls=False)
    else:
        kw.update(auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    return controller


def smtp_config(port: int, security: str, tls_files: tuple[Path, Path] | None, **kw) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        security=security,
        username=USER,
        password=PASSWORD,
        from_addr="jingshao@example.com",
        to=["ops@example.com", "boss@example.com"],
        timeout=5,
        ca_file=str(tls_files[0]) if tls_files else None,
        retry_backoff=0.05,
        **kw,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> BuiltReport:
    """A real report with one price chart and one brand chart."""
    tmp = tmp_path_factory.mktemp("mailreport")
    db = open_database(f"sqlite:///{tmp / 'r.db'}")
    tz = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime.combine(DAY, dt.time(), tz)
    with db.session() as s:
        comp = Competitor(name="优品数码旗舰店")
        s.add(comp)
        s.flush()
        p = Product(competitor_id=comp.id, url="https://shop.example.com/1", name="华为 FreeBuds Pro 3 <b>粗</b>")
        s.add(p)
        s.flush()
        for hours, price in ((-200, "1499.00"), (9, "1299.00")):
            when = start + dt.timedelta(hours=hours)
            s.add(
                Observation(
                    product_id=p.id,
                    price=price,
                    availability="InStock",
                    content_hash=price,
                    first_seen_at=when,
                    last_seen_at=when + dt.timedelta(hours=5),
                )
            )
        s.add(
            Mention(
                brand="蜜橙",
                source="微博",
                url="https://weibo.example.com/1",
                url_key="u",
                content_key="c",
                title="蜜橙 太慢了",
                text="...",
                posted_at=start + dt.timedelta(hours=3),
                sentiment=0.1,
                label="neg",
            )
        )
    report = build_report(db, "Asia/Shanghai", DAY, None, tmp / "out")
    db.dispose()
    assert len(report.images) == 2
    return report


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


@pytest.mark.slow
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_report_arrives_with_text_html_and_inline_images(built, tls_files, tmp_path, security) -> None:
    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, security, tls_files)
    try:
        outcome = send_report(built, smtp_config(port, security, tls_files), FileSendLedger(tmp_path / "l.json"))
    finally:
        server.stop()
    assert outcome.status == "sent" and outcome.attempts == 1, outcome
    [(mail_from, rcpts, raw)] = inbox.messages
    assert mail_from == "jingshao@example.com" and sorted(rcpts) == ["boss@example.com", "ops@example.com"]
    msg = parse(raw)
    assert msg["Subject"] == "【竞哨】竞品日报 2026-11-24"
    assert msg["Message-ID"] == outcome.message_id
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = msg.get_payload()
    assert text_part.get_content_type() == "text/plain" and "竞品价格变动" in text_part.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    html = html_part.get_content()
    assert html_part.get_content_type() == "text/html" and "今日要点" in html
    # Text nodes are escaped; inside quoted attributes (alt) "<" is inert, so the serializer keeps it as is.
    assert "&lt;b&gt;粗&lt;/b&gt;" in html and not lxml.html.fromstring(html.encode()).xpath("//b[.='粗']")
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    attached = {img["Content-ID"].strip("<>") for img in images}
    assert referenced == attached and len(attached) == 2
    for img in images:
        assert img.get_content_type() == "image/png" and img.get_content_disposition() == "inline"
        assert img.get_content().startswith(b"\x89PNG")


def test_smtp_down_then_up_delivers_exactly_once(built, tls_files, tmp_path, caplog) -> None:
    port = free_port()
    ledger = FileSendLedger(tmp_path / "sends.json")
    cfg = smtp_config(port, "starttls", tls_files, retries=2)
    caplog.set_level(logging.DEBUG)

    down = send_report(built, cfg, ledger)  # nothing listens on the port
    assert down.status == "failed" and not down.permanent and down.attempts == 2
    [record] = ledger.records()
    assert record.status == "failed" and record.attempts == 2 and "Connection refused" in (record.last_error or "")

    inbox = Inbox(fail_first=1)  # up, but the first DATA gets a temporary 421
    server = start_server(inbox, port, "starttls", tls_files)
    try:
        up = send_report(built, cfg, ledger)  # the next tick
        again = send_report(built, cfg, ledger)  # and the one after
    finally:
        server.stop()
    assert up.status == "sent" and up.attempts == 2 and up.message_id == down.message_id
    assert again.status == "already_sent" and again.attempts == 0
    assert len(inbox.messages) == 1
    [record] = ledger.records()
    assert record.status == "sent" and record.attempts == 4 and record.sent_at is not None  # 2 down, 421, ok
    assert PASSWORD not in caplog.text


def test_bad_password_is_permanent_and_never_shown(built, tls_files, tmp_path, caplog) -> None:
    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, "starttls", tls_files)
    cfg = SmtpConfig.model_validate(
        {**smtp_config(port, "starttls", tls_files).model_dump(), "password": "wrong-" + PASSWORD}
    )
    caplog.set_level(logging.DEBUG)
    try:
        outcome = send_report(built, cfg, FileSendLedger(tmp_path / "l.json"))
    finally:
        server.stop()
    assert outcome.status == "failed" and outcome.permanent and outcome.attempts == 1
    assert "login" in (outcome.error or "") and PASSWORD not in (outcome.error or "")
    assert PASSWORD not in caplog.text and PASSWORD not in (tmp_path / "l.json").read_text()
    assert PASSWORD not in repr(cfg) and not inbox.messages


def test_untrusted_certificate_is_refused(built, tls_files, tmp_path) -> None:
    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, "ssl", tls_files)
    try:
        outcome = send_report(built, smtp_config(port, "ssl", None), FileSendLedger(tmp_path / "l.json"))
    finally:
        server.stop()
    assert outcome.status == "failed" and outcome.permanent and "ca_file" in (outcome.error or "")
    assert not inbox.messages


def test_message_id_is_stable_per_date_and_recipients() -> None:
    a = message_id("2026-11-24", ["b@x.com", "a@x.com"], "r@example.com")
    assert a == message_id("2026-11-24", ["A@x.com", "b@x.com"], "r@example.com")
    assert a != message_id("2026-11-25", ["a@x.com", "b@x.com"], "r@example.com")
    assert a != message_id("2026-11-24", ["a@x.com"], "r@example.com")
    assert a.endswith("@example.com>")


def test_smtp_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="e-mail address"):
        SmtpConfig(host="h", from_addr="not-an-address", to=["a@x.com"])
    with pytest.raises(ValidationError, match="both"):
        SmtpConfig(host="h", from_addr="r@x.com", to=["a@x.com"], username="u")
    assert SmtpConfig(host="h", security="ssl", from_addr="r@x.com", to=["a@x.com"]).effective_port == 465


@pytest.mark.slow
def test_report_command_sends_once_with_the_database_ledger(tmp_path) -> None:
    """`jingshao report --send` twice (a retry tick, a user): one mail; the password comes from ${ENV}."""
    import os

    from .conftest import run_cli

    inbox = Inbox(fail_first=1)
    port = free_port()
    controller = start_server(inbox, port, "none", None)
    try:
        cfg = tmp_path / "jingshao.toml"
        cfg.write_text(
            f"""
[report]
out_dir = "out"
[report.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{USER}"
password = "${{JINGSHAO_TEST_SMTP_PASSWORD}}"
from_addr = "jingshao@example.com"
to = ["ops@example.com"]
timeout = 5
retry_backoff = 0.05
""",
            encoding="utf-8",
        )
        env = {"JINGSHAO_TEST_SMTP_PASSWORD": PASSWORD}
        first = run_cli("report", "--date", "2026-11-24", "--send", "--config", str(cfg), env=env)
        second = run_cli("report", "--date", "2026-11-24", "--send", "--config", str(cfg), env=env)
    finally:
        controller.stop()
    assert "mail: sent" in first.stdout and "mail: already_sent" in second.stdout
    assert len(inbox.messages) == 1
    assert (tmp_path / "out" / "jingshao-report-2026-11-24.html").exists()
    assert PASSWORD not in first.stdout + first.stderr + second.stdout + second.stderr
    assert os.environ.get("JINGSHAO_TEST_SMTP_PASSWORD") is None


def test_broken_channel_emails_the_admin(tmp_path) -> None:
    """A permanent platform error (a wrong signing secret) breaks the channel, keeps its notices,
    and mails alerts.admin_email through the report's SMTP settings."""
    from datetime import UTC, datetime

    from jingshao.alerts.channels import Notification as AlertNotice
    from jingshao.alerts.render import to_payload
    from jingshao.alerts.service import dispatch_notifications
    from jingshao.config import parse_config
    from jingshao.demo.webhooks import ChatReceivers
    from jingshao.storage.models import Notification

    inbox = Inbox()
    port = free_port()
    controller = start_server(inbox, port, "none", None)
    try:
        with ChatReceivers() as chat:
            channel = chat.channel_settings("dingtalk") | {"secret": "SECwrong"}
            cfg = parse_config(
                {
                    "database": {"url": f"sqlite:///{tmp_path / 'a.db'}"},
                    "alerts": {"admin_email": "admin@example.com"},
                    "channels": [channel],
                    "report": {
                        "smtp": {
                            "host": "127.0.0.1",
                            "port": port,
                            "security": "none",
                            "username": USER,
                            "password": PASSWORD,
                            "from_addr": "jingshao@example.com",
                            "to": ["team@example.com"],
                            "timeout": 5,
                        }
                    },
                }
            )
            db = open_database(cfg.database_url)
            note = AlertNotice(
                level="red",
                kind="firing",
                title="测试告警",
                subject="蜜橙",
                fingerprint="f",
                created_at=datetime.now(UTC),
            )
            with db.session() as s:
                s.add(Notification(channel=channel["name"], kind="firing", level="red", payload=to_payload(note)))
            out = dispatch_notifications(cfg)
        assert out.get("broken") == [channel["name"]]
    finally:
        controller.stop()
    [(sender, rcpts, raw)] = inbox.messages
    msg = parse(raw)
    assert rcpts == ["admin@example.com"] and "告警通道故障" in str(msg["Subject"])
    assert "SECwrong" not in raw.decode(errors="replace")
    with db.session() as s:
        assert s.query(Notification).filter_by(status="pending").count() == 1  # kept until the channel is fixed


@pytest.mark.slow
def test_report_missed_at_report_time_is_caught_up_once(tmp_path) -> None:
    """SMTP down at 08:00: the report job fails; the catch-up job sends it once SMTP is back, and
    never again."""
    from jingshao.config import load_config
    from jingshao.reports.service import unsent_report_date
    from jingshao.scheduler import report_catchup_job, report_job
    from jingshao.storage.models import JobRun

    port = free_port()
    cfg_path = tmp_path / "jingshao.toml"
    cfg_path.write_text(
        f"""
[schedule]
report = "0 8 * * *"
[report.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_addr = "jingshao@example.com"
to = ["ops@example.com"]
timeout = 2
retries = 1
""",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    day = unsent_report_date(cfg)
    assert day is not None  # some 08:00 has passed in the last two days
    assert report_job(str(cfg_path)).get("send") == "failed"  # nobody listens on the port yet
    inbox = Inbox()
    controller = start_server(inbox, port, "none", None)
    try:
        first = report_catchup_job(str(cfg_path))
        second = report_catchup_job(str(cfg_path))
    finally:
        controller.stop()
    assert first.get("send") == "sent" and second == {}
    assert len(inbox.messages) == 1
    assert day.isoformat() in str(parse(inbox.messages[0][2])["Subject"])
    assert unsent_report_date(cfg) is None
    with open_database(cfg.database_url).session() as s:
        assert [r.outcome for r in s.query(JobRun).order_by(JobRun.id)] == ["failed", "ok"]


# ---------------------------------------------------------------- the database ledger during a send


class SlowInbox(Inbox):
    """DATA takes `delay` seconds (a slow relay); `entered` is set when the first DATA arrives."""

    def __init__(self, delay: float = 2.0) -> None:
        super().__init__()
        self.delay = delay
        self.entered = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.entered.set()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def write_with_short_timeout(url: str) -> None:
    """What a crawl does while a report is being mailed: a write transaction, here with a 1 s
    busy/lock timeout instead of the crawl's 60 s."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database, timeout=1, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS crawl_probe (x INTEGER)")
            conn.execute("INSERT INTO crawl_probe VALUES (1)")
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            conn.execute(text("CREATE TABLE IF NOT EXISTS crawl_probe (x INTEGER)"))
            conn.execute(text("INSERT INTO crawl_probe VALUES (1)"))
    finally:
        engine.dispose()


def test_db_ledger_holds_no_transaction_while_sending(built, database_url) -> None:
    """A slow SMTP exchange: the database stays writable (SQLite's write lock is not held), the
    "sending" record is already committed, and a second sender waits for the claim, then finds the
    report sent: one mail."""
    from jingshao.reports.ledger import DbSendLedger
    from jingshao.reports.mailer import recipients_hash

    inbox, port = SlowInbox(delay=2.0), free_port()
    server = start_server(inbox, port, "none", None)
    cfg = smtp_config(port, "none", None)
    first_db, second_db, reader_db = (open_database(database_url) for _ in range(3))
    outcomes: dict[str, object] = {}

    def send(name: str, db) -> None:
        outcomes[name] = send_report(built, cfg, DbSendLedger(db))

    first = threading.Thread(target=send, args=("first", first_db))
    second = threading.Thread(target=send, args=("second", second_db))
    try:
        first.start()
        assert inbox.entered.wait(10), "the first sender never reached DATA"
        second.start()  # a user's `jingshao report --send` meanwhile
        write_with_short_timeout(database_url)  # raised "database is locked" while a send held BEGIN IMMEDIATE
        record = DbSendLedger(reader_db).get(built.report_key, recipients_hash(cfg.to))
        assert record is not None and record.status == "sending" and record.attempts == 1, record
        assert first.is_alive(), "the probe must run while the first send is still in DATA"
        first.join(30)
        second.join(30)
    finally:
        server.stop()
        for db in (first_db, second_db, reader_db):
            db.dispose()
    assert outcomes["first"].status == "sent" and outcomes["second"].status == "already_sent", outcomes
    assert len(inbox.messages) == 1


class Crash(BaseException):
    """The process dying (kill -9, power cut) at a chosen point."""


class CrashBeforeSentLedger:
    """A DbSendLedger whose process dies after the server accepted the mail, before "sent" is written."""

    def __init__(self, db) -> None:
        from jingshao.reports.ledger import DbSendLedger

        self.inner = DbSendLedger(db)
        self.lock, self.get = self.inner.lock, self.inner.get

    def put(self, record) -> None:
        if record.status == "sent":
            raise Crash
        self.inner.put(record)


def test_crash_between_acceptance_and_record_resends_with_the_same_message_id(built, database_url) -> None:
    from jingshao.reports.ledger import DbSendLedger
    from jingshao.reports.mailer import recipients_hash

    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, "none", None)
    cfg = smtp_config(port, "none", None)
    try:
        dying = open_database(database_url)
        with pytest.raises(Crash):
            send_report(built, cfg, CrashBeforeSentLedger(dying))
        dying.dispose()
        assert len(inbox.messages) == 1

        restarted = open_database(database_url)  # the next process
        ledger = DbSendLedger(restarted)
        record = ledger.get(built.report_key, recipients_hash(cfg.to))
        assert record is not None and record.status == "sending" and record.attempts == 1, record  # committed
        outcome = send_report(built, cfg, ledger)
        again = send_report(built, cfg, ledger)
    finally:
        server.stop()
    assert outcome.status == "sent" and again.status == "already_sent"
    ids = [parse(raw)["Message-ID"] for _, _, raw in inbox.messages]
    assert ids == [outcome.message_id, outcome.message_id]  # a resend a mail client folds into one
    record = ledger.get(built.report_key, recipients_hash(cfg.to))
    assert record.status == "sent" and record.attempts == 2
    restarted.dispose()


@pytest.mark.slow
def test_permanent_failure_stops_the_catch_up(tmp_path) -> None:
    """A wrong password at report time: the ledger says the failure is permanent, so the catch-up
    does not rebuild and resend the report every 10 minutes; a manual send after the fix works."""
    from jingshao.config import load_config
    from jingshao.reports.ledger import DbSendLedger
    from jingshao.reports.mailer import recipients_hash
    from jingshao.reports.service import daily_report, unsent_report_date
    from jingshao.scheduler import report_catchup_job

    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, "none", None)
    cfg_path = tmp_path / "jingshao.toml"
    toml = f"""
[schedule]
report = "0 8 * * *"
[report.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{USER}"
password = "PASSWORD"
from_addr = "jingshao@example.com"
to = ["ops@example.com"]
timeout = 5
retry_backoff = 0.05
"""
    cfg_path.write_text(toml.replace("PASSWORD", "wrong-" + PASSWORD), encoding="utf-8")
    try:
        cfg = load_config(cfg_path)
        day = unsent_report_date(cfg)
        assert day is not None
        assert report_catchup_job(str(cfg_path)).get("send") == "failed"  # (the report job's day may differ)
        db = open_database(cfg.database_url)
        record = DbSendLedger(db).get(day.isoformat(), recipients_hash(cfg.report.smtp.to))
        db.dispose()
        assert record is not None and record.status == "failed" and record.permanent and record.attempts == 1
        assert PASSWORD not in (record.last_error or "")
        assert unsent_report_date(cfg) is None
        assert report_catchup_job(str(cfg_path)) == {}
        assert not inbox.messages

        cfg_path.write_text(toml.replace("PASSWORD", PASSWORD), encoding="utf-8")  # a person fixes it
        fixed = load_config(cfg_path)
        assert daily_report(fixed, send=True, date_from=day, date_to=day)["send"] == "sent"
    finally:
        server.stop()
    assert len(inbox.messages) == 1 and unsent_report_date(fixed) is None
