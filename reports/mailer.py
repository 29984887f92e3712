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

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING, Literal

from jingshao.core.smtp import SendError, SmtpConfig, deliver

from .ledger import PERMANENT, SendLedger, SendRecord

if TYPE_CHECKING:
    from . import BuiltReport

log = logging.getLogger(__name__)

SENDER_NAME = "竞哨"


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
