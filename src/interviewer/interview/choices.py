"""What the start screen offers: the catalog of days, topic cards and daily topics, and reading a choice back."""

from __future__ import annotations

from interviewer.curriculum.corpus import Corpus
from interviewer.errors import InterviewerError
from interviewer.interview.planning import Mode


def catalog(corpus: Corpus) -> list[tuple[str, str]]:
    """What a session can be about, as (label, value) pairs: days, topic cards, daily topics, review."""
    days = [(day.label, f"day:{n}") for n, day in corpus.days.items()]
    cards = [(t.label, f"topic:{t.id}") for t in corpus.topics.values() if t.kind == "topic_card"]
    daily = [(f"Day {t.day} - {t.title}", f"topic:{t.id}") for t in corpus.topics.values() if t.kind == "daily_topic"]
    return [*days, *cards, *daily, ("Review my weak prompts", "review:")]


def parse_choice(value: str) -> tuple[Mode, str]:
    """A catalog value ("day:58", "topic:fs-why", "review:"), or a start-page card's ("due:", "prompt:ID"), as
    (mode, target)."""
    mode, _, target = (value or "").partition(":")
    if mode not in {"day", "topic", "review", "due", "prompt"}:
        raise InterviewerError("Choose a roadmap day, a topic card or a review first.")
    return mode, target  # type: ignore[return-value]
