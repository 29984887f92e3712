"""The report as a MIME message, sent over SMTP once per report and recipient list.

MIME tree (what mail clients render best, and what Python's email docs build):

    multipart/alternative
      text/plain                 the same content as text
      multipart/related
        text/html                <img src="cid:price-12.20261124@jingshao">
        image/png                Content-ID: <price-12.20261124@jingshao>, inline
        ...

The text part sits outside `related`, so a text-only client never lists the charts as attachments.

Sending: SSL (SMTPS) or STARTTLS, then login, with retries and exponential backoff on temporary
failures (connection refused or dropped, timeouts, 4xx replies). 5xx replies and bad credentials are
permanent: retrying cannot help, so the outcome says so at once. The Message-ID is derived from the
report period and the recipient list, and every outcome is written to the `SendLedger`, so the
scheduler can call `send_report` on every tick: a report already sent is not sent again. The
"sending" record is written (committed) before each attempt: if the process dies after the server
accepted the message but before "sent" was written, the next tick sends it again with the same
Message-ID, which most clients fold into one message. A permanent failure is recorded as "failed"
with last_error starting "permanent: ", so the scheduler's catch-up stops retrying that report.

The password only ever leaves `SecretStr` inside `smtplib.login`; error texts are scrubbed of it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid
from typing import TYPE_CHECKING, Literal

from .ledger import PERMANENT, SendLedger, SendRecord
from .settings import SmtpConfig

if TYPE_CHECKING:
    from . import BuiltReport

log = logging.getLogger(__name__)

SENDER_NAME = "竞哨"


class SendError(Exception):
    """One SMTP attempt failed; `temporary` says whether another attempt may succeed."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class SendOutcome:
    status: Literal["sent", "already_sent", "failed"]
    message_id: str
    attempts: int  # made by this call
    error: str | None = None
    permanent: bool = False  # a failure retrying will not fix (bad login, 5xx)
    refused: dict[str, str] = field(default_factory=dict)  # recipients the server refused (others got it)

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "already_sent")


def recipients_hash(recipients: Sequence[str]) -> str:
    return hashlib.sha256(",".join(sorted({r.strip().lower() for r in recipients})).encode()).hexdigest()


def message_id(report_key: str, recipients: Sequence[str], from_addr: str) -> str:
    """Stable per (report period, recipient list): a resend is recognisably the same message."""
    domain = from_addr.rpartition("@")[2] or "jingshao.local"
    return f"<jingshao-report.{report_key}.{recipients_hash(recipients)[:16]}@{domain}>"


