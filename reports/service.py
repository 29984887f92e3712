"""The report entry point the scheduler and `jingshao report` call."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from jingshao.reports import build_report, send_report
from jingshao.reports.ledger import DbSendLedger
from jingshao.storage.db import open_database

log = logging.getLogger("jingshao.reports")


def report_dir(cfg) -> Path:  # noqa: ANN001
    """The report folder; relative to the config file's folder, like the SQLite file."""
    out = Path(cfg.report.out_dir)
    if not out.is_absolute() and cfg.source is not None:
        out = cfg.source.parent / out
    return out


def daily_report(cfg, *, send: bool, date_from: date | None = None, date_to: date | None = None,  # noqa: ANN001
                 out_dir: Path | None = None) -> dict[str, Any]:
    """Build (and with `send`, mail once) the report for yesterday or the given dates."""
    db = open_database(cfg.database_url)
    try:
        built = build_report(db, cfg.tz, date_from, date_to, out_dir or report_dir(cfg), settings=cfg.report)
        out: dict[str, Any] = {"html": str(built.html_path), "kb": round(built.size_bytes / 1024, 1)}
        if send:
            if cfg.report.smtp is None:
                raise ValueError("report.smtp is not configured: cannot send the report (the HTML was saved)")
            outcome = send_report(built, cfg.report.smtp, DbSendLedger(db))
            out["send"] = outcome.status
            if outcome.status == "failed":
                out["_outcome"] = "failed"
                out["error"] = outcome.error
                log.error("report %s not sent: %s", built.report_key, outcome.error)
        return out
    finally:
        db.dispose()
