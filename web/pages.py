"""Server-rendered pages (web-ui's; this is the skeleton's stub). See ``jingshao.web.app`` for the contract."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.templating import Jinja2Templates

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES))
