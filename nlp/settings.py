"""The ``[nlp]`` section: which sentiment backend, retrained models, extra ad-law words."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jingshao.nlp.adlaw_exemptions import AdlawExemptions


class NlpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scorer: Literal["linear", "snownlp"] = "linear"
    model_path: str | None = Field(default=None, description="a retrained linear model; default: the bundled one")
    mention_model_path: str | None = Field(
        default=None, description="a retrained mention model (nlp train --kind mention); default: the bundled one"
    )
    adlaw_extra: list[str] = Field(default_factory=list, description="more forbidden words to flag")
    adlaw_allow: list[str] = Field(default_factory=list, description="phrases never to flag (e.g. 最近)")
    adlaw_exemptions: AdlawExemptions = Field(
        default_factory=AdlawExemptions, description="the 2023 enforcement guide's exemptions (issue 12)"
    )
