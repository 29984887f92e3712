"""Train the aspect / opinion span tagger (:mod:`jingshao.nlp.aspects`) and its tables.

Data, all read from the shared corpora (or the user's own files of the same shape):

- Zhijiang Cup 2019 cosmetics (``Train_reviews.csv`` + ``Train_labels.csv``): aspect and opinion
  character offsets, category, polarity; ``_`` = implicit aspect.
- DiaASQ Weibo phone threads (``train.json``, ``valid.json``, MIT): one sequence per sentence; aspect
  spans and opinion spans with polarity (targets, the phone names, are not aspects).
- Weak labels (optional, review CSVs given with ``--data``; the shipped model has none, see
  :func:`default_sources`): the lexicon tagger's tags on short reviews, located in the text.

Held-out split (never trained on, never tuned on): a Zhijiang review when ``crc32(review) % 10 == 0``,
a DiaASQ thread when ``crc32(doc_id) % 10 == 0`` (whole threads, so replies to a held-out post are not
trained on); the weak-label reviews are taken only from the sentiment corpora's training side
(``crc32(review.strip()) % 10 != 0``).

Choices (features, regularisation, iterations, weak labels, pairing rules) were made on a development
fold of the training side, whole threads and reviews with ``crc32("dev:" + id) % 5 == 0``
(``Gold.group``), never on the held-out split; the held-out figures were measured once at the end.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jingshao.core.textfold import fold

from .aspects import MODEL_NAME, labels_from_spans, sequence_features
from .tags import Tag, _place
from .text import normalize

POL = {"正面": "P", "负面": "N", "中性": "U", "pos": "P", "neg": "N", "neu": "U"}
#: Zhijiang's categories in the project's aspect names (the lexicon says 客服 and 效果).
ZJ_CATEGORY = {"服务": "客服", "功效": "效果"}


@dataclass
class Gold:
    """One labelled sentence: folded text, spans and (aspect span or None, opinion span, polarity) pairs."""

    source: str
    text: str
    aspects: list[tuple[int, int]] = field(default_factory=list)
    opinions: list[tuple[int, int, str]] = field(default_factory=list)  # start, end, P/N/U
    pairs: list[tuple[tuple[int, int] | None, tuple[int, int], str, str]] = field(default_factory=list)
    # (aspect span or None when implicit, opinion span, polarity, category or '')
    heldout: bool = False
    group: str = ""  # review id or thread id: development folds split whole threads, like the held-out split

    def labels(self) -> list[str]:
        spans = [(s, e, "A") for s, e in self.aspects] + [(s, e, k) for s, e, k in self.opinions]
        return labels_from_spans(len(self.text), spans)


def heldout_key(key: str) -> bool:
    return zlib.crc32(key.encode("utf-8")) % 10 == 0


def read_zhijiang(folder: str | Path) -> list[Gold]:
    folder = Path(folder)
    with open(folder / "Train_reviews.csv", encoding="utf-8-sig", newline="") as fh:
        reviews = {r["id"]: r["Reviews"] for r in csv.DictReader(fh)}
    with open(folder / "Train_labels.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id: dict[str, Gold] = {}
    for rid, text in reviews.items():
        by_id[rid] = Gold("zhijiang", fold(text), heldout=heldout_key(text), group=rid)
    for r in rows:
        g = by_id.get(r["id"])
        if g is None:
            continue
        pol = POL.get(r["Polarities"], "U")
        a = None
        if r["AspectTerms"] != "_" and r["A_start"].strip():
            a = (int(r["A_start"]), int(r["A_end"]))
            if a not in g.aspects:
                g.aspects.append(a)
        if r["OpinionTerms"] == "_" or not r["O_start"].strip():
            continue
        o = (int(r["O_start"]), int(r["O_end"]))
        if all(o != (s, e) for s, e, _ in g.opinions):
            g.opinions.append((*o, pol))
        g.pairs.append((a, o, pol, ZJ_CATEGORY.get(r["Categories"], r["Categories"])))
    return list(by_id.values())


def _thread_text(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join a DiaASQ sentence's tokens (CJK one per token, Latin words whole) into text with offsets."""
    out, offs, pos = [], [], 0
    for k, tok in enumerate(tokens):
        prev = tokens[k - 1][-1:] if k else ""
        if tok[:1].isascii() and tok[:1].isalnum() and prev.isascii() and prev.isalnum():
            out.append(" ")
            pos += 1
        offs.append((pos, pos + len(tok)))
        out.append(tok)
        pos += len(tok)
    return "".join(out), offs


