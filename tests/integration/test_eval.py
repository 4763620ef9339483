"""The eval harness: figures against gold, the CI gate, and the short-answer benchmark reader."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from interviewer.curriculum.corpus import Corpus, Prompt
from interviewer.curriculum.tokens import words
from interviewer.errors import InterviewerError
from interviewer.evals.asag import evaluate as evaluate_asag
from interviewer.evals.cases import copied_runs, load_cases
from interviewer.evals.gate import check_figures, check_thresholds, goals
from interviewer.evals.render_shortcut import goals_markdown
from interviewer.evals.run import CasesReport, evaluate_cases
from interviewer.grading import FollowUp
from interviewer.grading.grader import Grader
from interviewer.grading.rubric import RubricBrain, RubricConfig
from tests.helpers import Cli

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "evals" / "cases"
THRESHOLDS = ROOT / "evals" / "thresholds.yaml"
# Three prompts of both splits: enough for a worse grader's figures to fall, small enough to grade in seconds.
SAMPLE = ("dv-p1", "sv-p1", "mon-p2")


@pytest.fixture(scope="module")
def report(module_grader: Grader, sample: Path) -> CasesReport:
    """The rubric brain on the sample prompts' cases, graded once: the baseline a worse grader is compared with
    (tests/integration/test_gate.py gates the figures of every case with `interviewer eval --check`)."""
    return evaluate_cases(module_grader, sample)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cases-sample")
    for prompt_id in SAMPLE:
        shutil.copy(CASES / f"{prompt_id}.yaml", folder)
    return folder


def test_a_worse_grader_is_caught_by_the_gate(module_grader: Grader, report: CasesReport, sample: Path) -> None:
    lenient = RubricConfig(sim_floor=0.2, sim_full=0.5, meaning_weight=1.0, covered_at=0.4, partial_at=0.2)

    class Lenient(RubricBrain):
        name = "lenient"

    module_grader.register_brain(Lenient(point_vectors=module_grader.point_vectors, config=lenient, reader=None))
    baseline = _failing(check_thresholds(report, THRESHOLDS))  # the rubric brain on the same sample
    worse = _failing(check_thresholds(evaluate_cases(module_grader, sample, brain="lenient"), THRESHOLDS))
    assert any(f.startswith(("spearman", "qwk", "held-out", "development")) for f in worse - baseline)


def _failing(failures: list[str]) -> set[str]:
    """The figures a gate run failed on, without their values."""
    return {f.split(" = ")[0] for f in failures}


def test_follow_ups_are_measured_against_the_experts_and_a_leaking_interviewer_is_caught(
    module_grader: Grader, report: CasesReport, sample: Path
) -> None:
    follow = report.follow_ups
    assert follow.gives_away == 0.0 and follow.examples

    class Leaking(RubricBrain):
        name = "leaking"

        def follow_up(self, prompt: Prompt, *rest: Any, **named: Any) -> FollowUp | None:
            """The authored probe's point, given away in the question."""
            asked = super().follow_up(prompt, *rest, **named)
            if asked is None:
                return None
            point = next(p for p in prompt.rubric if p.id == asked.point_id)
            return replace(asked, text=f"Did you know that {point.point.rstrip('.')}?")

    module_grader.register_brain(Leaking(point_vectors=module_grader.point_vectors))
    baseline = check_thresholds(report, THRESHOLDS)  # the rubric brain on the same sample
    failures = check_thresholds(evaluate_cases(module_grader, sample, brain="leaking"), THRESHOLDS)
    assert _failing(failures) - _failing(baseline) == {"follow-up gives_away"}
    assert follow.on_a_gold_gap is not None and follow.on_a_gold_gap >= 0.65  # 0.70 on this sample, 0.75 on all


