"""The eval harness: figures against gold, the CI gate, and the short-answer benchmark reader."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from interviewer.corpus import Prompt
from interviewer.errors import InterviewerError
from interviewer.evals.asag import evaluate as evaluate_asag
from interviewer.evals.gate import check_figures, check_thresholds
from interviewer.evals.run import evaluate_cases
from interviewer.grader import Grader
from interviewer.grading import FollowUp
from interviewer.grading.rubric import RubricBrain, RubricConfig
from tests.helpers import Cli

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "evals" / "cases"
THRESHOLDS = ROOT / "evals" / "thresholds.yaml"


def test_the_rubric_brain_meets_every_floor_and_reports_trace_to_their_inputs(grader: Grader) -> None:
    report = evaluate_cases(grader, CASES)
    assert check_thresholds(report, THRESHOLDS) == []
    assert set(report.versions.model_dump()) == {"corpus", "prompts", "cases", "grader"}
    assert report.versions.grader == RubricConfig().version
    summary = report.summary
    assert summary.n >= 286 and set(summary.adversarial) == {
        "injection",
        "stuffing",
        "padding",
        "restated",
        "off_topic",
        "paraphrase",
    }
    assert sum(map(sum, summary.confusion)) == summary.n


def test_a_worse_grader_is_caught_by_the_gate(grader: Grader) -> None:
    lenient = RubricConfig(sim_floor=0.2, sim_full=0.5, meaning_weight=1.0, covered_at=0.4, partial_at=0.2)

    class Lenient(RubricBrain):
        name = "lenient"

    worse = Lenient(point_vectors=grader.point_vectors, config=lenient)
    grader.register_brain(worse)
    failures = check_thresholds(evaluate_cases(grader, CASES, brain="lenient"), THRESHOLDS)
    assert failures
    assert any(f.startswith(("spearman", "qwk", "adversarial")) for f in failures)


def test_follow_ups_are_measured_against_the_experts_and_a_leaking_interviewer_is_caught(grader: Grader) -> None:
    report = evaluate_cases(grader, CASES)
    follow = report.follow_ups
    assert follow.answers == report.summary.by_kind["level"] + report.summary.by_kind["paraphrase"]
    assert follow.on_a_gold_gap is not None and follow.on_a_gold_gap >= 0.8
    assert follow.gives_away == 0.0 and follow.one_question == 1.0
    assert follow.examples and all(e.follow_up.endswith("?") for e in follow.examples)

    class Leaking(RubricBrain):
        name = "leaking"

        def follow_up(self, prompt: Prompt, *rest: Any, **named: Any) -> FollowUp | None:
            """The authored probe's point, given away in the question."""
            asked = super().follow_up(prompt, *rest, **named)
            if asked is None:
                return None
            point = next(p for p in prompt.rubric if p.id == asked.point_id)
            return replace(asked, text=f"Did you know that {point.point.rstrip('.')}?")

    grader.register_brain(Leaking(point_vectors=grader.point_vectors))
    failures = check_thresholds(evaluate_cases(grader, CASES, brain="leaking"), THRESHOLDS)
    assert failures == [f for f in failures if f.startswith("follow-up gives_away")] and failures


def test_cli_eval_writes_json_markdown_and_png(cli: Cli, tmp_path: Path) -> None:
    result = cli("eval", "--json", "--reports", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert 0.0 <= report["summary"]["qwk"] <= 1.0
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"eval-rubric.{suffix}").stat().st_size > 0
    assert json.loads((tmp_path / "eval-rubric.json").read_text(encoding="utf-8")) == report


def _asag_file(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _row(answer: str, correct: bool, split: str, question: str = "Why does the bulb light?") -> dict[str, object]:
    return {
        "question": question,
        "reference_answer": "The bulb is in a closed path with the battery.",
        "answer": answer,
        "score": 1.0 if correct else 0.0,
        "max_score": 1,
        "split": split,
        "label_2way": "correct" if correct else "incorrect",
    }


def test_asag_works_on_any_file_of_the_format_and_fits_only_on_train(tmp_path: Path) -> None:
    good = ["It is in a closed path with the battery.", "The circuit is closed so current flows through it."]
    bad = ["Because it is yellow.", "The battery is big.", "I do not know."]
    rows = [_row(a, True, "train") for a in good * 6] + [_row(a, False, "train") for a in bad * 6]
    rows += [_row("There is a closed path that includes the battery.", True, "test")]
    rows += [_row("Bulbs are made of glass.", False, "test")]
    report = evaluate_asag(_asag_file(tmp_path, rows), RubricBrain(), progress=False)
    assert report.fitted_on == "train"
    test = report.splits["test"]
    assert set(test.model_dump()) == {"n", "pearson", "spearman", "rmse", "accuracy", "macro_f1"}
    assert test.n == 2 and test.accuracy == 1.0


def test_asag_without_labels_or_train_split_still_reports_correlation(tmp_path: Path) -> None:
    rows = [
        {k: v for k, v in _row(a, ok, "all").items() if k not in {"label_2way", "split"}}
        for a, ok in [("A closed path with the battery.", True), ("It is yellow.", False), ("Closed circuit.", True)]
    ]
    report = evaluate_asag(_asag_file(tmp_path, rows), RubricBrain(), progress=False)
    assert report.fitted_on is None
    assert set(report.splits["all"].model_dump()) == {"n", "pearson", "spearman", "rmse"}


def test_a_broken_asag_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_row("x", True, "train")) + "\n" + json.dumps({"question": "q"}) + "\n")
    with pytest.raises(InterviewerError, match=r"bad.jsonl:2: field 'reference_answer' is missing"):
        evaluate_asag(path, RubricBrain(), progress=False)


def test_threshold_check_names_each_failing_figure() -> None:
    report = {"summary": {"spearman": 0.5, "qwk": 0.95, "mae": 0.9, "adversarial": {"injection": {"handled": 0.5}}}}
    failures = check_figures(report, THRESHOLDS)
    assert "spearman = 0.5 is below its floor 0.86" in failures
    assert "mae = 0.9 is above its ceiling 0.36" in failures
    assert "adversarial injection handled = 0.5 is below its floor 0.99" in failures
    assert not any(f.startswith("qwk") for f in failures)
