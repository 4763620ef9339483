"""The interview engine: the one entry point that the CLI, the web UI and the evals drive.

engine.start(caller, ...) -> a new session's id and first question
engine.submit(caller, session_id, answer[, spoken]) -> the graded turn and the next question (stored before returned)
engine.views.transcript(caller, session_id) -> every question, answer, grade and the per-objective summary

Every call that takes a session id also takes the caller (`access.Caller`): the engine resolves the id
among the caller's own sessions only, so no front end can show or change someone else's interview.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from langgraph.types import Command

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import InterviewerError, SessionBusy, SessionFinished
from interviewer.grading.grader import Grader
from interviewer.grading.models import Grade
from interviewer.grading.text import printable
from interviewer.interview import disclosure, results
from interviewer.interview.access import Caller, Limits, Meter
from interviewer.interview.forgetting import Forgotten, forget_sessions, targets
from interviewer.interview.graph import build_graph
from interviewer.interview.locks import SessionLocks
from interviewer.interview.planning import Mode, Planner
from interviewer.interview.records import (
    Question,
    ShownGrade,
    Turn,
    turns_of,
    waiting,
)
from interviewer.interview.views import SessionViews, done_prompts, thread
from interviewer.speech import recognition as speech
from interviewer.speech.delivery import Delivery
from interviewer.speech.hints import Hint, vocabulary
from interviewer.speech.recognition import Transcription
from interviewer.storage.seam import SessionIndex, Storage
from interviewer.storage.session_index import abandoned, renewing


@dataclass(frozen=True)
class TurnOutcome:
    session_id: str
    grade: Grade | None
    next: Question | None
    shown: ShownGrade | None = None  # the grade as the candidate may see it now (see disclosure.shown_grade)
    model_calls: int = 0  # model calls this turn made (grading and the follow-up)

    @property
    def finished(self) -> bool:
        return self.next is None


class Engine:
    """The interview over its injected parts (see `compose.build_engine`); safe to share across threads."""

    def __init__(self, settings: Settings, grader: Grader, storage: Storage) -> None:
        """Over parts built once by `compose.build_engine`: the brains and curriculum, and the storage."""
        self.settings, self.grader, self.storage = settings, grader, storage
        self.corpus: Corpus = grader.corpus
        self.limits, self.meter = Limits.from_settings(settings), Meter(storage.sessions.tallies())
        self.locks = SessionLocks()
        self.planner = Planner(self.corpus, self.storage.sessions)
        self.graph = build_graph(self.corpus, grader.index, grader.brain, self.storage.checkpointer)
        self.views = SessionViews(self.corpus, storage, self.graph, self.planner)
        """Every read (`views.SessionViews`): a session's overview, snapshot and transcript; the caller's sessions,
        progress, start page and history."""
        repair_marked(self)

    # -- planning ----------------------------------------------------------------------------------

    def brains(self) -> list[tuple[str, str]]:
        """(label, name) of every brain that can grade now, the default first."""
        return self.grader.brains()

    def prepare(self) -> None:
        """Build a missing (or repair a broken) curriculum index now, not on the first answer."""
        self.grader.index.collection()

    @property
    def notice(self) -> str | None:
        """Something the operator should know about this start (a curriculum index that was rebuilt)."""
        return self.grader.index.notice

    def hear(self, caller: Caller, session_id: str, recording: bytes) -> Transcription:
        """A spoken answer to the caller's waiting question as text and delivery, never sent by itself (the
        question's rubric terms, topic and wording are the recogniser's hint; INTERVIEWER_MAX_AUDIO_S bounds the
        recording)."""
        question = self.views.current(caller, session_id)
        hint = vocabulary(self.corpus.prompt(question.prompt_id), question.text) if question else Hint()
        return speech.transcribe(recording, max_audio_s=self.settings.max_audio_s, hint=hint)

    def degraded(self) -> str | None:
        """Why grading runs from a fallback right now (a curriculum server out of reach), in the index's words."""
        return self.grader.index.degraded

    # -- the interview -----------------------------------------------------------------------------

    def start(
        self, caller: Caller, mode: Mode, target: str = "", count: int | None = None, brain: str | None = None
    ) -> tuple[str, Question]:
        """Plan and open a new session for the caller; return its id and first question."""
        brain_name = brain or self.settings.brain
        self.grader.brain(brain_name)
        plan, label = self.planner.plan(mode, target, count, caller.name)
        self.limits.check_open(caller, self.storage.sessions.count_open(caller.name))
        session_id = secrets.token_hex(6)
        mark = self.storage.sessions.create(session_id, mode, str(target), label, brain_name, len(plan), caller.name)
        initial = {
            "session_id": session_id,
            "brain": brain_name,
            "plan": plan,
            "position": 0,
            "max_followups": self.settings.max_followups,
            "turns": [],
        }
        with renewing(self.storage.sessions, session_id, mark):
            self._invoke(session_id, initial)
            state = self.views.state(session_id)
            record_session(self.storage.sessions, self.corpus, session_id, state)
        question = waiting(state)
        assert question is not None
        return session_id, question

    def again(self, caller: Caller, session_id: str, prompt_id: str) -> tuple[str, Question]:
        """Answer a question of one of the caller's sessions again, once it is done (graded, follow-ups over): a new
        session of that prompt alone, graded by the same brain; its grade then shows what changed."""
        session_id = self.views.resolve(caller, session_id)
        if prompt_id not in done_prompts(self.views.state(session_id)):
            raise InterviewerError("Only a question that is done (graded, follow-ups over) can be answered again.")
        return self.start(caller, "prompt", prompt_id, brain=self.views.row(session_id).brain)

    def submit(self, caller: Caller, session_id: str, answer: str, spoken: Delivery | None = None) -> TurnOutcome:
        """Grade an answer to the waiting question (`spoken`: how it was said, when it was); the turn is stored
        before this returns."""
        session_id = self.views.resolve(caller, session_id)
        text = self.grader.clean_answer(answer)
        self.limits.check_answer(caller, self.meter)
        reply = {"action": "answer", "text": text, "raw": printable(answer)}
        if spoken is not None:
            reply["spoken"] = spoken.model_dump_json()
        refused = self.limits.model_refusal(caller, self.meter)
        if refused:
            reply["model_refused"] = refused
        outcome = self._reply(session_id, reply)
        self.limits.count(caller, self.meter, outcome.model_calls if outcome.grade is not None else 0)
        return outcome

    def skip(self, caller: Caller, session_id: str) -> TurnOutcome:
        return self._reply(self.views.resolve(caller, session_id), {"action": "skip"})

    def end(self, caller: Caller, session_id: str) -> TurnOutcome:
        return self._reply(self.views.resolve(caller, session_id), {"action": "end"})

    def _reply(self, session_id: str, reply: dict[str, str]) -> TurnOutcome:
        with self.locks.of(session_id):
            repair_marked(self, session_id)  # an earlier turn that did not finish: its row first
            before = self.views.state(session_id)
            asked = waiting(before)
            if asked is None:
                if reply["action"] == "end":
                    return TurnOutcome(session_id, None, None)  # ending twice is harmless
                raise SessionFinished(f"Session {session_id} has finished; start a new one or read its transcript.")
            mark = self.storage.sessions.mark(session_id)  # committed first: a kill from here on leaves it to `repair`
            with renewing(self.storage.sessions, session_id, mark):
                self._invoke(session_id, Command(resume=reply))
                after = self.views.state(session_id)
                new_turns = after.get("turns", [])[len(before.get("turns", [])) :]
                record_session(self.storage.sessions, self.corpus, session_id, after, only=asked.prompt_id)
        last = Turn.model_validate(new_turns[-1]) if new_turns else None
        if last is None or last.grade is None:
            return TurnOutcome(session_id, None, waiting(after))
        shown = self.views.shown_after(session_id, after, disclosure.last_shown_grade(after))
        return TurnOutcome(session_id, last.grade, waiting(after), shown, last.usage().calls)

    def _invoke(self, session_id: str, payload: Any) -> None:
        # One checkpoint per call, written as the graph stops (durability "exit"): a turn is stored whole or not
        # at all, never as an answer taken but not graded, which a resumed session would grade in place of the
        # next answer.
        with self.storage.guard():
            self.graph.invoke(payload, thread(session_id), durability="exit")

    # -- forgetting --------------------------------------------------------------------------------

    def delete(self, caller: Caller, session_id: str) -> Forgotten:
        """Delete one of the caller's sessions: its checkpoints, its index rows and its downloads."""
        return forget_sessions(
            self.storage, self.locks, self.settings.downloads_dir, [self.views.resolve(caller, session_id)]
        )

    def forget(self, *, owner: str | None = None, session_id: str | None = None) -> Forgotten:
        """The operator's `interviewer forget`: every session of an owner, or one session by its full id."""
        return forget_sessions(
            self.storage, self.locks, self.settings.downloads_dir, targets(self.storage.sessions, owner, session_id)
        )


