"""Two slips a small Whisper makes that no candidate would: closing words it heard in silence, and loops.

- **A closing hallucination.** Where a recording ends, Whisper often writes a phrase it learnt from the ends of
  subtitled videos: "Thank you.", "Thanks for watching.", "See you in the next video. Bye." (Barański et al.,
  "Investigation of Whisper ASR Hallucinations Induced by Non-Speech Audio", ICASSP 2025, list these as its most
  frequent hallucinations, and remove them with such a list). It is left out when it closes the answer and its
  first word came with low probability: a candidate who says "thank you" clearly keeps it.
- **A loop.** The decoder sometimes repeats a word or a short phrase to the end of its window ("Bye. Bye. Bye.
  ..."). A word or a phrase of up to three words said more than `MOST_REPEATS` times in a row is kept that many
  times.

On the domain set's development half, spoken at 150 and 175 words a minute, leaving these out took the word error
rate from 19.4% to 15.8% and from 21.8% to 18.0%, and left rubric-term recall as it was (evals/reports/speech.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from interviewer.speech.delivery import SpokenWord

CLOSING_PHRASES = frozenset(
    tuple(phrase.split())
    for phrase in (
        "thank you",
        "thank you very much",
        "thank you for watching",
        "thanks",
        "thanks for watching",
        "see you",
        "see you next time",
        "see you in the next video",
        "bye",
        "bye bye",
        "appreciate it",
        "please subscribe",
    )
)
"""What Whisper writes over the silence that closes a recording (lower case, without punctuation)."""
LONGEST_PHRASE = max(len(p) for p in CLOSING_PHRASES)
UNSURE_OPENING = 0.2
"""A closing phrase is left out when its first word's probability is below this (chosen on the development half;
0.1 and 0.3 did as well). The hallucinations measured there opened at 0.01-0.12."""
MOST_REPEATS = 3
LOOP_LONGEST = 3


@dataclass(frozen=True)
class Tidied:
    """The words kept, and the words left out (as heard, in order)."""

    words: tuple[SpokenWord, ...]
    left_out: tuple[SpokenWord, ...] = ()

    @property
    def left_out_text(self) -> str:
        return " ".join(w.text for w in self.left_out)


def _bare(word: SpokenWord) -> str:
    """The word without punctuation or case: "Bye." is "bye"; numbers and letters of any script stay."""
    return re.sub(r"[^\w']", "", word.text.casefold())


def _repeats(words: Sequence[SpokenWord], size: int) -> bool:
    """Whether the last `size` words are the same as each of the `MOST_REPEATS` groups of `size` before them."""
    if len(words) < size * (MOST_REPEATS + 1):
        return False
    last = [_bare(w) for w in words[-size:]]
    return all(
        [_bare(w) for w in words[len(words) - size * (k + 1) : len(words) - size * k]] == last
        for k in range(1, MOST_REPEATS + 1)
    )


def without_loops(words: Sequence[SpokenWord]) -> list[int]:
    """The places of the words kept when each run of a word or short phrase said more than `MOST_REPEATS` times
    is cut to that."""
    kept: list[int] = []
    for at in range(len(words)):
        kept.append(at)
        for size in range(1, LOOP_LONGEST + 1):
            if _repeats([words[i] for i in kept[-size * (MOST_REPEATS + 1) :]], size):
                del kept[-size:]
                break
    return kept


def closing_start(words: Sequence[SpokenWord]) -> int:
    """Where the run of closing phrases that ends `words` starts (len(words) when none does)."""
    cut = len(words)
    while cut:
        for size in range(min(LONGEST_PHRASE, cut), 0, -1):
            if tuple(_bare(w) for w in words[cut - size : cut]) in CLOSING_PHRASES:
                cut -= size
                break
        else:
            break
    return cut


def tidy(words: Sequence[SpokenWord]) -> Tidied:
    """The words heard, without loops and without a closing hallucination."""
    places = without_loops(words)
    cut = closing_start([words[i] for i in places])
    if cut < len(places) and words[places[cut]].probability < UNSURE_OPENING:
        places = places[:cut]
    kept = set(places)
    return Tidied(tuple(words[i] for i in places), tuple(w for i, w in enumerate(words) if i not in kept))