def read_diaasq(paths: Sequence[str | Path]) -> list[Gold]:
    golds: list[Gold] = []
    for path in paths:
        for doc in json.loads(Path(path).read_text(encoding="utf-8")):
            held = heldout_key(str(doc["doc_id"]))
            sents = [s.split() for s in doc["sentences"]]
            starts, acc = [], 0
            for toks in sents:
                starts.append(acc)
                acc += len(toks)
            made = []
            for toks in sents:
                text, offs = _thread_text(toks)
                made.append((Gold("diaasq", fold(text), heldout=held, group=str(doc["doc_id"])), offs))

            def locate(s: int, e: int, sents=sents, starts=starts, made=made):
                if s < 0 or e <= s:
                    return None
                for k in range(len(sents) - 1, -1, -1):
                    if starts[k] <= s:
                        ls, le = s - starts[k], e - starts[k]
                        offs = made[k][1]
                        if le > len(offs):
                            return None
                        return k, (offs[ls][0], offs[le - 1][1])
                return None

            for s, e, *_ in doc.get("aspects", []):
                hit = locate(s, e)
                if hit and hit[1] not in made[hit[0]][0].aspects:
                    made[hit[0]][0].aspects.append(hit[1])
            for s, e, _txt, pol in doc.get("opinions", []):
                hit = locate(s, e)
                if hit and all(hit[1] != (a, b) for a, b, _ in made[hit[0]][0].opinions):
                    made[hit[0]][0].opinions.append((*hit[1], POL.get(pol, "U")))
            for t in doc.get("triplets", []):
                a_s, a_e, o_s, o_e, pol = t[2], t[3], t[4], t[5], t[6]
                o = locate(o_s, o_e)
                if o is None:
                    continue
                a = locate(a_s, a_e) if a_s >= 0 else None
                if a is not None and a[0] != o[0]:
                    a = None  # aspect in another sentence: implicit for this sentence's reader
                made[o[0]][0].pairs.append((a[1] if a else None, o[1], POL.get(pol, "U"), ""))
            golds.extend(g for g, _ in made if g.text.strip())
    return golds


def weak_labels(paths: Sequence[str | Path], limit: int, seed: int = 13) -> list[Gold]:
    """Short training-side reviews the lexicon tagger tags, with its tags located as spans."""
    from .tags import extract_lexicon_tags

    texts: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                t = (row.get("review") or "").strip()
                if 6 <= len(t) <= 80 and not heldout_key(t):
                    texts.append(t)
    random.Random(seed).shuffle(texts)
    out: list[Gold] = []
    for raw in texts:
        if len(out) >= limit:
            break
        text = " ".join(fold(raw).split())
        tags = extract_lexicon_tags(text)
        if not tags:
            continue
        g = Gold("weak", text, group=text)
        for tag in tags:
            a = text.find(tag.aspect_text)
            if a < 0:
                continue
            o = text.find(tag.opinion, a + len(tag.aspect_text))
            if o < 0:
                o = text.find(tag.opinion)
            if o < 0 or tag.aspect_text == tag.opinion:
                continue
            g.aspects.append((a, a + len(tag.aspect_text)))
            g.opinions.append((o, o + len(tag.opinion), "P" if tag.polarity == "pos" else "N"))
        if g.aspects:
            out.append(g)
    return out


