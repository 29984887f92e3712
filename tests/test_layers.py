"""The one-way flow is enforced: the import-linter contracts in pyproject.toml hold, and a crawl
process (the runner, the spiders, the pipelines) loads no chat channel and no report module.

DESIGN.md, the layers: core -> storage / nlp -> crawlers -> alerts / reports -> web / scheduler -> cli.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JINGSHAO_CONFIG", None)
    return env


def _lint_imports(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: pip install '.[test]' (import-linter is a test dependency)")
    args = [exe, "--no-cache", *(("--config", str(config)) if config else ())]
    return subprocess.run(args, cwd=str(REPO), capture_output=True, text=True, timeout=600, env=_env())


def test_import_contracts_hold() -> None:
    proc = _lint_imports()
    assert proc.returncode == 0, f"import contracts broken:\n{proc.stdout}\n{proc.stderr}"
    assert "Contracts: " in proc.stdout and " broken" in proc.stdout, proc.stdout
    assert "0 broken" in proc.stdout, proc.stdout


def test_the_layers_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The contract is not vacuous: the same layers over a copy of the package with one upward import
    (core importing the CLI) fail."""
    pkg = tmp_path / "jingshao"
    skip = {".git", ".venv", "build", "tests", "bench", "__pycache__", "data", "node_modules"}

    def only_sources(folder: str, names: list[str]) -> list[str]:  # grimp reads .py files only
        def keep(name: str) -> bool:
            if Path(folder, name).is_dir():
                return name not in skip and not name.endswith(".egg-info")
            return name.endswith(".py") or name == "pyproject.toml"

        return [n for n in names if not keep(n)]

    shutil.copytree(REPO, pkg, ignore=only_sources)
    (pkg / "core" / "levels.py").write_text(
        (pkg / "core" / "levels.py").read_text(encoding="utf-8") + "\nfrom jingshao import cli  # noqa\n",
        encoding="utf-8",
    )
    env = _env()
    env["PYTHONPATH"] = str(tmp_path)
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run(
        [exe, "--no-cache", "--config", str(pkg / "pyproject.toml")],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode != 0, proc.stdout
    assert "jingshao.core.levels -> jingshao.cli" in proc.stdout, proc.stdout


CRAWL_IMPORTS = textwrap.dedent(
    """
    import json, sys
    import jingshao.crawlers.runner
    import jingshao.crawlers.pipelines
    import jingshao.crawlers.worker
    import jingshao.crawlers.distributed
    import jingshao.crawlers.spiders.products, jingshao.crawlers.spiders.reviews, jingshao.crawlers.spiders.mentions
    from jingshao.crawlers.registry import SPIDERS
    for kind in SPIDERS.values():
        kind.spider_class()
    print(json.dumps(sorted(m for m in sys.modules if m.startswith("jingshao") or m in ("httpx", "smtplib"))))
    """
)


def test_a_crawl_process_loads_no_channel_and_no_report() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRAWL_IMPORTS], capture_output=True, text=True, timeout=300, env=_env(), cwd=str(REPO)
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "jingshao.crawlers.runner" in loaded and "jingshao.crawlers.spiders.products" in loaded  # it measured
    assert [m for m in loaded if m.startswith(("jingshao.alerts", "jingshao.reports"))] == []
    assert [m for m in loaded if m.startswith(("jingshao.scheduler", "jingshao.cli", "jingshao.web"))] == []
    assert "httpx" not in loaded and "smtplib" not in loaded


def test_loading_the_config_loads_no_channel_module() -> None:
    """Every process loads the config (a crawl child too): the channel schema, not the senders."""
    code = (
        "import json, sys; from jingshao.config import parse_config; "
        "parse_config({'channels': [{'name': 'x', 'type': 'dingtalk', 'url': 'https://x.example/robot?t=1'}]}); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "jingshao.alerts.channels.config" in loaded
    senders = [m for m in loaded if m.startswith("jingshao.alerts.channels.") and not m.endswith(".config")]
    assert senders == [] and "httpx" not in loaded
    assert [m for m in loaded if m.startswith("jingshao.reports.") and m != "jingshao.reports.settings"] == []
