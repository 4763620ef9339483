"""The gate `make test` holds the grader to: `interviewer eval --check` grades every labelled case in evals/cases
and fails on any figure below its floor in evals/thresholds.yaml, or on a case that copies its rubric's wording.

It is a test of its own file, so that pytest-xdist grades the cases on one worker while the other runs the rest.
The report it prints (`--json`) is the one `make reports` writes: every figure is in it and traces to its inputs.
"""

from __future__ import annotations

import pytest

from interviewer.curriculum.corpus import Corpus
from interviewer.evals.cases import HONEST, load_cases
from interviewer.evals.run import CasesReport
from interviewer.evals.summary import EXPECTED
from interviewer.grading.models import SCORE_CUTS
from interviewer.grading.rubric import RubricBrain
from tests.helpers import ROOT, Cli


@pytest.mark.timeout(1800)  # 907 cases: about 4 minutes alone, 7 beside the rest of the suite, more on a busy machine
def test_every_labelled_case_is_graded_and_every_figure_meets_its_floor(cli: Cli, corpus: Corpus) -> None:
    every = len(load_cases(ROOT / "evals" / "cases", corpus))
    done = cli("eval", "--check", "--json")
    failures = [line for line in done.stderr.splitlines() if line.startswith("eval gate:")]
    assert done.returncode == 0 and failures == [], "\n".join(failures) or done.stderr
    assert "all figures meet thresholds.yaml and no case copies its rubric" in done.stderr
    report = CasesReport.model_validate_json(done.stdout)
    assert report.summary.n == every == len(report.cases)
    _holds_every_figure(report)


def _holds_every_figure(report: CasesReport) -> None:
    """Every figure of the report is there, on every split, and adds up."""
    assert set(report.versions.model_dump()) == {"corpus", "prompts", "cases", "grader"}
    assert report.brain == "rubric" and report.versions.grader == RubricBrain().version
    summary = report.summary
    assert set(summary.kinds) == set(EXPECTED)
    assert summary.kinds["concise"].rule == "score within 1 of gold"
    assert summary.kinds["long_wrong"].rule == "score <= gold + 1"
    assert sum(map(sum, summary.confusion)) == summary.n
    splits = report.splits
    assert list(splits) == ["development", "held_out"] and sum(f.n for f in splits.values()) == summary.n
    for figures in splits.values():
        assert figures.ordinary is not None and figures.honest is not None
        assert figures.ordinary.n < figures.honest.n and set(figures.kinds) == set(summary.kinds)
        assert figures.guard_false_positives is not None
    assert list(report.shortcut) == list(splits)
    for name, shortcut in report.shortcut.items():
        honest = splits[name].honest
        assert honest is not None and shortcut.n == honest.n == report.balance[name].n
        assert abs(shortcut.margin.qwk - (honest.qwk - shortcut.length_baseline.qwk)) <= 2e-4
        assert all(low <= high for low, high in shortcut.intervals.values())
        assert set(shortcut.intervals) == {"spearman", "qwk", "exact", "margin_qwk", "margin_exact", "partial_spearman"}
    assert report.intended.n > 0 and sum(map(sum, report.intended.confusion)) == report.intended.n
    assert report.bands.cuts == list(SCORE_CUTS) and set(report.bands.splits) == {"development", "held_out"}
    assert report.agreement.n > 0 and report.agreement.adjudicated <= report.agreement.n
    assert report.copied == []
    follow = report.follow_ups
    assert follow.answers == sum(n for kind, n in summary.by_kind.items() if kind in HONEST)
    assert follow.gives_away == 0.0 and follow.one_question == 1.0
    assert follow.examples and all(e.follow_up.endswith("?") for e in follow.examples)
