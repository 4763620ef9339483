"""Red flags fire on a misconception stated, never on a correct sentence that names it to reject it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus, RedFlag, load_corpus
from interviewer.grading.claims import states

STATEMENTS: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "redflag_statements.yaml").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(Settings().corpus_dir)


def _flag(corpus: Corpus, entry: dict[str, Any]) -> RedFlag:
    flags = corpus.prompt(entry["prompt"]).prompt.red_flags
    return next(f for f in flags if f.claim.startswith(entry["cue_claim"]))


@pytest.mark.parametrize("entry", STATEMENTS, ids=lambda e: f"{e['prompt']}:{e['correct'][:40]}")
def test_a_correct_statement_fires_no_red_flag_and_the_misconception_does(
    corpus: Corpus, entry: dict[str, Any]
) -> None:
    flag = _flag(corpus, entry)
    assert not any(states(entry["correct"], cue) for cue in flag.cues), entry["correct"]
    assert any(states(entry["wrong"], cue) for cue in flag.cues), entry["wrong"]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Metrics will catch it, so we skip validation.", True),
        ("Maybe metrics will catch it.", True),  # a hedged claim is still a claim
        ("Don't assume metrics will catch it.", False),  # negation before
        ("Shadow proves nothing about fraud losses.", False),  # negation after
        ("A common mistake is to think metrics will catch it.", False),  # a rejecting frame before
        ("That metrics will catch it is a myth.", False),  # ... and after
        ("People say metrics will catch it, but that is not true.", False),  # a contrast that denies it
        ("So metrics will catch it?", False),  # a question asserts nothing
        ("If something goes wrong, metrics will catch it.", True),  # "wrong" in another clause rejects nothing
        ("Some say metrics will catch it, but that misses the point.", False),  # a contrast that calls it wrong
        ("People assume metrics will catch it, which is wrong.", False),  # a relative clause that calls it wrong
        ("Metrics will catch it, which is why we skip validation.", True),  # a relative clause that denies nothing
        ("Metrics will catch it only if the labels arrive in time.", False),  # a condition withdraws the claim
        ("Metrics will catch it, provided someone looks at them.", False),
    ],
)
def test_a_cue_counts_only_when_the_sentence_asserts_it(sentence: str, expected: bool) -> None:
    cue = "metrics will catch it" if "catch it" in sentence else "shadow proves"
    assert states(sentence, cue) is expected
