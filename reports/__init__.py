"""The daily competitor report: data -> charts -> HTML/text -> file on disk -> e-mail.

Entry points for the CLI and the scheduler:

    built = build_report(db, "Asia/Shanghai", date(2026, 11, 24), None, out_dir="reports")
    outcome = send_report(built, config.report.smtp, FileSendLedger.beside(built.html_path))

`build_report` only reads the database (one session) and writes the HTML file; `send_report` is
safe to call again after any failure: the ledger makes sure a report reaches a recipient list once.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # importing jingshao.reports (the config loads its settings) must stay cheap
    from jingshao.storage.db import Database

    from .data import ReportData
    from .ledger import FileSendLedger, SendLedger, SendRecord
    from .mailer import SendOutcome
    from .render import InlineImage
    from .settings import ReportConfig, SmtpConfig

_LAZY = {
    "FileSendLedger": "ledger",
    "SendLedger": "ledger",
    "SendRecord": "ledger",
    "SendOutcome": "mailer",
    "ReportConfig": "settings",
    "SmtpConfig": "settings",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class BuiltReport:
    html_path: Path  # the saved, stand-alone HTML (charts embedded as data: URIs)
    text: str
    html: str  # the e-mail body (charts as cid:)
    images: list[InlineImage]
    subject: str
    size_bytes: int  # of the e-mail HTML body, UTF-8
    date_from: date
    date_to: date
    data: ReportData | None = field(default=None, repr=False, compare=False)

    @property
    def report_key(self) -> str:
        """'2026-11-24', or '2026-11-20_2026-11-24' for a range: names the file and the ledger record."""
        if self.date_from == self.date_to:
            return self.date_from.isoformat()
        return f"{self.date_from.isoformat()}_{self.date_to.isoformat()}"


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def default_report_date(tz: str | tzinfo, now: datetime | None = None) -> date:
    """Yesterday in the report's time zone (the 08:00 report covers the day before)."""
    zone = _zone(tz)
    return ((now or datetime.now(zone)).astimezone(zone) - timedelta(days=1)).date()


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp creates 0600; a report is for the team: the mode a plain file gets under the umask.
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, path)


def build_report(
    db: Database,
    config_tz: str | tzinfo,
    date_from: date | None = None,
    date_to: date | None = None,
    out_dir: str | Path = "reports",
    *,
    settings: ReportConfig | None = None,
    now: datetime | None = None,
) -> BuiltReport:
    """Build the report for [date_from, date_to] (local days, inclusive; default: yesterday) and
    save it as `out_dir/jingshao-report-<period>.html`."""
    from .data import build_report_data, local_range
    from .render import render_report

    tz = _zone(config_tz)
    date_from = date_from or default_report_date(tz, now)
    date_to = date_to or date_from
    start, end = local_range(date_from, date_to, tz)
    with db.session() as session:
        data = build_report_data(session, start, end, tz, settings, now=now)
    rendered = render_report(data)
    built = BuiltReport(
        Path(out_dir),
        rendered.text,
        rendered.html,
        rendered.images,
        rendered.subject,
        len(rendered.html.encode("utf-8")),
        date_from,
        date_to,
        data,
    )
    path = Path(out_dir) / f"jingshao-report-{built.report_key}.html"
    _write_atomic(path, rendered.standalone_html())
    return BuiltReport(
        path, built.text, built.html, built.images, built.subject, built.size_bytes, date_from, date_to, data
    )


def send_report(built: BuiltReport, smtp_config: SmtpConfig, ledger: SendLedger | None = None) -> SendOutcome:
    """Mail the report (once per period and recipient list; see `mailer.send_report`)."""
    from .ledger import FileSendLedger
    from .mailer import send_report as _send

    return _send(built, smtp_config, ledger or FileSendLedger.beside(built.html_path))


__all__ = [
    "BuiltReport",
    "FileSendLedger",
    "ReportConfig",
    "SendLedger",
    "SendOutcome",
    "SendRecord",
    "SmtpConfig",
    "build_report",
    "default_report_date",
    "send_report",
]