def test_cli_eval_writes_json_markdown_and_png(cli: Cli, tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    for prompt_id in SAMPLE[:2]:  # one prompt of each split
        shutil.copy(CASES / f"{prompt_id}.yaml", cases)
    result = cli("eval", "--json", "--cases", str(cases), "--reports", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert 0.0 <= report["summary"]["qwk"] <= 1.0
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"eval-rubric.{suffix}").stat().st_size > 0
    assert json.loads((tmp_path / "eval-rubric.json").read_text(encoding="utf-8")) == report
    assert set(report["shortcut"]) == {"development", "held_out"}
    markdown = (tmp_path / "eval-rubric.md").read_text(encoding="utf-8")
    assert "## Beside the length shortcut" in markdown and "## Goals" in markdown


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


def test_threshold_check_names_each_failing_figure(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(
        "floors: {spearman: 0.86, qwk: 0.9}\nceilings: {mae: 0.36}\nkind_floors: {injection: 0.99}\n"
        "balance_ceilings: {abs_length_gold_spearman: 0.4}\n"
        "held_out:\n  ordinary_floors: {qwk: 0.85, level_0_recall: 0.5}\n  kind_floors: {paraphrase: 0.95}\n"
        "  shortcut_floors: {margin_qwk: 0.05, partial_spearman: 0.5}\n  ceilings: {guard_false_positives: 0.01}\n"
        "  balance_floors: {min_per_level: 25}\n",
        encoding="utf-8",
    )
    held_out = {
        "ordinary": {"qwk": 0.8, "level_0_recall": None},
        "kinds": {"paraphrase": {"handled": 0.96}},
        "guard_false_positives": 0.02,
    }
    report = {
        "summary": {"spearman": 0.5, "qwk": 0.95, "mae": 0.9, "kinds": {"injection": {"handled": 0.5}}},
        "splits": {"development": {"ordinary": {"qwk": 0.1}}, "held_out": held_out},
        "shortcut": {"held_out": {"margin": {"qwk": 0.01, "exact": 0.2}, "partial_spearman": 0.6}},
        "balance": {
            "all": {"per_level": [30, 30, 30, 30, 30], "length_gold_spearman": -0.5},
            "held_out": {"per_level": [30, 24, 30, 30, 30], "length_gold_spearman": 0.1},
        },
        "copied": [],
    }
    assert sorted(check_figures(report, thresholds)) == [
        "all honest answers abs_length_gold_spearman = 0.5 is above its ceiling 0.4",
        "held-out guard_false_positives = 0.02 is above its ceiling 0.01",
        "held-out honest answers min_per_level = 24 is below its floor 25",
        "held-out margin_qwk (beside the length shortcut) = 0.01 is below its floor 0.05",
        "held-out ordinary level_0_recall = None is below its floor 0.5",
        "held-out ordinary qwk = 0.8 is below its floor 0.85",
        "injection handled = 0.5 is below its floor 0.99",
        "mae = 0.9 is above its ceiling 0.36",
        "spearman = 0.5 is below its floor 0.86",
    ]
    del report["splits"]
    assert "held-out paraphrase handled = None is below its floor 0.95" in check_figures(report, thresholds)


def test_a_misspelt_threshold_section_fails_instead_of_gating_nothing(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text("held_out:\n  ordinary_floor: {qwk: 0.85}\n", encoding="utf-8")
    failures = check_figures({"summary": {}, "copied": []}, thresholds)
    assert len(failures) == 1 and failures[0].startswith("thresholds.yaml held_out: unknown section 'ordinary_floor'")


def _case_file(folder: Path, prompt: Prompt, answer: str, **fields: object) -> Path:
    """A case file under `folder` with one ordinary answer to `prompt`, graded 0 with every point missed."""
    case = {
        "id": f"{prompt.id}-t1",
        "kind": "level",
        "origin": "independent",
        "gold_score": 0,
        "gold_points": {p.id: "missed" for p in prompt.rubric},
        "answer": answer,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{prompt.id}.yaml"
    path.write_text(yaml.safe_dump({"prompt_id": prompt.id, **fields, "cases": [case]}), encoding="utf-8")
    return path


def test_a_case_copying_its_rubric_fails_the_gate_by_name(cli: Cli, corpus: Corpus, tmp_path: Path) -> None:
    prompt = corpus.prompts[sorted(corpus.prompts)[0]].prompt
    point = next(p for p in prompt.rubric if copied_runs(p.point, prompt))
    cases = tmp_path / "cases"
    _case_file(cases, prompt, f"Well, in my experience: {point.point} That is the main thing.", split="development")
    result = cli("eval", "--check", "--cases", str(cases))
    assert result.returncode == 1
    named = [line for line in result.stderr.splitlines() if f"case {prompt.id}-t1 shares 8+ words" in line]
    assert named and " ".join(words(point.point)[:8]) in named[0]
    _case_file(cases, prompt, "Honestly I am not sure what this question is about.", split="development")
    result = cli("eval", "--check", "--cases", str(cases))
    assert result.returncode == 1 and "shares 8+ words" not in result.stderr


def test_a_near_copy_with_one_word_swapped_is_a_copy(corpus: Corpus) -> None:
    prompt = corpus.prompts[sorted(corpus.prompts)[0]].prompt
    point = next(p for p in prompt.rubric if copied_runs(" ".join(words(p.point)[:12]), prompt, 12))
    tokens = words(point.point)[:12]
    tokens[5] = "zebra"
    assert copied_runs("I would say " + " ".join(tokens) + " in short.", prompt)
    tokens[4] = "quokka"  # two words swapped near the middle of a run of 12: every run of 8 has both
    tokens[7] = "wombat"
    assert not copied_runs("I would say " + " ".join(tokens) + " in short.", prompt)


def test_a_case_file_without_a_split_is_refused(corpus: Corpus, tmp_path: Path) -> None:
    prompt = corpus.prompts[sorted(corpus.prompts)[0]].prompt
    path = _case_file(tmp_path / "cases", prompt, "Honestly I am not sure what this question is about.")
    with pytest.raises(InterviewerError) as refused:
        load_cases(path.parent, corpus)
    assert f"{path.name}: split: Field required" in str(refused.value)
    assert "split: development" in str(refused.value) and "split: held_out" in str(refused.value)


def test_goals_are_reported_beside_their_figure_and_a_missed_one_is_short(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(
        "goals:\n  - {figure: splits.held_out.honest.spearman, at_least: 0.88}\n"
        "  - {figure: splits.held_out.guard_false_positives, at_most: 0.01}\n"
        "  - {figure: shortcut.held_out.margin.qwk, at_least: 0.05}\n",
        encoding="utf-8",
    )
    report = {"splits": {"held_out": {"honest": {"spearman": 0.9}, "guard_false_positives": 0.02}}, "copied": []}
    rows = goals(report, thresholds)
    assert [(g.figure, g.value, g.met) for g in rows] == [
        ("splits.held_out.honest.spearman", 0.9, True),
        ("splits.held_out.guard_false_positives", 0.02, False),
        ("shortcut.held_out.margin.qwk", None, False),  # a figure the report lacks is not met
    ]
    table = "\n".join(goals_markdown(rows))
    assert "| splits.held_out.guard_false_positives | <= 0.01 | 0.0200 | **SHORT** |" in table
    assert "| splits.held_out.honest.spearman | >= 0.88 | 0.9000 | met |" in table
    assert check_figures(report, thresholds) == []  # goals are reported, never gated
