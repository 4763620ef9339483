"""Delivery figures from word timestamps: pace, filler words, pauses, and several answers summed."""

from __future__ import annotations

import pytest

from interviewer.speech.delivery import SpokenWord, combine, count_fillers, delivery


def timed(text: str, gaps: dict[int, float] | None = None, word_s: float = 0.4) -> list[SpokenWord]:
    """The words of `text`, each `word_s` long, back to back except for the pause before word i in `gaps`."""
    words, clock = [], 0.0
    for i, word in enumerate(text.split()):
        clock += (gaps or {}).get(i, 0.0)
        words.append(SpokenWord(text=word, start=round(clock, 2), end=round(clock + word_s, 2)))
        clock += word_s
    return words


def test_fillers_are_counted_each_time_and_named() -> None:
    said = "Um, so, like, we basically log it. Uh I mean, you know, it is sort of fine. Umm, actually, hmm."
    assert count_fillers(said.split()) == {
        "um": 2,
        "uh": 1,
        "hmm": 1,
        "like": 1,
        "you know": 1,
        "I mean": 1,
        "sort of": 1,
        "basically": 1,
        "actually": 1,
    }


@pytest.mark.parametrize(
    "said",
    [
        "Models like XGBoost serve well on a CPU.",
        "I like a registry that is a kind of catalogue.",
        "Do you know how the feature store works?",
        "That is what I mean by this sort of drift.",
        "You know what the model needs.",
        "The umbrella term is error budget.",
    ],
)
def test_words_that_carry_meaning_are_not_fillers(said: str) -> None:
    assert count_fillers(said.split()) == {}


def test_pace_pause_and_speaking_time_of_one_answer() -> None:
    # 12 words of 0.5 s, a 0.8 s pause before word 4 and a 3 s pause (a long one) before word 8.
    words = timed("a feature store defines each feature once so training and serving agree", {4: 0.8, 8: 3.0}, 0.5)
    figures = delivery(words)
    assert figures.words == 12
    assert figures.longest_pause_s == pytest.approx(3.0)
    assert figures.long_pauses == 1
    # From the first word to the last is 6 + 0.8 + 3 = 9.8 s; the long pause does not count as speaking.
    assert figures.speaking_s == pytest.approx(6.8)
    assert figures.words_per_minute == pytest.approx(12 * 60 / 6.8, abs=0.1)
    assert "longest pause 3.0 s" in "\n".join(figures.lines()) and "longest pause 3.0 s" in figures.line()


def test_no_words_give_zero_figures_not_an_error() -> None:
    figures = delivery([])
    assert (figures.words, figures.speaking_s, figures.words_per_minute, figures.longest_pause_s) == (0, 0, 0, 0)
    assert figures.fillers == {}


def test_a_session_sums_its_answers() -> None:
    first = delivery(timed("um we version the data basically", {3: 2.5}))  # 6 words, 2.4 s speaking
    second = delivery(timed("like, the registry holds uh every model version", word_s=0.3))  # 8 words, 2.4 s
    total = combine([first, second])
    assert total.answers == 2
    assert total.words == 14
    assert total.speaking_s == pytest.approx(4.8)
    assert total.words_per_minute == pytest.approx(14 * 60 / 4.8, abs=0.1)
    assert total.longest_pause_s == pytest.approx(2.5)
    assert total.long_pauses == 1
    assert total.fillers == {"um": 1, "uh": 1, "like": 1, "basically": 1}
    assert total.filler_count == 4
    assert combine([]).words == 0
