"""How an answer was spoken: pace, filler words and pauses, from the word timestamps of its transcription.

The figures are feedback on delivery, never part of the grade. Filler words counted (`FILLERS`):

- hesitation sounds: "um", "uh", "er", "erm", "ah", "hmm" (with their drawn-out spellings, "umm", "uhh"...);
- "like" only when set off by a comma after it ("so, like, we..."), never the verb or the preposition
  ("I like", "models like XGBoost");
- "you know", unless it is a real question or clause ("do you know", "if you know", "you know how/what...");
- "I mean", unless "what I mean";
- "sort of" and "kind of", unless after a determiner ("a kind of model", "this sort of drift");
- "basically", "actually", "literally", each time.

Whisper often leaves hesitation sounds out of its text, so their counts are a lower bound.

Speaking time runs from the first word to the last, less every pause of `LONG_PAUSE_S` or more; words per
minute are counted over it, so a long silence to think does not lower the pace.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

LONG_PAUSE_S = 2.0
"""A gap between two words at least this long counts as a long pause (and not as speaking time)."""

HESITATIONS = {
    name: re.compile(f"{pattern}$")
    for name, pattern in {
        "um": "u+m+",
        "uh": "u+h+",
        "er": "e+r+",
        "erm": "e+r+m+",
        "ah": "a+h+",
        "hmm": "h+m+",
    }.items()
}
"""Each hesitation sound and its spellings, drawn out or not ("umm", "uhh", "hm")."""
ALWAYS = ("basically", "actually", "literally")
DETERMINERS = frozenset(
    "a an the this that these those what which some any every each one another no same different".split()
)
_NOT_FILLER_BEFORE_YOU_KNOW = frozenset("do did does dont didnt if whether would could what when once".split())
_NOT_FILLER_AFTER_YOU_KNOW = frozenset("how what why where when whether which who that about".split())
FILLERS = (*HESITATIONS, "like", "you know", "I mean", "sort of", "kind of", *ALWAYS)
"""Every filler counted, as it is named in `Delivery.fillers`."""


class SpokenWord(BaseModel):
    """One transcribed word (as Whisper wrote it, punctuation included) and when it was said, in seconds."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: float
    end: float
    probability: float = 1.0


class Delivery(BaseModel):
    """Pace, fillers and pauses of one spoken answer, or of several summed (`combine`)."""

    model_config = ConfigDict(frozen=True)

    answers: int = 1
    words: int
    speaking_s: float
    words_per_minute: float
    longest_pause_s: float
    long_pauses: int
    fillers: dict[str, int]
    """Each filler word said at least once, and how often (names from `FILLERS`)."""

    @property
    def filler_count(self) -> int:
        return sum(self.fillers.values())

    def figures(self, *, detail: bool = False) -> list[str]:
        """The figures in words: pace, filler words, the longest pause; with `detail`, what each is made of.
        The one wording behind the terminal (`lines`), the web app and the transcript (`line`)."""
        fillers = ", ".join(f"{name} ×{n}" for name, n in self.fillers.items())
        pace = f"{self.words_per_minute:.0f} words a minute"
        said = f"{self.filler_count} filler word{'' if self.filler_count == 1 else 's'}"
        pause = f"longest pause {self.longest_pause_s:.1f} s"
        if detail:
            pace += f" ({self.words} words in {self.speaking_s:.1f} s)"
            pause += f"; pauses of {LONG_PAUSE_S:.0f} s or more: {self.long_pauses}"
        return [pace, f"{said} ({fillers})" if fillers else said, pause]

    def line(self) -> str:
        """The figures in one line, as the web app and the transcript show them."""
        return " · ".join(self.figures())

    def lines(self) -> list[str]:
        """The figures for the terminal, one per line, with what each is made of."""
        return self.figures(detail=True)


def _token(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _filler_at(tokens: Sequence[str], raw: Sequence[str], i: int) -> tuple[str, int] | None:
    """The filler starting at word i and how many words it spans, or None."""
    word, before = tokens[i], tokens[i - 1] if i else ""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    hesitation = next((name for name, spelling in HESITATIONS.items() if spelling.match(word)), None)
    if hesitation:
        return hesitation, 1
    if word in ALWAYS:
        return word, 1
    if word == "like" and raw[i].rstrip().endswith(","):
        return "like", 1
    pair = f"{word} {after}"
    if pair == "you know" and before not in _NOT_FILLER_BEFORE_YOU_KNOW:
        third = tokens[i + 2] if i + 2 < len(tokens) else ""
        return ("you know", 2) if third not in _NOT_FILLER_AFTER_YOU_KNOW else None
    if pair == "i mean" and before != "what":
        return "I mean", 2
    if pair in {"sort of", "kind of"} and before not in DETERMINERS:
        return pair, 2
    return None


def count_fillers(words: Sequence[str]) -> dict[str, int]:
    """How often each filler of `FILLERS` occurs in a sequence of transcribed words (punctuation kept)."""
    tokens = [_token(w) for w in words]
    counts: Counter[str] = Counter()
    i = 0
    while i < len(tokens):
        found = _filler_at(tokens, words, i) if tokens[i] else None
        if found is None:
            i += 1
            continue
        counts[found[0]] += 1
        i += found[1]
    return {name: counts[name] for name in FILLERS if counts[name]}


def pauses(words: Sequence[SpokenWord]) -> list[float]:
    """The gaps between consecutive words, in seconds (never negative)."""
    return [max(0.0, b.start - a.end) for a, b in pairwise(words)]


def delivery(words: Sequence[SpokenWord]) -> Delivery:
    """The delivery figures of one answer from its words and their timestamps."""
    spoken = [w for w in words if _token(w.text)]
    gaps = pauses(spoken)
    long_gaps = [g for g in gaps if g >= LONG_PAUSE_S]
    span = spoken[-1].end - spoken[0].start if spoken else 0.0
    speaking = max(0.0, span - sum(long_gaps))
    return Delivery(
        words=len(spoken),
        speaking_s=round(speaking, 2),
        words_per_minute=_pace(len(spoken), speaking),
        longest_pause_s=round(max(gaps, default=0.0), 2),
        long_pauses=len(long_gaps),
        fillers=count_fillers([w.text for w in spoken]),
    )


def _pace(words: int, seconds: float) -> float:
    return round(words * 60 / seconds, 1) if seconds > 0 else 0.0


def combine(parts: Iterable[Delivery]) -> Delivery:
    """Several answers' delivery as one: words, speaking time, pauses and fillers summed, the pace over the
    whole speaking time, the longest pause of them all."""
    items = list(parts)
    fillers: Counter[str] = Counter()
    for item in items:
        fillers.update(item.fillers)
    words = sum(d.words for d in items)
    speaking = round(sum(d.speaking_s for d in items), 2)
    return Delivery(
        answers=sum(d.answers for d in items),
        words=words,
        speaking_s=speaking,
        words_per_minute=_pace(words, speaking),
        longest_pause_s=max((d.longest_pause_s for d in items), default=0.0),
        long_pauses=sum(d.long_pauses for d in items),
        fillers={name: fillers[name] for name in FILLERS if fillers[name]},
    )
