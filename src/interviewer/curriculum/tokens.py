"""Words and sentences of plain text: the tokeniser, light stemmer and sentence splitter.

Shared by the grader (`interviewer.grading.text`) and the curriculum index, and depending on neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Function words: no evidence of a key point by themselves.
STOPWORDS = frozenset(
    """
    a an the and or but if then else of to in on at by for with from into onto over under about as
    is are was were be been being it its this that these those there here we you they i he she them
    us our your their my me do does did done can could should would will shall may might must not no
    so than too very just also what which who whom whose when where why how all any each every some
    such only own same other more most has have had having because while until since through during
    before after again further once both few nor up down out off above below between against let
    lets get gets got make makes made like use used using one two way ways thing things really
    basically actually
    """.split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Sentence:
    text: str  # as the candidate wrote it (cleaned of markup), used as evidence
    stems: tuple[str, ...]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match plurals and verb forms of rubric terms."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + repl
            if suffix in {"ing", "ed"} and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # stopped -> stop
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                base = word[:-1]  # features -> feature
            return base.rstrip("e") if len(base) > 4 else base
    return word.rstrip("e") if len(word) > 4 else word


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("'", "").replace("’", ""))


@lru_cache(maxsize=16384)
def stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text))


READ_SENTENCES = 60
"""The most sentences of one answer that are read, for retrieval and by the rubric brain: this bounds the work one
answer can cost. An answer of the longest accepted length can hold hundreds; none of the 907 labelled answers has
more than 31."""


def split_sentences(text: str, max_words: int = 40) -> list[Sentence]:
    """Sentences of the answer; very long ones are cut at commas so evidence stays quotable."""
    out: list[Sentence] = []
    for raw in _SENTENCE_END.split(text):
        piece = raw.strip(" -*\t")
        if not words(piece):
            continue
        for chunk in _cut_long(piece, max_words):
            out.append(Sentence(chunk, stems(chunk)))
    return out


def _cut_long(piece: str, max_words: int) -> list[str]:
    if len(piece.split()) <= max_words:
        return [piece]
    chunks: list[str] = []
    current: list[str] = []
    for part in re.split(r"(?<=,)\s+", piece):
        if current and len(" ".join([*current, part]).split()) > max_words:
            chunks.append(" ".join(current))
            current = []
        current.append(part)
    if current:
        chunks.append(" ".join(current))
    # A run with no commas at all: cut by word count.
    final: list[str] = []
    for chunk in chunks:
        toks = chunk.split()
        final.extend(" ".join(toks[i : i + max_words]) for i in range(0, len(toks), max_words))
    return final
