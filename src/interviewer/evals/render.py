"""Reports for people and for the record: Markdown, the PNG of a cases run, and the shared report writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from interviewer.evals.asag import AsagReport
from interviewer.evals.cases import COPY_RUN
from interviewer.evals.gate import Goal
from interviewer.evals.labels import Bands, GraderAgreement
from interviewer.evals.render_shortcut import balance_markdown, goals_markdown, plain, shortcut_markdown
from interviewer.evals.run import CasesReport, FollowUpSummary
from interviewer.evals.summary import SplitFigures, Summary, UsageSummary


def cases_markdown(report: CasesReport, goals: list[Goal] | None = None) -> str:
    s = report.summary
    lines = [*_headline(report), *goals_markdown(goals or []), *_splits(report), *shortcut_markdown(report.shortcut)]
    lines += _verdicts(s) + _kinds(s)
    lines += _bands(report.bands) + balance_markdown(report.balance, report.intended)
    lines += _agreement(report.agreement) + _copied(report)
    lines += follow_up_markdown(report.follow_ups)
    lines += usage_markdown(report.usage)
    lines += _confusion(s)
    lines += _worst(report)
    return "\n".join(lines) + "\n"


def _headline(report: CasesReport) -> list[str]:
    s = report.summary
    v = report.versions
    return [
        f"# Grader evaluation: {report.brain} brain on labelled cases ({report.date})",
        "",
        f"Versions: corpus `{v.corpus}`, prompts `{v.prompts}`, cases `{v.cases}`, grader `{v.grader}`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cases | {s.n} |",
        f"| Spearman vs gold | {s.spearman:.3f} |",
        f"| quadratic weighted kappa | {s.qwk:.3f} |",
        f"| mean absolute error | {s.mae:.3f} |",
        f"| exact agreement | {s.exact:.1%} |",
        f"| within 1 | {s.within_1:.1%} |",
        f"| per-point verdict macro-F1 | {s.verdict_macro_f1:.3f} |",
        f"| retrieval recall@5 of the prompt's objectives | {s.retrieval_recall_at_5} |",
        f"| grading time median / p95 | {s.grade_ms.median} ms / {s.grade_ms.p95} ms |",
        "",
    ]


# The rows of agreement with gold in the side-by-side table: (label, field of `Agreement`).
AGREEMENT_ROWS = (
    ("n", "n"),
    ("Spearman", "spearman"),
    ("QWK", "qwk"),
    ("exact", "exact"),
    ("MAE", "mae"),
    ("within 1", "within_1"),
)


def _tuning(report: CasesReport) -> list[str]:
    if report.brain == "rubric":
        return [
            "The rubric brain's numbers were tuned on the development prompts only; the held-out prompts (their",
            "case files say `split: held_out`) were never used for tuning, so their column estimates how the grader",
            "does on questions it was not tuned on.",
        ]
    return ["This brain was not tuned on these cases."]


def _splits(report: CasesReport) -> list[str]:
    """One table: each figure on the development prompts beside the same figure on the held-out ones."""
    dev, held = (_split_cells(report.splits.get(name)) for name in ("development", "held_out"))
    lines = ["## Development and held-out prompts", "", *_tuning(report), ""]
    lines += ["| figure | development | held-out |", "|---|---|---|"]
    for label in dict.fromkeys([*dev, *held]):
        lines.append(f"| {label} | {dev.get(label, '-')} | {held.get(label, '-')} |")
    return lines


def _split_cells(f: SplitFigures | None) -> dict[str, str]:
    """A split's figures as table cells, by row label."""
    if f is None:
        return {}
    cells = {"cases": str(f.n)}
    for group, part in (("ordinary answers", f.ordinary), ("all honest answers", f.honest)):
        if part is not None:
            cells |= {f"{group}: {label}": plain(getattr(part, key)) for label, key in AGREEMENT_ROWS}
            cells |= {f"{group}: level {n} recall": plain(getattr(part, f"level_{n}_recall")) for n in range(5)}
    for kind, row in f.kinds.items():
        cells[f"{kind} handled ({row.rule})"] = f"{row.handled:.1%} of {row.n}"
    cells["per-point verdict macro-F1"] = plain(f.verdict_macro_f1)
    cells["honest answers the injection guard flagged"] = _pct(f.guard_false_positives)
    return cells


