"""Report archive and evidence downloads (``/api/v1/reports``, ``/api/v1/evidence``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse

from jingshao.core.export import plain
from jingshao.web.auth import Principal
from jingshao.web.deps import get_cfg, require_viewer
from jingshao.web.files import SANDBOX, report_files, safe_child

router = APIRouter()
Viewer = Annotated[Principal, Depends(require_viewer)]


def reports_folder(request: Request) -> Path:
    from jingshao.reports.service import report_dir

    return report_dir(get_cfg(request))


def evidence_folder(request: Request) -> Path | None:
    cfg = get_cfg(request)
    if not cfg.web.evidence_dir:
        return None
    folder = Path(cfg.web.evidence_dir)
    if not folder.is_absolute() and cfg.source is not None:
        folder = cfg.source.parent / folder
    return folder


@router.get("/reports", tags=["reports"])
def list_reports(user: Viewer, request: Request) -> list[dict[str, Any]]:
    """The daily report archive (newest first); open one with ``GET /api/v1/reports/{name}``."""
    return plain(report_files(reports_folder(request)))


@router.get("/reports/{name}", tags=["reports"], response_class=FileResponse)
def get_report(name: str, user: Viewer, request: Request) -> FileResponse:
    """One saved report, as the HTML that was mailed (sandboxed: no script runs)."""
    if not (name.startswith("jingshao-report-") and name.endswith(".html")):
        raise HTTPException(404, "no such report")
    path = safe_child(reports_folder(request), name)
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": SANDBOX})


@router.get("/evidence/{path:path}", tags=["reports"], response_class=FileResponse)
def get_evidence(path: str, user: Viewer, request: Request) -> FileResponse:
    """An evidence file from ``web.evidence_dir`` (downloaded, never rendered; nothing outside the folder)."""
    folder = evidence_folder(request)
    if folder is None:
        raise HTTPException(404, "no evidence folder configured (web.evidence_dir)")
    target = safe_child(folder, path)
    return FileResponse(
        target,
        filename=target.name,
        content_disposition_type="attachment",
        headers={"Content-Security-Policy": SANDBOX},
    )