# --- learned tables -------------------------------------------------------------------------------------


def learn_tables(golds: list[Gold], seeds: dict[str, str]) -> dict[str, object]:
    """Aspect groups and the implicit-aspect table from the training sentences.

    - implicit: opinion text -> the category Zhijiang's annotators gave it when no aspect was written
      (kept when seen at least twice and that category has 60% of its uses).
    - aspect_groups: a labelled aspect surface -> a normalised aspect: Zhijiang's category for the
      surface when its annotators agree (>= 70%, seen twice) and the category is a real aspect (not 整体
      / 其他); else a lexicon seed surface it contains (电池续航 -> 续航 ... longest seed wins); else the
      seed group whose opinions it shares most (cosine of opinion counts >= 0.7, seen 3+ times, and at
      least one character in common with a member of the group).
    """
    imp: dict[str, Counter] = defaultdict(Counter)
    cat_of: dict[str, Counter] = defaultdict(Counter)
    opin_of: dict[str, Counter] = defaultdict(Counter)
    for g in golds:
        for a, o, _pol, cat in g.pairs:
            otext = g.text[o[0] : o[1]]
            if a is None:
                if cat:
                    imp[otext][cat] += 1
                continue
            atext = g.text[a[0] : a[1]]
            if cat:
                cat_of[atext][cat] += 1
            opin_of[atext][otext] += 1
    implicit = {}
    for otext, c in imp.items():
        cat, n = c.most_common(1)[0]
        if n >= 2 and n / sum(c.values()) >= 0.6:
            implicit[otext] = cat
    groups: dict[str, str] = {}
    group_vec: dict[str, Counter] = defaultdict(Counter)
    for surface, canon in seeds.items():
        group_vec[canon].update(opin_of.get(surface, {}))
    general = {fold(w) for ws in _general_aspects().values() for w in ws}
    seed_list = sorted(seeds, key=lambda s: (-len(s), s not in general))  # longest, then general first
    for surface in set(cat_of) | set(opin_of):
        if surface in seeds:
            continue
        cats = cat_of.get(surface)
        if cats:
            cat, n = cats.most_common(1)[0]
            if n >= 2 and n / sum(cats.values()) >= 0.7 and cat not in ("整体", "其他"):
                groups[surface] = cat
                continue
        hit = next((s for s in seed_list if len(s) >= 2 and s in surface), None)
        if hit:
            groups[surface] = seeds[hit]
            continue
        vec = opin_of.get(surface, Counter())
        if sum(vec.values()) < 3:
            continue
        best, best_cos = "", 0.0
        for canon, gv in group_vec.items():
            if not gv:
                continue
            dot = sum(v * gv.get(k, 0) for k, v in vec.items())
            if not dot:
                continue
            cos = dot / ((sum(v * v for v in vec.values()) * sum(v * v for v in gv.values())) ** 0.5)
            members = [s for s, cn in seeds.items() if cn == canon] + [canon]
            if cos > best_cos and any(set(surface) & set(m) for m in members):
                best, best_cos = canon, cos
        if best and best_cos >= 0.7:
            groups[surface] = best
    return {
        "implicit": dict(sorted(implicit.items())),
        "aspect_groups": dict(sorted(groups.items())),
        "mention_words": mention_words(golds),
    }


#: A labelled aspect surface is a mention word when labelled at least this often in the training
#: sentences and in at least this share of the places it is written (chosen on the development fold:
#: DiaASQ aspect R 0.695 -> 0.734, P 0.560 -> 0.550, best aspect F1 of 0.1 / 0.2 / 0.3 / 0.5 / 0.7).
MENTION_MIN_LABELLED = 3
MENTION_MIN_RATE = 0.2


