"""Configuration model for the daily report (``[report]``; its ``smtp`` table is
:class:`jingshao.core.smtp.SmtpConfig`, shared with the alerts' admin notices).

These are plain pydantic models that the main `Config` embeds as `report: ReportConfig`; the main
loader already replaces `${ENV}` references, so `password = "${SMTP_PASSWORD}"` arrives here as the
secret itself, typed `SecretStr` so it never shows in a repr, a log line or an exception.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jingshao.core.smtp import SmtpConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
