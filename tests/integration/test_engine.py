"""The interview engine end to end: planning, follow-ups, durability, sessions and transcripts.

The tests over `storage_settings` run on each storage backend: SQLite, then PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from interviewer.cli import _grade_text
from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import AnswerRejected, NotFoundError, SessionFinished, StorageError
from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.interview.grade_text import render_grade
from interviewer.interview.report import overall_line, to_markdown
from tests.helpers import ROOT, Cli, cli_command, run_cli

WEAK = "It depends on the company and I would ask the team."

ME = Caller.terminal()


def _strong(engine: Engine, prompt_id: str) -> str:
    return engine.corpus.prompt(prompt_id).prompt.reference_answer


def test_a_day_plan_asks_every_prompt_of_the_day_round_robin(engine: Engine) -> None:
    plan, label = engine.planner.plan("day", "58")
    assert label == "Day 58 - Feature stores"
    assert plan == ["fsw-p1", "fst-p1", "pit-p1", "fsw-p2", "fst-p2", "pit-p2"]
    assert engine.planner.plan("day", "58", count=2)[0] == ["fsw-p1", "fst-p1"]


def test_a_strong_answer_moves_on_and_a_weak_one_gets_a_probe(engine: Engine) -> None:
    session, first = engine.start(ME, "topic", "fs-why")
    assert (first.kind, first.prompt_id, first.number, first.of) == ("question", "fsw-p1", 1, 2)
    outcome = engine.submit(ME, session, _strong(engine, "fsw-p1"))
    assert outcome.grade is not None and outcome.grade.score >= 3
    assert outcome.next is not None and outcome.next.prompt_id == "fsw-p2"
    weak = engine.submit(ME, session, WEAK)
    assert weak.grade is not None and weak.grade.score <= 1
    assert weak.next is not None and weak.next.kind == "followup"
    probes = {r.id: r.probe for r in engine.corpus.prompt("fsw-p2").prompt.rubric}
    top = max(engine.corpus.prompt("fsw-p2").prompt.rubric, key=lambda r: r.weight)
    assert weak.next.text == probes[weak.next.point_id or ""] and weak.next.point_id == top.id


def test_follow_ups_are_capped_per_prompt(storage_settings: Settings) -> None:
    engine = build_engine(replace(storage_settings, max_followups=1), progress=False)
    session, _ = engine.start(ME, "topic", "fs-why")
    first = engine.submit(ME, session, WEAK).next
    assert first is not None and first.kind == "followup"
    after = engine.submit(ME, session, WEAK).next
    assert after is not None and (after.kind, after.prompt_id) == ("question", "fsw-p2")


def test_a_probed_point_answered_in_the_follow_up_counts_for_the_prompt(engine: Engine) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    follow = engine.submit(ME, session, WEAK).next
    assert follow is not None and follow.kind == "followup"
    engine.submit(ME, session, _strong(engine, "fsw-p1"))
    engine.end(ME, session)
    block = engine.views.transcript(ME, session).prompts[0]
    assert block.result is not None and block.result.score >= 3
    assert [t.kind for t in block.turns][:2] == ["question", "followup"]


def test_while_a_prompt_is_probed_its_open_points_and_reference_answer_stay_hidden(engine: Engine) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    prompt = engine.corpus.prompt("fsw-p1").prompt
    partial = "Skew is when the features a model trains on differ from the ones it gets at serving time."
    outcome = engine.submit(ME, session, partial)
    assert outcome.next is not None and outcome.next.kind == "followup"
    assert outcome.grade is not None and any(p.verdict != "covered" for p in outcome.grade.points)
    probed = next(r for r in prompt.rubric if r.id == outcome.next.point_id)
    for shown in (outcome.shown, engine.views.snapshot(ME, session).last_grade):
        assert shown is not None and shown.withheld >= 1
        assert all(p.verdict == "covered" for p in shown.points)
        assert probed.point not in shown.model_dump_json()
    markdown = to_markdown(engine.views.transcript(ME, session))
    assert probed.point not in markdown and prompt.reference_answer not in markdown
    assert "not made yet: the interviewer may ask about them" in markdown
    engine.end(ME, session)  # the prompt is done: everything is named
    done = engine.views.transcript(ME, session)
    assert probed.point in to_markdown(done) and done.prompts[0].reference_answer == prompt.reference_answer
    last = engine.views.snapshot(ME, session).last_grade
    assert last is not None and last.withheld == 0


SHORT_REPLY = "We would watch the dashboards."


def _all_but_point_in_time(engine: Engine) -> str:
    """fsw-p1's reference answer without its sentence on point-in-time joins: a 4/4 answer that gets a follow-up."""
    sentences = re.split(r"(?<=[.!?])\s+", _strong(engine, "fsw-p1"))
    return " ".join(s for s in sentences if "point-in-time" not in s)


