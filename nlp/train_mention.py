"""Train the mention model (``jingshao nlp train --kind mention``) from labelled posts.

CSV: one post per row, a text column and a label column (names given by the caller; by default
``text`` and ``label``), labels ``pos`` / ``neu`` / ``neg`` (also accepted: positive / neutral /
negative, 正面 / 中性 / 负面, 1 / 0 / -1). Rows with an empty label are skipped and counted (the shipped
corpora leave emotions without a polarity, such as surprise, unlabelled); any other label is an error
naming the file and line.

Procedure (deterministic; the same files give the same model):

1. Rows are split by ``crc32(text) % 10`` (the same rule as the review model): 0 is held out and
   only scored at the end; 1 and 2 are the validation folds.
2. A model trained without the validation folds scores them, and ``neg_threshold`` is set by
   :func:`choose_threshold`: the best F0.5 (precision first) among cuts keeping negative recall at
   least ``min_recall`` (0.6). A post wrongly counted negative feeds false alarms; a missed one only
   delays an alarm.
3. The final model is trained on everything but the held-out split (``holdout=False``: on every
   row) and keeps that threshold; held-out figures are printed and written into the model's JSON.
"""

from __future__ import annotations

import csv
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .datasets import DatasetError, is_holdout, read_labelled_csv
from .features import BatchCounts, tfidf_values
from .mention import CLASSES, NEG, POS, MentionModel, MentionScorer, decide, review_feature, softmax
from .social import clean_post
from .train import _quiet, featurize, minimize_lbfgs

Progress = Callable[[str], None]

#: Chosen on the validation folds (see nlp/data/README.md): 2**18 buckets (2**20 no better on 25,000
#: posts), L2 3e-6 per example (1e-5 and 3e-5 lost 0.2-0.5 point of macro-F1); after 150 L-BFGS
#: iterations the loss moves in the fourth decimal.
DEFAULT_BUCKETS = 2**18
DEFAULT_L2 = 3e-6
DEFAULT_MAX_ITER = 150
DEFAULT_MIN_RECALL = 0.6
DEFAULT_BETA = 0.5
DEFAULT_REVIEWS_PER_FILE = 2000

LABEL_ALIASES: dict[str, str] = {
    "pos": "pos",
    "positive": "pos",
    "正面": "pos",
    "积极": "pos",
    "1": "pos",
    "neu": "neu",
    "neutral": "neu",
    "中性": "neu",
    "0": "neu",
    "neg": "neg",
    "negative": "neg",
    "负面": "neg",
    "消极": "neg",
    "-1": "neg",
}


@dataclass(frozen=True)
class LabelledPost:
    text: str
    label: int  # index into CLASSES
    source: str  # file stem
    group: str = ""  # optional column value (e.g. SMP2020's domain), for per-group figures

    @property
    def fold(self) -> int:
        return zlib.crc32(self.text.strip().encode("utf-8")) % 10


@dataclass
class MentionTrainReport:
    out_path: Path
    n_train: int
    n_holdout: int
    skipped_unlabelled: int
    neg_threshold: float
    validation: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["out_path"] = str(self.out_path)
        return d