def mention_words(golds: list[Gold]) -> list[str]:
    """Aspect surfaces (two characters or more) the annotators label as aspects often enough where they
    are written that a mention of one is worth reporting (刷新率, 曲面屏, 性能释放), longest first."""
    labelled: Counter = Counter()
    for g in golds:
        for s, e in set(g.aspects):
            if e - s >= 2:
                labelled[g.text[s:e]] += 1
    cands = sorted((w for w, n in labelled.items() if n >= MENTION_MIN_LABELLED), key=lambda w: (-len(w), w))
    if not cands:
        return []
    pattern = re.compile("|".join(map(re.escape, cands)))
    seen: Counter = Counter()
    for g in golds:
        seen.update(m.group() for m in pattern.finditer(g.text))
    return [w for w in cands if labelled[w] >= MENTION_MIN_RATE * max(seen[w], labelled[w])]


def _general_aspects() -> dict[str, list[str]]:
    from .tags import _shipped_raw

    return _shipped_raw().get("aspects", {}).get("general", {})


def lexicon_seeds() -> dict[str, str]:
    """Every aspect surface of the shipped lexicon (all categories) -> its aspect; 'general' wins ties."""
    from .tags import _shipped_raw

    raw = _shipped_raw()
    seeds: dict[str, str] = {}
    cats = raw.get("aspects", {})
    for cat in [c for c in cats if c != "general"] + ["general"]:
        for canon, words in cats[cat].items():
            for w in words:
                seeds[fold(w)] = canon
    return seeds


# --- training -------------------------------------------------------------------------------------------


@dataclass
class TagsTrainReport:
    out: Path
    sentences: dict[str, int]
    seconds: float
    heldout: dict[str, dict[str, float]] = field(default_factory=dict)


def load_training(
    zhijiang: str | None, diaasq: list[str], weak: list[str], weak_limit: int, holdout: bool = True
) -> tuple[list[Gold], list[Gold]]:
    golds: list[Gold] = []
    if zhijiang:
        golds += read_zhijiang(zhijiang)
    if diaasq:
        golds += read_diaasq(diaasq)
    train = [g for g in golds if not (holdout and g.heldout)]
    held = [g for g in golds if holdout and g.heldout]
    if weak:
        train += weak_labels(weak, weak_limit)
    return train, held


