"""Alert benchmark: rule evaluation at 10k / 100k / 1M stored mentions, and ingest-to-webhook latency.

    /tmp/venv/bin/python bench/alerts.py [--mentions 10000,100000,1000000] [--runs 3]

1. Evaluation. A fresh SQLite file gets N mentions of one brand spread over the last 8 days (the rules'
   horizon), 20% negative, plus a burst in the last hour, and N/10 of a second brand. Reported, each the
   median of ``--runs``: the plain ``SELECT count(*)`` of the brand's mentions in the window (the floor:
   touching the rows at all), reading every one as rule inputs (``facts.brand_mentions``, the path before
   the per-minute counts) and reading what an evaluation reads now (``facts.crisis_inputs``: hourly
   counts plus the event window's negatives), the whole ``evaluate`` (facts + rules + state machine +
   outbox, one transaction) both ways (their alerts must be equal), the evaluation again after one new
   late mention, and the same for the N/10 brand.
   Each size in ``--mentions`` gets its own database, measured in the same run; the ratios of every
   size's evaluation to the smallest one's are printed last, for both paths (the target: 1M <= 5x 10k).
2. Latency. For each run, a new brand's crisis (50 negative mentions, one from a national outlet) is
   inserted, evaluated and dispatched to a local DingTalk-like receiver (signature and keyword checked);
   the time from the start of the insert to the receiver accepting the red alert is reported.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from jingshao.alerts import facts
from jingshao.alerts.channels import build_channel, parse_channel_config
from jingshao.alerts.dispatcher import Dispatcher
from jingshao.alerts.engine import evaluate
from jingshao.alerts.settings import AlertsConfig
from jingshao.crawlers.config import BrandConfig
from jingshao.demo.webhooks import ChatReceivers
from jingshao.storage.db import Database, open_database
from jingshao.storage.models import Mention

TEXTS = [
    "蜜橙面霜用了一周皮肤变好了",
    "客服态度很差，退货拖了半个月",
    "包装精致，送人很合适",
    "味道有点冲，不太喜欢",
    "性价比一般",
    "物流很快，第二天就到了",
]


def mention_rows(brand: str, count: int, now: datetime, rng: random.Random, *, burst: int = 0) -> list[dict]:
    rows = []
    span = 8 * 24 * 3600
    for i in range(count + burst):
        if i < count:
            at = now - timedelta(seconds=rng.uniform(60, span))
            negative = rng.random() < 0.2
        else:
            at = now - timedelta(seconds=rng.uniform(1, 3500))
            negative = True
        key = hashlib.sha256(f"{brand}/{i}".encode()).hexdigest()
        text = f"{rng.choice(TEXTS)} #{i}"
        rows.append(
            {
                "brand": brand,
                "source": "某论坛",
                "authority": 3 if (i >= count and i == count) else 1,
                "url": f"https://bbs.example/{brand}/{i}",
                "url_key": key,
                "content_key": key,
                "title": text[:20],
                "text": text,
                "posted_at": at,
                "sentiment": 0.08 if negative else 0.85,
                "label": "neg" if negative else "pos",
                "first_seen_at": at,
            }
        )
    return rows


def bulk_insert(db: Database, rows: list[dict]) -> None:
    with db.session() as s:
        for start in range(0, len(rows), 5000):
            s.execute(insert(Mention), rows[start : start + 5000])


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bench_evaluation(workdir: Path, n: int, runs: int) -> tuple[float, float, float]:
    db = open_database(f"sqlite:///{workdir / f'bench-{n}.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(42)
    big, small = BrandConfig(name="蜜橙"), BrandConfig(name="小橙")
    t = time.perf_counter()
    bulk_insert(db, mention_rows(big.name, n, now, rng, burst=60))
    bulk_insert(db, mention_rows(small.name, n // 10, now, rng, burst=60))
    print(f"generated {n:,} + {n // 10:,} mentions (+60 burst each) in {time.perf_counter() - t:.1f} s")
    config = AlertsConfig()
    thresholds = config.crisis_thresholds(big)
    start = now - timedelta(hours=thresholds.horizon_hours)

    def count() -> int:
        with db.session() as s:
            return s.scalar(
                select(func.count())
                .select_from(Mention)
                .where(Mention.brand == big.name, Mention.posted_at > start, Mention.posted_at <= now)
            )

    def load_full() -> int:
        with db.session() as s:
            return len(facts.brand_mentions(s, big.name, now, thresholds))

    def load() -> int:
        with db.session() as s:
            return len(facts.crisis_inputs(s, big.name, now, thresholds)[0])

    def evaluate_full() -> object:
        """Today's path before the counts (issue 15): every mention of the horizon read as a fact."""
        counted_inputs = facts.crisis_inputs
        facts.crisis_inputs = lambda s, b, n, t: (facts.brand_mentions(s, b, n, t), None)  # type: ignore[assignment,return-value]
        try:
            return evaluate(db, config, [big], [], now, sources=None)
        finally:
            facts.crisis_inputs = counted_inputs

    # The counts path first: the full read of a million rows evicts the page cache it would then pay for.
    t_count, counted = timed(count, runs)
    t_load, loaded = timed(load, runs)
    t_eval, report = timed(lambda: evaluate(db, config, [big], [], now, sources=None), runs)
    full_runs = runs if n < 500_000 else 1  # a minute each at 1M on a loaded machine
    t_full, loaded_full = timed(load_full, full_runs)
    t_eval_full, report_full = timed(evaluate_full, full_runs)
    assert report.lines() == report_full.lines(), "the counts and the full read disagree"  # type: ignore[attr-defined]
    t_small, _ = timed(lambda: evaluate(db, config, [small], [], now), runs)
    after = []
    for run in range(runs):  # one new (late, backdated) mention each time, then the next evaluation
        late = mention_rows(big.name, 1, now, rng)
        late[0].update(url_key=f"late{run}", content_key=f"late{run}", url=f"https://bbs.example/late{run}")
        bulk_insert(db, late)
        t = time.perf_counter()
        evaluate(db, config, [big], [], now, sources=None)
        after.append(time.perf_counter() - t)
    t_after = statistics.median(after)
    print(f"SELECT count(*) of {counted:,} mentions in the window: {t_count * 1000:8.1f} ms")
    print(
        f"full read as rule inputs ({loaded_full:,} MentionFact):   {t_full * 1000:8.1f} ms  "
        f"({t_full / t_count:.1f}x the count; the path before the counts)"
    )
    print(
        f"counts + event-window negatives ({loaded:,} facts): {t_load * 1000:8.1f} ms  "
        f"({t_load / t_full:.3f}x the full read)"
    )
    print(f"evaluate with the full read (before):      {t_eval_full * 1000:8.1f} ms")
    print(
        f"evaluate with the counts (now):            {t_eval * 1000:8.1f} ms  "
        f"({t_eval / t_eval_full:.3f}x before; rules+state = {(t_eval - t_load) * 1000:.1f} ms)"
    )
    print(f"evaluate after one new mention:            {t_after * 1000:8.1f} ms")
    print(
        f"evaluate, {n // 10:,}-mention brand:                  {t_small * 1000:8.1f} ms  "
        f"(ratio {t_eval / t_small:.1f}x)"
    )
    print(f"  -> {report.lines()[0]}")  # type: ignore[union-attr]
    db.dispose()
    return t_eval, t_eval_full, t_after


