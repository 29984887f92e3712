"""The house style is checked by CI, not by memory: ruff's lint rules, its formatter and mypy."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if not found:
        pytest.fail("ruff is not installed; it is part of the [test] extra")
    return [found]


def test_ruff_lint_is_clean() -> None:
    run = subprocess.run([*_ruff(), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_is_applied() -> None:
    run = subprocess.run([*_ruff(), "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, "run `ruff format .`:\n" + run.stdout + run.stderr


@pytest.mark.slow  # a cold mypy run reads the whole package and its libraries (warm: a few seconds)
def test_mypy_is_clean_on_the_product_code() -> None:
    """scripts/typecheck.py resolves `jingshao.*` through build/typing and applies [tool.mypy]."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "typecheck.py")], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, "mypy found errors (python scripts/typecheck.py):\n" + run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout, run.stdout