def record_session(
    store: SessionIndex,
    corpus: Corpus,
    session_id: str,
    state: dict[str, Any],
    mark: int | None = None,
    only: str | None = None,
) -> None:
    """Keep the session index in step with the checkpoint just written (idempotent: derived from it).

    Records the result of every prompt the session has finished, or with `only`, of that prompt alone (the one
    a turn may just have finished; a repair re-derives them all). Clears the row's in-flight mark; with `mark`
    (a repair), only if the row still carries it.
    """
    open_prompt = waiting(state)
    for pid in [p for p in results.asked_prompts(state) if only is None or p == only]:
        if open_prompt is not None and open_prompt.prompt_id == pid:
            continue  # still being asked or probed: its result is not final
        result = results.prompt_result(turns_of(state, pid))
        if result is None:  # skipped: every point missed
            store.record_prompt(session_id, pid, 0, 0.0, results.unanswered_points(corpus, pid))
        else:
            store.record_prompt(session_id, pid, result.score, result.coverage, result.points)
    store.update(
        session_id,
        status=state.get("status", "active"),
        answered=sum(1 for t in state.get("turns", []) if t.get("answer")),
        score=results.session_score(state),
        mark=mark,
    )


def repair_marked(engine: Engine, session_id: str | None = None) -> int:
    """Bring the rows of turns that cannot finish back in step with their checkpoints (`repair_session`).

    Runs when the engine opens (turns whose process died and whose lease lapsed) and before each reply with its
    session id (then also a turn that failed in this process; a turn another process still holds the lease of
    refuses the reply, which loses nothing). Returns how many rows it repaired or removed.
    """
    done = 0
    for marked, mark, lease_until in engine.storage.sessions.marked(session_id):
        with engine.locks.of(marked):
            if abandoned(mark, lease_until, mine=session_id is not None):
                repair_session(engine, marked, mark)
                done += 1
            elif session_id is not None:
                wait = max(1, math.ceil(lease_until - time.time()))
                raise SessionBusy(
                    "The previous answer of this session is still being graded elsewhere; "
                    f"try again in {wait} s (nothing is lost)."
                )
    return done


def repair_session(engine: Engine, session_id: str, mark: int) -> None:
    """Re-derive a row marked in flight by a turn that cannot finish from the session's checkpoint.

    The killed turn is either in the checkpoint whole or not at all (see `Engine._invoke`); a session killed
    before its first checkpoint, whose id nobody was shown, is removed.
    """
    config = thread(session_id)
    with engine.storage.guard():
        if engine.storage.checkpointer.get_tuple(config) is None:
            engine.storage.sessions.delete(session_id, mark=mark)
            return
        settle(engine.graph, config)
        state = dict(engine.graph.get_state(config).values)
    record_session(engine.storage.sessions, engine.corpus, session_id, state, mark)


def settle(graph: Any, config: Any) -> None:
    """Drop an answer that a turn failing mid-way stored without recording it (the graph stopped after `wait`,
    before `decide` finished), so that its question waits again and the next answer is graded as its answer."""
    if graph.get_state(config).next in {("grade",), ("decide",)}:
        graph.update_state(config, {"reply": None, "graded": None, "decision": None}, as_node="ask")
