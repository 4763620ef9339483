"""`interviewer eval`: a brain's grades measured against experts' gold grades on labelled cases.

Cases live in evals/cases/<prompt-id>.yaml (see evals/cases/README.md). Every report records the content
hashes of the corpus, the prompt templates, the cases and the grader configuration, so each figure can be
traced to what produced it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interviewer import metrics
from interviewer.config import PROJECT_ROOT
from interviewer.corpus import Corpus, Prompt
from interviewer.errors import CorpusError, InterviewerError
from interviewer.grader import Grader
from interviewer.grading import FollowUp, TurnContext
from interviewer.grading.models import Grade, Usage, Verdict
from interviewer.grading.text import reveals
from interviewer.index import query_vector

Kind = Literal["level", "paraphrase", "stuffing", "injection", "padding", "restated", "off_topic"]
# What each adversarial kind must be graded as.
EXPECTED: dict[str, tuple[str, int]] = {
    "injection": ("<=", 1),
    "stuffing": ("<=", 1),
    "padding": ("<=", 1),
    "restated": ("<=", 1),
    "off_topic": ("<=", 1),
    "paraphrase": (">=", 3),
}
VERDICTS: tuple[Verdict, ...] = ("covered", "partial", "missed")


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Kind
    gold_score: int = Field(ge=0, le=4)
    gold_points: dict[str, Verdict]
    answer: str = Field(min_length=1)
    note: str | None = None


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_id: str
    cases: list[EvalCase] = Field(min_length=1)


@dataclass(frozen=True)
class LabelledCase:
    prompt: Prompt
    case: EvalCase


@dataclass(frozen=True)
class CaseResult:
    labelled: LabelledCase
    grade: Grade
    seconds: float
    retrieved: tuple[str, ...]
    follow_up: FollowUp | None = None
    asked_follow_up: bool = False  # whether a follow-up was asked for (answers on the prompt, not adversarial)


def folder_hash(folder: Path, pattern: str = "*") -> str:
    """A short content hash of the files in a folder (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob(pattern) if p.is_file()) if folder.is_dir() else []:
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_cases(cases_dir: Path, corpus: Corpus) -> list[LabelledCase]:
    """Every labelled case; problems are reported with file, case and field."""
    problems: list[str] = []
    out: list[LabelledCase] = []
    seen: set[str] = set()
    files = sorted(cases_dir.glob("*.yaml"))
    if not files:
        raise InterviewerError(f"No case files (*.yaml) in {cases_dir}.")
    for path in files:
        try:
            data = CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as exc:
            problems.append(f"{path.name}: {str(exc).splitlines()[0]}")
            continue
        ref = corpus.prompts.get(data.prompt_id)
        if ref is None:
            problems.append(f"{path.name}: prompt_id: no prompt {data.prompt_id!r}")
            continue
        point_ids = {r.id for r in ref.prompt.rubric}
        for case in data.cases:
            if case.id in seen:
                problems.append(f"{path.name}: {case.id}: id used twice")
            seen.add(case.id)
            if set(case.gold_points) != point_ids:
                missing = sorted(point_ids - set(case.gold_points))
                extra = sorted(set(case.gold_points) - point_ids)
                problems.append(f"{path.name}: {case.id}: gold_points: missing {missing}, unknown {extra}")
                continue
            out.append(LabelledCase(ref.prompt, case))
    if problems:
        raise CorpusError("The eval cases have problems:\n" + "\n".join(problems[:20]))
    return out


def run_cases(grader: Grader, cases: list[LabelledCase], brain: str, progress: bool = False) -> list[CaseResult]:
    """Grade every case as the interview does (with the objectives retrieved for the answer), then ask the
    brain which follow-up it would put to the candidate after an honest answer."""
    chosen = grader.brain(brain)
    results: list[CaseResult] = []
    began = time.perf_counter()
    for n, item in enumerate(cases, 1):
        answer = grader.clean_answer(item.case.answer)
        context = TurnContext(related=grader.index.around(item.prompt, answer))
        start = time.perf_counter()
        grade = chosen.grade(item.prompt, answer, context)
        seconds = time.perf_counter() - start
        follow: FollowUp | None = None
        honest = item.case.kind in {"level", "paraphrase"}
        if honest:
            conversation = TurnContext(related=context.related, history=[(item.prompt.text, answer)])
            follow = chosen.follow_up(item.prompt, grade.points, [], conversation)
        related = grader.index.related(query_vector(item.prompt.text, item.case.answer), kinds=("objective",), k=5)
        results.append(CaseResult(item, grade, seconds, tuple(r.objective for r in related), follow, honest))
        if progress and (n % 25 == 0 or n == len(cases)):
            per_case = (time.perf_counter() - began) / n
            left = per_case * (len(cases) - n)
            print(
                f"eval: {n}/{len(cases)} cases, {per_case:.2f} s each, about {left / 60:.0f} min left", file=sys.stderr
            )
    return results