def test_a_short_follow_up_reply_after_a_full_answer_shows_what_it_changed_and_ending_early_says_so(
    engine: Engine,
) -> None:
    """The user's two reports: a short follow-up reply read "Score: 1/4" (here 0/4) with the whole rubric to study,
    and /end after question 1 of 2 read "Overall score 4.00/4" with no word of the unanswered one."""
    session, _ = engine.start(ME, "topic", "fs-why")
    first = engine.submit(ME, session, _all_but_point_in_time(engine))
    assert first.grade is not None and first.grade.score == 4
    assert first.next is not None and (first.next.kind, first.next.point_id) == ("followup", "fsw-p1-pit")
    reply = engine.submit(ME, session, SHORT_REPLY)
    assert reply.grade is not None and reply.grade.score <= 1  # the reply alone, as it was shown before
    pit = next(r.point for r in engine.corpus.prompt("fsw-p1").prompt.rubric if r.id == "fsw-p1-pit")
    assert reply.shown is not None
    short = _grade_text(reply.shown).splitlines()
    assert short[0].startswith("On the point the follow-up asked about: missed - ")
    assert short[1].startswith("This question so far: 4/4 over 2 answers (coverage ")
    assert short[-1] == "  1 point still missing - --verbose to see it"  # in the first answer and the reply
    assert not any(line.startswith("Score:") for line in short) and "/4" not in "".join(short[2:])
    verbose = _grade_text(reply.shown, verbose=True)
    assert f"To study: {pit.rstrip('.')}." in verbose.splitlines() and verbose.count("To study") == 1
    panel = render_grade(engine.views.snapshot(ME, session).last_grade, "markdown")
    assert panel.startswith("### Last answer, to the follow-up: the point it asked about is missed")
    assert "**This question so far: 4/4** over 2 answers" in panel
    block = engine.views.transcript(ME, session).prompts[0]
    assert block.study == [pit] and block.result is not None and block.result.score == 4

    engine.end(ME, session)  # after question 1 of 2
    data = engine.views.transcript(ME, session)
    assert overall_line(data.overall) == "Overall 4.00/4 over 1 of 2 questions asked; 1 unanswered"
    assert (data.overall.asked, data.overall.planned, data.overall.unanswered) == (1, 2, 1)
    markdown = to_markdown(data)
    assert "**Overall 4.00/4 over 1 of 2 questions asked; 1 unanswered.**" in markdown
    assert "This question so far: **4/4** over 2 answers" in markdown and markdown.count("Grade for this answer") == 1


def test_the_transcript_shows_every_turn_with_evidence_reference_and_objectives(engine: Engine) -> None:
    session, _ = engine.start(ME, "day", "59", count=2)
    outcome = engine.submit(ME, session, _strong(engine, "mlf-p1"))
    while outcome.next is not None:  # skip any follow-up, then the second prompt
        outcome = engine.skip(ME, session)
    data = engine.views.transcript(ME, session)
    assert data.status == "finished"
    first, second = data.prompts
    assert first.result is not None and first.result.score >= 3 and first.reference_answer
    covered = [p for p in first.result.points if p.verdict == "covered"]
    assert covered and all(p.evidence and p.evidence in _strong(engine, "mlf-p1") for p in covered)
    assert second.skipped and second.study
    objectives = {o.objective for o in data.objectives}
    assert {"mlf-promote", "ver-data"} <= objectives
    markdown = to_markdown(data)
    assert "## 1. Walk through promoting a model from staging → production in MLflow." in markdown
    assert "**Reference answer:**" in markdown and "## Learning objectives" in markdown


def test_user_text_in_the_markdown_transcript_cannot_inject_markup(engine: Engine) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    engine.submit(ME, session, "<script>alert(1)</script> A feature store keeps **one** definition [link](http://x).")
    engine.end(ME, session)
    markdown = to_markdown(engine.views.transcript(ME, session))
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "[link](http://x)" not in markdown


def test_bad_answers_are_refused_and_lose_nothing(engine: Engine) -> None:
    session, _ = engine.start(ME, "topic", "fs-why")
    engine.submit(ME, session, _strong(engine, "fsw-p1"))
    before = engine.views.transcript(ME, session)
    for bad in ["", "   ", "x" * 100_000, "\x00\x01"]:
        with pytest.raises(AnswerRejected):
            engine.submit(ME, session, bad)
    assert engine.views.transcript(ME, session).prompts == before.prompts
    current = engine.views.current(ME, session)
    assert current is not None and current.prompt_id == "fsw-p2"


