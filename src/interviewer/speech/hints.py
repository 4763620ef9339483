"""What the recogniser is told to expect: the field's words for the question being answered.

A candidate's answer is full of words a general recogniser rarely hears ("PSI", "Feast", "point-in-time join").
Whisper can be given text that it takes as what came just before the recording, and it then favours those words.
The hint is the prompt's rubric terms (the names, tools and acronyms a good answer uses), then the topic's title,
then the question as it was asked (the main question or a follow-up), cut to whole entries within Whisper's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from interviewer.curriculum.corpus import PromptRef

HINT_TOKENS = 200
"""The most tokens of hint: Whisper's prompt holds 223 (half its 448-token context, less one); a little is kept
back so that faster-whisper never cuts the hint itself, mid-word."""


@dataclass(frozen=True)
class Hint:
    """Words to expect: terms (listed, most useful first), then sentences (the topic, the question)."""

    terms: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()

    def text(self, count_tokens: Callable[[str], int], budget: int = HINT_TOKENS) -> str:
        """The hint as Whisper reads it ("a, b, c. Topic. Question?"), whole entries in order within `budget`.

        A term that would not fit is left out with every term after it (the first matter most); then each
        sentence is added while it fits.
        """
        terms: list[str] = []
        for term in self.terms:
            if count_tokens(_joined([*terms, term], [])) > budget:
                break
            terms.append(term)
        sentences: list[str] = []
        for sentence in self.sentences:
            if count_tokens(_joined(terms, [*sentences, sentence])) > budget:
                break
            sentences.append(sentence)
        return _joined(terms, sentences)


def vocabulary(ref: PromptRef, asked: str | None = None) -> Hint:
    """The hint for an answer to `ref`: its rubric's distinct terms, its topic, and the question `asked` (the
    prompt itself unless a follow-up was asked)."""
    seen: set[str] = set()
    terms: list[str] = []
    for point in ref.prompt.rubric:
        for term in point.terms:
            key = " ".join(term.casefold().split())
            if key not in seen:
                seen.add(key)
                terms.append(" ".join(term.split()))
    return Hint(tuple(terms), (ref.topic.title, " ".join((asked or ref.prompt.text).split())))


def _joined(terms: list[str], sentences: list[str]) -> str:
    parts = [f"{', '.join(terms)}."] if terms else []
    parts += [s if s.endswith((".", "?", "!")) else f"{s}." for s in sentences]
    return " ".join(parts)
