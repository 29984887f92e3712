"""Crisis replay: ten ordinary days of real posts, then a three-phase crisis, through the real backtest.

    .venv/bin/python bench/crisis_replay.py [--shared PATH] [--seed N] [--step 10m]

Posts come from the held-out split of ``shared/data/social/*.train.csv`` (crc32(text) % 10 == 0), which
the shipped mention model never trained on. Ordinary chatter is about 8 posts an hour on a daily cycle
(quiet at night, busiest in the evening), 70% neutral, 22% positive and 8% negative by their human
labels, none with a crisis word. On the last evening three two-hour phases add 8, then 30, then 100
human-labelled negative posts an hour on top of the chatter. Every post is stored as a mention of one
brand with its time; the mentions are then labelled three ways, each in its own database:

- ``mention model``: the shipped mention model's calibrated label (what the product stores today);
- ``oracle``: the human label (the best any model could do with these rules);
- ``old counter``: the review model's P(positive) <= 0.2 (what the product counted before; baseline).

``jingshao alerts backtest``'s engine (:func:`jingshao.alerts.backtest.backtest`) replays the default
crisis rules and the alert state machine every ``--step`` from day 8 (days 1-7 are the rules' baseline
week) to six hours after the crisis began. Printed per arm: false alerts in days 8-10 before the crisis
(opened alerts of any level), and minutes from each phase's start to the first alert at that phase's
level or above (blue for the 8-an-hour phase, yellow for 30, red for 100), target in brackets.

The held-out pool is small (about 1,000 neutral posts for 1,350 neutral slots), so ordinary posts are
drawn in shuffled rounds: a post repeats only after its whole pool was used, days later, and each copy
is stored as its own mention (own URL and content key). The crisis negatives are set aside first and
never appear as ordinary chatter.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from jingshao.alerts.rules.crisis import find_crisis_word  # noqa: E402
from jingshao.nlp.mention import CLASSES, get_mention_scorer  # noqa: E402
from jingshao.nlp.scorer import get_scorer  # noqa: E402
from jingshao.nlp.train_mention import LabelledPost, read_labelled_posts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BRAND = "蜜橙"
DAYS = 10
PER_HOUR = 8.0
MIX = {"neu": 0.70, "pos": 0.22, "neg": 0.08}
PHASES = (("blue", 8, 60), ("yellow", 30, 45), ("red", 100, 40))  # level, negatives an hour, target minutes
PHASE_HOURS = 2
CRISIS_HOUR = 19  # the last evening, local time
LEVEL_RANK = {"blue": 1, "yellow": 2, "red": 3}


def default_shared() -> Path:
    env = os.environ.get("JINGSHAO_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@dataclass(frozen=True)
class Post:
    at: datetime
    text: str
    human: str  # pos / neu / neg
    crisis: bool  # one of the crisis phases' posts


def daily_rate(hour: int) -> float:
    """Posts an hour at local ``hour``: a daily cycle averaging PER_HOUR (low at 4 am, high at 8 pm)."""
    return PER_HOUR * (1.0 + 0.7 * math.cos(2 * math.pi * (hour - 20) / 24))


def build_posts(pool: Sequence[LabelledPost], start: datetime, rng: random.Random) -> tuple[list[Post], datetime]:
    by_label: dict[str, list[str]] = {c: [] for c in CLASSES}
    for p in pool:
        if find_crisis_word(p.text) is None:
            by_label[CLASSES[p.label]].append(p.text)
    negatives_left = list(by_label["neg"])
    rng.shuffle(negatives_left)
    crisis_count = sum(n * PHASE_HOURS for _, n, _ in PHASES)
    crisis_texts, by_label["neg"] = negatives_left[:crisis_count], negatives_left[crisis_count:]
    draw = {label: _cycle(texts, rng) for label, texts in by_label.items()}
    posts: list[Post] = []
    labels, weights = zip(*MIX.items(), strict=True)
    for h in range(DAYS * 24):
        hour_start = start + timedelta(hours=h)
        local_hour = (hour_start + timedelta(hours=8)).hour
        n = _poisson(daily_rate(local_hour), rng)
        for _ in range(n):
            label = rng.choices(labels, weights)[0]
            posts.append(Post(hour_start + timedelta(seconds=rng.uniform(0, 3600)), next(draw[label]), label, False))
    crisis_start = start + timedelta(days=DAYS - 1, hours=CRISIS_HOUR)  # start is midnight Beijing: 19:00 on day 10
    for i, (_, per_hour, _) in enumerate(PHASES):
        phase_start = crisis_start + timedelta(hours=PHASE_HOURS * i)
        for k in range(per_hour * PHASE_HOURS):
            text = crisis_texts.pop()
            at = phase_start + timedelta(seconds=(k + rng.random()) * 3600 / per_hour)
            posts.append(Post(at, text, "neg", True))
    # The chatter goes on through the crisis and after it.
    for h in range(DAYS * 24, DAYS * 24 + 8):
        hour_start = start + timedelta(hours=h)
        for _ in range(_poisson(daily_rate((hour_start + timedelta(hours=8)).hour), rng)):
            label = rng.choices(labels, weights)[0]
            posts.append(Post(hour_start + timedelta(seconds=rng.uniform(0, 3600)), next(draw[label]), label, False))
    posts.sort(key=lambda p: p.at)
    return posts, crisis_start


def _cycle(texts: Sequence[str], rng: random.Random) -> Iterator[str]:
    """The texts in a shuffled order, again and again: a post repeats only after the whole pool was used."""
    pool = list(texts)
    while True:
        rng.shuffle(pool)
        yield from pool


def _poisson(lam: float, rng: random.Random) -> int:
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def store(
    url: str, posts: Sequence[Post], labels: Sequence[str], p_pos: Sequence[float], p_neg: Sequence[float]
) -> None:
    from jingshao.crawlers.mentionparse import content_key, url_key
    from jingshao.storage.db import open_database
    from jingshao.storage.repository import insert_mentions

    db = open_database(url)
    rows = []
    for i, (p, label, pp, pn) in enumerate(zip(posts, labels, p_pos, p_neg, strict=True)):
        link = f"https://weibo.example/replay/{i}"
        rows.append(
            {
                "brand": BRAND,
                "source": "微博",
                "authority": 1,
                "url": link,
                "url_key": url_key(link),
                "content_key": content_key(None, f"{i}:{p.text}"),
                "title": None,
                "text": p.text,
                "author": None,
                "posted_at": p.at,
                "sentiment": pp,
                "negative_prob": pn,
                "label": label,
            }
        )
    with db.session() as s:
        insert_mentions(s, rows)
    db.engine.dispose()


def replay(url: str, start: datetime, end: datetime, step: timedelta) -> list:
    """The product's backtest with default alert settings: crisis rules for the one brand."""
    from jingshao.alerts.backtest import backtest
    from jingshao.alerts.settings import AlertsConfig
    from jingshao.crawlers.config import BrandConfig

    return backtest(AlertsConfig(), url, start, end, step, BRAND, brands=[BrandConfig(name=BRAND)])


