"""Kill -9 an interview inside a turn, again and again, and check that nothing acknowledged is lost.

Each kill starts `interviewer interview --day 58` with piped stdin, answers until the k-th grade is on
screen (k random, 2-4), writes the next answer and kills the process with SIGKILL: either after a random
delay drawn from [0, 1.3 x the mean duration of the earlier turns but the first] (the first turn also loads
the grader, so it is several times slower than the turn killed), or the moment the turn's checkpoint is
committed (the database is watched), which is where a kill leaves the session list behind the transcript.
Then, before any engine opens the database, the raw row says whether the session was marked in flight; an
engine opened afresh (which repairs marked rows as it opens) must show

- every acknowledged answer (its grade printed) in the transcript with the grade shown,
- the killed answer either whole (graded) or absent, never taken but ungraded, and when absent the question
  shown before the kill still waiting,
- the session row in agreement with the transcript (answers, status, score; no mark left) and one prompt
  result per finished prompt with the transcript's score,
- a session that resumes: one more answer is graded and recorded.

Each kill is classed "before the answer was stored", "stored and repaired" (the row was marked when
inspected) or "stored and recorded". Used by tests/integration/test_crash.py (10 kills) and by
`make fuzz-kill`: `python -m tests.integration.crash_harness --kills 100 [--seed N]`, which works in a
temporary folder only.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.grading.grader import Grader
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.interview.records import ShownTurn, Transcript, Turn
from tests.helpers import ROOT, cli_command

ME = Caller.terminal()
LEASE_S = 0.5  # the killed interviews' turn lease (INTERVIEWER_TURN_LEASE_S): a dead turn is repaired after it
BEFORE, REPAIRED, RECORDED = "before the answer was stored", "stored and repaired", "stored and recorded"
WEAK = (
    "It depends on the company and I would ask the team.",
    "We would use the usual tools and keep an eye on things.",
    "I am not sure; probably something with the database.",
)
QUESTION = re.compile(r"^(?:Question (\d+) of \d+|Follow-up): (.*)$")
SCORE = re.compile(r"^(?:Score|This question so far): (\d)/4 ")  # an answer's, or after a follow-up the question's
LINE_TIMEOUT = 180.0  # seconds for any one line of output (the first waits for the engine to open)
AT_COMMIT = 0.3  # the share of kills aimed at the checkpoint commit rather than at a random time


@dataclass
class Kill:
    """One killed interview and what was found after it."""

    session: str
    k: int  # answers graded on screen before the killed one was sent
    answer: str  # the killed answer
    waiting: str  # the question shown when it was sent
    how: str  # when the kill landed
    acknowledged: list[tuple[str, int]]  # (answer, score shown) for every grade printed, the killed one's too
    outcome: str = ""
    marked: bool = False  # the row was marked in flight when inspected, before any engine opened it
    finished: bool = False
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"session {self.session}: killed {self.how} after {self.k} grade(s) -> {self.outcome or '?'}"
        return text + "".join(f"\n    LOST: {m}" for m in self.lost) + "".join(f"\n    {m}" for m in self.problems)


@dataclass
class Summary:
    kills: list[Kill]
    seed: int
    seconds: float

    def count(self, outcome: str) -> int:
        return sum(1 for k in self.kills if k.outcome == outcome)

    @property
    def lost(self) -> int:
        return sum(len(k.lost) for k in self.kills)

    @property
    def disagreements(self) -> int:
        return sum(1 for k in self.kills if k.problems)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.disagreements == 0

    def line(self) -> str:
        return (
            f"{len(self.kills)} kills: {self.count(BEFORE)} {BEFORE}, {self.count(REPAIRED)} {REPAIRED}, "
            f"{self.count(RECORDED)} {RECORDED}; {self.lost} acknowledged answers lost; "
            f"{self.disagreements} disagreements"
        )

    def details(self) -> str:
        marked = sum(1 for k in self.kills if k.outcome == BEFORE and k.marked)
        aimed = sum(1 for k in self.kills if k.how.startswith("at the"))
        finished = sum(1 for k in self.kills if k.finished)
        return (
            f"seed {self.seed}; {aimed} kills aimed at the checkpoint commit, {len(self.kills) - aimed} at a random "
            f"time; {marked} of those before the answer was stored found the row marked; {finished} killed turns "
            f"finished their session; {self.seconds:.0f} s"
        )

    def report(self) -> str:
        bad = [k.describe() for k in self.kills if k.lost or k.problems]
        return "\n".join([self.line(), self.details(), *bad])


class Output:
    """A process's stdout, line by line with the time each line arrived, read on a thread."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put((time.monotonic(), line.rstrip("\n")))
        self._lines.put((time.monotonic(), None))

    def until_question(self) -> tuple[float, list[str], re.Match[str]]:
        """Lines up to the next question or follow-up: its arrival time, the lines before it, and its match."""
        seen: list[str] = []
        while True:
            try:
                at, line = self._lines.get(timeout=LINE_TIMEOUT)
            except queue.Empty:
                raise RuntimeError(f"no output for {LINE_TIMEOUT:.0f} s after: {seen}") from None
            if line is None:
                raise RuntimeError("the interview ended early: " + "\n".join(seen))
            match = QUESTION.match(line)
            if match:
                return at, seen, match
            seen.append(line)

    def rest(self) -> list[str]:
        """Every line left, up to the end of the output (the process has died)."""
        seen: list[str] = []
        while (line := self._lines.get(timeout=LINE_TIMEOUT)[1]) is not None:
            seen.append(line)
        return seen


