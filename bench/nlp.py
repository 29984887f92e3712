"""Sentiment benchmark: the review backends (`linear`, `snownlp`) and the mention model, same run.

    /tmp/venv/bin/python bench/nlp.py [--shared PATH] [--sample N] [--speed-sample N]

Evaluates on the fixed held-out split of ``shared/data/sentiment/*.train.csv`` (crc32(review) % 10 == 0,
see jingshao.nlp.datasets), which the shipped model never trained on. SnowNLP is slow, so it is scored
on a deterministic sample of at most N held-out reviews per corpus; `linear` is reported both on the
whole split and on that same sample. Speed is measured on one core (BLAS threads pinned to 1), best of
three runs for every scorer (like with like).

Mentions: the held-out split of ``shared/data/social/*.train.csv`` (crc32(text) % 10 == 0, never trained
on), three classes. The mention model is compared with the review model used as a mention model (its
pos / neutral / neg bands, and the old crisis counter "negative at P(positive) <= 0.2") and with SnowNLP.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from jingshao.nlp.datasets import LabelledReview, read_labelled_csv, split  # noqa: E402
from jingshao.nlp.mention import CLASSES, MentionModel, MentionScorer, default_mention_model_path  # noqa: E402
from jingshao.nlp.scorer import Scorer, get_scorer, label_for  # noqa: E402
from jingshao.nlp.train_mention import LabelledPost, figures, read_labelled_posts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def default_shared() -> Path:
    env = os.environ.get("JINGSHAO_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def accuracy(scorer: Scorer, rows: Sequence[LabelledReview]) -> float:
    p = scorer.score([r.text for r in rows])
    return float(((p >= 0.5).astype(int) == np.array([r.label for r in rows])).mean())


def throughput(scorer: Scorer, texts: Sequence[str], *, batched: bool) -> float:
    """Reviews per second; the best of a few runs for the fast path, one run for the slow one."""
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        if batched:
            scorer.score(texts)
        else:
            for t in texts:
                scorer.score([t])
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=default_shared(), help="path of the shared directory")
    ap.add_argument("--sample", type=int, default=2000, help="held-out reviews per corpus for snownlp accuracy")
    ap.add_argument("--speed-sample", type=int, default=300, help="reviews timed for snownlp (per mode)")
    args = ap.parse_args(argv)

    files = sorted((args.shared / "data" / "sentiment").glob("*.train.csv"))
    if not files:
        print(f"no *.train.csv under {args.shared / 'data' / 'sentiment'}; pass --shared", file=sys.stderr)
        return 2
    linear, snow = get_scorer("linear"), get_scorer("snownlp")
    snow.score(["预热"])  # load SnowNLP's model outside the timings
    rng = random.Random(20240601)

    print("Held-out split: crc32(review.strip()) % 10 == 0 of each file (not used to train the shipped model)")
    print(f"snownlp accuracy on a fixed random sample of <= {args.sample} held-out reviews per corpus;")
    print("linear on the whole held-out split and on the same sample. Decision threshold 0.5.\n")
    print(f"{'corpus':<26}{'held-out':>9}{'linear':>9}{'sample':>8}{'linear@s':>10}{'snownlp@s':>11}{'gain':>8}")
    all_held: list[LabelledReview] = []
    for f in files:
        _, held = split(read_labelled_csv(f))
        all_held.extend(held)
        sample = held if len(held) <= args.sample else rng.sample(held, args.sample)
        acc_lin = accuracy(linear, held)
        acc_lin_s, acc_snow = accuracy(linear, sample), accuracy(snow, sample)
        name = f.name.removesuffix(".train.csv")
        print(
            f"{name:<26}{len(held):>9,}{acc_lin:>9.4f}{len(sample):>8,}{acc_lin_s:>10.4f}{acc_snow:>11.4f}"
            f"{(acc_lin_s - acc_snow) * 100:>+7.1f}p"
        )

    texts = [r.text for r in all_held]
    speed_texts = rng.sample(texts, min(args.speed_sample, len(texts)))
    mean_len = sum(map(len, texts)) / len(texts)
    print(f"\nSpeed, one core, reviews/s (mean review length {mean_len:.0f} chars).")
    print(f"linear: all {len(texts):,} held-out reviews batched; 2,000 one at a time.")
    print(f"snownlp: a sample of {len(speed_texts)} held-out reviews per mode (it is slow).")
    one_texts = texts[:2000]
    lin_b, lin_1 = throughput(linear, texts, batched=True), throughput(linear, one_texts, batched=False)
    snow_b, snow_1 = throughput(snow, speed_texts, batched=True), throughput(snow, speed_texts, batched=False)
    print(f"{'mode':<16}{'linear':>12}{'snownlp':>12}{'linear/snownlp':>16}")
    print(f"{'batched':<16}{lin_b:>12,.0f}{snow_b:>12,.0f}{lin_b / snow_b:>15,.0f}x")
    print(f"{'one at a time':<16}{lin_1:>12,.0f}{snow_1:>12,.0f}{lin_1 / snow_1:>15,.0f}x")
    mentions(args.shared, linear, snow, rng, args.sample)
    return 0


def _review_labels(p: np.ndarray, neg_cut: float | None = None) -> list[str]:
    if neg_cut is not None:  # the old crisis counter: negative at P(positive) <= cut, else by the bands
        return ["neg" if x <= neg_cut else ("pos" if x >= 0.65 else "neu") for x in p]
    return [{"neutral": "neu"}.get(lab, lab) for lab in (label_for(float(x)) for x in p)]


def _row(name: str, f: dict[str, float]) -> str:
    return (
        f"{name:<42}{f['n']:>6,}{f['macro_f1']:>10.3f}{f['neg_precision']:>9.3f}{f['neg_recall']:>9.3f}"
        f"{f['accuracy']:>9.3f}"
    )


def mentions(shared: Path, linear: Scorer, snow: Scorer, rng: random.Random, sample_size: int) -> None:
    files = sorted((shared / "data" / "social").glob("*.train.csv"))
    if not files:
        print(f"\n(no social posts under {shared / 'data' / 'social'}: mention figures skipped)")
        return
    t0 = time.perf_counter()
    model = MentionScorer(MentionModel.load(default_mention_model_path()))
    load_s = time.perf_counter() - t0
    print(
        f"\nMention sentiment, 3 classes, held-out split crc32(text) % 10 == 0 (never trained on); "
        f"mention model neg threshold {model.neg_threshold:.3f}"
    )
    print(f"{'set / scorer':<42}{'posts':>6}{'macro-F1':>10}{'neg P':>9}{'neg R':>9}{'acc':>9}")
    every: list[LabelledPost] = []
    for f in files:
        posts, _ = read_labelled_posts(f, group_column="domain")
        held = [p for p in posts if p.fold == 0]
        every.extend(held)
        groups: dict[str, list[LabelledPost]] = {f.name.removesuffix(".train.csv"): held}
        for g in sorted({p.group for p in held if p.group}):
            groups[f"  domain {g}"] = [p for p in held if p.group == g]
        for name, rows in groups.items():
            truth = [p.label for p in rows]
            texts = [p.text for p in rows]
            print(_row(f"{name}: mention model", figures([s.label for s in model.classify(texts)], truth)))
            p_rev = linear.score(texts)
            print(_row(f"{name}: review model bands", figures(_review_labels(p_rev), truth)))
            print(_row(f"{name}: old counter (P<=0.2)", figures(_review_labels(p_rev, 0.2), truth)))
            sample = rows if len(rows) <= sample_size else rng.sample(rows, sample_size)
            p_snow = snow.score([p.text for p in sample])
            print(_row(f"{name}: snownlp bands (sample)", figures(_review_labels(p_snow), [p.label for p in sample])))
    texts = [p.text for p in every]
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        model.classify(texts)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    rev_best = throughput(linear, texts, batched=True)
    print(
        f"\nMention model: loads in {load_s * 1000:.0f} ms; {best:,.0f} posts/s batched on one core "
        f"(review model on the same posts: {rev_best:,.0f}/s, ratio {best / rev_best:.2f}); classes {CLASSES}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