def build_message(built: BuiltReport, smtp: SmtpConfig, msg_id: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = built.subject
    msg["From"] = formataddr((SENDER_NAME, smtp.from_addr))
    msg["To"] = ", ".join(smtp.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    msg.set_content(built.text, subtype="plain", charset="utf-8")
    msg.add_alternative(built.html, subtype="html", charset="utf-8")
    html_part = list(msg.iter_parts())[1]  # the html alternative just added
    for img in built.images:
        html_part.add_related(
            img.data,
            maintype="image",
            subtype=img.subtype,
            cid=f"<{img.cid}>",
            filename=img.filename,
            disposition="inline",
        )
    return msg


# ---------------------------------------------------------------- one attempt


def _tls_context(smtp: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=smtp.ca_file)
    if not smtp.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _scrub(text: str, smtp: SmtpConfig) -> str:
    if smtp.password is None:
        return text
    secret = smtp.password.get_secret_value()
    if not secret:
        return text
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    if smtp.username:
        forms.add(base64.b64encode(f"\0{smtp.username}\0{secret}".encode()).decode())
    for form in forms:
        text = text.replace(form, "***")
    return text


def _classify(exc: BaseException, smtp: SmtpConfig) -> SendError:
    where = f"SMTP {smtp.host}:{smtp.effective_port} ({smtp.security})"
    detail = _scrub(f"{type(exc).__name__}: {exc}", smtp)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendError(
            f"{where}: login as {smtp.username!r} refused — check username/password: {detail}", temporary=False
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return SendError(f"{where}: every recipient refused: {detail}", temporary=any(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendError(f"{where}: {detail} (does the server support this security mode?)", temporary=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(f"{where}: {detail}", temporary=400 <= exc.smtp_code < 500 or exc.smtp_code == -1)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(f"{where}: the server's certificate is not trusted ({detail}); set ca_file", temporary=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError | socket.timeout):
        return SendError(f"{where}: {detail}", temporary=True)
    return SendError(f"{where}: {detail}", temporary=False)


def deliver(msg: EmailMessage, smtp: SmtpConfig) -> dict[str, str]:
    """One SMTP session; returns the refused recipients (empty when all were accepted)."""
    port = smtp.effective_port
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, port, timeout=smtp.timeout, context=_tls_context(smtp))
        else:
            client = smtplib.SMTP(smtp.host, port, timeout=smtp.timeout)
        with client:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=_tls_context(smtp))
                client.ehlo()
            if smtp.username and smtp.password is not None:
                client.login(smtp.username, smtp.password.get_secret_value())
            refused = client.send_message(msg, from_addr=smtp.from_addr, to_addrs=list(smtp.to))
    except Exception as exc:
        raise _classify(exc, smtp) from None
    return {
        addr: f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}"
        for addr, (code, resp) in refused.items()
    }


# ---------------------------------------------------------------- with retries and the ledger


def send_report(
    built: BuiltReport, smtp: SmtpConfig, ledger: SendLedger, *, sleep: Callable[[float], None] = time.sleep
) -> SendOutcome:
    """Send the report unless the ledger says it already went to these recipients."""
    rhash = recipients_hash(smtp.to)
    msg_id = message_id(built.report_key, smtp.to, smtp.from_addr)
    with ledger.lock():
        record = ledger.get(built.report_key, rhash)
        if record is not None and record.status == "sent":
            log.info("report %s already sent to %d recipient(s) at %s", built.report_key, len(smtp.to), record.sent_at)
            return SendOutcome("already_sent", record.message_id, 0)
        record = record or SendRecord(built.report_key, rhash, msg_id, "sending")
        msg = build_message(built, smtp, msg_id)
        error: SendError | None = None
        for attempt in range(1, smtp.retries + 1):
            record = record.but(status="sending", attempts=record.attempts + 1, updated_at=datetime.now(UTC))
            ledger.put(record)
            try:
                refused = deliver(msg, smtp)
            except SendError as exc:
                error = exc
                log.warning("report %s: send attempt %d/%d failed: %s", built.report_key, attempt, smtp.retries, exc)
                mark = "" if exc.temporary else PERMANENT  # the catch-up leaves such a day to a person
                record = record.but(status="failed", last_error=(mark + str(exc))[:2000])
                ledger.put(record)
                if not exc.temporary:
                    break
                if attempt < smtp.retries:
                    sleep(smtp.retry_backoff * 2 ** (attempt - 1))
                continue
            now = datetime.now(UTC)
            note = f"refused: {refused}" if refused else None
            ledger.put(record.but(status="sent", sent_at=now, updated_at=now, last_error=note))
            log.info("report %s sent to %d recipient(s) as %s", built.report_key, len(smtp.to) - len(refused), msg_id)
            return SendOutcome("sent", msg_id, attempt, refused=refused)
    assert error is not None
    return SendOutcome("failed", msg_id, attempt, str(error), permanent=not error.temporary)


def send_plain_mail(
    smtp: SmtpConfig, to: Sequence[str], subject: str, body: str, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """A short plain-text mail (the admin notice of a broken channel) through the report's SMTP
    settings, to other recipients; temporary errors are retried. Raises SendError."""
    target = smtp.model_copy(update={"to": list(to)})
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = smtp.from_addr
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=smtp.from_addr.rpartition("@")[2] or "jingshao")
    msg.set_content(body)
    for attempt in range(1, smtp.retries + 1):
        try:
            deliver(msg, target)
            return
        except SendError as exc:
            if not exc.temporary or attempt == smtp.retries:
                raise
            sleep(smtp.retry_backoff * 2 ** (attempt - 1))
