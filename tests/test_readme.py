"""The README stays true: every TOML example in it is a valid config, and every command it
lists exists."""

from __future__ import annotations

import re
import tomllib

import pytest

from jingshao.config import parse_config

from .conftest import REPO, run_cli

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```toml\n(.*?)```", README, re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"toml{i}" for i in range(len(BLOCKS))])
def test_toml_examples_are_valid_configs(block, monkeypatch):
    data = tomllib.loads(block)
    if "project" in data:  # a plugin's pyproject.toml, not a jingshao config: its entry-point group must be ours
        from jingshao.alerts.channels.config import ENTRY_POINT_GROUP

        assert set(data["project"]["entry-points"]) == {ENTRY_POINT_GROUP}
        return
    for var in set(re.findall(r"\$\{(\w+)\}", block)):
        monkeypatch.setenv(var, "example-value")
    parse_config(data, "README.md")


@pytest.mark.slow
def test_readme_lists_every_command():
    listed = set(re.findall(r"`jingshao ([a-z]+(?: [a-z]+)?)", README))
    top = run_cli("--help").stdout
    for name in (
        "init",
        "crawl",
        "prices",
        "extract",
        "demo",
        "tags",
        "analyze",
        "adlaw",
        "nlp",
        "ingest",
        "alerts",
        "channels",
        "report",
        "run",
        "status",
    ):
        assert name in top, f"{name} missing from `jingshao --help`"
        assert any(entry.split()[0] == name for entry in listed), f"README does not mention `jingshao {name}`"