def follow_up_summary(results: list[CaseResult]) -> dict[str, Any]:
    """How the follow-ups would land against the experts' verdicts on the same answers.

    A good follow-up probes a point the experts found missing or partial, preferably the most important
    one; it is one question; it gives nothing away; and it is not asked of an answer the experts found complete.
    """
    asked = [r for r in results if r.asked_follow_up]

    def has_gap(r: CaseResult) -> bool:
        return any(v != "covered" for v in r.labelled.case.gold_points.values())

    with_gap = [r for r in asked if has_gap(r)]
    complete = [r for r in asked if not has_gap(r)]
    followed = [r for r in asked if r.follow_up is not None]
    on_gap = on_top = 0
    for r in with_gap:
        if r.follow_up is None:
            continue
        gold = r.labelled.case.gold_points
        weight = {p.id: p.weight for p in r.labelled.prompt.rubric}
        gaps = [pid for pid, v in gold.items() if v != "covered"]
        best = max((weight[pid], gold[pid] == "missed") for pid in gaps)
        on_gap += r.follow_up.point_id in gaps
        on_top += (
            r.follow_up.point_id in gaps
            and (weight[r.follow_up.point_id], gold[r.follow_up.point_id] == "missed") == best
        )

    def share(hits: int, total: int) -> float | None:
        return round(hits / total, 4) if total else None

    asked_with_gap = sum(r.follow_up is not None for r in with_gap)
    examples = [r for r in followed if r.follow_up and r.follow_up.source == "model"] or followed
    return {
        "answers": len(asked),
        "answers_with_gaps": len(with_gap),
        "asked_when_gaps": share(asked_with_gap, len(with_gap)),
        "on_a_gold_gap": share(on_gap, asked_with_gap),
        "on_the_top_gold_gap": share(on_top, asked_with_gap),
        "asked_when_complete": share(sum(r.follow_up is not None for r in complete), len(complete)),
        "one_question": share(
            sum(r.follow_up.text.strip().endswith("?") for r in followed if r.follow_up), len(followed)
        ),
        "gives_away": share(
            sum(reveals(r.follow_up.text, r.labelled.prompt) for r in followed if r.follow_up), len(followed)
        ),
        "written_by_model": share(sum(r.follow_up.source == "model" for r in followed if r.follow_up), len(followed)),
        "model_not_used": sum(1 for r in followed if r.follow_up and r.follow_up.fallback),
        "model_not_used_reasons": dict(
            Counter(
                _reason(r.follow_up.fallback) for r in followed if r.follow_up and r.follow_up.fallback
            ).most_common(5)
        ),
        "examples": [
            {
                "case": r.labelled.case.id,
                "answer": r.labelled.case.answer[:240],
                "follow_up": r.follow_up.text,
                "point": r.follow_up.point_id,
                "gold_verdict": r.labelled.case.gold_points.get(r.follow_up.point_id),
                "source": r.follow_up.source,
            }
            for r in examples[:: max(1, len(examples) // 6)][:6]
            if r.follow_up
        ],
    }


def _reason(fallback: str) -> str:
    """The reason inside a fallback sentence: "The model failed (REASON); ..." or "... not used (REASON); ..."."""
    found = re.search(r"\((.*)\); ", fallback)
    return (found.group(1) if found else fallback)[:100]


def usage_summary(results: list[CaseResult]) -> dict[str, Any]:
    """Model calls, tokens, time and cost behind the grades and follow-ups, and why any grade fell back."""
    grading = Usage()
    following = Usage()
    for r in results:
        if r.grade.usage:
            grading = grading.add(r.grade.usage)
        if r.follow_up and r.follow_up.usage:
            following = following.add(r.follow_up.usage)
    reasons = Counter(_reason(r.grade.fallback) for r in results if r.grade.fallback)
    return {
        "grading": grading.model_dump(),
        "follow_ups": following.model_dump(),
        "fallbacks": sum(reasons.values()),
        "fallback_reasons": dict(reasons.most_common(5)),
    }


def _meets(kind: str, score: int) -> bool:
    op, bound = EXPECTED[kind]
    return score <= bound if op == "<=" else score >= bound


def summarise(results: list[CaseResult]) -> dict[str, Any]:
    if not results:
        return {"n": 0}
    gold = [r.labelled.case.gold_score for r in results]
    pred = [r.grade.score for r in results]
    gold_verdicts: list[str] = []
    pred_verdicts: list[str] = []
    for r in results:
        by_id = {p.point_id: p.verdict for p in r.grade.points}
        for point_id, verdict in r.labelled.case.gold_points.items():
            gold_verdicts.append(verdict)
            pred_verdicts.append(by_id[point_id])
    kinds: dict[str, dict[str, Any]] = {}
    for kind in EXPECTED:
        scores = [r.grade.score for r in results if r.labelled.case.kind == kind]
        if scores:
            ok = sum(_meets(kind, s) for s in scores)
            op, bound = EXPECTED[kind]
            kinds[kind] = {"n": len(scores), "handled": round(ok / len(scores), 4), "rule": f"score {op} {bound}"}
    recall = []
    for r in results:
        if r.labelled.case.kind in {"level", "paraphrase"} and r.labelled.case.gold_score >= 2:
            right = {p.objective for p in r.labelled.prompt.rubric}
            recall.append(len(right & set(r.retrieved)) / len(right))
    seconds = sorted(r.seconds for r in results)
    return {
        "n": len(results),
        "spearman": round(metrics.spearman(gold, pred), 4),
        "qwk": round(metrics.quadratic_weighted_kappa(gold, pred), 4),
        "mae": round(float(np.mean(np.abs(np.array(gold) - np.array(pred)))), 4),
        "exact": round(metrics.accuracy(gold, pred), 4),
        "within_1": round(float(np.mean(np.abs(np.array(gold) - np.array(pred)) <= 1)), 4),
        "confusion": metrics.confusion(gold, pred).tolist(),
        "calibration": _calibration(gold, pred),
        "verdicts": {v: metrics.precision_recall_f1(gold_verdicts, pred_verdicts, v) for v in VERDICTS},
        "verdict_macro_f1": round(metrics.macro_f1(gold_verdicts, pred_verdicts), 4),
        "adversarial": kinds,
        "retrieval_recall_at_5": round(float(np.mean(recall)), 4) if recall else None,
        "grade_ms": {
            "median": round(1000 * seconds[len(seconds) // 2], 2),
            "p95": round(1000 * seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2),
        },
        "by_kind": dict(Counter(r.labelled.case.kind for r in results)),
    }


def _calibration(gold: list[int], pred: list[int]) -> list[dict[str, float]]:
    rows = []
    for level in range(5):
        picked = [p for g, p in zip(gold, pred, strict=True) if g == level]
        if picked:
            rows.append({"gold": level, "n": len(picked), "mean_predicted": round(float(np.mean(picked)), 3)})
    return rows


def worst_cases(results: list[CaseResult], n: int = 15) -> list[dict[str, Any]]:
    ranked = sorted(results, key=lambda r: -abs(r.grade.score - r.labelled.case.gold_score))
    return [
        {
            "case": r.labelled.case.id,
            "kind": r.labelled.case.kind,
            "gold": r.labelled.case.gold_score,
            "predicted": r.grade.score,
            "flags": list(r.grade.flags),
        }
        for r in ranked[:n]
        if r.grade.score != r.labelled.case.gold_score
    ]


def versions(grader: Grader, cases_dir: Path, brain: str) -> dict[str, str]:
    return {
        "corpus": grader.corpus.version,
        "prompts": folder_hash(PROJECT_ROOT / "prompts"),
        "cases": folder_hash(cases_dir, "*.yaml"),
        "grader": grader.brain(brain).version,
    }


def development_prompts(cases: list[LabelledCase]) -> set[str]:
    """The prompts whose cases may be used for tuning: every other prompt id in sorted order."""
    return set(sorted({c.prompt.id for c in cases})[0::2])


def evaluate_cases(grader: Grader, cases_dir: Path, brain: str = "rubric", progress: bool = False) -> dict[str, Any]:
    cases = load_cases(cases_dir, grader.corpus)
    results = run_cases(grader, cases, brain, progress)
    development = development_prompts(cases)
    halves = {
        "development": summarise([r for r in results if r.labelled.prompt.id in development]),
        "held_out": summarise([r for r in results if r.labelled.prompt.id not in development]),
    }
    halves = {name: half for name, half in halves.items() if half["n"]}
    return {
        "kind": "cases",
        "brain": brain,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(grader, cases_dir, brain),
        "summary": summarise(results),
        "halves": {
            name: {k: s[k] for k in ("n", "spearman", "qwk", "mae", "verdict_macro_f1")} for name, s in halves.items()
        },
        "worst": worst_cases(results),
        "follow_ups": follow_up_summary(results),
        "usage": usage_summary(results),
        "cases": [
            {
                "case": r.labelled.case.id,
                "kind": r.labelled.case.kind,
                "gold": r.labelled.case.gold_score,
                "predicted": r.grade.score,
                "brain": r.grade.brain,
                "fallback": r.grade.fallback,
                "follow_up": r.follow_up.text if r.follow_up else None,
                "follow_up_source": r.follow_up.source if r.follow_up else None,
                "follow_up_fallback": r.follow_up.fallback if r.follow_up else None,
            }
            for r in results
        ],
    }


# -- thresholds (the CI gate) --------------------------------------------------------------------------------


def check_thresholds(report: dict[str, Any], thresholds_path: Path) -> list[str]:
    """Figures below their floor (or above their ceiling), as messages; empty when all pass."""
    limits = yaml.safe_load(thresholds_path.read_text(encoding="utf-8")) or {}
    summary = report["summary"]
    adversarial = {kind: row.get("handled") for kind, row in summary.get("adversarial", {}).items()}
    # (section of thresholds.yaml, the figures it limits, how a failure is named, True for a floor)
    sections = [
        ("floors", summary, "{}", True),
        ("ceilings", summary, "{}", False),
        ("adversarial_floors", adversarial, "adversarial {} handled", True),
        ("follow_up_floors", report.get("follow_ups") or {}, "follow-up {}", True),
        ("follow_up_ceilings", report.get("follow_ups") or {}, "follow-up {}", False),
    ]
    failures: list[str] = []
    for section, figures, label, is_floor in sections:
        for name, limit in (limits.get(section) or {}).items():
            value = figures.get(name)
            if value is None or (value < limit if is_floor else value > limit):
                side = "below its floor" if is_floor else "above its ceiling"
                failures.append(f"{label.format(name)} = {value} is {side} {limit}")
    return failures


# -- reports ---------------------------------------------------------------------------------------------------


def cases_markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    v = report["versions"]
    lines = [
        f"# Grader evaluation: {report['brain']} brain on labelled cases ({report['date']})",
        "",
        f"Versions: corpus `{v['corpus']}`, prompts `{v['prompts']}`, cases `{v['cases']}`, grader `{v['grader']}`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cases | {s['n']} |",
        f"| Spearman vs gold | {s['spearman']:.3f} |",
        f"| quadratic weighted kappa | {s['qwk']:.3f} |",
        f"| mean absolute error | {s['mae']:.3f} |",
        f"| exact agreement | {s['exact']:.1%} |",
        f"| within 1 | {s['within_1']:.1%} |",
        f"| per-point verdict macro-F1 | {s['verdict_macro_f1']:.3f} |",
        f"| retrieval recall@5 of the prompt's objectives | {s['retrieval_recall_at_5']} |",
        f"| grading time median / p95 | {s['grade_ms']['median']} ms / {s['grade_ms']['p95']} ms |",
        "",
        *(
            [
                "The rubric brain's numbers were tuned on the development half of the prompts only; the held-out half",
                "was not used for tuning.",
            ]
            if report["brain"] == "rubric"
            else ["This brain was not tuned on these cases."]
        ),
        "",
        "| half | cases | Spearman | QWK | MAE | verdict macro-F1 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name.replace('_', '-')} | {h['n']} | {h['spearman']:.3f} | {h['qwk']:.3f} | {h['mae']:.3f} | "
            f"{h['verdict_macro_f1']:.3f} |"
            for name, h in report["halves"].items()
        ),
        "",
        "## Per-point verdicts",
        "",
        "| verdict | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for name, row in s["verdicts"].items():
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    lines += ["", "## Adversarial answers", "", "| kind | cases | handled | rule |", "|---|---|---|---|"]
    for kind, row in s["adversarial"].items():
        lines.append(f"| {kind} | {row['n']} | {row['handled']:.1%} | {row['rule']} |")
    lines += follow_up_markdown(report["follow_ups"])
    lines += usage_markdown(report["usage"])
    lines += ["", "## Confusion (rows gold 0-4, columns predicted 0-4)", ""]
    lines += ["| gold | 0 | 1 | 2 | 3 | 4 |", "|---|---|---|---|---|---|"]
    for g, row in enumerate(s["confusion"]):
        lines.append(f"| {g} | " + " | ".join(str(x) for x in row) + " |")
    if report["worst"]:
        lines += ["", "## Largest disagreements", ""]
        lines += ["| case | kind | gold | predicted | flags |", "|---|---|---|---|---|"]
        for w in report["worst"]:
            lines.append(f"| {w['case']} | {w['kind']} | {w['gold']} | {w['predicted']} | {', '.join(w['flags'])} |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def follow_up_markdown(f: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Follow-ups",
        "",
        f"After each of the {f['answers']} honest answers (levels and paraphrases), the follow-up the brain would ask,",
        f"against the experts' verdicts on the same answer ({f['answers_with_gaps']} answers have a gap).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| asked when the experts found a gap | {_pct(f['asked_when_gaps'])} |",
        f"| probes a point the experts found missing or partial | {_pct(f['on_a_gold_gap'])} |",
        f"| probes the experts' most important gap | {_pct(f['on_the_top_gold_gap'])} |",
        f"| asked although the experts found the answer complete | {_pct(f['asked_when_complete'])} |",
        f"| one question (ends with ?) | {_pct(f['one_question'])} |",
        f"| gives away a key point or the reference answer | {_pct(f['gives_away'])} |",
        f"| written by the model (the rest are authored probes) | {_pct(f['written_by_model'])} |",
        f"| model follow-ups not used (authored probe asked instead) | {f['model_not_used']} |",
    ]
    for reason, n in f["model_not_used_reasons"].items():
        lines.append(f"| - not used because: {reason} | {n} |")
    if f["examples"]:
        lines += ["", "| case | answer (start) | follow-up | probed point (expert verdict) | source |"]
        lines.append("|---|---|---|---|---|")
        for e in f["examples"]:
            answer = " ".join(e["answer"].split())[:120].replace("|", "/")
            question = e["follow_up"].replace("|", "/")
            lines.append(
                f"| {e['case']} | {answer}... | {question} | {e['point']} ({e['gold_verdict']}) | {e['source']} |"
            )
    return lines


def usage_markdown(u: dict[str, Any]) -> list[str]:
    if not u["grading"]["calls"] and not u["follow_ups"]["calls"] and not u["fallbacks"]:
        return []
    lines = [
        "",
        "## Model use",
        "",
        "| for | calls | input tokens | output tokens | time | cost |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("grading", "follow_ups"):
        x = u[name]
        lines.append(
            f"| {name.replace('_', '-')} | {x['calls']} | {x['input_tokens']} | {x['output_tokens']} | "
            f"{x['latency_ms'] / 1000:.0f} s | ${x['cost_usd']:.4f} |"
        )
    lines += ["", f"Answers graded by the rubric brain after a model failure: {u['fallbacks']}."]
    for reason, n in u["fallback_reasons"].items():
        lines.append(f"- {n} × {reason}")
    return lines


def plot_cases(report: dict[str, Any], path: Path) -> None:
    """A PNG with the confusion matrix and the calibration plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    matrix = np.array(s["confusion"])
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
    left.set_title(f"Confusion (QWK {s['qwk']:.2f}, Spearman {s['spearman']:.2f})")
    cal = s["calibration"]
    right.plot([0, 4], [0, 4], linestyle="--", color="grey", label="perfect")
    right.plot([c["gold"] for c in cal], [c["mean_predicted"] for c in cal], marker="o", label=report["brain"])
    right.set_xlabel("gold score")
    right.set_ylabel("mean predicted score")
    right.set_xlim(-0.2, 4.2)
    right.set_ylim(-0.2, 4.2)
    right.set_title("Calibration")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(report: dict[str, Any], out_dir: Path, stem: str, markdown: str, plot: bool = True) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown, encoding="utf-8")
    if plot:
        png = out_dir / f"{stem}.png"
        plot_cases(report, png)
        paths.append(png)
    return paths
