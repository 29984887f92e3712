"""REST API under ``/api/v1`` (OpenAPI docs at ``/api/docs``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.orm import Session

from jingshao.web.auth import Principal
from jingshao.web.deps import csrf_protect, get_db, require_viewer

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/health", tags=["health"])
def health(db: Session = Depends(get_db)) -> dict[str, str]:
    """Liveness: the app answers and the database does (no login needed)."""
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/me", tags=["auth"])
def me(user: Principal = Depends(require_viewer)) -> dict[str, str]:
    return {"name": user.name, "role": user.role, "via": user.via}