def test_a_finished_session_takes_no_more_answers(engine: Engine) -> None:
    session, _ = engine.start(ME, "topic", "fs-why", count=1)
    engine.end(ME, session)
    with pytest.raises(SessionFinished):
        engine.submit(ME, session, "more")


def test_sessions_are_listed_newest_first_with_status_and_score(engine: Engine) -> None:
    first, _ = engine.start(ME, "day", "57", count=1)
    engine.submit(ME, first, _strong(engine, "lc-p1"))
    second, _ = engine.start(ME, "topic", "versioning")
    rows = engine.views.sessions(ME)
    assert [r.id for r in rows[:2]] == [second, first]
    assert rows[1].status == "finished" and rows[1].score is not None and rows[1].score >= 3
    assert rows[0].status == "active" and rows[0].label.startswith("Day 59 - Versioning")


def test_review_plans_the_weakest_prompts_and_says_when_there_are_none(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="No weak prompts"):
        engine.start(ME, "review")
    session, _ = engine.start(ME, "topic", "fs-why")
    engine.submit(ME, session, _strong(engine, "fsw-p1"))
    engine.skip(ME, session)
    assert engine.planner.plan("review", "")[0] == ["fsw-p2"]


def test_unknown_ids_get_clear_messages(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="No roadmap day 99"):
        engine.start(ME, "day", "99")
    with pytest.raises(NotFoundError, match="No topic with id 'nope'"):
        engine.start(ME, "topic", "nope")
    with pytest.raises(NotFoundError, match="No session 'deadbeef'"):
        engine.views.transcript(ME, "deadbeef")


# -- through the command line, as a user runs it ----------------------------------------------------------


def _session_id(stdout: str) -> str:
    match = re.search(r"Session ([0-9a-f]{12})", stdout)
    assert match, stdout
    return match.group(1)


