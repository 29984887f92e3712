#!/usr/bin/env python3
"""Run mypy on the `jingshao` package from a source checkout: `python scripts/typecheck.py [mypy args]`.

The repository root IS the package (pyproject maps `jingshao` to `.`), and the editable install
reaches it through an import hook that mypy cannot follow. So this links `build/typing/jingshao` to
the repository root and points mypy there (`mypy_path` in pyproject's [tool.mypy]); modules then
resolve as `jingshao.*`, whatever the checkout's folder is called. Works offline from a fresh clone.
Used by tests/test_house_style.py, `make typecheck` and the pre-commit hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = ROOT / "build" / "typing" / "jingshao"


def ensure_link() -> Path:
    """`build/typing/jingshao` -> the repository root (relative, so a moved checkout still works)."""
    LINK.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(ROOT, LINK.parent)
    if LINK.is_symlink() and os.readlink(LINK) == target:
        return LINK
    if LINK.is_symlink() or LINK.exists():
        LINK.unlink()
    LINK.symlink_to(target, target_is_directory=True)
    return LINK


def main(argv: list[str]) -> int:
    ensure_link()
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *argv]
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
