"""Train the ``linear`` sentiment model from labelled CSVs (``jingshao nlp train``).

The optimiser is a small L-BFGS written in numpy rather than scikit-learn: the problem is a plain
L2-regularised logistic regression over a hashed sparse matrix, which takes ~40 lines with
``np.bincount`` as the sparse mat-vec, trains the shipped model in about a minute on one core, and keeps
retraining possible for every user with the run-time dependencies only (no ``jingshao[train]`` extra,
no scipy). The model is deterministic: same CSVs and parameters give the same file.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .datasets import HOLDOUT_MOD, HOLDOUT_REM, DatasetError, LabelledReview, read_labelled_csv, split
from .features import BatchCounts, hash_ngrams, tfidf_values
from .linear import LinearModel, LinearScorer
from .text import normalize, truncate

#: Defaults chosen on inner validation folds of the training side (crc32 % 10 in 1, 2, 3), never on
#: the held-out split (see data/README.md for the table): 2**20 buckets (2**18 lost ~0.5 point to
#: collisions), L2 of 3e-6 per example (1e-5 and 1e-6 no better), NB scaling with alpha 1 (+0.7 point on
#: hotels, 3-fold mean); 4/5-grams, jieba words, head/tail n-grams, length buckets, binary tf and
#: corpus re-weighting did not help enough to pay for themselves.
DEFAULT_BUCKETS = 2**20
DEFAULT_L2 = 3e-6
DEFAULT_MAX_ITER = 200
DEFAULT_NB_ALPHA = 1.0

Progress = Callable[[str], None]


@dataclass
class TrainReport:
    out_path: Path
    n_train: int
    n_holdout: int
    per_source: dict[str, dict[str, float]] = field(default_factory=dict)  # rows / train / holdout / accuracy
    holdout_accuracy: float | None = None
    iterations: int = 0
    final_loss: float = 0.0
    seconds: float = 0.0
    model_bytes: int = 0

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["out_path"] = str(self.out_path)
        return d


def _quiet(_: str) -> None:
    pass


def _review_text(text: str) -> str:
    return truncate(normalize(text))


def featurize(
    texts: Sequence[str],
    n_buckets: int,
    ngram_max: int,
    chunk: int = 4096,
    prepare: Callable[[str], str] = _review_text,
) -> BatchCounts:
    """Counts for many raw texts, each prepared as at scoring time (``prepare``: the review model's
    normalise-and-truncate by default; the mention model passes ``clean_post``), in chunks."""
    docs, buckets, counts = [], [], []
    for start in range(0, len(texts), chunk):
        part = [prepare(t) for t in texts[start : start + chunk]]
        c = hash_ngrams(part, n_buckets, ngram_max)
        docs.append(c.doc + start)
        buckets.append(c.bucket)
        counts.append(c.count)
    if not docs:
        z = np.zeros(0, dtype=np.int64)
        return BatchCounts(0, z, z, np.zeros(0))
    return BatchCounts(len(texts), np.concatenate(docs), np.concatenate(buckets), np.concatenate(counts))


def nb_ratio(counts: BatchCounts, y: np.ndarray, n_buckets: int, alpha: float = DEFAULT_NB_ALPHA) -> np.ndarray:
    """|log-count ratio| per bucket (Wang & Manning 2012, "NBSVM"): how differently often a bucket
    occurs in positive and negative texts, from document frequencies smoothed by ``alpha``.

    Multiplied into the per-bucket scale it lets the regulariser spend less on n-grams that carry no
    polarity (的, 了, 房间) and more on those that do (不错, 太差), which logistic regression alone learns
    poorly from few examples.
    """
    pos = np.bincount(counts.bucket, weights=y[counts.doc], minlength=n_buckets) + alpha
    neg = np.bincount(counts.bucket, weights=1.0 - y[counts.doc], minlength=n_buckets) + alpha
    return np.abs(np.log(pos / pos.sum()) - np.log(neg / neg.sum()))


def minimize_lbfgs(
    loss_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    *,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = 1e-7,
    memory: int = 10,
    progress: Progress = _quiet,
) -> tuple[np.ndarray, int, float]:
    """L-BFGS with Armijo backtracking over a flat parameter vector; returns (theta, iterations, loss).

    Shared by the review model (binary) and the mention model (three classes). Stops on a flat
    gradient or after three iterations in a row that barely moved the loss.
    """
    f, g = loss_grad(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    it = stalled = 0
    for it in range(1, max_iter + 1):
        # two-loop recursion
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = (s @ q) / (yv @ s)
            alphas.append(a)
            q -= a * yv
        if y_hist:
            q *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1])
        else:
            q /= max(np.linalg.norm(q), 1e-12)
        for s, yv, a in zip(s_hist, y_hist, reversed(alphas), strict=True):
            beta = (yv @ q) / (yv @ s)
            q += (a - beta) * s
        direction = -q
        slope = g @ direction
        if slope >= 0:  # not a descent direction: restart from steepest descent
            s_hist.clear()
            y_hist.clear()
            direction, slope = -g, -(g @ g)
        step = 1.0
        while True:  # Armijo backtracking
            new = theta + step * direction
            f_new, g_new = loss_grad(new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_vec, y_vec = new - theta, g_new - g
        if s_vec @ y_vec > 1e-12:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        improvement = f - f_new
        theta, f, g = new, f_new, g_new
        if it % 20 == 0:
            progress(f"  iteration {it}: loss {f:.5f}")
        # Stop on a flat gradient, or after three iterations in a row that barely moved the loss.
        stalled = stalled + 1 if improvement < tol * max(1.0, abs(f)) else 0
        if np.abs(g).max() < 1e-6 or stalled >= 3:
            break
    return theta, it, f


def fit_logistic(
    doc: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    n_cols: int,
    *,
    l2: float = DEFAULT_L2,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = 1e-7,
    memory: int = 10,
    progress: Progress = _quiet,
) -> tuple[np.ndarray, float, int, float]:
    """Minimise mean logistic loss + l2/2 |w|^2 (bias unpenalised) by L-BFGS.

    The sparse matrix is given as COO arrays (``doc``, ``col``, ``val``). Returns (w, b, iters, loss).
    """
    n = len(y)
    sign = np.where(y > 0, 1.0, -1.0)

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = np.bincount(doc, weights=val * w[col], minlength=n) + b
        m = sign * z
        loss = float(np.logaddexp(0.0, -m).mean()) + 0.5 * l2 * float(w @ w)
        r = -sign / (1.0 + np.exp(np.clip(m, -35, 35))) / n  # d loss / d z
        g = np.empty_like(theta)
        g[:-1] = np.bincount(col, weights=val * r[doc], minlength=n_cols) + l2 * w
        g[-1] = r.sum()
        return loss, g

    theta = np.zeros(n_cols + 1)
    theta[-1] = np.log((y.mean() + 1e-9) / (1 - y.mean() + 1e-9))
    theta, it, f = minimize_lbfgs(loss_grad, theta, max_iter=max_iter, tol=tol, memory=memory, progress=progress)
    return theta[:-1], float(theta[-1]), it, f


def train(
    csv_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    holdout: bool = True,
    n_buckets: int = DEFAULT_BUCKETS,
    ngram_max: int = 3,
    l2: float = DEFAULT_L2,
    max_iter: int = DEFAULT_MAX_ITER,
    nb_alpha: float | None = DEFAULT_NB_ALPHA,
    progress: Progress = _quiet,
) -> TrainReport:
    """Train a linear model on ``csv_paths`` and write it to ``out_path`` (``.npz`` + ``.json``).

    ``holdout=True`` leaves the fixed held-out split (:func:`jingshao.nlp.datasets.is_holdout`) out of
    training and reports accuracy on it per source file; ``holdout=False`` trains on every row.
    ``nb_alpha`` (None: off) scales every bucket by its naive-Bayes log-count ratio (:func:`nb_ratio`).
    Raises :class:`~jingshao.nlp.datasets.DatasetError` for unusable input.
    """
    t0 = time.perf_counter()
    if not csv_paths:
        raise DatasetError("no training CSV given")
    rows: list[LabelledReview] = []
    for p in csv_paths:
        part = read_labelled_csv(p)
        progress(f"read {p}: {len(part):,} labelled reviews")
        rows.extend(part)
    if holdout:
        train_rows, held_rows = split(rows)
    else:
        train_rows, held_rows = rows, []
    labels = {r.label for r in train_rows}
    if labels != {0, 1}:
        raise DatasetError(
            f"{', '.join(map(str, csv_paths))}: training needs both labels 1 and 0, found {sorted(labels)}"
        )
    progress(f"training on {len(train_rows):,} reviews, holding out {len(held_rows):,}")

    counts = featurize([r.text for r in train_rows], n_buckets, ngram_max)
    df = np.bincount(counts.bucket, minlength=n_buckets)
    y = np.array([r.label for r in train_rows], dtype=np.float64)
    idf = np.log((1.0 + len(train_rows)) / (1.0 + df)) + 1.0
    if nb_alpha is not None:
        idf = idf * nb_ratio(counts, y, n_buckets, nb_alpha)
    # The model's per-bucket scale ("idf" in the file): idf, times |NB ratio| unless nb_alpha is None.
    idf = idf.astype(np.float16).astype(np.float32)  # train with the precision the file stores
    vals = tfidf_values(counts, idf)
    progress(f"features: {len(vals):,} non-zeros, {int((df > 0).sum()):,} of {n_buckets:,} buckets used")

    w, b, iters, loss = fit_logistic(
        counts.doc, counts.bucket, vals, y, n_buckets, l2=l2, max_iter=max_iter, progress=progress
    )
    progress(f"optimiser stopped after {iters} iterations, loss {loss:.5f}")

    sources = Counter(r.source for r in rows)
    train_sources = Counter(r.source for r in train_rows)
    model = LinearModel(
        w.astype(np.float32),
        idf,
        b,
        ngram_max,
        meta={
            "trained_on": [
                {"file": Path(p).name, "rows": sources[Path(p).stem], "train_rows": train_sources[Path(p).stem]}
                for p in csv_paths
            ],
            "holdout_rule": f"crc32(review.strip()) % {HOLDOUT_MOD} == {HOLDOUT_REM} held out" if holdout else None,
            "l2": l2,
            "nb_alpha": nb_alpha,
            "iterations": iters,
        },
    )
    # Evaluate with the rounded float16 weights the file will hold.
    model.weights = model.weights.astype(np.float16).astype(np.float32)
    report = TrainReport(Path(out_path), len(train_rows), len(held_rows), iterations=iters, final_loss=loss)
    correct_total = 0
    for src in sources:
        held = [r for r in held_rows if r.source == src]
        entry: dict[str, float] = {"rows": sources[src], "train": train_sources[src], "holdout": len(held)}
        if held:
            scores = LinearScorer(model).score([r.text for r in held])
            correct = int(((scores >= 0.5).astype(int) == np.array([r.label for r in held])).sum())
            correct_total += correct
            entry["accuracy"] = round(correct / len(held), 4)
            progress(f"held-out accuracy {src}: {entry['accuracy']:.4f} ({len(held):,} reviews)")
        report.per_source[src] = entry
    if held_rows:
        report.holdout_accuracy = round(correct_total / len(held_rows), 4)
        model.meta["holdout_accuracy"] = {s: e.get("accuracy") for s, e in report.per_source.items()}
    npz, _ = model.save(out_path)
    report.out_path = npz
    report.model_bytes = npz.stat().st_size
    report.seconds = round(time.perf_counter() - t0, 1)
    progress(f"wrote {npz} ({report.model_bytes / 1e6:.2f} MB) in {report.seconds:.0f} s")
    return report


def train_main(data: list[Path], out: Path, *, holdout: bool = True) -> int:
    """Entry point for ``jingshao nlp train --data CSV... --out PATH``; returns a process exit code."""

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        report = train(data, out, holdout=holdout, progress=say)
    except DatasetError as exc:
        say(f"error: {exc}")
        return 2
    if report.holdout_accuracy is not None:
        say(f"overall held-out accuracy {report.holdout_accuracy:.4f} on {report.n_holdout:,} reviews")
    return 0


if __name__ == "__main__":  # pragma: no cover - convenience: python -m jingshao.nlp.train OUT CSV...
    raise SystemExit(train_main([Path(a) for a in sys.argv[2:]], Path(sys.argv[1])))
