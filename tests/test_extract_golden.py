"""Extraction output is unchanged by the speed work of issue 15: every field, source and note that
``extract_product`` gives on the 70 shared product pages and on the repository's fixture pages is
compared with ``tests/data/extract-golden.json``, generated from main before that work started.

When a deliberate accuracy change alters an answer, regenerate the file and review its diff:

    JINGSHAO_SHARED=../shared .venv/bin/python tests/test_extract_golden.py --write
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from jingshao.crawlers.extract import extract_product, scoring

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "extract-golden.json"
FIXTURE_DIRS = (REPO / "tests" / "fixtures" / "extract", REPO / "tests" / "fixtures" / "cn-pages")


def _fixture_pages() -> dict[str, tuple[bytes, str]]:
    urls: dict[str, str] = {}
    truth = FIXTURE_DIRS[1] / "truth.json"
    if truth.exists():
        urls = {name: t.get("url", "") for name, t in json.loads(truth.read_text(encoding="utf-8")).items()}
    out = {}
    for folder in FIXTURE_DIRS:
        for path in sorted(folder.glob("*.html")):
            out[f"{folder.name}/{path.name}"] = (
                path.read_bytes(),
                urls.get(path.stem, f"https://example.com/{path.name}"),
            )
    return out


def _shared_pages() -> dict[str, tuple[bytes, str]]:
    folder = scoring.benchmark_dir(scoring.shared_dir(REPO))
    if not (folder / "ground-truth.json").exists():
        return {}
    return {f"product-pages/{p.page_id}": (p.read(), p.url) for p in scoring.load_pages(folder)}


def outputs(pages: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
    return {key: extract_product(body, url).to_json(key) for key, (body, url) in pages.items()}


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def _compare(golden: dict[str, Any], got: dict[str, Any]) -> None:
    wrong = [f"{key}: {field}: got {got[key][field]!r}, want {want[field]!r}"
             for key, want in golden.items() if key in got
             for field in want if got[key][field] != want[field]]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_fixture_pages_give_the_golden_output(golden: dict[str, Any]) -> None:
    pages = _fixture_pages()
    assert len(pages) >= 25
    assert set(pages) <= set(golden)
    _compare(golden, outputs(pages))


def test_shared_product_pages_give_the_golden_output(golden: dict[str, Any]) -> None:
    pages = _shared_pages()
    if not pages:
        message = "benchmark pages not found (set JINGSHAO_SHARED)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert len(pages) >= 60
    assert {k for k in golden if k.startswith("product-pages/")} == set(pages)
    _compare(golden, outputs(pages))


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    everything = {**_fixture_pages(), **_shared_pages()}
    GOLDEN.write_text(
        json.dumps(outputs(everything), ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(everything)} pages to {GOLDEN}")
