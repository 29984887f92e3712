"""The ``[database]`` section (schema only: no SQLAlchemy here, every process loads it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFAULT_DATABASE_URL = "sqlite:///data/jingshao.db"


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = DEFAULT_DATABASE_URL
