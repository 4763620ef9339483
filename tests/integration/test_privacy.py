"""Private practice on a shared server: each user reaches only their own interviews, through every endpoint.

A real server with a login for alice and bob, driven by gradio_client as two separate users.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import LimitReached, NotFoundError
from interviewer.interview.access import Caller
from tests.helpers import Cli, serving
from tests.llm.scripted import ScriptedChatModel

SESSION, PROGRESS, CHAT, GRADE, NOTICE, REVIEW, DOWNLOAD_MD, DOWNLOAD_JSON, HISTORY = range(9)
ALICE, BOB = ("alice", "alice-pass-1234"), ("bob", "bob-pass-5678")
# Words only alice ever writes: none of them may reach bob.
SECRET = "At Zyxwell our churn model drifted after the Quorvex-17 pricing change"


@pytest.fixture
def shared_url(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("INTERVIEWER_AUTH", ",".join(f"{u}:{p}" for u, p in (ALICE, BOB)))
    with serving() as url:
        yield url


def _client(url: str, auth: tuple[str, str], folder: Path) -> Client:
    folder.mkdir(parents=True, exist_ok=True)
    return Client(url, auth=auth, verbose=False, download_files=str(folder))


def _arguments(endpoint: dict[str, Any], probe: str) -> list[Any]:
    """Every text parameter gets the probe (a session id or prefix); numbers get 1; others their default."""
    args: list[Any] = []
    for parameter in endpoint["parameters"]:
        kind = str(parameter.get("python_type", {}).get("type", ""))
        if "str" in kind:
            args.append(probe)
        elif "float" in kind or "int" in kind:
            args.append(1)
        else:
            args.append(parameter.get("parameter_default"))
    return args


def _everything(result: Any) -> str:
    """The result as text, with the contents of any file it handed back."""
    text = json.dumps(result, default=str)
    for value in result if isinstance(result, (list, tuple)) else [result]:
        path = value.get("value") if isinstance(value, dict) else value
        if isinstance(path, str) and os.path.isfile(path):
            text += Path(path).read_text(encoding="utf-8", errors="replace")
    return text


def test_bob_reaches_none_of_alices_interview_through_any_endpoint(shared_url: str, tmp_path: Path) -> None:
    alice = _client(shared_url, ALICE, tmp_path / "alice")
    sid = alice.predict("day:58", 2, api_name="/start")[SESSION]
    answered = alice.predict(sid, f"{SECRET}. We log served features and compare them.", api_name="/answer")
    review = alice.predict(sid, api_name="/review")[0]
    assert SECRET in json.dumps(answered[CHAT]) and SECRET in review

    bob = _client(shared_url, BOB, tmp_path / "bob")
    endpoints = bob.view_api(all_endpoints=True, print_info=False, return_format="dict")["named_endpoints"]
    named = {"/start", "/answer", "/skip", "/end", "/again", "/open_session", "/delete_session", "/load", "/review"}
    named |= {"/history"}
    assert named <= set(endpoints)
    calls, leaks = 0, []
    for name, endpoint in endpoints.items():
        for probe in (sid, sid[:4], sid[:6]):
            try:
                result = bob.predict(*_arguments(endpoint, probe), api_name=name)
            except Exception as exc:  # a refusal may also be an error; it must not carry alice's words
                result = repr(exc)
            calls += 1
            seen = _everything(result)
            if SECRET in seen or sid in seen.replace(probe, ""):
                leaks.append((name, probe))
    print(f"isolation probes: {len(endpoints)} endpoints, {calls} calls, {len(leaks)} leaks")
    assert calls >= 3 * 9 and leaks == []

    # Bob's skip, end and delete did nothing to alice's session.
    reopened = alice.predict(sid, api_name="/open_session")
    assert reopened[SESSION] == sid and reopened[CHAT] == answered[CHAT]
    assert reopened[REVIEW] == review and "Finished" not in reopened[PROGRESS]


def test_a_session_that_is_not_yours_reads_as_missing(shared_url: str, tmp_path: Path) -> None:
    alice = _client(shared_url, ALICE, tmp_path / "alice")
    sid = alice.predict("topic:fs-why", 1, api_name="/start")[SESSION]
    bob = _client(shared_url, BOB, tmp_path / "bob")
    theirs = bob.predict(sid, api_name="/open_session")
    missing = bob.predict("0123456789ab", api_name="/open_session")
    assert theirs[SESSION] == missing[SESSION] == ""
    assert theirs[NOTICE].replace(sid, "ID") == missing[NOTICE].replace("0123456789ab", "ID")
    assert bob.predict(api_name="/load")[HISTORY]["data"] in ([], [["", "", "", "", ""]], [[None] * 5])


def test_the_engine_refuses_other_peoples_sessions_and_prefixes_on_the_web(settings: Settings) -> None:
    engine = build_engine(settings, progress=False)
    alice, bob, v = Caller.web("alice"), Caller.web("bob"), engine.views
    sid, _ = engine.start(alice, "topic", "fs-why")
    for probe in (sid, sid[:4], sid[:6]):
        for call in (v.transcript, v.snapshot, v.overview, v.current, engine.skip, engine.end):
            with pytest.raises(NotFoundError, match=r"^No session '"):
                call(bob, probe)
        with pytest.raises(NotFoundError):
            engine.submit(bob, probe, "An answer")
        with pytest.raises(NotFoundError):
            engine.delete(bob, probe)
    with pytest.raises(NotFoundError):
        engine.views.transcript(alice, sid[:6])  # the web takes full ids only
    assert engine.views.resolve(Caller("alice", prefixes=True), sid[:6]) == sid  # the terminal may use a prefix
    assert engine.views.current(alice, sid) is not None and engine.views.sessions(bob) == []


def test_forget_deletes_a_users_sessions_checkpoints_results_and_downloads(settings: Settings, cli: Cli) -> None:
    import sqlite3

    from interviewer.interview.report import to_markdown
    from interviewer.storage import exports

    engine = build_engine(settings, progress=False)
    alice, bob = Caller.web("alice"), Caller.web("bob")
    gone, _ = engine.start(alice, "topic", "fs-why", count=1)
    engine.submit(alice, gone, engine.corpus.prompt("fsw-p1").prompt.reference_answer)
    data = engine.views.transcript(alice, gone)
    exports.write(settings.downloads_dir, gone, to_markdown(data), data.model_dump_json())
    kept, _ = engine.start(bob, "topic", "fs-why", count=1)
    del engine

    listed = json.loads(cli("sessions", "--owner", "alice", "--json").stdout)
    assert [r["id"] for r in listed] == [gone] and json.loads(cli("sessions", "--json").stdout) == []
    result = cli("forget", "--owner", "alice")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Deleted 1 session(s) ({gone}): their checkpoints, 1 answer(s), 1 prompt result(s) and 2 download file(s)."
    )
    db = sqlite3.connect(settings.database_path)
    assert db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (gone,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM writes WHERE thread_id = ?", (gone,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM prompt_results WHERE session_id = ?", (gone,)).fetchone()[0] == 0
    assert [r[0] for r in db.execute("SELECT id FROM sessions")] == [kept]
    assert list(settings.downloads_dir.glob(f"*/interview-{gone}.*")) == []
    again = cli("forget", "--session", kept)
    assert again.returncode == 0 and kept in again.stdout
    assert cli("forget", "--owner", "alice").stdout.strip() == "Nothing to delete: no such sessions."


def test_per_user_limits_refuse_with_a_clear_message_and_lose_nothing(settings: Settings) -> None:
    limited = replace(settings, answers_per_minute=2, max_open_sessions=2)
    engine = build_engine(limited, progress=False)
    alice = Caller.web("alice")
    first, _ = engine.start(alice, "topic", "fs-why")
    engine.start(alice, "topic", "versioning")
    with pytest.raises(LimitReached, match="INTERVIEWER_MAX_OPEN_SESSIONS=2"):
        engine.start(alice, "topic", "point-in-time")
    engine.start(Caller.web("bob"), "topic", "point-in-time")  # limits are per user
    engine.submit(alice, first, "I would compare training features with the served ones.")
    engine.submit(alice, first, "And log what was served.")
    before = engine.views.transcript(alice, first)
    with pytest.raises(LimitReached, match=r"INTERVIEWER_ANSWERS_PER_MINUTE.*still in the box"):
        engine.submit(alice, first, "A third answer within the minute.")
    assert engine.views.transcript(alice, first).prompts == before.prompts
    engine.end(alice, first)  # ending and skipping are never limited
    terminal = Caller.terminal()
    local, _ = engine.start(terminal, "topic", "fs-why")
    for _ in range(3):  # the person at the terminal has no limits
        engine.submit(terminal, local, "I would compare training features with the served ones.")


def test_over_the_model_call_limit_the_rubric_brain_grades_and_says_so(settings: Settings) -> None:
    from interviewer.grading.grader import Grader
    from interviewer.grading.llm import LLMSettings
    from interviewer.grading.llm_brain import LLMBrain
    from interviewer.grading.rubric import RubricBrain

    grader = Grader(replace(settings, model_calls_per_minute=3, max_followups=0), progress=False)
    rubric = grader.brain("rubric")
    assert isinstance(rubric, RubricBrain)
    model = ScriptedChatModel(respond=lambda messages: json.dumps({"verdict": "missed", "quote": ""}))
    llm = LLMSettings(base_url="http://127.0.0.1:9", api_key=None, model="local", concurrency=1)
    grader.register_brain(LLMBrain(model, llm, fallback=rubric))
    engine = build_engine(progress=False, grader=grader)
    alice = Caller.web("alice")
    sid, _ = engine.start(alice, "day", "58", brain="llm")
    first = engine.submit(alice, sid, "Skew is when training and serving features differ.")
    assert first.grade is not None and first.grade.brain == "llm" and first.model_calls >= 3
    second = engine.submit(alice, sid, "Feast keeps offline and online stores.")
    assert second.grade is not None and second.grade.brain == "rubric"
    assert second.grade.fallback and "INTERVIEWER_MODEL_CALLS_PER_MINUTE" in second.grade.fallback
    assert len(engine.views.transcript(alice, sid).prompts) == 2


def test_downloads_are_private_unguessable_and_swept_after_an_hour(settings: Settings, corpus: Corpus) -> None:
    from interviewer.storage import exports

    folder = settings.downloads_dir
    md, js = exports.write(folder, "abcdef123456", "# transcript", '{"x": 1}')
    assert md.parent.parent == folder and md.parent == js.parent
    assert len(md.parent.name) >= 30  # a random name: nobody can guess another person's link
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(md.parent.stat().st_mode & 0o777) == "0o700"
    old = time.time() - 2 * 3600
    os.utime(md.parent, (old, old))
    newer, _ = exports.write(folder, "abcdef123456", "# transcript", '{"x": 2}')
    assert not md.parent.exists() and newer.exists()
    assert exports.clear(folder) == 1 and not newer.exists()