def summarise(events: Sequence, crisis_start: datetime) -> tuple[int, list[float | None], list[str]]:
    crisis = [e for e in events if e.kind == "crisis"]
    false_alerts = [e for e in crisis if e.at < crisis_start and e.transition in ("opened", "escalated")]
    minutes: list[float | None] = []
    for i, (level, _, _) in enumerate(PHASES):
        phase_start = crisis_start + timedelta(hours=PHASE_HOURS * i)
        hits = [
            e.at
            for e in crisis
            if e.at >= phase_start
            and e.transition in ("opened", "escalated")
            and LEVEL_RANK.get(e.level, 0) >= LEVEL_RANK[level]
        ]
        # Already at that level or above when the phase starts (e.g. reached red early): 0 minutes.
        before = [
            e
            for e in crisis
            if crisis_start <= e.at < phase_start
            and e.transition in ("opened", "escalated")
            and LEVEL_RANK.get(e.level, 0) >= LEVEL_RANK[level]
        ]
        minutes.append(0.0 if before else ((min(hits) - phase_start).total_seconds() / 60 if hits else None))
    described = [f"{e.at.astimezone(UTC):%m-%d %H:%M}Z {e.transition} {e.level} {e.rule}" for e in false_alerts]
    return len(false_alerts), minutes, described


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=default_shared())
    ap.add_argument("--seed", type=int, default=1, help="first random seed")
    ap.add_argument("--runs", type=int, default=3, help="replays, seeds seed, seed+1, ...")
    ap.add_argument("--step", default="10m", help="backtest step (10m, 5m, 1h ...)")
    args = ap.parse_args(argv)
    files = sorted((args.shared / "data" / "social").glob("*.train.csv"))
    if not files:
        print(f"no social posts under {args.shared / 'data' / 'social'}; pass --shared", file=sys.stderr)
        return 2
    pool = [p for f in files for p in read_labelled_posts(f)[0] if p.fold == 0]
    for seed in range(args.seed, args.seed + args.runs):
        print(f"\n== seed {seed}")
        run_once(pool, random.Random(seed), args.step)
    print(
        "\n'neg counted/h': ordinary posts counted negative per hour (human truth: about "
        f"{PER_HOUR * MIX['neg']:.2f}); minutes are from each phase's start to the first alert at its level "
        "or above (0: that level was already reached in an earlier phase)."
    )
    return 0


