"""The point reader against sentence similarity on SemEval-2013's test splits (../shared/data/asag).

Each answer is read against its question's reference answers, each reference standing for one rubric point:
- similarity: MiniLM cosine of the answer's closest sentence to the closest reference (the similarity signal);
- point reader: the shipped cross-encoder's P(made), best over the references, read as the grader reads a
  point (the closest sentence alone and with the next closest);
- combined: a logistic regression on the two, fitted on the data set's train split only.

Each is scored on 2-way labels (correct against the rest): AUC, and accuracy at the threshold that maximises
macro-F1 on train. The point reader never saw SemEval: it was trained on the development half of evals/cases.

    .venv/bin/python evals/point_reader_semeval.py --report evals/reports
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from interviewer.curriculum.embeddings import encoder
from interviewer.curriculum.tokens import split_sentences
from interviewer.evals import metrics
from interviewer.evals.asag import AsagRow, best_threshold, read_rows, reference_prompt
from interviewer.grading.cross import points_made
from interviewer.grading.reader import fit_logistic
from interviewer.grading.text import clean

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "asag"
SIGNALS = ("similarity", "point reader", "combined")


def signals(row: AsagRow) -> tuple[float, float]:
    """The similarity and the point reader's P(made) of one answer, each best over the references."""
    sentences = [s.text for s in split_sentences(clean(row.answer, 100_000))] or [" "]
    vectors = encoder().encode(sentences, batch_size=16)
    prompt = reference_prompt(row.question, row.references)
    base = prompt.rubric[0]
    points = [base.model_copy(update={"id": f"{base.id}#{n}", "point": ref}) for n, ref in enumerate(row.references)]
    refs = encoder().encode(list(row.references), batch_size=16)
    point_vecs = {p.id: refs[n : n + 1] for n, p in enumerate(points)}
    similarity = float((vectors @ refs.T).max())
    return similarity, float(points_made(points, sentences, vectors, point_vecs).max())


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The chance that a correct answer scores above an incorrect one (ties count half)."""
    ranks = metrics._ranks(list(scores))
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1))


def measure(path: Path) -> dict[str, dict[str, Any]]:
    rows = [r for r in read_rows(path) if r.label_2way]
    values = np.array([signals(r) for r in rows])
    positive = np.array([r.label_2way == "correct" for r in rows])
    split = np.array([r.split for r in rows])
    train = split == "train"
    head = fit_logistic(values[train], positive[train].astype(float), nonnegative=False)
    table = {"similarity": values[:, 0], "point reader": values[:, 1], "combined": head.probability(values)}
    labels = ["correct" if p else "incorrect" for p in positive]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(split)):
        pick = split == name
        out[name] = {"n": int(pick.sum())}
        for signal, v in table.items():
            cut = best_threshold(list(v[train]), [labels[i] for i in np.flatnonzero(train)], "correct")
            predicted = ["correct" if x >= cut else "incorrect" for x in v[pick]]
            out[name][signal] = {
                "auc": round(auc(v[pick], positive[pick]), 3),
                "accuracy": round(metrics.accuracy([labels[i] for i in np.flatnonzero(pick)], predicted), 3),
            }
    return out


def render(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "# The point reader on SemEval-2013 (2-way: correct against the rest)",
        "",
        "Produced by `evals/point_reader_semeval.py`. Each answer is read against its question's reference answers.",
        "The point reader was trained on the development half of evals/cases only and never saw SemEval; the",
        "combined signal and every threshold are fitted on each data set's train split. Cells are AUC / accuracy.",
        "",
        "| data set | split | n | " + " | ".join(SIGNALS) + " |",
        "|---|---|---|" + "---|" * len(SIGNALS),
    ]
    for data, splits in results.items():
        for name, cells in splits.items():
            row = " | ".join(f"{cells[s]['auc']:.3f} / {cells[s]['accuracy']:.3f}" for s in SIGNALS)
            lines.append(f"| {data} | {name} | {cells['n']} | {row} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--report", type=Path, help="write readers-semeval.md and .json to this folder")
    args = parser.parse_args()
    results = {name: measure(args.data / f"{name}.jsonl") for name in ("beetle", "scientsbank")}
    text = render(results)
    if args.report:
        (args.report / "readers-semeval.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.report / "readers-semeval.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
