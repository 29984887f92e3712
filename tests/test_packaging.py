"""The wheel ships the package and only the package.

The expectations come from git, not from a list kept here: every tracked module and data file of
the package must be in the wheel (a new sub-package left out of pyproject.toml's explicit list
fails here, naming its files), and nothing else may be (setup.py, pyproject.toml, tests, bench,
scripts, a local jingshao.toml, a stray folder with an `__init__.py`, the SQLite database).
The wheel is built offline from a copy of the tracked files (plus those decoys), then installed
into a throwaway venv that must import the package and run `jingshao --help` and the migrations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path, PurePosixPath

import pytest

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out

ROOT = Path(__file__).resolve().parents[1]

# Top-level folders of the repository that are not part of the package.
NOT_SHIPPED_DIRS = {"tests", "bench", "scripts", "build", "data"}
# Files planted in the build copy that must not reach the wheel.
DECOYS = {
    "jingshao.toml": '[[channels]]\nkind = "dingtalk"\nwebhook = "https://example.invalid/robot/send?access_token=t0ps3cret"\n',
    "data/jingshao.db": "not a database",
    "scratch/__init__.py": "",
    "scratch/notes.py": "X = 1\n",
    "local.toml": "x = 1\n",
}
DIST_INFO_FILES = {"METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE"}


def _env() -> dict[str, str]:
    """The environment for child processes: offline pip, no PYTHONPATH pointing at a source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the packaging test reads its expectations from git: run it in a git checkout")
    run = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=ROOT, capture_output=True, check=True, env=_env())
    return [p for p in run.stdout.decode().split("\0") if p and (ROOT / p).is_file()]


def _expected_in_wheel(tracked: list[str]) -> set[str]:
    """Every tracked file of the package: root modules and everything in its sub-folders."""
    expected = set()
    for path in tracked:
        parts = PurePosixPath(path).parts
        if parts[0].startswith(".") or parts[0] in NOT_SHIPPED_DIRS:
            continue
        if len(parts) == 1 and (not path.endswith(".py") or path == "setup.py"):
            continue  # README.md, pyproject.toml, Makefile, LICENSE (in dist-info), CHANGELOG.md ...
        expected.add(f"jingshao/{path}")
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for path in _tracked_files():
        dest = src / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, dest)
    for path, text in DECOYS.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text, encoding="utf-8")
    out = work / "dist"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        cwd=work,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, f"pip wheel failed:\n{run.stdout}\n{run.stderr}"
    wheels = list(out.glob("jingshao-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_ships_every_tracked_module_and_data_file_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    package = {n for n in names if n.startswith("jingshao/")}
    expected = _expected_in_wheel(_tracked_files())

    missing = sorted(expected - package)
    assert not missing, (
        "tracked files missing from the wheel; add the sub-package to [tool.setuptools] packages "
        f"(or its data to package-data) in pyproject.toml: {missing}"
    )
    extra = sorted(package - expected)
    assert not extra, f"the wheel ships files that are not tracked package files: {extra}"

    dist_info = {n.split("/", 1)[1] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    assert dist_info == DIST_INFO_FILES
    others = [n for n in names if not n.startswith("jingshao/") and ".dist-info/" not in n]
    assert not others, f"files outside the package: {others}"


def test_wheel_carries_what_the_product_needs_at_run_time(wheel: Path) -> None:
    """Spot checks that stay true whatever moves: models, templates, migrations and the entry point."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    for needed in (
        "jingshao/__init__.py",
        "jingshao/cli.py",
        "jingshao/nlp/data/sentiment-linear.npz",
        "jingshao/nlp/data/tags-crf.crfsuite",
        "jingshao/core/data/t2s.json",
        "jingshao/reports/templates/report.html",
        "jingshao/storage/migrations/env.py",
        "jingshao/storage/migrations/script.py.mako",
        "jingshao/storage/migrations/versions/0001_initial_schema.py",
    ):
        assert needed in names, needed
    for name in names:
        assert not name.endswith((".toml", ".db")) and name != "jingshao/setup.py", name
        assert not name.startswith(("jingshao/tests/", "jingshao/bench/", "jingshao/scripts/", "jingshao/scratch/"))
    assert "License-Expression: MIT" in meta
    assert "jingshao = jingshao.cli:main" in entry_points


def test_wheel_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=_env(), timeout=120)
    vpy = venv / "bin" / "python"
    # The dependencies come from the running (test) venv, offline. `--system-site-packages` would
    # reach the base interpreter's site-packages, not this venv's, so a .pth line adds them instead
    # (a path in a .pth is not scanned for further .pth files: the source tree's editable hook stays out).
    site = subprocess.run(
        [str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    ).stdout.strip()
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_test_deps.pth").write_text("\n".join(sorted(shared)) + "\n", encoding="utf-8")

    run = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(vpy), "install", "-q", "--no-deps", "--ignore-installed"]
        + ["--no-compile", str(wheel)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert run.returncode == 0, f"pip install failed:\n{run.stdout}\n{run.stderr}"

    where = subprocess.run(
        [str(vpy), "-c", "import jingshao, jingshao.cli; print(jingshao.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    helped = subprocess.run(
        [str(venv / "bin" / "jingshao"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "竞哨" in helped.stdout and "crawl" in helped.stdout

    # Migrations run from the installed package alone (no alembic.ini, no source tree).
    db = tmp_path / "installed.db"
    migrated = subprocess.run(
        [
            str(vpy),
            "-c",
            "import sys, sqlalchemy as sa; from jingshao.storage.db import open_database; "
            "d = open_database(sys.argv[1]); print(' '.join(sorted(sa.inspect(d.engine).get_table_names())))",
            f"sqlite:///{db}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "alembic_version" in migrated.stdout.split() and "products" in migrated.stdout.split(), migrated.stdout