def run_once(pool: Sequence[LabelledPost], rng: random.Random, step_text: str) -> None:
    start = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # midnight Beijing
    posts, crisis_start = build_posts(pool, start, rng)
    step = timedelta(minutes=int(step_text[:-1])) if step_text.endswith("m") else timedelta(hours=int(step_text[:-1]))
    texts = [p.text for p in posts]
    ordinary = [p for p in posts if not p.crisis]
    print(
        f"{len(posts):,} posts from {len(pool):,} held-out ones: {len(ordinary):,} ordinary "
        f"({sum(p.human == 'neg' for p in ordinary) / len(ordinary):.1%} negative by human label), "
        f"{len(posts) - len(ordinary)} crisis negatives; crisis from {crisis_start:%Y-%m-%d %H:%M} UTC; "
        f"backtest every {step_text} from day 8"
    )

    scores = get_mention_scorer().classify(texts)
    p_review = get_scorer("linear").score(texts)
    arms = {
        "mention model": ([s.label for s in scores], [s.pos for s in scores], [s.neg for s in scores]),
        "oracle (human labels)": (
            [p.human for p in posts],
            [1.0 if p.human == "pos" else 0.0 for p in posts],
            [1.0 if p.human == "neg" else 0.0 for p in posts],
        ),
        "old counter (review P<=0.2)": (
            ["neg" if x <= 0.2 else "neu" for x in p_review],
            list(map(float, p_review)),
            [1 - float(x) for x in p_review],
        ),
    }
    replay_from = start + timedelta(days=7)
    replay_to = crisis_start + timedelta(hours=PHASE_HOURS * len(PHASES))
    header = (
        f"{'arm':<30}{'false alerts':>13}"
        + "".join(f"{f'{lvl} ({n}/h) [<= {t}]':>22}" for lvl, n, t in PHASES)
        + f"{'neg counted/h':>15}{'seconds':>9}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (labels, pp, pn) in arms.items():
            url = f"sqlite:///{Path(tmp) / (str(len(rows)) + '.db')}"
            store(url, posts, labels, pp, pn)
            t0 = time.perf_counter()
            events = replay(url, replay_from, replay_to, step)
            seconds = time.perf_counter() - t0
            n_false, minutes, described = summarise(events, crisis_start)
            ordinary_neg = sum(1 for p, lab in zip(posts, labels, strict=True) if not p.crisis and lab == "neg")
            rate = ordinary_neg / (len({p.at.replace(minute=0, second=0, microsecond=0) for p in ordinary}) or 1)
            cells = "".join(f"{'never' if m is None else f'{m:.0f} min':>22}" for m in minutes)
            rows.append(f"{name:<30}{n_false:>13}{cells}{rate:>15.2f}{seconds:>9.1f}")
            for d in described:
                rows.append(f"{'':<30}  false: {d}")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    raise SystemExit(main())
