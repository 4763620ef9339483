"""What a session is about: the plan of prompts for a day, a topic, a review, the questions due, or one prompt
answered again, and its time budget."""

from __future__ import annotations

from typing import Literal

from interviewer import config
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import InterviewerError, NotFoundError
from interviewer.interview.progress import schedules_of
from interviewer.interview.schedule import due, next_due
from interviewer.storage.seam import SessionIndex

Mode = Literal["day", "topic", "review", "due", "prompt"]
LABEL_CHARS = 60


class Planner:
    """Plans sessions from the curriculum, and a review from the owner's weakest prompts."""

    def __init__(self, corpus: Corpus, sessions: SessionIndex) -> None:
        self.corpus = corpus
        self.sessions = sessions

    def plan(self, mode: Mode, target: str, count: int | None = None, owner: str = "") -> tuple[list[str], str]:
        """The prompt ids of a session and its label."""
        if mode == "day":
            number = _day_number(target)
            topics = self.corpus.topics_of_day(number)
            plan = _interleave([[p.id for p in t.prompts] for t in topics])
            label = self.corpus.day(number).label
        elif mode == "topic":
            topic = self.corpus.topic(target)
            plan, label = [p.id for p in topic.prompts], topic.label
        elif mode == "prompt":
            plan, label = [self.corpus.prompt(target.strip()).prompt.id], self.one_prompt_label(target.strip())
        elif mode == "due":
            plan, label = self.due_plan(owner), "Questions due"
        else:
            scores = self.sessions.latest_prompt_scores(owner)
            weak = sorted((s, pid) for pid, s in scores.items() if s <= 2 and pid in self.corpus.prompts)
            if not weak:
                raise NotFoundError("No weak prompts to review yet: finish some answers scored 2 or less first.")
            plan, label = [pid for _, pid in weak], "Review of weak prompts"
            count = count or 5
        if count is not None:
            if count < 1:
                raise InterviewerError("The number of prompts must be at least 1.")
            plan = plan[:count]
        return plan, label

    def one_prompt_label(self, prompt_id: str) -> str:
        """A one-prompt session's label: its topic and the question's start."""
        ref = self.corpus.prompt(prompt_id)
        text = ref.prompt.text if len(ref.prompt.text) <= LABEL_CHARS else ref.prompt.text[: LABEL_CHARS - 1] + "…"
        return f"{ref.topic.title}: {text}"

    def due_plan(self, owner: str) -> list[str]:
        """The owner's prompts due today (`schedule.due`: weakest first); a clear refusal when none is."""
        schedules = schedules_of(self.corpus, self.sessions.finished_prompts(owner))
        now = config.now()
        plan = [s.prompt_id for s in due(schedules, now)]
        if not plan:
            upcoming = next_due(schedules, now)
            when = f"; the next comes due on {upcoming.due[:10]}" if upcoming else "; finish a question first"
            raise NotFoundError(f"No question is due today{when}.")
        return plan

    def minutes(self, mode: str, target: str) -> int | None:
        """The time budget: the topic cards' minutes, where the roadmap gives them."""
        if mode == "topic":
            return self.corpus.topic(target).minutes
        if mode == "day":
            minutes = [t.minutes for t in self.corpus.topics_of_day(_day_number(target)) if t.minutes]
            return sum(minutes) or None
        return None


def _day_number(target: str) -> int:
    try:
        return int(str(target).strip())
    except ValueError:
        raise NotFoundError(f"A roadmap day is a number, got {target!r}.") from None


def _interleave(groups: list[list[str]]) -> list[str]:
    """Round-robin across topics, so a short session still touches each one."""
    out: list[str] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out
