"""Preference-tag benchmark: the open-vocabulary tagger beside the lexicon tagger, same run, no category.

    .venv/bin/python bench/tags.py [--model BASE] [--speed-sample N] [--rounds N] [--speed-only]

Held-out split (never trained on, never tuned on; see jingshao.nlp.train_tags): Zhijiang Cup 2019
cosmetics reviews with crc32(review) % 10 == 0, DiaASQ Weibo phone threads with crc32(doc_id) % 10 == 0.

Per set, for the lexicon tagger (the baseline, category 'general' as `jingshao nlp tags` ran without
--category; also with the set's own category) and for ``extract_tags`` (auto = lexicon + span tagger):

- aspect recall: a labelled aspect is found when a tag's aspect overlaps it; an implicit one (no aspect
  written: 很好用) when a tag's opinion overlaps its opinion. Explicit-only recall beside it, and over
  distinct surfaces per sentence (拍照 written twice in a sentence is found when either is).
- aspect precision: tags whose aspect overlaps a labelled aspect (or, implicit tags, whose opinion
  overlaps a labelled implicit opinion), over all tags.
- opinion recall: labelled opinions overlapped by a tag's opinion.
- pairs P / R: a labelled (aspect, opinion) pair is matched by a tag whose opinion overlaps its opinion
  and whose aspect overlaps its aspect (implicit pairs: any aspect).
- polarity accuracy (headline): once per distinct labelled (aspect span, opinion span) with a positive or
  negative label that a tag matches; right when the tag's polarity is among the polarities labelled on
  those spans (the usual set-based triplet match: a predicted triple is right when it is in the gold
  set). DiaASQ labels polarity relative to a target phone, so the same spans can carry both (iqoo充电比
  小米强: positive for iqoo, negative for 小米); a tagger with no target cannot say both. Printed beside
  it: ``strict``, every (spans, polarity) label counted on its own (such a pair is at best half right;
  the figure before session 5), and ``unambiguous``, only the span pairs labelled with one polarity,
  with the number of span pairs labelled with both.
- tags per sentence (tags with an opinion) beside the labelled pairs per sentence; mentions per sentence
  (an aspect named with no opinion, polarity ``neu``) beside the labelled aspects no pair takes.
- aspect recall and precision count mentions (the mind map counts them); pair precision does not.

Speed: reviews per second of ``extract_tags`` (the span-tagger path, auto) and of the lexicon tagger over
held-out shopping reviews plus both sets, timed interleaved (lexicon, auto, lexicon, auto ...) for
``--rounds`` rounds (default 5), min / median / max. The clock is ``time.process_time``: CPU time of
this single-threaded process, i.e. of one core, so other jobs on a shared machine do not count (they
still slow it a little through caches and frequency; the load average is printed). Every round starts
with the caches cleared; imports, the model and jieba's dictionary are loaded before the timers. An md5
of every tag of every bench text is printed, so a speed change can be checked to change no output. Load
time of the span tagger in a fresh process (model only, and with jieba's dictionary).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

from jingshao.core.tags import tag_to_row
from jingshao.nlp.tags import Tag, extract_lexicon_tags, extract_tags
from jingshao.nlp.train_tags import default_sources, evaluate, iter_heldout


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def print_row(name: str, s: dict[str, float]) -> None:
    print(
        f"  {name:<28} aspect R {s['aspect_R']:.3f} (explicit {s['explicit_R']:.3f}, "
        f"distinct surfaces {s['explicit_distinct_R']:.3f})  P {s['aspect_P']:.3f}  "
        f"F1 {_f1(s['aspect_P'], s['aspect_R']):.3f} | opinion R {s['opinion_R']:.3f} | pairs P {s['pair_P']:.3f} "
        f"R {s['pair_R']:.3f} | polarity {s['polarity']:.3f} (strict {s['polarity_strict']:.3f}, "
        f"unambiguous {s['polarity_unambiguous']:.3f}; {s['conflicting_pairs']}/{s['polar_pairs']} span pairs "
        f"labelled both) | tags/sent {s['tags_per_sent']:.2f} "
        f"(labelled {s['gold_per_sent']:.2f}) | mentions/sent {s['mentions_per_sent']:.2f} "
        f"(labelled {s['gold_mentions_per_sent']:.2f})"
    )


def clear_caches() -> None:
    from jingshao.nlp import aspects, tags

    for cache in (
        tags._TOK_CACHE,
        tags._READ_CACHE,
        tags._ASPECT_CACHE,
        tags._CLAUSE_CACHE,
        aspects._WORD_CACHE,
        aspects._CUT_CACHE,
    ):
        cache.clear()


def shopping_heldout(path: Path, limit: int) -> list[str]:
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            t = (row.get("review") or "").strip()
            if t and zlib.crc32(t.encode("utf-8")) % 10 == 0:
                out.append(t)
                if len(out) >= limit:
                    break
    return out


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def load_times(model: str | None) -> tuple[float, float]:
    code = (
        "import time;t=time.perf_counter();from jingshao.nlp.aspects import SpanTagger;"
        f"s=SpanTagger({model!r});a=time.perf_counter()-t;s.spans('续航很给力');"
        "print(a, time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="tagger base path (default: the shipped nlp/data/tags-crf)")
    ap.add_argument("--speed-sample", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (min / median / max)")
    ap.add_argument("--speed-only", action="store_true", help="skip the accuracy tables")
    args = ap.parse_args()
    src = default_sources()
    zj = [g for g in iter_heldout(src["zhijiang"], [])]  # type: ignore[arg-type]
    dq = [g for g in iter_heldout(None, src["diaasq"])]  # type: ignore[arg-type]

    def auto(t: str) -> list[Tag]:
        return extract_tags(t, None, model_path=args.model)

    def model_only(t: str) -> list[Tag]:
        return extract_tags(t, None, method="model", model_path=args.model)

    sets = (("Zhijiang 2019 cosmetics", zj, "beauty"), ("DiaASQ Weibo phones", dq, "electronics"))
    for name, golds, cat in () if args.speed_only else sets:
        print(f"{name}: {len(golds)} held-out sentences, no category given")
        print_row("lexicon (baseline)", evaluate(golds, lambda t: extract_lexicon_tags(t, "general")))
        print_row(f"lexicon --category {cat}", evaluate(golds, lambda t, c=cat: extract_lexicon_tags(t, c)))
        print_row("span tagger alone", evaluate(golds, model_only))
        print_row("auto (shipped default)", evaluate(golds, auto))

    shop = Path(src["shopping"][0])  # type: ignore[index]
    texts = shopping_heldout(shop, args.speed_sample) + [g.text for g in zj + dq]
    mean_len = sum(map(len, texts)) / len(texts)
    digest = hashlib.md5()
    for t in texts:  # also loads the model and jieba's dictionary before any timer runs
        rows = [[tag_to_row(x), x.aspect_span, x.opinion_span] for x in auto(t)]
        digest.update(json.dumps(rows, ensure_ascii=False).encode("utf-8"))
    print(f"tags of the {len(texts)} speed texts (auto): md5 {digest.hexdigest()}")
    print(
        f"speed: {len(texts)} reviews (held-out shopping + both sets, mean {mean_len:.0f} chars), "
        f"one core (CPU time of this process), {args.rounds} interleaved rounds, caches cleared each round; "
        f"load average before {_load()}"
    )
    taggers = (("lexicon (baseline)", lambda t: extract_lexicon_tags(t, "general")), ("auto", auto))
    rates: dict[str, list[float]] = {label: [] for label, _ in taggers}
    for _ in range(args.rounds):
        for label, fn in taggers:
            clear_caches()  # every run starts cold: no clause or word read in an earlier run is cached
            t0 = time.process_time()
            for t in texts:
                fn(t)
            rates[label].append(len(texts) / (time.process_time() - t0))
    for label, rs in rates.items():
        print(f"  {label:<20} min {min(rs):,.0f}  median {statistics.median(rs):,.0f}  max {max(rs):,.0f} reviews/s")
    ratios = [a / b for a, b in zip(rates["auto"], rates["lexicon (baseline)"], strict=True)]
    print(
        f"  auto / lexicon per round: median {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    print(f"  load average after {_load()}")
    model_s, first_s = load_times(args.model)
    print(f"load: span tagger {model_s * 1000:.0f} ms; first tags incl. jieba's dictionary {first_s:.2f} s")


if __name__ == "__main__":
    main()