def read_labelled_posts(
    path: str | Path, text_column: str = "text", label_column: str = "label", group_column: str | None = None
) -> tuple[list[LabelledPost], int]:
    """(posts, rows skipped for an empty label); :class:`DatasetError` names file and line on bad input."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    rows: list[LabelledPost] = []
    skipped = 0
    with handle:
        try:
            reader = csv.DictReader(handle)
            names = {(n or "").strip().lower(): n for n in (reader.fieldnames or [])}
            for want in (text_column, label_column):
                if want.lower() not in names:
                    raise DatasetError(
                        f"{path}: no column {want!r}; found {list(reader.fieldnames or [])!r} "
                        "(name them with --text-column and --label-column)"
                    )
            t_col, l_col = names[text_column.lower()], names[label_column.lower()]
            g_col = names.get(group_column.lower()) if group_column else None
            for line_no, row in enumerate(reader, start=2):
                text = (row.get(t_col) or "").strip()
                raw = (row.get(l_col) or "").strip()
                if not text:
                    continue
                if not raw:
                    skipped += 1
                    continue
                label = LABEL_ALIASES.get(raw.lower())
                if label is None:
                    raise DatasetError(f"{path}:{line_no}: label must be pos, neu or neg, got {raw!r}")
                group = (row.get(g_col) or "") if g_col else ""
                rows.append(LabelledPost(text, CLASSES.index(label), path.stem, group))
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except csv.Error as exc:
            raise DatasetError(f"{path}: malformed CSV ({exc})") from exc
    return rows, skipped


def featurize_posts(texts: Sequence[str], n_buckets: int, ngram_max: int = 3) -> BatchCounts:
    return featurize(texts, n_buckets, ngram_max, prepare=clean_post)


def fit_softmax(
    doc: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    n_cols: int,
    *,
    l2: float = DEFAULT_L2,
    max_iter: int = DEFAULT_MAX_ITER,
    progress: Progress = _quiet,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (mean cross-entropy + l2/2 |W|^2, biases unpenalised) by L-BFGS
    over COO arrays; returns (W (n_cols, K), b (K,))."""
    n, k = len(y), len(CLASSES)
    rows = np.arange(n)

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: n_cols * k].reshape(n_cols, k)
        z = np.empty((n, k))
        wc = w[col]
        for j in range(k):
            z[:, j] = np.bincount(doc, weights=val * wc[:, j], minlength=n)
        p = softmax(z + theta[n_cols * k :])
        loss = float(-np.log(p[rows, y] + 1e-12).mean()) + 0.5 * l2 * float((w * w).sum())
        p[rows, y] -= 1.0
        p /= n
        g = np.empty_like(theta)
        gw = g[: n_cols * k].reshape(n_cols, k)
        pr = p[doc]
        for j in range(k):
            gw[:, j] = np.bincount(col, weights=val * pr[:, j], minlength=n_cols)
        gw += l2 * w
        g[n_cols * k :] = p.sum(axis=0)
        return loss, g

    prior = np.bincount(y, minlength=k) + 1.0
    theta = np.zeros(n_cols * k + k)
    theta[n_cols * k :] = np.log(prior / prior.sum())
    theta, iters, loss = minimize_lbfgs(loss_grad, theta, max_iter=max_iter, progress=progress)
    progress(f"  optimiser stopped after {iters} iterations, loss {loss:.5f}")
    return theta[: n_cols * k].reshape(n_cols, k).copy(), theta[n_cols * k :].copy()


def _fit(
    posts: Sequence[LabelledPost],
    n_buckets: int,
    l2: float,
    max_iter: int,
    progress: Progress,
    threshold: float = 0.5,
    use_review_feature: bool = True,
) -> MentionModel:
    counts = featurize_posts([p.text for p in posts], n_buckets)
    df = np.bincount(counts.bucket, minlength=n_buckets)
    idf = (np.log((1.0 + len(posts)) / (1.0 + df)) + 1.0).astype(np.float16).astype(np.float32)
    vals = tfidf_values(counts, idf)
    doc, col, n_cols = counts.doc, counts.bucket, n_buckets
    if use_review_feature:  # one more column: the review model's logit (see MentionModel.review_weight)
        doc = np.concatenate([doc, np.arange(len(posts))])
        col = np.concatenate([col, np.full(len(posts), n_buckets)])
        vals = np.concatenate([vals, review_feature([p.text for p in posts])])
        n_cols += 1
    y = np.array([p.label for p in posts], dtype=np.int64)
    w, b = fit_softmax(doc, col, vals, y, n_cols, l2=l2, max_iter=max_iter, progress=progress)
    # Evaluate (and choose the threshold) with the float16 weights the file will hold.
    weights = w[:n_buckets].astype(np.float16).astype(np.float32)
    return MentionModel(weights, idf, b, threshold, review_weight=w[n_buckets].copy() if use_review_feature else None)


