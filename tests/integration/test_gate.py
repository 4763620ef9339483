"""The gate `make test` holds the grader to: `interviewer eval --check` grades every labelled case in evals/cases
and fails on any figure below its floor in evals/thresholds.yaml, or on a case that copies its rubric's wording.

It is a test of its own file, so that pytest-xdist grades the cases on one worker while the other runs the rest.
"""

from __future__ import annotations

from interviewer.curriculum.corpus import Corpus
from interviewer.evals.cases import load_cases
from tests.helpers import ROOT, Cli


def test_every_labelled_case_is_graded_and_every_figure_meets_its_floor(cli: Cli, corpus: Corpus) -> None:
    every = len(load_cases(ROOT / "evals" / "cases", corpus))
    done = cli("eval", "--check")
    failures = [line for line in done.stderr.splitlines() if line.startswith("eval gate:")]
    assert done.returncode == 0 and failures == [], "\n".join(failures) or done.stderr
    assert "all figures meet thresholds.yaml and no case copies its rubric" in done.stderr
    assert f"eval: {every}/{every} cases" in done.stderr
