"""Files the dashboard hands out (daily reports, evidence snapshots), never from outside their folder.

``safe_child(root, name)`` resolves the request against the folder and refuses anything that lands
elsewhere: ``..``, absolute paths, symlinks pointing out, NUL bytes, backslashes. Served HTML is
sandboxed (``Content-Security-Policy: sandbox``: no script runs even if crawled text slipped through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import HTTPException


def safe_child(root: Path, name: str) -> Path:
    """The file ``name`` inside ``root`` (404 for anything outside it or missing)."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        raise HTTPException(404, "no such file")
    base = root.resolve()
    target = (base / name).resolve()
    if not target.is_relative_to(base) or target == base or not target.is_file():
        raise HTTPException(404, "no such file")
    return target


@dataclass(frozen=True)
class ReportFile:
    name: str
    period: str  # "2026-11-26" or "2026-11-20_2026-11-26"
    size_bytes: int
    modified_at: datetime


def report_files(folder: Path) -> list[ReportFile]:
    """The saved daily reports, newest period first."""
    if not folder.is_dir():
        return []
    out = []
    base = folder.resolve()
    for p in folder.glob("jingshao-report-*.html"):
        if not p.resolve().is_relative_to(base) or not p.is_file():  # a symlink out of the folder: not listed
            continue
        st = p.stat()
        out.append(
            ReportFile(
                p.name,
                p.name.removeprefix("jingshao-report-").removesuffix(".html"),
                st.st_size,
                datetime.fromtimestamp(st.st_mtime, UTC),
            )
        )
    return sorted(out, key=lambda r: r.period, reverse=True)


SANDBOX = "sandbox; default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'"
