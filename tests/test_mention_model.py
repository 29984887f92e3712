"""The shipped mention model (pos / neu / neg), its retraining command and the crisis counter it feeds."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from jingshao.alerts.rules.crisis import RETIRED_KEYS, CrisisThresholds
from jingshao.nlp.datasets import DatasetError
from jingshao.nlp.mention import (
    CLASSES,
    MentionModel,
    MentionModelError,
    MentionScorer,
    decide,
    default_mention_model_path,
    get_mention_scorer,
)
from jingshao.nlp.train_mention import choose_threshold, read_labelled_posts, train_mention

JINGSHAO = [sys.executable, "-m", "jingshao.cli"]


@pytest.fixture(scope="module")
def scorer() -> MentionScorer:
    return get_mention_scorer()


def test_shipped_model_loads_fast_and_is_plain_data() -> None:
    npz = default_mention_model_path()
    t0 = time.perf_counter()
    model = MentionModel.load(npz)
    assert time.perf_counter() - t0 < 1.0
    with np.load(npz, allow_pickle=False) as data:  # plain arrays, no pickle
        assert set(data.files) == {"weights", "idf", "bias", "review_weight"}
    meta = json.loads(npz.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["classes"] == list(CLASSES) and 0 < model.neg_threshold < 1
    assert {t["file"] for t in meta["trained_on"]} >= {"smp2020_ewect.train.csv", "nlpcc2013_weibo.train.csv"}


def test_obvious_posts(scorer: MentionScorer) -> None:
    labels = [
        s.label
        for s in scorer.classify(
            [
                "蜜橙充电宝用了三天就鼓包了，客服还不理人，气死了[怒][怒]",
                "太喜欢蜜橙的新款了，颜值高充电快[哈哈][爱你]",
                "蜜橙发布了新款充电宝，售价199元",
            ]
        )
    ]
    assert labels[0] == "neg"
    assert labels[1] == "pos"
    assert labels[2] != "neg"


def test_probabilities_and_decision(scorer: MentionScorer) -> None:
    out = scorer.classify(["", "！！！", "真的太差了，退钱"])
    assert out[0].label == "neu" and out[0].neu == 1.0  # no content: neutral, never negative
    assert out[1].label == "neu"
    for s in out:
        assert abs(s.pos + s.neu + s.neg - 1) < 1e-6
    probs = np.array([[0.1, 0.5, 0.4], [0.6, 0.1, 0.3], [0.2, 0.7, 0.1]])
    assert decide(probs, 0.35) == ["neg", "pos", "neu"]
    assert decide(probs, 0.45) == ["neu", "pos", "neu"]


def test_batched_equals_one_at_a_time(scorer: MentionScorer) -> None:
    texts = ["转发微博", "垃圾产品//@某人:真的吗", "好用！", "一般般吧", "#蜜橙# 今天降价了"]
    batched = scorer.probabilities(texts)
    single = np.vstack([scorer.probabilities([t]) for t in texts])
    assert np.allclose(batched, single)


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(MentionModelError, match="not found"):
        MentionModel.load(tmp_path / "missing.npz")
    review = Path(default_mention_model_path()).with_name("sentiment-linear.npz")
    with pytest.raises(MentionModelError, match="not a mention model"):
        MentionModel.load(review)


def test_choose_threshold_prefers_precision_within_the_recall_floor() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    y = np.array([True, True, False, True, True, False, False, False])
    # F0.5 by cut: 0.8 -> P 1, R .5 (0.83); 0.6 -> P .75, R .75 (0.75); 0.5 -> P .8, R 1 (0.83, later)
    assert choose_threshold(p, y, 0.5) == 0.8  # the first best: more precision at the same F0.5
    assert choose_threshold(p, y, 0.75) == 0.5  # the recall floor rules out 0.8
    assert choose_threshold(p, np.zeros(8, dtype=bool), 0.6) == 0.5


def _write(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("post", "stance")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.slow
def test_retrain_on_own_posts_through_the_cli(tmp_path: Path) -> None:
    base = [
        ("太差了，退货", "neg"),
        ("垃圾，再也不买", "neg"),
        ("气死了，客服不理人", "neg"),
        ("好用，推荐", "pos"),
        ("非常喜欢，五星", "pos"),
        ("颜值高，真香", "pos"),
        ("今天发布新品", "neu"),
        ("请问在哪里买", "neu"),
        ("下午三点开会", "neu"),
    ]
    rows = [(f"{t}{i}", lab) for i in range(30) for t, lab in base] + [("没有标签的帖子", "")]
    data = _write(tmp_path / "mine.csv", rows)
    out = tmp_path / "models" / "mine"
    proc = subprocess.run(
        [
            *JINGSHAO,
            "nlp",
            "train",
            "--kind",
            "mention",
            "--csv",
            str(data),
            "--text-column",
            "post",
            "--label-column",
            "stance",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 without a label skipped" in proc.stderr and "held-out" in proc.stderr
    scored = subprocess.run(
        [*JINGSHAO, "nlp", "score", "--kind", "mention", "--model", str(out) + ".npz"],
        input="太差了，退货\n好用，推荐\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stderr
    lines = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [x["label"] for x in lines] == ["neg", "pos"]
    assert set(lines[0]["probabilities"]) == {"pos", "neu", "neg"}


@pytest.mark.slow
def test_bad_training_csv(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", [("好", "pos"), ("坏", "angry")], header=("text", "label"))
    with pytest.raises(DatasetError, match=r"bad.csv:3: label must be pos, neu or neg, got 'angry'"):
        read_labelled_posts(bad)
    with pytest.raises(DatasetError, match="no column 'text'"):
        read_labelled_posts(_write(tmp_path / "cols.csv", [("好", "pos")], header=("body", "label")))
    one_class = _write(tmp_path / "one.csv", [(f"好{i}", "pos") for i in range(20)], header=("text", "label"))
    with pytest.raises(DatasetError, match="needs all of pos, neu and neg"):
        train_mention([one_class], tmp_path / "m")
    proc = subprocess.run(
        [*JINGSHAO, "nlp", "train", "--kind", "mention", "--csv", str(bad), "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "label must be pos, neu or neg" in proc.stderr


@pytest.mark.slow
def test_score_cli_review_kind_has_the_same_shape() -> None:
    proc = subprocess.run(
        [*JINGSHAO, "nlp", "score"], input="物流很快，质量不错\n", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["label"] == "pos" and set(line["probabilities"]) == {"pos", "neg"}


def test_retired_threshold_keys_say_what_replaced_them() -> None:
    with pytest.raises(ValueError, match="negative_below: removed; a mention is negative when the mention model"):
        CrisisThresholds.from_mapping({"negative_below": 0.2}, "jingshao.toml: brands[0].crisis")
    assert set(RETIRED_KEYS) == {"negative_below", "strongly_negative"}


@pytest.mark.slow
def test_crisis_counts_what_the_mention_model_says(tmp_path: Path) -> None:
    """Ingested posts are labelled by the mention model and the crisis rules count exactly its neg."""
    from jingshao.alerts.facts import brand_mentions
    from jingshao.storage.db import open_database

    db_url = f"sqlite:///{tmp_path / 'j.db'}"
    cfg = tmp_path / "jingshao.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n\n[[brands]]\nname = "蜜橙"\nkeywords = ["蜜橙"]\n', encoding="utf-8"
    )
    now = datetime.now(UTC).replace(microsecond=0)
    texts = ["蜜橙充电宝鼓包了，客服不理人，太气人了[怒]", "蜜橙新品发布会今天下午两点", "蜜橙真好用，爱了[哈哈]"]
    lines = [
        json.dumps(
            {
                "brand": "蜜橙",
                "url": f"https://weibo.example/{i}",
                "text": t,
                "source": "微博",
                "posted_at": (now - timedelta(minutes=5)).isoformat(),
            },
            ensure_ascii=False,
        )
        for i, t in enumerate(texts)
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [*JINGSHAO, "ingest", "mentions", str(tmp_path / "m.jsonl"), "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    expected = [s.label for s in get_mention_scorer().classify(texts)]
    db = open_database(db_url)
    with db.session() as s:
        facts = brand_mentions(s, "蜜橙", now + timedelta(seconds=1), CrisisThresholds())
    by_text = {f.text: f for f in facts}
    assert [by_text[t].is_negative for t in texts] == [lab == "neg" for lab in expected]
    assert expected[0] == "neg" and expected[1] != "neg"
    assert by_text[texts[0]].negative_prob is not None and by_text[texts[0]].negative_prob > 0.5


def test_config_mention_model_path_is_checked_and_relative(tmp_path: Path) -> None:
    from jingshao.config import ConfigError, load_config

    cfg = tmp_path / "jingshao.toml"
    cfg.write_text('[nlp]\nmention_model_path = "models/mine"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nlp.mention_model_path: no model at .*models/mine.npz"):
        load_config(cfg)
    (tmp_path / "models").mkdir()
    src = default_mention_model_path()
    for suffix in (".npz", ".json"):
        (tmp_path / "models" / ("mine" + suffix)).write_bytes(src.with_suffix(suffix).read_bytes())
    loaded = load_config(cfg)
    assert loaded.nlp.mention_model_path == str(tmp_path / "models" / "mine")