def _bands(b: Bands) -> list[str]:
    steps = ", ".join(f"{n} from {cut:.2f}" for n, cut in enumerate(b.cuts, 1))
    lines = [
        "",
        "## Score bands",
        "",
        f"A score is how many cuts the weighted rubric coverage reaches (score {steps}),",
        "then capped by flags and red flags. Below, the graders' own per-point verdicts on the honest answers put",
        "through these cuts: the share of answers at each gold level that come back at exactly that level.",
        "",
        "| figure | development | held-out |",
        "|---|---|---|",
    ]
    dev, held = b.splits.get("development"), b.splits.get("held_out")
    for label, key in [("honest answers", "n")] + [(f"level {n} recall", f"level_{n}_recall") for n in range(5)]:
        cells = ["-" if f is None else plain(getattr(f, key)) for f in (dev, held)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines


def _agreement(a: GraderAgreement) -> list[str]:
    lines = ["", "## Graders' agreement", ""]
    if not a.n:
        return [*lines, "No case records its two graders' scores."]
    return [
        *lines,
        f"Two independent graders scored {a.n} cases before adjudication. Where they differed, on the score",
        f"({a.adjudicated} cases) or on a point's verdict or a red flag, a third grader decided: gold is their call.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cases | {a.n} |",
        f"| quadratic weighted kappa, grader a vs b | {plain(a.qwk)} |",
        f"| exact agreement | {_pct(a.exact)} |",
        f"| within 1 | {_pct(a.within_1)} |",
        f"| adjudicated (a != b) | {a.adjudicated} |",
    ]


def _copied(report: CasesReport) -> list[str]:
    lines = ["", "## Copied answers", ""]
    if not report.copied:
        return [*lines, f"No case shares a run of {COPY_RUN}+ words with its prompt's rubric or reference answer."]
    lines += [f"These cases share {COPY_RUN}+ words with their prompt's rubric or reference answer (the gate fails):"]
    return lines + [f"- {c.case}: " + "; ".join(f'"{run}"' for run in c.runs) for c in report.copied]


def _verdicts(s: Summary) -> list[str]:
    lines = ["", "## Per-point verdicts", ""]
    lines += ["| verdict | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, row in s.verdicts.items():
        lines.append(f"| {name} | {row.precision:.3f} | {row.recall:.3f} | {row.f1:.3f} | {row.support} |")
    return lines


def _kinds(s: Summary) -> list[str]:
    lines = ["", "## Each kind of answer", "", "| kind | cases | handled | rule |", "|---|---|---|---|"]
    for kind, row in s.kinds.items():
        lines.append(f"| {kind} | {row.n} | {row.handled:.1%} | {row.rule} |")
    return lines


def _confusion(s: Summary) -> list[str]:
    lines = ["", "## Confusion (rows gold 0-4, columns predicted 0-4)", ""]
    lines += ["| gold | 0 | 1 | 2 | 3 | 4 |", "|---|---|---|---|---|---|"]
    for g, row in enumerate(s.confusion):
        lines.append(f"| {g} | " + " | ".join(str(x) for x in row) + " |")
    return lines


def _worst(report: CasesReport) -> list[str]:
    if not report.worst:
        return []
    lines = ["", "## Largest disagreements", ""]
    lines += ["| case | kind | gold | predicted | flags |", "|---|---|---|---|---|"]
    for w in report.worst:
        lines.append(f"| {w.case} | {w.kind} | {w.gold} | {w.predicted} | {', '.join(w.flags)} |")
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def follow_up_markdown(f: FollowUpSummary) -> list[str]:
    lines = [
        "",
        "## Follow-ups",
        "",
        f"After each of the {f.answers} honest answers, the follow-up the brain would ask,",
        f"against the gold verdicts on the same answer ({f.answers_with_gaps} answers have a gap).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| asked when gold has a gap | {_pct(f.asked_when_gaps)} |",
        f"| probes a point gold has missing or partial | {_pct(f.on_a_gold_gap)} |",
        f"| probes gold's most important gap | {_pct(f.on_the_top_gold_gap)} |",
        f"| asked although gold finds the answer complete | {_pct(f.asked_when_complete)} |",
        f"| one question (ends with ?) | {_pct(f.one_question)} |",
        f"| gives away a key point or the reference answer | {_pct(f.gives_away)} |",
        f"| written by the model (the rest are authored probes) | {_pct(f.written_by_model)} |",
        f"| model follow-ups not used (authored probe asked instead) | {f.model_not_used} |",
    ]
    for reason, n in f.model_not_used_reasons.items():
        lines.append(f"| - not used because: {reason} | {n} |")
    if f.examples:
        lines += ["", "| case | answer (start) | follow-up | probed point (gold verdict) | source |"]
        lines.append("|---|---|---|---|---|")
        for e in f.examples:
            answer = " ".join(e.answer.split())[:120].replace("|", "/")
            question = e.follow_up.replace("|", "/")
            lines.append(f"| {e.case} | {answer}... | {question} | {e.point} ({e.gold_verdict}) | {e.source} |")
    return lines


def usage_markdown(u: UsageSummary) -> list[str]:
    if not u.grading.calls and not u.follow_ups.calls and not u.fallbacks:
        return []
    lines = [
        "",
        "## Model use",
        "",
        "| for | calls | input tokens | output tokens | time | cost |",
        "|---|---|---|---|---|---|",
    ]
    for name, x in (("grading", u.grading), ("follow_ups", u.follow_ups)):
        lines.append(
            f"| {name.replace('_', '-')} | {x.calls} | {x.input_tokens} | {x.output_tokens} | "
            f"{x.latency_ms / 1000:.0f} s | ${x.cost_usd:.4f} |"
        )
    lines += ["", f"Answers graded by the rubric brain after a model failure: {u.fallbacks}."]
    for reason, n in u.fallback_reasons.items():
        lines.append(f"- {n} × {reason}")
    return lines


def asag_markdown(report: AsagReport) -> str:
    lines = [
        f"# Short-answer grading: {Path(report.file).name}",
        "",
        f"Grader `{report.grader}`. Method: {report.method}. "
        f"2-way thresholds {report.thresholds_2way or '-'} (fitted on {report.fitted_on or 'nothing'}).",
        "",
        "| split | n | Pearson | Spearman | RMSE | accuracy | macro-F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, f in report.splits.items():
        accuracy = "-" if f.accuracy is None else f.accuracy
        macro_f1 = "-" if f.macro_f1 is None else f.macro_f1
        lines.append(
            f"| {split} | {f.n} | {f.pearson:.3f} | {f.spearman:.3f} | {f.rmse:.3f} | {accuracy} | {macro_f1} |"
        )
    return "\n".join(lines) + "\n"


def plot_cases(report: CasesReport, path: Path) -> None:
    """A PNG with the confusion matrix and the calibration plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report.summary
    matrix = np.array(s.confusion)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    left.imshow(matrix, cmap="Blues")
    for g in range(5):
        for p in range(5):
            color = "white" if matrix[g, p] > matrix.max() / 2 else "black"
            left.text(p, g, str(matrix[g, p]), ha="center", va="center", color=color)
    left.set_xlabel("predicted score")
    left.set_ylabel("gold score")
    left.set_xticks(range(5))
    left.set_yticks(range(5))
    left.set_title(f"Confusion (QWK {s.qwk:.2f}, Spearman {s.spearman:.2f})")
    right.plot([0, 4], [0, 4], linestyle="--", color="grey", label="perfect")
    cal = s.calibration
    right.plot([c.gold for c in cal], [c.mean_predicted for c in cal], marker="o", label=report.brain)
    right.set_xlabel("gold score")
    right.set_ylabel("mean predicted score")
    right.set_xlim(-0.2, 4.2)
    right.set_ylim(-0.2, 4.2)
    right.set_title("Calibration")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_json(report: CasesReport | AsagReport) -> str:
    """The report as written to disk (and printed by `--json`)."""
    return json.dumps(report.model_dump(), indent=2)


def write_reports(report: CasesReport | AsagReport, out_dir: Path, stem: str, markdown: str) -> list[Path]:
    """`stem`.json and `stem`.md in `out_dir`, and for a cases report `stem`.png; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    paths[0].write_text(report_json(report) + "\n", encoding="utf-8")
    paths[1].write_text(markdown, encoding="utf-8")
    if isinstance(report, CasesReport):
        png = out_dir / f"{stem}.png"
        plot_cases(report, png)
        paths.append(png)
    return paths
