"""Spoken answers full of MLOps words are heard, and graded, as they were said: the domain set
(evals/speech/domain.json, 50 sentences written without the rubrics) spoken by espeak-ng in two voices at 150 and
175 words a minute and transcribed by whisper tiny.en with each prompt's vocabulary as the hint, as the app does.

The floors are the figures `interviewer bench --speech` measured (evals/reports/speech.md), less a little; the
issue's goals stand beside them, and a goal the recogniser misses is named as missed there, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interviewer.curriculum.corpus import Corpus
from interviewer.evals.speech import (
    PACES,
    load_lines,
    occurrences,
    recall,
    split_of,
    words,
)
from interviewer.speech.recognition import UNSURE_BELOW, espeak
from tests.helpers import Cli

# 200 recordings heard and 200 answers graded once for the module: minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(1800)

GOALS = {"wer_150": 0.10, "term_recall_150": 0.90, "wer_175": 0.15, "grades_within_1": 0.90}
# Measured on the whole set (evals/reports/speech.md), with a beam of 5 and the recogniser's slips left out: word
# error rate 16.6% at 150 and 18.6% at 175 words a minute (both goals missed), rubric-term recall 91.0% at 150, grades
# within 1 in 100% of 100 answers (both goals met).
FLOORS = {"wer_150": 0.18, "term_recall_150": 0.88, "wer_175": 0.205, "grades_within_1": 0.95}


def test_words_are_normalised_so_that_only_hearing_counts() -> None:
    assert words("The p95 latency, P-95 or p 95!") == ["the", "p", "95", "latency", "p", "95", "or", "p", "95"]
    assert words("ninety five CI/CD runs, 0.2 PSI") == ["95", "ci", "cd", "runs", "0.2", "psi"]
    assert words("I'd use point-in-time joins") == ["i'd", "use", "point", "in", "time", "joins"]
    assert occurrences(["data", "drift"], words("data drift, not concept drift; data drift")) == 2
    said, heard = words("PSI and the KS test on data drift"), words("P.S.I. and the chaos test on data drift")
    assert recall(["KS test", "data drift", "PSI"], said, heard) == (1, 3)


def test_the_set_is_25_prompts_of_2_sentences_in_two_halves_by_prompt(corpus: Corpus) -> None:
    lines = load_lines()
    prompts = {line.prompt_id for line in lines}
    assert len(lines) == 50 and len(prompts) == 25 and prompts <= set(corpus.prompts)
    halves = [split_of(p) for p in prompts]
    assert 10 <= halves.count("development") <= 15
    assert all(len(line.jargon) >= 3 for line in lines)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tiny.en with the vocabulary hint over the whole set, as `interviewer bench --speech` measures it: in a
    process of its own at the lowest CPU priority, so that the suite's timing-sensitive tests beside it (the soak,
    the cluster) keep the cores they need; none of the figures asserted here depends on time."""
    if espeak() is None:
        pytest.fail("espeak-ng is missing: run `make speech` (it installs Debian's espeak-ng).", pytrace=False)
    out = Path(tmp_path_factory.mktemp("domain")) / "tiny.en.json"
    command = ["nice", "-n", "19", sys.executable, "-m", "interviewer.evals.speech", "tiny.en", str(out), "vocabulary"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1700, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_domain_sentences_are_heard_with_their_terms(measured: dict[str, Any]) -> None:
    figures = measured["modes"]["vocabulary"]
    print({key: {k: f[k] for k in ("wer", "term_recall", "jargon_recall")} for key, f in figures.items()})
    at150, at175 = figures["150"], figures["175"]
    assert at150["wer"] <= FLOORS["wer_150"], (at150, "goal", GOALS["wer_150"])
    assert at150["term_recall"] >= FLOORS["term_recall_150"], (at150, "goal", GOALS["term_recall_150"])
    assert at175["wer"] <= FLOORS["wer_175"], (at175, "goal", GOALS["wer_175"])
    assert all(figures[f"{pace}"]["terms"] > 100 for pace in PACES)


def test_a_heard_answer_grades_as_the_same_answer_typed(measured: dict[str, Any]) -> None:
    grades = measured["grades"]
    print(f"within 1: {grades['within_1']}, same: {grades['same']} over {grades['answers']} answers")
    assert grades["answers"] == 100
    assert grades["within_1"] >= FLOORS["grades_within_1"], (grades, "goal", GOALS["grades_within_1"])
    assert len(grades["typed_scores"]) > 1, "the typed answers should not all earn the same grade"


def test_a_word_marked_unsure_is_twice_as_likely_to_be_wrong(measured: dict[str, Any]) -> None:
    """Measured at 0.5: of the words marked, 35.9% (development) and 46.4% (held-out) were heard wrongly, against
    13.4% and 15.5% of all words; 56.8% and 59.8% of the words heard wrongly were marked."""
    for half, lines in measured["marking"].items():
        at = next(m for m in lines if m["below"] == UNSURE_BELOW)
        error_rate = at["wrong"] / at["words"]
        print(half, at, f"words heard wrongly: {error_rate:.1%}")
        assert at["precision"] >= 0.33 and at["precision"] >= 2 * error_rate, at
        assert at["recall"] >= 0.50, at


def test_bench_speech_names_the_models_it_can_measure(cli: Cli, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = cli("bench", "--speech", "--speech-models", "large-v3", "--reports", str(reports))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: No speech model 'large-v3' to measure; the choices are tiny.en, base."
    assert not reports.exists()
