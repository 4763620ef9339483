"""What the recogniser is told to expect for an answer: the prompt's rubric terms first, then its topic and the
question asked, in whole entries that fit Whisper's prompt."""

from __future__ import annotations

from interviewer.curriculum.corpus import Corpus
from interviewer.speech.hints import HINT_TOKENS, Hint, vocabulary


def words(text: str) -> int:
    return len(text.split())


def test_the_hint_is_the_rubric_terms_then_the_topic_then_the_question_asked(corpus: Corpus) -> None:
    ref = corpus.prompt("mon-p2")
    hint = vocabulary(ref)
    assert "data drift" in hint.terms and "concept drift" in hint.terms
    assert len({t.casefold() for t in hint.terms}) == len(hint.terms)  # each term once
    assert hint.sentences == (ref.topic.title, " ".join(ref.prompt.text.split()))
    follow_up = vocabulary(ref, "And how would you tell them apart without labels?")
    assert follow_up.sentences[-1] == "And how would you tell them apart without labels?"
    assert follow_up.terms == hint.terms


def test_the_hint_keeps_whole_entries_within_its_budget_the_first_ones_first() -> None:
    hint = Hint(("data drift", "PSI", "KS test", "point in time join"), ("Monitoring", "What would you watch?"))
    assert hint.text(words) == "data drift, PSI, KS test, point in time join. Monitoring. What would you watch?"
    assert hint.text(words, budget=5) == "data drift, PSI, KS test."
    assert hint.text(words, budget=6) == "data drift, PSI, KS test. Monitoring."  # a sentence fits where a term did not
    assert hint.text(words, budget=10) == "data drift, PSI, KS test, point in time join. Monitoring."
    assert Hint().text(words) == ""
    assert Hint(sentences=("What would you watch?",)).text(words) == "What would you watch?"


def test_every_prompts_hint_fits_whispers_prompt(corpus: Corpus) -> None:
    """Counted in words here, a bound on tokens only loosely; the recogniser counts its own tokens
    (`SpeechModel.hint_text`). No prompt has so many terms that its question would never fit."""
    for ref in corpus.prompts.values():
        hint = vocabulary(ref)
        assert len(hint.terms) >= 3 and words(hint.text(words)) <= HINT_TOKENS