def _score_shown(turn: ShownTurn) -> int | None:
    """The score the terminal showed after an answer: its grade's, or after a follow-up the question's so far."""
    if turn.so_far is not None:
        return turn.so_far.score
    return turn.grade.score if turn.grade else None


def _scores(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for m in map(SCORE.match, lines) if m]


class Harness:
    """Kills interviews over one data folder; checks each with a fresh engine sharing one loaded grader."""

    def __init__(self, data_dir: Path, seed: int) -> None:
        self.settings = Settings(corpus_dir=ROOT / "corpus", data_dir=data_dir)
        self.grader = Grader(self.settings, progress=False)
        self.corpus = self.grader.corpus
        self.rng = random.Random(seed)
        self.env = {
            **os.environ,
            "INTERVIEWER_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            "INTERVIEWER_TURN_LEASE_S": str(LEASE_S),
        }

    # -- killing -------------------------------------------------------------------------------------

    def kill_one(self) -> Kill:
        rng = self.rng
        k = rng.randint(2, 4)
        count = rng.choice([k + 1, 6])  # k + 1 prompts: a strong killed answer may finish the session
        strong = [rng.random() < 0.6 for _ in range(k + 1)]
        aim = rng.random() < AT_COMMIT
        command = ["interview", "--day", "58", "--count", str(count), "--brain", "rubric"]
        with tempfile.TemporaryFile("w+", dir=self.settings.data_dir) as errors:
            proc = subprocess.Popen(
                cli_command(*command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=self.env,
                cwd=ROOT,
            )
            try:
                return self._drive(proc, k, strong, aim)
            except RuntimeError as exc:
                errors.seek(0)
                raise RuntimeError(f"{exc}\nstderr:\n{errors.read()[-3000:]}") from None
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=60)

    def _drive(self, proc: subprocess.Popen[str], k: int, strong: list[bool], aim: bool) -> Kill:
        assert proc.stdin is not None and proc.stdout is not None
        out = Output(proc.stdout)
        _, header, shown = out.until_question()
        found = re.search(r"Session ([0-9a-f]{12})", "\n".join(header))
        if not found:
            raise RuntimeError("no session id in: " + "\n".join(header))
        session, prompt_id = found.group(1), self._prompt_of(shown, "")
        acknowledged: list[tuple[str, int]] = []
        durations: list[float] = []
        for good in strong[:k]:
            answer = self._answer(prompt_id, good)
            sent = _send(proc.stdin, answer)
            at, lines, shown = out.until_question()
            scores = _scores(lines)
            if len(scores) != 1:
                raise RuntimeError(f"expected one grade, got: {lines}")
            acknowledged.append((answer, scores[0]))
            durations.append(at - sent)
            prompt_id = self._prompt_of(shown, prompt_id)
        answer, waiting = self._answer(prompt_id, strong[k]), shown.group(2)
        with closing(sqlite3.connect(self.settings.database_path, isolation_level=None)) as db:
            before = _checkpoints(db, session)
            sent = _send(proc.stdin, answer)
            if aim:
                seen = _await_commit(db, session, before, sent + max(20.0, 5 * max(durations)))
                how = "at the checkpoint commit" if seen else "at the commit's deadline (not seen)"
            else:
                delay = self.rng.uniform(0.0, 1.3 * statistics.mean(durations[1:]))
                time.sleep(max(0.0, sent + delay - time.monotonic()))
                how = f"{delay:.3f} s into the turn"
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        acknowledged += [(answer, score) for score in _scores(out.rest())]
        return Kill(session, k, answer, waiting, how, acknowledged)

    def _prompt_of(self, shown: re.Match[str], current: str) -> str:
        """The prompt a question line asks about (a follow-up stays on the current one)."""
        return self.corpus.prompt_by_text(shown.group(2)).prompt.id if shown.group(1) else current

    def _answer(self, prompt_id: str, strong: bool) -> str:
        if strong:
            return " ".join(self.corpus.prompt(prompt_id).prompt.reference_answer.split())
        return self.rng.choice(WEAK)

    # -- checking ------------------------------------------------------------------------------------

    def check(self, kill: Kill) -> None:
        """Inspect the raw row first, then, once the killed turn's lease has lapsed, open an engine (it repairs as it
        opens) and compare."""
        kill.marked = self._mark(kill) not in (None, 0)
        if kill.marked:
            time.sleep(LEASE_S + 0.1)
        with self._engine() as engine:
            try:
                answered = self._compare(engine, kill)
                if answered is not None:
                    self._resume(engine, kill, answered)
            except Exception as exc:  # an engine error is a finding too, with the session that caused it
                kill.problems.append(f"{type(exc).__name__}: {exc}")

    def _mark(self, kill: Kill) -> int | None:
        with closing(sqlite3.connect(self.settings.database_path, isolation_level=None)) as db:
            rows = db.execute("SELECT syncing FROM sessions WHERE id = ?", (kill.session,)).fetchall()
        if not rows:
            kill.problems.append("the session's row is missing from the session list")
            return None
        return int(rows[0][0])

    @contextmanager
    def _engine(self) -> Iterator[Engine]:
        engine = build_engine(self.settings, progress=False, grader=self.grader)
        try:
            yield engine
        finally:
            engine.storage.close()

    def _compare(self, engine: Engine, kill: Kill) -> int | None:
        """Check the transcript and the session list; the number of answers stored, or None if unusable."""
        snap = engine.views.snapshot(ME, kill.session)
        data, state = snap.transcript, checkpointed(engine, kill.session)
        answered = [t for t in snap.turns if t.answer is not None]
        shown = [t for b in data.prompts for t in b.turns if t.answer is not None]  # as the screen showed them
        for i, (text, score) in enumerate(kill.acknowledged):
            turn = shown[i] if i < len(shown) else None
            if turn is None or turn.answer != text or turn.grade is None or _score_shown(turn) != score:
                kill.lost.append(f"answer {i + 1} (graded {score}/4 on screen): {text[:60]!r}")
        if any(t.grade is None for t in answered) or state.get("reply"):
            kill.problems.append("an answer was stored without its grade")
        stored = len(answered) == kill.k + 1 and answered[-1].answer == kill.answer
        if not stored and len(answered) != kill.k:
            kill.problems.append(f"{len(answered)} answers stored after {kill.k} graded and one killed")
        pending = data.pending.text if data.pending else ""
        if not stored and pending.strip() != kill.waiting.strip():
            kill.problems.append(f"the waiting question is {pending[:60]!r}, not the one shown: {kill.waiting[:60]!r}")
        kill.outcome = BEFORE if not stored else REPAIRED if kill.marked else RECORDED
        kill.finished = data.status == "finished"
        self._agree(engine, kill, answered, data)
        return len(answered)

    def _agree(self, engine: Engine, kill: Kill, answered: list[Turn], data: Transcript) -> None:
        """The session row and the prompt results say what the transcript says."""
        row = engine.storage.sessions.get(kill.session)
        if row is None:
            return
        listed = (row.status, row.answered, row.score)
        expected = (data.status, len(answered), data.score)
        if listed != expected:
            kill.problems.append(f"the session list says {listed}, the transcript {expected}")
        if self._mark(kill):
            kill.problems.append("the row is still marked in flight after an engine opened the database")
        with closing(sqlite3.connect(self.settings.database_path, isolation_level=None)) as db:
            sql = "SELECT prompt_id, score FROM prompt_results WHERE session_id = ?"
            results = dict(db.execute(sql, (kill.session,)).fetchall())
        finished = {b.prompt_id: b.result.score if b.result else 0 for b in data.prompts if not b.in_progress}
        if results != finished:
            kill.problems.append(f"prompt results {results} but the transcript finished {finished}")

    def _resume(self, engine: Engine, kill: Kill, answered: int) -> None:
        """The session goes on where it stopped: one more answer is graded, stored and recorded."""
        question = engine.views.current(ME, kill.session)
        if kill.finished:
            if question is not None:
                kill.problems.append("a finished session still waits for an answer")
            return
        if question is None:
            kill.problems.append("an active session has no question waiting")
            return
        text = self._answer(question.prompt_id, True)
        outcome = engine.submit(ME, kill.session, text)
        turns = [t for t in engine.views.snapshot(ME, kill.session).turns if t.answer is not None]
        row = engine.storage.sessions.get(kill.session)
        if outcome.grade is None or len(turns) != answered + 1 or turns[-1].answer != text:
            kill.problems.append("the resumed session did not grade and store the next answer")
        elif row is None or row.answered != answered + 1:
            kill.problems.append("the session list did not count the answer given after resuming")