def train_tags(
    out: str | Path,
    *,
    zhijiang: str | None = None,
    diaasq: list[str] | None = None,
    weak: list[str] | None = None,
    weak_limit: int = 3000,
    holdout: bool = True,
    c1: float = 0.05,
    c2: float = 0.01,
    iterations: int = 300,
    progress=None,
) -> TagsTrainReport:
    """Train and write ``<out>.crfsuite`` and ``<out>.json``."""
    import pycrfsuite

    t0 = time.time()
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    train, held = load_training(zhijiang, diaasq or [], weak or [], weak_limit, holdout)
    counts = Counter(g.source for g in train)
    say(f"training sentences: {dict(counts)}; held out: {dict(Counter(g.source for g in held))}")
    trainer = pycrfsuite.Trainer(verbose=False)
    for k, g in enumerate(train):
        trainer.append(sequence_features(g.text), g.labels())
        if k % 5000 == 0:
            say(f"features {k}/{len(train)}")
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": iterations, "feature.possible_transitions": True})

    out = Path(out)
    out = out.with_suffix("") if out.suffix in (".crfsuite", ".json") else out
    out.parent.mkdir(parents=True, exist_ok=True)
    model_path = out.with_name(out.name + ".crfsuite")
    say(f"training CRF ({iterations} L-BFGS iterations at most, c1={c1}, c2={c2}) ...")
    trainer.train(str(model_path))
    tables = learn_tables([g for g in train if g.source != "weak"], lexicon_seeds())
    meta = {
        "format": "jingshao-tags-crf/1",
        "model": model_path.name,
        "labels": ["B-A", "I-A", "B-P", "I-P", "B-N", "I-N", "B-U", "I-U", "O"],
        "features": "chars +-1, bigrams, longest dictionary word / BMES / POS / neighbours, lexicon roles",
        "params": {"c1": c1, "c2": c2, "max_iterations": iterations},
        "training_sentences": dict(counts),
        "holdout": "zhijiang: crc32(review) % 10 == 0; diaasq: crc32(doc_id) % 10 == 0 (whole threads)"
        if holdout
        else "none",
        "sources": [
            "Zhijiang Cup 2019 e-commerce opinion mining, cosmetics (xmxoxo/Text-Opinion-Mining), no licence stated",
            "DiaASQ (unikcc/DiaASQ), Weibo phone threads, MIT",
        ]
        + (["weak labels of the jingshao lexicon tagger on the review CSVs given"] if counts.get("weak") else []),
        "implicit_default": "整体",
        **tables,
    }
    out.with_name(out.name + ".json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return TagsTrainReport(model_path, dict(counts), round(time.time() - t0, 1))


def iter_heldout(zhijiang: str | None, diaasq: list[str]) -> Iterator[Gold]:
    if zhijiang:
        yield from (g for g in read_zhijiang(zhijiang) if g.heldout)
    if diaasq:
        yield from (g for g in read_diaasq(diaasq) if g.heldout)


# --- evaluation (bench/tags.py and `jingshao nlp train --kind tags` print the same figures) -------------


def _ov(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return bool(a and b and a[0] < b[1] and b[0] < a[1])


def spans_of(text: str, tags: list[Tag]) -> list[tuple[Tag, tuple[int, int] | None, tuple[int, int] | None]]:
    """Tag spans in ``text``: the tagger's own offsets when the text was already normal, else located."""
    if normalize(text) == text and all(t.opinion_span or t.aspect_span for t in tags):
        return [(t, t.aspect_span, t.opinion_span) for t in tags]
    placed = _place(text, tags)
    out = []
    for t, (a, o) in zip(tags, placed, strict=True):
        if t.aspect_text == t.opinion or (t.aspect_span is None and t.opinion_span is not None):
            a = None  # implied: 偏大 -> 尺码, 很好用 -> 整体
        out.append((t, a, o if t.opinion else None))  # a mention has no opinion
    return out


def evaluate(golds: list[Gold], tagger: Callable[[str], list[Tag]]) -> dict[str, float]:
    """Held-out figures of ``tagger`` on labelled sentences (definitions in bench/tags.py's docstring).

    ``polarity`` is counted once per distinct labelled (aspect span, opinion span) with a positive or
    negative label that a tag matches, and is right when the tag's polarity is one of the polarities
    labelled on those spans: DiaASQ labels polarity relative to a target (iqoo充电比小米强 is positive for
    iqoo and negative for 小米, on the same spans), which a tagger without targets cannot split.
    ``polarity_strict`` counts each (spans, polarity) label on its own (such a pair is at best half
    right), ``polarity_unambiguous`` only the span pairs labelled with one polarity; ``conflicting_pairs``
    of the ``polar_pairs`` labelled span pairs carry both polarities.
    """
    n = len(golds)
    ex_n = ex_hit = im_n = im_hit = op_n = op_hit = 0
    pairs_n = pairs_hit = pred_n = pred_pair_ok = pred_aspect_ok = pol_n = pol_ok = 0
    ment_n = gold_ment_n = dist_n = dist_hit = 0
    strict_n = strict_ok = clear_n = clear_ok = conflict_n = polar_total = 0
    for g in golds:
        got = spans_of(g.text, tagger(g.text))
        pred_n += len(got)
        aspects = sorted(set(g.aspects))
        gold_ment_n += len(set(aspects) - {a for a, *_ in g.pairs if a})
        implicit = sorted({o for a, o, _, _ in g.pairs if a is None} - {o for a, o, _, _ in g.pairs if a})
        ex_n += len(aspects)
        found = [any(_ov(a, ga) for _, ga, _ in got) for a in aspects]
        ex_hit += sum(found)
        surfaces: dict[str, bool] = {}  # the same aspect written twice in a sentence: found if either is
        for (s0, s1), hit in zip(aspects, found, strict=True):
            surfaces[g.text[s0:s1]] = surfaces.get(g.text[s0:s1], False) or hit
        dist_n += len(surfaces)
        dist_hit += sum(surfaces.values())
        im_n += len(implicit)
        im_hit += sum(any(_ov(o, go) for _, _, go in got) for o in implicit)
        opinions = sorted({(s, e) for s, e, _ in g.opinions})
        op_n += len(opinions)
        op_hit += sum(any(_ov(o, go) for _, _, go in got) for o in opinions)
        pairs = list({(a, o, p) for a, o, p, _ in g.pairs})
        pairs_n += len(pairs)
        for a, o, _p in pairs:
            pairs_hit += any(_ov(o, to) and (a is None or _ov(a, ta)) for _, ta, to in got)
        # Polarity per distinct (aspect span, opinion span): the polarities labelled on it form a set (see
        # the module docstring); strict counts every (spans, polarity) label on its own, as before.
        polar: dict[tuple[tuple[int, int] | None, tuple[int, int]], set[str]] = defaultdict(set)
        for a, o, p, _ in g.pairs:
            if p in ("P", "N"):
                polar[(a, o)].add("pos" if p == "P" else "neg")
        polar_total += len(polar)
        for (a, o), pols in polar.items():
            both = len(pols) > 1
            conflict_n += both
            match = [t for t, ta, to in got if _ov(o, to) and (a is None or _ov(a, ta))]
            if not match:
                continue
            said = match[0].polarity
            pol_n += 1
            pol_ok += said in pols
            strict_n += len(pols)
            strict_ok += said in pols
            if not both:
                clear_n += 1
                clear_ok += said in pols
        for t, ta, to in got:
            ment_n += not t.opinion
            pred_pair_ok += any(_ov(o, to) and (a is None or _ov(a, ta)) for a, o, _ in pairs)
            pred_aspect_ok += any(_ov(ta, a) for a in aspects) if ta else any(_ov(to, o) for o in implicit)
    return {
        "aspect_R": (ex_hit + im_hit) / max(ex_n + im_n, 1),
        "explicit_R": ex_hit / max(ex_n, 1),
        "explicit_distinct_R": dist_hit / max(dist_n, 1),
        "aspect_P": pred_aspect_ok / max(pred_n, 1),
        "opinion_R": op_hit / max(op_n, 1),
        "pair_P": pred_pair_ok / max(pred_n - ment_n, 1),
        "pair_R": pairs_hit / max(pairs_n, 1),
        "polarity": pol_ok / max(pol_n, 1),
        "polarity_strict": strict_ok / max(strict_n, 1),
        "polarity_unambiguous": clear_ok / max(clear_n, 1),
        "conflicting_pairs": conflict_n,
        "polar_pairs": polar_total,
        "tags_per_sent": (pred_n - ment_n) / max(n, 1),
        "gold_per_sent": pairs_n / max(n, 1),
        "mentions_per_sent": ment_n / max(n, 1),
        "gold_mentions_per_sent": gold_ment_n / max(n, 1),
        "sentences": n,
    }


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def default_sources() -> dict[str, object]:
    return {
        "zhijiang": str(SHARED / "aspects" / "zhijiang2019-cosmetics"),
        "diaasq": [
            str(SHARED / "aspects" / "diaasq-zh" / "train.json"),
            str(SHARED / "aspects" / "diaasq-zh" / "valid.json"),
        ],
        # No weak labels in the shipped model: the lexicon tagger labels only the aspects its lists name,
        # so its tags teach the CRF that every other aspect is O. On a development fold of the training
        # side (crc32("dev:" + thread or review id) % 5 == 0) leaving them out lifted aspect recall from
        # 0.643 to 0.669 (DiaASQ) and 0.874 to 0.917 (Zhijiang); users may still add review CSVs.
        "weak": [],
        # held-out shopping reviews, for bench/tags.py's speed figures
        "shopping": [str(SHARED / "sentiment" / "online_shopping_10_cats.train.csv")],
    }


def classify_sources(paths: list[Path]) -> dict[str, list[str]]:
    """Which reader each --data path needs: a Zhijiang-format folder (Train_reviews.csv + Train_labels.csv),
    DiaASQ-format JSON, or a review CSV (column ``review``) for weak labels."""
    out: dict[str, list[str]] = {"zhijiang": [], "diaasq": [], "weak": []}
    for p in paths:
        if p.is_dir() and (p / "Train_reviews.csv").is_file() and (p / "Train_labels.csv").is_file():
            out["zhijiang"].append(str(p))
        elif p.suffix == ".json" and p.is_file():
            out["diaasq"].append(str(p))
        elif p.suffix == ".csv" and p.is_file():
            out["weak"].append(str(p))
        else:
            raise ValueError(
                f"{p}: expected a folder with Train_reviews.csv and Train_labels.csv (Zhijiang "
                "format), a DiaASQ .json file or a review .csv (column review) for weak labels"
            )
    return out


def train_tags_main(
    data: list[Path], out: Path, *, holdout: bool = True, weak_limit: int = 3000, iterations: int = 300
) -> int:
    """`jingshao nlp train --kind tags`: train, write, print held-out figures beside the lexicon tagger."""
    from .aspects import SpanTagger
    from .tags import extract_lexicon_tags, extract_tags

    try:
        src = classify_sources(data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(src["zhijiang"]) > 1:
        print("error: one Zhijiang-format folder at a time", file=sys.stderr)
        return 2
    zj = src["zhijiang"][0] if src["zhijiang"] else None
    rep = train_tags(
        out,
        zhijiang=zj,
        diaasq=src["diaasq"],
        weak=src["weak"],
        weak_limit=weak_limit,
        holdout=holdout,
        iterations=iterations,
    )
    print(f"wrote {rep.out} and {rep.out.with_suffix('.json').name} in {rep.seconds} s; sentences {rep.sentences}")
    if not holdout:
        return 0
    base = str(rep.out.with_suffix(""))
    SpanTagger(base)  # fails here, naming the file, if the model cannot be read
    for name, golds in (("zhijiang", list(iter_heldout(zj, []))), ("diaasq", list(iter_heldout(None, src["diaasq"])))):
        if not golds:
            continue
        for label, fn in (
            ("lexicon", lambda t: extract_lexicon_tags(t, "general")),
            ("tagger", lambda t: extract_tags(t, None, model_path=base)),
        ):
            s = evaluate(golds, fn)
            print(
                f"held out {name} ({len(golds)} sentences) {label}: aspect R {s['aspect_R']:.3f} "
                f"P {s['aspect_P']:.3f}, pairs P {s['pair_P']:.3f} R {s['pair_R']:.3f}, "
                f"polarity {s['polarity']:.3f} (strict {s['polarity_strict']:.3f}), "
                f"tags/sentence {s['tags_per_sent']:.2f} "
                f"(labelled {s['gold_per_sent']:.2f}), mentions/sentence {s['mentions_per_sent']:.2f} "
                f"(labelled {s['gold_mentions_per_sent']:.2f})"
            )
    return 0


if __name__ == "__main__":  # python -m jingshao.nlp.train_tags [OUT]
    src = default_sources()
    target = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).parent / "data" / MODEL_NAME)
    rep = train_tags(target, zhijiang=src["zhijiang"], diaasq=src["diaasq"], weak=src["weak"])  # type: ignore[arg-type]
    print(f"wrote {rep.out} in {rep.seconds} s from {rep.sentences}")
