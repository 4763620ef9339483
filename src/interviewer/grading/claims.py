"""Whether a sentence states a misconception, or only names it: a red flag's cue read in its clause.

A cue is a stemmed phrase of the wrong claim ("metrics will catch it"). A strong answer often names the wrong
claim to reject it, so a cue counts only when the sentence asserts it:
- no negation just before it ("don't assume metrics will catch it") or just after it ("shadow proves nothing");
- not inside a frame that rejects it, before ("a common mistake is to think ...") or after ("... is a myth");
- not followed, in the next clause, by a contrast or a relative clause that denies it ("... will catch it, but
  not this kind", "some say it is basically a cache, but that misses the point", "... means drift, which is
  wrong");
- not made conditional by what follows it ("a type check would have caught it only if the type changed", "...,
  provided the schema declares value ranges");
- not asked as a question ("would a schema check have caught this?").
A hedge ("maybe", "I think") does not withdraw a claim: a hedged misconception is still one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from interviewer.grading.text import NEGATIONS, find_phrase, stems

# Words right after a cue that deny it: "shadow proves nothing", "moving the alias deploys nothing by itself".
_DENIED_AFTER = frozenset(stems("nothing not no never none neither nor little"))
# Words that mark the claim around them as one the speaker rejects.
_REJECTING = frozenset(
    stems(
        "myth myths mistake mistakes misconception misconceptions fallacy pitfall pitfalls trap traps antipattern "
        "wrongly naive naively false untrue misleading wishful tempting"
    )
)
# Words that open a clause contrasting with the one before it.
CONTRAST = frozenset(stems("but however although though whereas yet except unless instead"))
# Words that deny the clause before them when they follow a contrast or a relative pronoun ("but that misses",
# "which is wrong"); alone, "wrong" is no denial ("if something goes wrong, metrics will catch it").
_DENYING_NEXT = frozenset(stems("wrong incorrect misses mistaken untrue false myth"))
_RELATIVE = frozenset(stems("which"))
# A condition right after a cue withdraws it: "only if", "only when", "provided".
_CONDITION = (stems("only if"), stems("only when"), stems("provided"))
_CLAUSE_BREAK = re.compile(r"[,;:()\u2013\u2014]|\s-\s")


# Openings that deny the whole sentence after them: "It is not true that ...", "I don't think ...".
_DENIAL_FRAMES = tuple(
    stems(frame)
    for frame in (
        "it is not true",
        "its not true",
        "it isnt true",
        "it is not the case",
        "it isnt the case",
        "it is false",
        "it is a myth",
        "it is a misconception",
        "it is wrong to say",
        "i dont think",
        "i do not think",
        "i dont believe",
        "i do not believe",
    )
)


@lru_cache(maxsize=4096)
def _cue(cue: str) -> tuple[str, ...]:
    return stems(cue)


def clauses(sentence: str) -> list[tuple[str, ...]]:
    """The stemmed clauses of a sentence, split at punctuation and before a contrasting word."""
    out: list[tuple[str, ...]] = []
    for piece in _CLAUSE_BREAK.split(sentence):
        current: list[str] = []
        for token in stems(piece):
            if token in CONTRAST and current:
                out.append(tuple(current))
                current = []
            current.append(token)
        if current:
            out.append(tuple(current))
    return out


def states(sentence: str, cue: str) -> bool:
    """True when the sentence asserts the claim its cue names (see the module's rules)."""
    phrase = _cue(cue)
    if not phrase or sentence.rstrip().endswith("?"):
        return False
    parts = clauses(sentence)
    rejecting_before = False
    for n, clause in enumerate(parts):
        for start in find_phrase(clause, phrase):
            end = start + len(phrase)
            if (
                _asserted(clause, start, end, rejecting_before)
                and not _denied_next(parts[n + 1 : n + 2])
                and not _conditional(clause[end:], parts[n + 1 : n + 2])
            ):
                return True
        rejecting_before = rejecting_before or any(t in _REJECTING for t in clause)
    return False


def denies(sentence: str) -> bool:
    """True when a frame that opens the sentence denies all of it ("It is not true that skew is overfitting") and
    no contrasting clause follows to say what is true instead."""
    parts = clauses(sentence)
    if not parts or not any(parts[0][: len(f)] == f for f in _DENIAL_FRAMES):
        return False
    return not any(c[0] in CONTRAST for c in parts[1:])


def _asserted(clause: tuple[str, ...], start: int, end: int, rejecting_before: bool) -> bool:
    """The cue at clause[start:end] is asserted: nothing negates or rejects it within its clause."""
    before, after = clause[max(0, start - 3) : start], clause[end : end + 2]
    if any(t in NEGATIONS for t in before) or any(t in _DENIED_AFTER for t in after):
        return False
    return not (rejecting_before or any(t in _REJECTING for t in clause[:start] + clause[end:]))


def _conditional(rest: tuple[str, ...], following: list[tuple[str, ...]]) -> bool:
    """A condition within a few words after the cue, or opening the next clause."""
    windows = [rest[i : i + 3] for i in range(min(len(rest), 4))] + [c[:3] for c in following]
    return any(w[: len(cond)] == cond for w in windows for cond in _CONDITION)


def _denied_next(following: list[tuple[str, ...]]) -> bool:
    """A following clause that contrasts and negates or rejects ("..., but that is not true"), or a relative
    clause that calls it wrong ("..., which is wrong")."""
    denying = NEGATIONS | _REJECTING | _DENIED_AFTER | _DENYING_NEXT
    return any(
        (c[0] in CONTRAST and any(t in denying for t in c[1:8]))
        or (c[0] in _RELATIVE and any(t in _DENYING_NEXT | _REJECTING for t in c[1:4]))
        for c in following
    )