def checkpointed(engine: Engine, session_id: str) -> dict[str, Any]:
    """A session's raw checkpointed state (the graph's thread is the session id)."""
    return dict(engine.graph.get_state({"configurable": {"thread_id": session_id}}).values)


def _send(stdin: IO[str], answer: str) -> float:
    stdin.write(answer + "\n")
    stdin.flush()
    return time.monotonic()


def _checkpoints(db: sqlite3.Connection, session: str) -> int:
    rows = db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (session,)).fetchall()
    return int(rows[0][0])


def _await_commit(db: sqlite3.Connection, session: str, before: int, deadline: float) -> bool:
    """Poll until the session has a new checkpoint (the turn is committed); False at the deadline."""
    while time.monotonic() < deadline:
        if _checkpoints(db, session) > before:
            return True
        time.sleep(0.0005)
    return False


def run(data_dir: Path, kills: int, seed: int, progress: Callable[[str], None] | None = None) -> Summary:
    """Kill `kills` interviews in `data_dir` (holding a built index) and check each."""
    started = time.monotonic()
    harness = Harness(data_dir, seed)
    done: list[Kill] = []
    for number in range(1, kills + 1):
        kill = harness.kill_one()
        harness.check(kill)
        done.append(kill)
        if progress:
            progress(f"{number:>3}/{kills} {kill.describe()}")
    return Summary(done, seed, time.monotonic() - started)


def seed_from_env() -> int:
    """INTERVIEWER_FUZZ_SEED, else a fresh seed (printed with the results, to run the same schedule again)."""
    return int(os.environ.get("INTERVIEWER_FUZZ_SEED") or random.SystemRandom().randrange(1 << 30))


def _prepare(data: Path) -> None:
    """A data folder holding the curriculum index: a copy of the one built by `make index`, else a new one."""
    built = Settings().index_dir
    if (built / "chroma.sqlite3").exists():
        shutil.copytree(built, data / "index")
        return
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(data)}
    subprocess.run(cli_command("index"), env=env, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None, help="the schedule's seed (default: a fresh one)")
    args = parser.parse_args(argv)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INTERVIEWER_BRAIN"):
        os.environ.pop(key, None)
    os.environ.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    seed = args.seed if args.seed is not None else seed_from_env()
    with tempfile.TemporaryDirectory(prefix="interviewer-fuzz-kill-") as folder:
        data = Path(folder) / "data"
        _prepare(data)
        summary = run(data, args.kills, seed, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(summary.report())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