def pr_curve(p_neg: np.ndarray, is_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cuts, precision, recall) of "neg when P(neg) >= cut" for every distinct score, highest cut first."""
    order = np.argsort(-p_neg, kind="stable")
    cuts = p_neg[order]
    tp = np.cumsum(is_neg[order])
    precision = tp / np.arange(1, len(order) + 1)
    recall = tp / max(int(is_neg.sum()), 1)
    return cuts, precision, recall


def choose_threshold(
    p_neg: np.ndarray, is_neg: np.ndarray, min_recall: float = DEFAULT_MIN_RECALL, beta: float = DEFAULT_BETA
) -> float:
    """The cut on P(neg) for the crisis counter, from validation scores: the best F-beta (beta 0.5:
    precision counts twice as much as recall) among the cuts keeping recall >= ``min_recall``.

    Why precision first: every post wrongly counted negative raises the hourly baseline the crisis
    rules compare with, and a cluster of them is a false alarm; a missed negative only makes an alarm
    a little later. Why a recall floor: below about 0.6, an 8-an-hour surge no longer reaches the blue
    minimum of 5 negatives in its first hour.
    """
    if not is_neg.any():
        return 0.5
    cuts, precision, recall = pr_curve(p_neg, is_neg)
    ok = recall >= min_recall
    if not ok.any():
        return 0.5
    b2 = beta * beta
    score = np.where(ok, (1 + b2) * precision * recall / np.maximum(b2 * precision + recall, 1e-12), -1)
    return float(np.clip(cuts[int(np.argmax(score))], 0.05, 0.95))


def figures(labels: Sequence[str], truth: Sequence[int] | np.ndarray) -> dict[str, float]:
    """Macro-F1 over the three classes, negative precision and recall, accuracy."""
    pred = np.array([CLASSES.index(x) for x in labels])
    y = np.asarray(truth)
    f1s = []
    out: dict[str, float] = {"n": int(len(y))}
    for k, name in enumerate(CLASSES):
        tp = int(((pred == k) & (y == k)).sum())
        prec = tp / max(int((pred == k).sum()), 1)
        rec = tp / max(int((y == k).sum()), 1)
        f1s.append(0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))
        if name == "neg":
            out["neg_precision"], out["neg_recall"] = round(prec, 4), round(rec, 4)
    out["macro_f1"] = round(float(np.mean(f1s)), 4)
    out["accuracy"] = round(float((pred == y).mean()) if len(y) else 0.0, 4)
    return out


def train_mention(
    csv_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    group_column: str | None = None,
    holdout: bool = True,
    n_buckets: int = DEFAULT_BUCKETS,
    l2: float = DEFAULT_L2,
    max_iter: int = DEFAULT_MAX_ITER,
    min_recall: float = DEFAULT_MIN_RECALL,
    review_csvs: Sequence[str | Path] = (),
    reviews_per_file: int = DEFAULT_REVIEWS_PER_FILE,
    progress: Progress = _quiet,
) -> MentionTrainReport:
    """Train a mention model on ``csv_paths`` and write ``out_path`` (``.npz`` + ``.json``).

    ``review_csvs`` (the review model's CSV format, label 1/0) add up to ``reviews_per_file`` reviews
    per file as pos / neg examples: posts about a product complain the way reviews do (售后推三阻四,
    用了一周就充不进电), and Weibo emotion corpora have few such posts. Reviews only train: the neg
    threshold is chosen, and figures are reported, on posts.
    """
    t0 = time.perf_counter()
    if not csv_paths:
        raise DatasetError("no training CSV given")
    posts: list[LabelledPost] = []
    skipped = 0
    for path in csv_paths:
        part, skip = read_labelled_posts(path, text_column, label_column, group_column)
        progress(
            f"read {path}: {len(part):,} labelled posts" + (f" ({skip:,} without a label skipped)" if skip else "")
        )
        posts.extend(part)
        skipped += skip
    reviews: list[LabelledPost] = []
    for path in review_csvs:
        rows = [r for r in read_labelled_csv(path) if not (holdout and is_holdout(r.text))]
        rows.sort(key=lambda r: zlib.crc32(r.text.encode("utf-8")))  # a deterministic sample
        picked = [
            LabelledPost(r.text, POS if r.label == 1 else NEG, f"review:{r.source}") for r in rows[:reviews_per_file]
        ]
        progress(f"read {path}: {len(picked):,} of {len(rows):,} training-side reviews used as pos / neg posts")
        reviews.extend(picked)
    train_rows = [p for p in posts if not holdout or p.fold != 0]
    held = [p for p in posts if holdout and p.fold == 0]
    present = {p.label for p in train_rows}
    if present != {0, 1, 2}:
        raise DatasetError(
            f"{', '.join(map(str, csv_paths))}: training needs all of pos, neu and neg, "
            f"found {sorted(CLASSES[i] for i in present)}"
        )

    fit_rows = [p for p in train_rows if p.fold not in (1, 2)] + reviews
    val_rows = [p for p in train_rows if p.fold in (1, 2)]
    threshold, validation = 0.5, {}
    if val_rows and {p.label for p in fit_rows} == {0, 1, 2}:
        progress(f"choosing the neg threshold: training on {len(fit_rows):,}, validating on {len(val_rows):,}")
        probe = MentionScorer(_fit(fit_rows, n_buckets, l2, max_iter, progress))
        probs = probe.probabilities([p.text for p in val_rows])
        truth = np.array([p.label for p in val_rows])
        threshold = choose_threshold(probs[:, NEG], truth == NEG, min_recall)
        validation = figures(decide(probs, threshold), truth)
        cuts, precision, recall = pr_curve(probs[:, NEG], truth == NEG)
        for r in (0.6, 0.7, 0.75, 0.8, 0.9):
            i = int(np.searchsorted(recall, r))
            if i < len(cuts):
                progress(f"  validation: cut {cuts[i]:.3f} -> neg precision {precision[i]:.3f} at recall {r}")
        progress(f"neg threshold {threshold:.3f} (validation recall floor {min_recall}): {validation}")

    progress(f"training on {len(train_rows):,} posts and {len(reviews):,} reviews, holding out {len(held):,}")
    model = _fit(train_rows + reviews, n_buckets, l2, max_iter, progress, threshold)
    report = MentionTrainReport(Path(out_path), len(train_rows), len(held), skipped, threshold, validation)
    if held:
        scorer = MentionScorer(model)
        labels = [s.label for s in scorer.classify([p.text for p in held])]  # the decision as shipped
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(held):
            groups.setdefault(p.source, []).append(i)
            if p.group:
                groups.setdefault(f"{p.source}:{p.group}", []).append(i)
        groups["all"] = list(range(len(held)))
        for name, idx in groups.items():
            report.holdout[name] = figures([labels[i] for i in idx], [held[i].label for i in idx])
            progress(f"held-out {name}: {report.holdout[name]}")
    sources = Counter(p.source for p in posts)
    model.meta = {
        "trained_on": [{"file": Path(p).name, "rows": sources[Path(p).stem]} for p in csv_paths]
        + [
            {"file": Path(p).name, "reviews_used": sum(1 for r in reviews if r.source == f"review:{Path(p).stem}")}
            for p in review_csvs
        ],
        "skipped_unlabelled": skipped,
        "holdout_rule": "crc32(text.strip()) % 10 == 0 held out; 1, 2 validate the threshold" if holdout else None,
        "threshold_rule": f"best F{DEFAULT_BETA} of neg on validation with recall >= {min_recall}",
        "validation": validation,
        "holdout": report.holdout,
        "l2": l2,
    }
    npz, _ = model.save(out_path)
    report.out_path = npz
    report.seconds = round(time.perf_counter() - t0, 1)
    progress(f"wrote {npz} ({npz.stat().st_size / 1e6:.2f} MB) in {report.seconds:.0f} s")
    return report


def train_mention_main(
    data: list[Path],
    out: Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    holdout: bool = True,
    review_csvs: Sequence[Path] = (),
    group_column: str | None = None,
    reviews_per_file: int = DEFAULT_REVIEWS_PER_FILE,
) -> int:
    """Entry point for ``jingshao nlp train --kind mention``; returns a process exit code."""

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        train_mention(
            data,
            out,
            text_column=text_column,
            label_column=label_column,
            holdout=holdout,
            review_csvs=review_csvs,
            reviews_per_file=reviews_per_file,
            group_column=group_column,
            progress=say,
        )
    except DatasetError as exc:
        say(f"error: {exc}")
        return 2
    return 0
