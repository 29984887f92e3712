"""Configuration models for the daily report and its mailer.

These are plain pydantic models that the main `Config` embeds as `report: ReportConfig`; the main
loader already replaces `${ENV}` references, so `password = "${SMTP_PASSWORD}"` arrives here as the
secret itself, typed `SecretStr` so it never shows in a repr, a log line or an exception.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_address(v: str) -> str:
    v = v.strip()
    local, sep, domain = v.rpartition("@")
    if not sep or not local or "." not in domain or any(c in v for c in " <>,;\r\n"):
        raise ValueError(f"expected an e-mail address like ops@example.com, got {v!r}")
    return v


class SmtpConfig(_Strict):
    """Where and how the report is sent. `security`: "ssl" (SMTPS, port 465), "starttls" (587) or
    "none" (plain, for a relay on localhost)."""

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


class ReportConfig(_Strict):
    """What the daily report covers and how long its lists may get (the mail must stay under the
    ~100 KB at which common clients clip a message)."""

    enabled: bool = True
    out_dir: str = Field(default="reports", description="where the HTML files and the send ledger are kept")
    title: str = "竞品日报"
    subject_prefix: str = "【竞哨】"
    review_window_days: int = Field(default=30, ge=1, le=365, description="reviews counted for sentiment and tags")
    price_trend_days: int = Field(default=30, ge=2, le=365)
    mention_trend_days: int = Field(default=14, ge=2, le=90)
    max_rows: int = Field(default=15, ge=1, le=200, description="rows per table before '还有 N 条…'")
    max_charts: int = Field(default=12, ge=0, le=40, description="price trend charts (largest changes first)")
    max_competitors: int = Field(default=8, ge=1, le=50, description="competitors in the teardown")
    top_products: int = Field(default=3, ge=1, le=10, description="products per competitor in the teardown")
    max_brands: int = Field(default=4, ge=1, le=20)
    max_html_kb: int = Field(
        default=95,
        ge=20,
        le=10_000,
        description="HTML body budget; lists are shortened further to fit (Gmail clips at 102 KB)",
    )
    smtp: SmtpConfig | None = None
