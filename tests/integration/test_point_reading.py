"""Each rubric point is judged on what the answer says about it, for every point of the corpus.

- a point's own text, and each of its paraphrases, given alone, earns it;
- sentences that state other points, or that answer another question, lower no point's verdict;
- the order of the sentences changes nothing;
- a sentence that denies the point ("It is not true that ...") does not earn it.
"""

from __future__ import annotations

import pytest

from interviewer.curriculum.corpus import Corpus, Prompt, load_corpus
from interviewer.grading.claims import CONTRAST, clauses
from interviewer.grading.grader import Grader
from interviewer.grading.models import VERDICT_CREDIT, Grade
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import split_sentences
from tests.helpers import ROOT

PROMPTS = sorted(load_corpus(ROOT / "corpus").prompts)
DENIALS = ("It is not true that {}", "I don't think {}")


def _said(text: str) -> str:
    """A point's text as a sentence of an answer."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _one_claim(text: str) -> bool:
    """A point that one opening frame can deny whole: one sentence, with no second clause after a semicolon or a
    contrast ("..., but let the run proceed" stays said)."""
    return len(split_sentences(text)) == 1 and ";" not in text and not any(c[0] in CONTRAST for c in clauses(text))


def _verdicts(grade: Grade) -> dict[str, float]:
    return {p.point_id: VERDICT_CREDIT[p.verdict] for p in grade.points}


def _lowered(before: dict[str, float], after: dict[str, float]) -> dict[str, tuple[float, float]]:
    return {k: (before[k], after[k]) for k in before if after[k] < before[k]}


@pytest.mark.parametrize("prompt_id", PROMPTS)
def test_a_point_stated_alone_earns_it_and_a_denial_of_it_does_not(module_grader: Grader, prompt_id: str) -> None:
    prompt = module_grader.corpus.prompt(prompt_id).prompt
    unearned, denied = [], []
    for point in prompt.rubric:
        for text in (point.point, *point.paraphrases):
            verdict = _verdicts(module_grader.grade(prompt, _said(text)))[point.id]
            if verdict < VERDICT_CREDIT["covered"]:
                unearned.append((point.id, verdict, text))
        for frame in DENIALS if _one_claim(point.point) else ():
            sentence = frame.format(point.point[0].lower() + point.point[1:])
            if _verdicts(module_grader.grade(prompt, _said(sentence)))[point.id] > 0:
                denied.append((point.id, sentence))
    assert unearned == [], "a point stated alone is not covered"
    assert denied == [], "a denial earns the point it denies"


@pytest.mark.parametrize("prompt_id", PROMPTS)
def test_more_sentences_lower_no_point_and_their_order_changes_nothing(
    module_grader: Grader, corpus: Corpus, prompt_id: str
) -> None:
    prompt = module_grader.corpus.prompt(prompt_id).prompt
    other = _another(corpus, prompt)
    for point in prompt.rubric:
        alone = _verdicts(module_grader.grade(prompt, _said(point.point)))
        others = [_said(p.point) for p in prompt.rubric if p.id != point.id]
        with_others = _verdicts(module_grader.grade(prompt, " ".join([_said(point.point), *others])))
        assert _lowered(alone, with_others) == {}, f"{point.id}: stating other points lowered a verdict"
        elsewhere = _verdicts(module_grader.grade(prompt, _said(point.point) + " " + other.reference_answer))
        assert _lowered(alone, elsewhere) == {}, f"{point.id}: another question's answer lowered a verdict"
    every = [_said(p.point) for p in prompt.rubric]
    forward = _verdicts(module_grader.grade(prompt, " ".join(every)))
    backward = _verdicts(module_grader.grade(prompt, " ".join(reversed(every))))
    assert forward == backward, "the order of the sentences changed a verdict"


def _another(corpus: Corpus, prompt: Prompt) -> Prompt:
    """A prompt of another topic, whose reference answer says nothing about this one's points."""
    for ref in corpus.prompts.values():
        if ref.prompt.id.split("-")[0] != prompt.id.split("-")[0]:
            return ref.prompt
    raise AssertionError("the corpus has one topic")


@pytest.mark.parametrize("case_file", ["fsw-p1.yaml", "dv-p2.yaml"])
def test_reading_only_the_windows_that_can_change_a_verdict_gives_every_verdict_of_reading_them_all(
    module_grader: Grader, case_file: str
) -> None:
    import yaml

    cases = yaml.safe_load((ROOT / "evals" / "cases" / case_file).read_text(encoding="utf-8"))
    prompt = module_grader.corpus.prompt(cases["prompt_id"]).prompt
    brain = module_grader.brain("rubric")
    assert isinstance(brain, RubricBrain)
    answers = [c["answer"] for c in cases["cases"] if c["kind"] in ("level", "concise", "long_wrong", "paraphrase")]
    fast = [[p.verdict for p in brain.grade(prompt, a).points] for a in answers]
    brain.read_every_point = True
    try:
        full = [[p.verdict for p in brain.grade(prompt, a).points] for a in answers]
    finally:
        brain.read_every_point = False
    assert len(answers) >= 10 and fast == full