def bench_latency(workdir: Path, runs: int) -> None:
    db = open_database(f"sqlite:///{workdir / 'latency.db'}")
    config = AlertsConfig()
    rng = random.Random(7)
    latencies = []
    with ChatReceivers() as chat:
        channel = build_channel(parse_channel_config(chat.channel_settings("dingtalk", "钉钉群")))
        with Dispatcher(db, {channel.name: channel}, config) as dispatcher:
            for run in range(runs):
                brand = BrandConfig(name=f"品牌{run}")
                before = len(chat.accepted("dingtalk"))
                start_wall = datetime.now(UTC)
                t = time.perf_counter()
                now = datetime.now(UTC)
                bulk_insert(db, mention_rows(brand.name, 0, now, rng, burst=50))
                evaluate(db, config, [brand], [channel], datetime.now(UTC))
                t_eval = time.perf_counter() - t
                dispatcher.run_once(datetime.now(UTC))
                accepted = chat.accepted("dingtalk")[before:]
                assert accepted and "红色预警" in accepted[0].payload["markdown"]["text"], "no red alert arrived"
                latency = (accepted[0].at - start_wall).total_seconds()
                latencies.append(latency)
                print(
                    f"run {run}: insert+evaluate {t_eval * 1000:6.1f} ms, accepted by the receiver after "
                    f"{latency * 1000:6.1f} ms"
                )
    print(
        f"ingest-to-webhook latency: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms over {runs} runs (127.0.0.1, DingTalk-like receiver, signed)"
    )
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", default="10000,100000,1000000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = sorted(int(x) for x in args.mentions.split(",") if x.strip())
    with tempfile.TemporaryDirectory(prefix="jingshao-bench-") as tmp:
        evals = {}
        for n in sizes:
            print(f"--- {n:,} mentions ---")
            evals[n] = bench_evaluation(Path(tmp), n, args.runs)
            print()
        smallest = sizes[0]
        for n in sizes[1:]:
            for i, what in enumerate(("with the counts", "with the full read (before)", "after one new mention")):
                print(
                    f"evaluation {what} at {n:,} / at {smallest:,} mentions: {evals[n][i] / evals[smallest][i]:.1f}x "
                    f"({evals[n][i] * 1000:.1f} ms / {evals[smallest][i] * 1000:.1f} ms)"
                )
        print()
        bench_latency(Path(tmp), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
