"""The SMTP transport and its settings, shared by the daily report (:mod:`jingshao.reports.mailer`)
and the alerts' admin notices (a broken channel is mailed to ``alerts.admin_email``).

SSL (SMTPS) or STARTTLS, then login; :func:`deliver` is one session and says whether a failure is
temporary (connection refused or dropped, timeouts, 4xx) or permanent (5xx, bad credentials).
The password only ever leaves ``SecretStr`` inside ``smtplib.login``; error texts are scrubbed of it.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def _check_address(v: str) -> str:
    v = v.strip()
    local, sep, domain = v.rpartition("@")
    if not sep or not local or "." not in domain or any(c in v for c in " <>,;\r\n"):
        raise ValueError(f"expected an e-mail address like ops@example.com, got {v!r}")
    return v


class SmtpConfig(BaseModel):
    """Where and how the report is sent. `security`: "ssl" (SMTPS, port 465), "starttls" (587) or
    "none" (plain, for a relay on localhost)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535, description="default: 465 ssl, 587 starttls, 25 none")
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_addr: str
    to: list[str] = Field(min_length=1)
    timeout: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=1, le=10, description="attempts per send, with backoff between them")
    retry_backoff: float = Field(default=2.0, ge=0, description="seconds before the 2nd attempt, doubled after")
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, description="extra CA bundle (a company relay's own CA)")

    @field_validator("from_addr")
    @classmethod
    def _from(cls, v: str) -> str:
        return _check_address(v)

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        return [_check_address(a) for a in v]

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both `username` and `password` for SMTP login, or neither")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


class SendError(Exception):
    """One SMTP attempt failed; `temporary` says whether another attempt may succeed."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


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
