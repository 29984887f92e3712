"""The report mailer against a real SMTP server (aiosmtpd on 127.0.0.1): STARTTLS or SSL with a
self-signed certificate made here, AUTH LOGIN, the MIME tree as a client sees it, and exactly one
delivery across failures and retries."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import logging
import re
import ssl
from email import policy
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest

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

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        if self.fail_first:
            self.fail_first -= 1
            return "421 4.3.2 try again later"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:  # noqa: ANN001
    """A self-signed certificate for 127.0.0.1, made with `cryptography`."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
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


def smtp_config(port: int, security: str, tls_files: tuple[Path, Path] | None, **kw) -> SmtpConfig:  # noqa: ANN003
    return SmtpConfig(host="127.0.0.1", port=port, security=security, username=USER, password=PASSWORD,
                      from_addr="jingshao@example.com", to=["ops@example.com", "boss@example.com"], timeout=5,
                      ca_file=str(tls_files[0]) if tls_files else None, retry_backoff=0.05, **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> BuiltReport:  # noqa: ANN001
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
            s.add(Observation(product_id=p.id, price=price, availability="InStock", content_hash=price,
                              first_seen_at=when, last_seen_at=when + dt.timedelta(hours=5)))
        s.add(Mention(brand="蜜橙", source="微博", url="https://weibo.example.com/1", url_key="u", content_key="c",
                      title="蜜橙 太慢了", text="...", posted_at=start + dt.timedelta(hours=3), sentiment=0.1,
                      label="neg"))
    report = build_report(db, "Asia/Shanghai", DAY, None, tmp / "out")
    db.dispose()
    assert len(report.images) == 2
    return report


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_report_arrives_with_text_html_and_inline_images(built, tls_files, tmp_path, security) -> None:  # noqa: ANN001
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


def test_smtp_down_then_up_delivers_exactly_once(built, tls_files, tmp_path, caplog) -> None:  # noqa: ANN001
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


def test_bad_password_is_permanent_and_never_shown(built, tls_files, tmp_path, caplog) -> None:  # noqa: ANN001
    inbox, port = Inbox(), free_port()
    server = start_server(inbox, port, "starttls", tls_files)
    cfg = SmtpConfig.model_validate({**smtp_config(port, "starttls", tls_files).model_dump(),
                                     "password": "wrong-" + PASSWORD})
    caplog.set_level(logging.DEBUG)
    try:
        outcome = send_report(built, cfg, FileSendLedger(tmp_path / "l.json"))
    finally:
        server.stop()
    assert outcome.status == "failed" and outcome.permanent and outcome.attempts == 1
    assert "login" in (outcome.error or "") and PASSWORD not in (outcome.error or "")
    assert PASSWORD not in caplog.text and PASSWORD not in (tmp_path / "l.json").read_text()
    assert PASSWORD not in repr(cfg) and not inbox.messages


def test_untrusted_certificate_is_refused(built, tls_files, tmp_path) -> None:  # noqa: ANN001
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


def test_report_command_sends_once_with_the_database_ledger(tmp_path) -> None:  # noqa: ANN001
    """`jingshao report --send` twice (a retry tick, a user): one mail; the password comes from ${ENV}."""
    import os

    from .conftest import run_cli

    inbox = Inbox(fail_first=1)
    port = free_port()
    controller = start_server(inbox, port, "none", None)
    try:
        cfg = tmp_path / "jingshao.toml"
        cfg.write_text(f"""
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
""", encoding="utf-8")
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


def test_broken_channel_emails_the_admin(tmp_path) -> None:  # noqa: ANN001
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
            cfg = parse_config({
                "database": {"url": f"sqlite:///{tmp_path / 'a.db'}"},
                "alerts": {"admin_email": "admin@example.com"},
                "channels": [channel],
                "report": {"smtp": {"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
                                    "password": PASSWORD, "from_addr": "jingshao@example.com",
                                    "to": ["team@example.com"], "timeout": 5}},
            })
            db = open_database(cfg.database_url)
            note = AlertNotice(level="red", kind="firing", title="测试告警", subject="蜜橙", fingerprint="f",
                               created_at=datetime.now(UTC))
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


def test_report_missed_at_report_time_is_caught_up_once(tmp_path) -> None:  # noqa: ANN001
    """SMTP down at 08:00: the report job fails; the catch-up job sends it once SMTP is back, and
    never again."""
    from jingshao.config import load_config
    from jingshao.reports.service import unsent_report_date
    from jingshao.scheduler import report_catchup_job, report_job
    from jingshao.storage.models import JobRun

    port = free_port()
    cfg_path = tmp_path / "jingshao.toml"
    cfg_path.write_text(f"""
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
""", encoding="utf-8")
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
