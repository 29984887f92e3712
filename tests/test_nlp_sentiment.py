"""Sentiment: the shipped model, the scorer interface, edge inputs, training and its errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jingshao.nlp import datasets, features, get_scorer, label_for
from jingshao.nlp.datasets import DatasetError, read_labelled_csv, split
from jingshao.nlp.linear import LinearModel, LinearScorer, ModelError, default_model_path
from jingshao.nlp.scorer import NEUTRAL_HIGH, NEUTRAL_LOW, Scorer
from jingshao.nlp.text import MAX_CHARS, normalize, truncate
from jingshao.nlp.train import train, train_main

REPO = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

POSITIVE = [
    "物流很快，质量非常好，很满意，会回购",
    "宝贝收到了，做工精致，性价比高，好评！",
    "味道很好，送餐也快，小哥态度好",
    "房间干净整洁，服务热情，下次还住",
    "屏幕清晰，运行流畅，电池耐用",
]
NEGATIVE = [
    "质量太差了，用了两天就坏，退货！",
    "客服态度恶劣，发货慢，再也不买了",
    "难吃，菜都凉了，送了两个小时",
    "房间有异味，隔音很差，前台爱答不理",
    "假货，和图片完全不一样，差评",
]


def shared_dir() -> Path | None:
    env = os.environ.get("JINGSHAO_SHARED")
    path = Path(env) if env else REPO.parent / "shared"
    return path if (path / "data" / "sentiment").is_dir() else None


def need_shared() -> Path:
    path = shared_dir()
    if path is None:
        msg = "shared training data not found (set JINGSHAO_SHARED or put it at ../shared)"
        if ON_CI:
            pytest.fail(msg + " (CI=true: this test must run)")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def linear() -> Scorer:
    return get_scorer("linear")


def test_shipped_model_is_plain_small_data() -> None:
    npz = default_model_path()
    assert npz.is_file() and npz.stat().st_size < 5_000_000
    with np.load(npz, allow_pickle=False) as data:
        assert set(data.files) == {"weights", "idf", "bias"}
    meta = json.loads(npz.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["format"] == "jingshao-sentiment-linear"
    assert meta["nb_alpha"] == 1.0 and "nb ratio" in meta["features"]
    assert {t["file"] for t in meta["trained_on"]} == {
        "online_shopping_10_cats.train.csv",
        "waimai_10k.train.csv",
        "ChnSentiCorp_htl_all.train.csv",
    }


def test_known_reviews(linear: Scorer) -> None:
    p = linear.score(POSITIVE + NEGATIVE)
    assert isinstance(p, np.ndarray) and p.shape == (10,)
    assert (p[:5] > 0.8).all(), p[:5]
    assert (p[5:] < 0.2).all(), p[5:]
    assert [label_for(x) for x in p] == ["pos"] * 5 + ["neg"] * 5


def test_scorer_protocol_and_cache(linear: Scorer) -> None:
    assert isinstance(linear, Scorer) and linear.name == "linear"
    assert get_scorer() is linear
    with pytest.raises(ValueError, match="unknown sentiment backend 'bert'"):
        get_scorer("bert")


def test_edge_inputs(linear: Scorer) -> None:
    texts = ["", "   ", "!!!。。。", "👍👍👍", "😡😡", "🫠", "good quality, fast delivery", "质量很好 but 物流 slow"]
    p = linear.score(texts)
    assert p[0] == p[1] == p[2] == 0.5  # nothing to read: exactly neutral
    assert p[3] > NEUTRAL_HIGH and p[4] < NEUTRAL_LOW  # common emoji carry their sentiment
    assert p[5] == 0.5  # an emoji we do not know
    assert ((p >= 0) & (p <= 1)).all() and np.isfinite(p).all()
    assert linear.score([]).shape == (0,)


def test_long_text_is_truncated_head_and_tail(linear: Scorer) -> None:
    filler = "今天天气晴，" * 2000
    assert len(truncate(normalize("差评" + filler + "垃圾"))) <= MAX_CHARS + 1
    assert linear.score(["非常满意，好评！" + filler + "推荐购买"])[0] > 0.5
    assert linear.score(["差评！" + filler + "垃圾，退货"])[0] < 0.5


def test_traditional_characters_score_like_simplified(linear: Scorer) -> None:
    assert normalize("這個東西質量很好，物流很快") == "这个东西质量很好,物流很快"
    trad, simp = linear.score(["這個東西質量太差了，還沒用就壞了", "这个东西质量太差了，还没用就坏了"])
    assert trad == pytest.approx(simp)


def test_batched_equals_one_at_a_time(linear: Scorer) -> None:
    texts = POSITIVE + NEGATIVE + ["", "一般"]
    batched = linear.score(texts)
    single = np.array([linear.score([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, rtol=1e-6)


def test_hashing_is_fixed() -> None:
    """The shipped model depends on these exact buckets; a change here needs a retrain."""
    c = features.hash_ngrams(["好评", "差"], 2**20)
    assert c.doc.tolist() == [0, 0, 0, 1]
    assert sorted(c.bucket[:3].tolist()) == sorted(features.hash_ngrams(["好评"], 2**20).bucket.tolist())
    assert features.hash_ngrams(["好评"], 2**20).bucket.tolist() == [112668, 250636, 1002747]


def test_label_for_band() -> None:
    assert label_for(0.0) == "neg" and label_for(NEUTRAL_LOW) == "neg"
    assert label_for(0.5) == "neutral"
    assert label_for(NEUTRAL_HIGH) == "pos" and label_for(1.0) == "pos"


def test_heldout_accuracy_floor(linear: Scorer) -> None:
    shared = need_shared()
    floors = {"online_shopping_10_cats": 0.90, "waimai_10k": 0.87, "ChnSentiCorp_htl_all": 0.87}
    for name, floor in floors.items():
        _, held = split(read_labelled_csv(shared / "data" / "sentiment" / f"{name}.train.csv"))
        p = linear.score([r.text for r in held])
        acc = float(((p >= 0.5) == np.array([r.label == 1 for r in held])).mean())
        assert acc >= floor, f"{name}: held-out accuracy {acc:.4f} < floor {floor}"


@pytest.mark.slow
def test_linear_beats_snownlp_on_hotels(linear: Scorer) -> None:
    shared = need_shared()
    _, held = split(read_labelled_csv(shared / "data" / "sentiment" / "ChnSentiCorp_htl_all.train.csv"))
    held = held[:150]
    y = np.array([r.label for r in held])
    acc = {
        name: float(((get_scorer(name).score([r.text for r in held]) >= 0.5) == y).mean())
        for name in ("linear", "snownlp")
    }
    assert acc["linear"] >= acc["snownlp"] + 0.08, acc


def test_snownlp_backend_edge_inputs() -> None:
    snow = get_scorer("snownlp")
    p = snow.score(["", "质量很好，非常满意"])
    assert snow.name == "snownlp" and p[0] == 0.5 and 0 <= p[1] <= 1
    with pytest.raises(ValueError, match="model_path"):
        get_scorer("snownlp", model_path="x.npz")


# ---------------------------------------------------------------- datasets and training

TINY_POS = ["很好用，喜欢", "质量不错，满意", "物流快，好评", "非常好，推荐", "超值，会回购", "漂亮，喜欢"]
TINY_NEG = ["太差了，退货", "质量差，失望", "物流慢，差评", "很烂，不推荐", "坏了，垃圾", "难用，后悔"]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tiny_csv(path: Path) -> Path:
    lines = ["\ufeffid,label,review,extra"]  # BOM, extra columns, columns in another order
    lines += [f"{i},1,{t},x" for i, t in enumerate(TINY_POS * 3)]
    lines += [f"{i},0,{t},x" for i, t in enumerate(TINY_NEG * 3)]
    return write_csv(path, "\n".join(lines) + "\n")


def test_train_tiny_csv_gives_loadable_model(tmp_path: Path) -> None:
    report = train([tiny_csv(tmp_path / "mine.csv")], tmp_path / "out" / "model.npz", holdout=False, n_buckets=2**12)
    assert report.n_train == 36 and report.n_holdout == 0
    assert report.out_path.is_file() and report.out_path.with_suffix(".json").is_file()
    scorer = get_scorer("linear", model_path=report.out_path)
    p = scorer.score(["喜欢，好评", "差评，退货"])
    assert p[0] > 0.5 > p[1]
    assert LinearModel.load(tmp_path / "out" / "model").n_buckets == 2**12  # suffix optional


def test_nb_ratio_favours_polar_buckets() -> None:
    from jingshao.nlp.train import nb_ratio

    counts = features.hash_ngrams(["好", "好", "差", "差", "的好", "的差"], 2**12, 1)
    r = nb_ratio(counts, np.array([1.0, 1, 0, 0, 1, 0]), 2**12)
    good, bad, de = (int(features.hash_ngrams([c], 2**12, 1).bucket[0]) for c in "好差的")
    assert r[good] == pytest.approx(r[bad]) and r[good] > 0.5 and r[de] == pytest.approx(0.0)


def test_train_without_nb_scaling(tmp_path: Path) -> None:
    report = train([tiny_csv(tmp_path / "mine.csv")], tmp_path / "m.npz", holdout=False, n_buckets=2**12, nb_alpha=None)
    meta = json.loads(report.out_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["nb_alpha"] is None and "nb ratio" not in meta["features"]
    p = get_scorer("linear", model_path=report.out_path).score(["喜欢，好评", "差评，退货"])
    assert p[0] > 0.5 > p[1]


@pytest.mark.slow
def test_train_main_reports_progress_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main([tiny_csv(tmp_path / "mine.csv")], tmp_path / "m.npz") == 0
    err = capsys.readouterr().err
    assert "read " in err and "36 labelled reviews" in err and "wrote " in err
    bad = write_csv(tmp_path / "bad.csv", "label,text\n1,好\n")
    assert train_main([bad], tmp_path / "m2.npz") == 2
    assert "bad.csv: missing column(s) 'review'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("label,comment\n1,好\n", "missing column(s) 'review'"),
        ("review\n好\n", "missing column(s) 'label'"),
        ("label,review\n2,好\n", ":2: label must be 1 or 0, got '2'"),
        ("label,review\nyes,好\n", ":2: label must be 1 or 0"),
    ],
)
def test_bad_csv_errors_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = write_csv(tmp_path / "labels.csv", content)
    with pytest.raises(DatasetError) as exc:
        read_labelled_csv(path)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_training_needs_both_labels_and_a_file(tmp_path: Path) -> None:
    only_pos = write_csv(tmp_path / "pos.csv", "label,review\n1,好\n1,不错\n")
    with pytest.raises(DatasetError, match="both labels"):
        train([only_pos], tmp_path / "m.npz", holdout=False)
    with pytest.raises(DatasetError, match="cannot open"):
        read_labelled_csv(tmp_path / "missing.csv")


def test_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        LinearScorer.from_path(tmp_path / "nope.npz")
    (tmp_path / "m.npz").write_bytes(b"not a zip")
    (tmp_path / "m.json").write_text('{"format": "other", "version": 1}', encoding="utf-8")
    with pytest.raises(ModelError, match="format 'other'"):
        LinearModel.load(tmp_path / "m.npz")


def test_holdout_split_is_fixed() -> None:
    assert datasets.is_holdout("物流很快") == datasets.is_holdout("  物流很快 ")
    flags = [datasets.is_holdout(f"评论{i}") for i in range(5000)]
    assert 0.08 < sum(flags) / len(flags) < 0.12