def test_a_piped_day_58_interview_runs_to_the_end_and_the_transcript_shows_every_turn(
    cli: Cli, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One follow-up at most, so every prompt takes exactly two lines: a weak answer, then a strong one.
    monkeypatch.setenv("INTERVIEWER_MAX_FOLLOWUPS", "1")
    plan = ["fsw-p1", "fst-p1", "pit-p1", "fsw-p2", "fst-p2", "pit-p2"]
    answers = [line for p in plan for line in (WEAK, corpus.prompt(p).prompt.reference_answer)]
    result = cli("interview", "--day", "58", stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Interview finished." in result.stdout
    session = _session_id(result.stdout)
    data = json.loads(cli("transcript", session, "--format", "json").stdout)
    assert data["status"] == "finished"
    assert [b["prompt_id"] for b in data["prompts"]] == ["fsw-p1", "fst-p1", "pit-p1", "fsw-p2", "fst-p2", "pit-p2"]
    graded = [t for b in data["prompts"] for t in b["turns"] if t["grade"]]
    assert len(graded) == 12
    assert [t["kind"] for t in graded] == ["question", "followup"] * 6
    assert all(b["result"]["score"] >= 3 for b in data["prompts"])
    markdown = cli("transcript", session).stdout
    for block in data["prompts"]:
        assert block["question"] in markdown
    assert markdown.count("Grade for this answer:") == 6  # each question's first answer
    assert markdown.count("This question so far:") == 6  # each follow-up answer: what it changed


def test_the_terminal_shows_a_short_grade_unless_verbose_and_an_early_end_names_the_unanswered(
    cli: Cli, corpus: Corpus
) -> None:
    sentences = re.split(r"(?<=[.!?])\s+", corpus.prompt("fsw-p1").prompt.reference_answer)
    full = " ".join(s for s in sentences if "point-in-time" not in s)
    rubric = corpus.prompt("fsw-p1").prompt.rubric
    pit = next(r for r in rubric if r.id == "fsw-p1-pit")
    coverage = 1 - pit.weight / sum(r.weight for r in rubric)
    stdin = "\n".join([full, SHORT_REPLY, "/end"]) + "\n"
    short = cli("interview", "--topic", "fs-why", stdin=stdin)
    assert short.returncode == 0, short.stderr
    lines = short.stdout.splitlines()
    assert f"Score: 4/4 (coverage {coverage:.0%}, brain rubric)" in lines
    assert "  1 more key point(s) not made yet: named when this question is done" in lines  # then probed
    assert any(line.startswith("On the point the follow-up asked about: missed - ") for line in lines)
    assert any(line.startswith("This question so far: 4/4 over 2 answers") for line in lines)
    assert "  1 point still missing - --verbose to see it" in lines
    assert not any(line.startswith(("Score: 0/4", "Score: 1/4", "Strong:", "To study:")) for line in lines)
    assert pit.point not in short.stdout and all(len(line) <= 80 for line in lines if line.startswith("  + "))
    assert "Interview finished. Overall 4.00/4 over 1 of 2 questions asked; 1 unanswered." in short.stdout

    verbose = cli("interview", "--topic", "fs-why", "--verbose", stdin=stdin)
    assert verbose.returncode == 0, verbose.stderr
    assert f"  - [missed] {pit.point}" in verbose.stdout.splitlines()
    assert f"To study: {pit.point.rstrip('.')}." in verbose.stdout.splitlines()
    assert "--verbose to see" not in verbose.stdout and "Strong:" not in verbose.stdout
    assert verbose.stdout.count("[covered]") >= 2 * (len(rubric) - 1)  # every point made, in full, after each answer


def test_kill_mid_interview_then_resume_loses_nothing_and_asks_nothing_twice(
    storage_settings: Settings, corpus: Corpus
) -> None:
    proc = subprocess.Popen(
        cli_command("interview", "--day", "58"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    stdin, stdout = proc.stdin, proc.stdout

    def read_until_question() -> list[str]:
        seen: list[str] = []
        while True:
            line = stdout.readline()
            assert line, "the interview ended early: " + "".join(seen)
            seen.append(line)
            if line.startswith(("Question ", "Follow-up:")):
                return seen

    header = read_until_question()
    session = _session_id("".join(header))
    for prompt_id in ["fsw-p1", "fst-p1"]:
        stdin.write(corpus.prompt(prompt_id).prompt.reference_answer + "\n")
        stdin.flush()
        last = read_until_question()[-1]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert last.startswith("Question 3 of 6: Why is point-in-time correctness critical")

    resumed = run_cli("interview", "--session", session, stdin="/quit\n", timeout=120)
    assert f"Resuming session {session}." in resumed.stdout
    assert last.strip() in resumed.stdout
    data = json.loads(run_cli("transcript", session, "--format", "json", timeout=120).stdout)
    assert [b["prompt_id"] for b in data["prompts"]] == ["fsw-p1", "fst-p1"]
    assert all(b["result"]["score"] >= 3 for b in data["prompts"])
    assert data["pending"]["prompt_id"] == "pit-p1"


def test_sessions_command_lists_newest_first(cli: Cli, storage_settings: Settings) -> None:
    cli("interview", "--topic", "fs-why", stdin="/quit\n")
    cli("interview", "--topic", "versioning", stdin="/quit\n")
    rows = json.loads(cli("sessions", "--json").stdout)
    assert [r["target"] for r in rows] == ["versioning", "fs-why"]
    table = cli("sessions").stdout
    assert table.index("Versioning") < table.index("Why feature stores")


def test_a_corrupt_database_gets_one_clear_line(cli: Cli, data_dir: Path) -> None:
    (data_dir / "sessions.sqlite").write_bytes(b"this is not a database" * 100)
    result = cli("sessions")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: The session database {data_dir / 'sessions.sqlite'} is corrupt (file is not a database); "
        "move it aside to start a new one."
    )


def test_a_locked_database_gets_one_clear_line(settings: Settings) -> None:
    engine = build_engine(settings, progress=False)
    session, _ = engine.start(ME, "topic", "fs-why")
    blocker = sqlite3.connect(settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageError, match="locked by another process"):
            engine.submit(ME, session, _strong(engine, "fsw-p1"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    current = engine.views.current(ME, session)
    assert current is not None and current.prompt_id == "fsw-p1"
    assert engine.submit(ME, session, _strong(engine, "fsw-p1")).grade is not None


def test_a_corrupt_corpus_file_stops_the_cli_with_file_and_field(cli: Cli, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "days" / "day57.yaml").write_text("kind: day_plan\nday: [57\n", encoding="utf-8")
    env = {**os.environ, "INTERVIEWER_CORPUS_DIR": str(corpus)}
    result = cli("corpus", "validate", env=env)
    assert result.returncode == 1
    assert result.stdout.startswith("corpus/days/day57.yaml: line 3")
    interview = cli("interview", "--day", "58", env=env, stdin="")
    assert interview.returncode == 2 and "corpus/days/day57.yaml" in interview.stderr
