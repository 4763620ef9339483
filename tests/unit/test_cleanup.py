"""What the recogniser wrote but nobody said is left out of a spoken answer, and nothing the candidate said is."""

from __future__ import annotations

from interviewer.speech.cleanup import Tidied, tidy
from interviewer.speech.delivery import SpokenWord, delivery
from interviewer.speech.recognition import Transcription


def heard(text: str, sure: dict[int, float] | None = None) -> list[SpokenWord]:
    """The words of `text`, 0.3 s each, heard with probability 0.9 unless `sure` says otherwise for word i."""
    return [
        SpokenWord(text=w, start=0.3 * i, end=0.3 * i + 0.3, probability=(sure or {}).get(i, 0.9))
        for i, w in enumerate(text.split())
    ]


def text_of(words: tuple[SpokenWord, ...]) -> str:
    return " ".join(w.text for w in words)


def transcription(tidied: Tidied) -> Transcription:
    """A 3-second recording heard as `tidied`."""
    return Transcription(
        source="a.wav",
        text=text_of(tidied.words),
        duration_s=3.0,
        seconds=0.2,
        real_time_factor=0.07,
        confidence=0.9,
        words=tidied.words,
        delivery=delivery(list(tidied.words)),
        left_out=tidied.left_out_text,
    )


ANSWER = "We compare PSI against the training baseline."


def test_a_thank_you_heard_in_the_closing_silence_is_left_out() -> None:
    """As whisper tiny.en wrote at the end of 'sv-p1' answers: the phrase's first word at 0.01-0.06."""
    words = heard(f"{ANSWER} Thank you. Thank you.", {7: 0.02, 9: 0.01})
    tidied = tidy(words)
    assert text_of(tidied.words) == ANSWER
    assert tidied.left_out_text == "Thank you. Thank you."


def test_a_thank_you_said_clearly_or_mid_answer_is_kept() -> None:
    said = heard(f"{ANSWER} Thank you.")
    assert tidy(said).words == tuple(said) and not tidy(said).left_out
    middle = heard(f"Thank you. {ANSWER}", {0: 0.02})
    assert tidy(middle).words == tuple(middle)


def test_a_closing_phrase_needs_its_own_opening_to_be_unsure() -> None:
    """A "see you" after a word heard with low probability is kept when its own first word was heard surely."""
    words = heard("Canaries let us see you.", {2: 0.05})
    assert tidy(words).words == tuple(words)


def test_a_loop_is_cut_to_three_and_a_closing_run_after_it_left_out() -> None:
    looped = heard(f"{ANSWER} See you in the next video. " + "Bye. " * 60, {7: 0.02})
    tidied = tidy(looped)
    assert text_of(tidied.words) == ANSWER
    assert tidied.left_out_text.startswith("See you in the next video. Bye. Bye.")
    assert len(tidied.left_out) == len(looped) - 7


def test_repeats_a_candidate_says_are_kept_and_a_looped_phrase_is_cut() -> None:
    said = heard("It is very very very slow, retry, retry, retry.")
    assert tidy(said).words == tuple(said)
    counted = heard("We page at 1, 2, 3, 4 and 5 failed checks, or at 0.1, 0.2, 0.3, 0.4 PSI.")
    assert tidy(counted).words == tuple(counted)
    looped = heard("the model drifts " + "and drifts " * 8 + "away")
    assert text_of(tidy(looped).words) == "the model drifts and drifts and drifts and drifts away"


def test_the_terminal_shows_what_was_left_out() -> None:
    words = tidy(heard(f"{ANSWER} Thanks for watching.", {7: 0.02}))
    spoken = transcription(words)
    assert spoken.lines()[:2] == [ANSWER, 'Left out, as a slip of the recogniser: "Thanks for watching."']


def test_the_page_says_what_was_left_out_and_quotes_what_was_heard_escaped() -> None:
    from interviewer.web.handlers import heard_note

    words = tidy(heard("We compare <b>PSI</b> against the baseline. Thanks *for* watching.", {1: 0.3, 6: 0.02}))
    spoken = transcription(words)
    note = heard_note(spoken)
    assert 'Left out: "Thanks \\*for\\* watching."' in note, note
    assert "> We <mark>compare</mark> &lt;b&gt;PSI&lt;/b&gt; against the baseline." in note, note
