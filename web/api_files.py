"""Report archive and evidence downloads (``/api/v1/reports``, ``/api/v1/products/{id}/evidence``)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from jingshao.core.export import plain
from jingshao.web.auth import Principal
from jingshao.web.deps import get_cfg, get_db, require_viewer
from jingshao.web.files import SANDBOX, report_files, safe_child
from jingshao.web.routing import Router

router = Router()
Viewer = Annotated[Principal, Depends(require_viewer)]
Db = Annotated[Session, Depends(get_db)]


def reports_folder(request: Request) -> Path:
    from jingshao.reports.service import report_dir

    return report_dir(get_cfg(request))


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


@router.get("/products/{product_id}/evidence", tags=["reports"])
def list_evidence(product_id: int, user: Viewer, db: Db, since: datetime | None = None) -> list[dict[str, Any]]:
    """The evidence snapshots kept for a product's changing observations (oldest first)."""
    from jingshao.storage.evidence import evidence_for

    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since: give a time zone offset")
    return plain(evidence_for(db, [product_id], since))


@router.get("/products/{product_id}/evidence/{digest}", tags=["reports"], response_class=Response)
def get_evidence(product_id: int, digest: str, user: Viewer, db: Db) -> Response:
    """One snapshot of this product (the page as served, or its screenshot), as a download; served under a
    sandbox CSP. Only a digest linked to this product is served: nothing else can be reached."""
    from jingshao.storage.evidence import evidence_for, get_blob

    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise HTTPException(404, "no such evidence")
    rows = [r for r in evidence_for(db, [product_id]) if digest in (r.html_sha256, r.screenshot_sha256)]
    if not rows:
        raise HTTPException(404, "no such evidence")
    is_png = digest == rows[0].screenshot_sha256
    return Response(
        get_blob(db, digest),
        media_type="image/png" if is_png else "text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": SANDBOX,
            "Content-Disposition": f'attachment; filename="{digest[:16]}.{"png" if is_png else "html"}"',
        },
    )
