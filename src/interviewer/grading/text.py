"""Answer text as the grader sees it: cleaned, split into sentences, tokenised and lightly stemmed.

The words and sentences come from `interviewer.curriculum.tokens` (which the index uses too) and are re-exported here.
"""

from __future__ import annotations

import html
import re
import unicodedata

from interviewer.curriculum.corpus import Prompt
from interviewer.curriculum.tokens import STOPWORDS as STOPWORDS
from interviewer.curriculum.tokens import Sentence as Sentence
from interviewer.curriculum.tokens import split_sentences as split_sentences
from interviewer.curriculum.tokens import stem as stem
from interviewer.curriculum.tokens import stems as stems
from interviewer.curriculum.tokens import words as words
from interviewer.errors import AnswerRejected

_TAG = re.compile(r"<[^>]{0,200}>")
_MD = re.compile(r"(\*\*|__|`{1,3}|^#{1,6}\s*|^\s*>\s?)", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+•·]|\d{1,2}[.)])\s+", re.MULTILINE)
_NEWLINES = re.compile(r"\r\n?|[\x85\u2028\u2029]")
_DROPPED = {"Cs", "Co", "Cn", "Cf"}  # surrogates, private use, unassigned, invisible format marks (BOM, bidi, ZWSP)

NEGATIONS = frozenset(
    """
    not no never without none nor neither cannot cant dont doesnt isnt arent wont shouldnt wouldnt
    didnt hasnt havent wasnt werent couldnt aint rather instead avoid avoiding
    """.split()
)


def clean(answer: str, max_chars: int) -> str:
    """Printable text of an answer; refuses one that is too long rather than cutting it silently.

    Control characters (NUL included) become spaces, line breaks of any kind become newlines, and invisible
    marks (a byte-order mark, zero-width and bidirectional controls) are dropped, so they can neither split
    a word nor hide one. An answer that cannot be stored as UTF-8 text (a lone surrogate, which a JSON client
    can send) is refused as a whole.
    """
    if len(answer) > max_chars:
        raise AnswerRejected(
            f"The answer is {len(answer):,} characters; the limit is {max_chars:,}. Shorten it and send it again."
        )
    refuse_unstorable(answer)
    text = printable(unicodedata.normalize("NFKC", answer))
    text = text.replace("<!--", " ").replace("-->", " ")  # a hidden comment is still read, and judged
    text = html.unescape(_TAG.sub(" ", text))
    text = _BULLET.sub("", text)
    text = _MD.sub("", text)
    text = re.sub(r"[ \t]+", " ", text)
    return text.strip()


def refuse_unstorable(answer: str) -> None:
    """Refuse text that is not valid Unicode (a lone UTF-16 surrogate): it can be neither graded nor stored."""
    try:
        answer.encode("utf-8")
    except UnicodeEncodeError:
        raise AnswerRejected(
            "The answer contains characters that are not valid text (a lone UTF-16 surrogate); "
            "nothing was graded. Send it again as plain text."
        ) from None


def printable(answer: str) -> str:
    """The answer as typed, minus what no reader can see: control characters (NUL included) become spaces,
    every kind of line break becomes a newline, and invisible marks (BOM, zero-width, bidi) are dropped.

    Markup and wording are kept, so this is also fit for the copy of an answer a transcript shows.
    """
    text = _NEWLINES.sub("\n", answer)
    return "".join(" " if _is_control(ch) else ch for ch in text if unicodedata.category(ch) not in _DROPPED)


def _is_control(ch: str) -> bool:
    return ch not in "\n\t" and unicodedata.category(ch) == "Cc"


def content_stems(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def find_phrase(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    """Start positions where the stemmed phrase occurs as a contiguous run."""
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return []
    first = phrase[0]
    return [
        i for i, tok in enumerate(haystack[: len(haystack) - n + 1]) if tok == first and haystack[i : i + n] == phrase
    ]


def negated(haystack: tuple[str, ...], position: int, window: int = 3) -> bool:
    return any(tok in NEGATIONS for tok in haystack[max(0, position - window) : position])


def shared_runs(text: str, other: str, n: int = 6) -> list[str]:
    """Every run of n consecutive words that text shares with other."""
    theirs = words(other)
    grams = {tuple(theirs[i : i + n]) for i in range(len(theirs) - n + 1)}
    mine = words(text)
    return [" ".join(mine[i : i + n]) for i in range(len(mine) - n + 1) if tuple(mine[i : i + n]) in grams]


def reveals(question: str, prompt: Prompt) -> bool:
    """True when a question gives away a key point or the reference answer: six words in a row from either
    that the interview question itself does not contain."""
    asked = " ".join(words(prompt.text))
    sources = [*(p.point for p in prompt.rubric), prompt.reference_answer]
    return any(run not in asked for source in sources for run in shared_runs(question, source))
