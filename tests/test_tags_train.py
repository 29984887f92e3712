"""`jingshao nlp train --kind tags` on a small Zhijiang-format folder: it trains, writes plain files,
reports held-out figures, and `nlp tags --model` uses the result."""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingshao.cli import app

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: make test-fast leaves these out

ASPECTS = ["续航", "外形", "屏幕", "物流", "声音", "做工", "手感", "拍照"]
OPINIONS = [("很好", "正面"), ("不错", "正面"), ("很差", "负面"), ("一般", "负面"), ("非常棒", "正面")]


def write_folder(folder: Path) -> None:
    folder.mkdir()
    reviews, labels, rid = [], [], 0
    for i, a in enumerate(ASPECTS):
        for j, (o, pol) in enumerate(OPINIONS):
            rid += 1
            text = f"{a}{o}，第{i}{j}次买"
            reviews.append({"id": rid, "Reviews": text})
            labels.append(
                {
                    "id": rid,
                    "AspectTerms": a,
                    "A_start": 0,
                    "A_end": len(a),
                    "OpinionTerms": o,
                    "O_start": len(a),
                    "O_end": len(a) + len(o),
                    "Categories": "整体",
                    "Polarities": pol,
                }
            )
    with open(folder / "Train_reviews.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["id", "Reviews"])
        w.writeheader()
        w.writerows(reviews)
    with open(folder / "Train_labels.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, list(labels[0]))
        w.writeheader()
        w.writerows(labels)
    assert any(zlib.crc32(r["Reviews"].encode()) % 10 == 0 for r in reviews)  # something is held out


def test_train_kind_tags_then_use_it(tmp_path: Path) -> None:
    data = tmp_path / "mine"
    write_folder(data)
    out = tmp_path / "models" / "my-tags"
    runner = CliRunner()
    result = runner.invoke(app, ["nlp", "train", "--kind", "tags", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "held out zhijiang" in result.stdout and "tagger: aspect R" in result.stdout
    meta = json.loads((tmp_path / "models" / "my-tags.json").read_text(encoding="utf-8"))
    assert meta["format"] == "jingshao-tags-crf/1" and (tmp_path / "models" / "my-tags.crfsuite").is_file()
    used = runner.invoke(app, ["nlp", "tags", "--method", "model", "--model", str(out)], input="拍照很差\n")
    assert used.exit_code == 0, used.output
    tags = json.loads(used.stdout.splitlines()[-1])["tags"]
    assert ("拍照", "neg") in {(t["aspect_text"], t["polarity"]) for t in tags}


def test_train_kind_tags_refuses_unknown_data(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("hello", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["nlp", "train", "--kind", "tags", "--data", str(bad), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "x.txt" in result.output
