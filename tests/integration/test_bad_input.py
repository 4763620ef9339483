"""Bad input gets a clear message and loses nothing.

Bad environment values, bytes that are not UTF-8 on a pipe, text that cannot be stored, a broken curriculum
index and a corrupt session database: each is one clear line for the user, and nothing they had is lost.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus, load_corpus
from interviewer.curriculum.embeddings import encoder, model_files, onnx_session
from interviewer.curriculum.index import CurriculumIndex, corpus_entries
from interviewer.errors import AnswerRejected, InterviewerError
from interviewer.grading.grader import Grader
from interviewer.grading.llm import LLMSettings
from interviewer.grading.text import printable
from tests.helpers import ROOT, Cli, run_app, serving

REAL_ANSWER = (
    "A feature store defines each feature once, so training and serving compute the same values and "
    "training-serving skew goes away; it serves fresh features online with low latency and keeps history "
    "offline for point-in-time correct training sets."
)
BROKEN = re.compile(r"index\.broken-\d{8}T\d{6}Z$")


# -- 1. environment values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "command", "message"),
    [
        (
            "INTERVIEWER_MAX_FOLLOWUPS",
            "two",
            ["interview", "--day", "58"],
            "error: INTERVIEWER_MAX_FOLLOWUPS must be a whole number, got 'two'.",
        ),
        (
            "INTERVIEWER_MAX_FOLLOWUPS",
            "-1",
            ["interview", "--day", "58"],
            "error: INTERVIEWER_MAX_FOLLOWUPS must be at least 0, got -1.",
        ),
        (
            "INTERVIEWER_LLM_RETRIES",
            "2.5",
            ["grade", "--prompt-id", "fsw-p1", "--answer", "x"],
            "error: INTERVIEWER_LLM_RETRIES must be a whole number, got '2.5'.",
        ),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, command: list[str], message: str
) -> None:
    monkeypatch.setenv(variable, value)
    done = cli(*command)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [message]
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("INTERVIEWER_LLM_RETRIES", "2.5", "INTERVIEWER_LLM_RETRIES must be a whole number, got '2.5'."),
        ("INTERVIEWER_LLM_CONTEXT_TOKENS", "lots", "INTERVIEWER_LLM_CONTEXT_TOKENS must be a whole number"),
        ("INTERVIEWER_LLM_CONCURRENCY", "0", "INTERVIEWER_LLM_CONCURRENCY must be at least 1, got 0."),
        ("INTERVIEWER_LLM_MAX_OUTPUT_TOKENS", "-5", "INTERVIEWER_LLM_MAX_OUTPUT_TOKENS must be at least 1"),
        ("INTERVIEWER_LLM_TIMEOUT", "0", "INTERVIEWER_LLM_TIMEOUT must be a positive number, got '0'."),
        ("INTERVIEWER_LLM_TIMEOUT", "nan", "INTERVIEWER_LLM_TIMEOUT must be a positive number"),
        ("INTERVIEWER_LLM_PRICE_IN", "-0.1", "INTERVIEWER_LLM_PRICE_IN must be a non-negative number"),
        ("INTERVIEWER_LLM_PRICE_OUT", "cheap", "INTERVIEWER_LLM_PRICE_OUT must be a number, got 'cheap'."),
    ],
)
def test_model_settings_refuse_values_that_make_no_sense(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InterviewerError, match=re.escape(message)):
        LLMSettings.from_env()


def test_good_model_settings_are_read_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {
        "INTERVIEWER_LLM_RETRIES": " 0 ",
        "INTERVIEWER_LLM_CONCURRENCY": "3",
        "INTERVIEWER_LLM_TIMEOUT": "2.5",
        "INTERVIEWER_LLM_PRICE_IN": "0",
    }.items():
        monkeypatch.setenv(variable, value)
    settings = LLMSettings.from_env()
    assert (settings.max_retries, settings.concurrency, settings.timeout, settings.price_in) == (0, 3, 2.5, 0.0)


def test_limits_that_would_block_everyone_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEWER_ANSWERS_PER_MINUTE", "0")
    with pytest.raises(InterviewerError, match=re.escape("INTERVIEWER_ANSWERS_PER_MINUTE must be at least 1, got 0.")):
        Settings()


def test_the_model_threads_are_a_setting_and_none_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = model_files()
    monkeypatch.setenv("INTERVIEWER_THREADS", "1")
    assert Settings().threads == 1 and onnx_session(model).get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("INTERVIEWER_THREADS", "0")
    with pytest.raises(InterviewerError, match=re.escape("INTERVIEWER_THREADS must be at least 1, got 0.")):
        Settings()


def test_a_turn_lease_that_never_holds_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad, why in (("0", "a positive number"), ("soon", "a number")):
        monkeypatch.setenv("INTERVIEWER_TURN_LEASE_S", bad)
        with pytest.raises(InterviewerError, match=f"INTERVIEWER_TURN_LEASE_S must be {why}"):
            Settings()


def test_a_trusted_proxy_that_is_not_an_address_is_refused_and_good_ones_are_normalized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERVIEWER_TRUSTED_PROXIES", "10.0.0.5, haproxy.local")
    with pytest.raises(InterviewerError, match=r"INTERVIEWER_TRUSTED_PROXIES: 'haproxy\.local' is neither an IP"):
        Settings()
    monkeypatch.setenv("INTERVIEWER_TRUSTED_PROXIES", " 10.0.0.5 , 10.1.2.3/16,::1,")
    assert Settings().trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
    monkeypatch.delenv("INTERVIEWER_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == ()  # no one's X-Forwarded-For is believed


def test_an_empty_data_folder_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", "")
    assert Settings().data_dir == Path.cwd() / ".interviewer"


def test_the_web_app_names_a_bad_variable_and_stops(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERVIEWER_MAX_FOLLOWUPS", "two")
    done = run_app("--port", "0")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "error: INTERVIEWER_MAX_FOLLOWUPS must be a whole number, got 'two'."
    assert "Traceback" not in done.stderr


# -- 2. bytes that are not UTF-8 on a pipe ---------------------------------------------------------


def test_a_line_that_is_not_utf8_is_refused_and_the_interview_goes_on(cli: Cli) -> None:
    piped = b"\xff\xfe caf\xe9\n" + REAL_ANSWER.encode() + b"\n/quit\n"
    done = cli("interview", "--topic", "fs-why", stdin=piped)
    assert done.returncode == 0, done.stderr
    assert "! That answer is not UTF-8 text; nothing was graded. Type it again." in done.stderr.splitlines()
    assert "Traceback" not in done.stderr
    session_id = re.search(r"Session ([0-9a-f]+):", done.stdout)
    assert session_id is not None

    shown = cli("transcript", session_id.group(1), "--format", "json", stdin=b"")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    turns = [t for block in data["prompts"] for t in block["turns"]]
    assert [t["answer"] for t in turns] == [REAL_ANSWER]
    assert turns[0]["grade"]["score"] >= 1
    assert "caf" not in shown.stdout and "\ufffd" not in shown.stdout

    listed = cli("sessions", "--json", stdin=b"")
    assert session_id.group(1) in [row["id"] for row in json.loads(listed.stdout)]


# -- 3. text that cannot be stored, and odd characters ---------------------------------------------


@pytest.mark.parametrize("answer", ["\ud800", "Feature stores keep \udcff online values", "\udfff\ud83d"])
def test_a_lone_surrogate_is_refused_before_grading(grader: Grader, answer: str) -> None:
    with pytest.raises(AnswerRejected, match=re.escape("not valid text (a lone UTF-16 surrogate); nothing was graded")):
        grader.clean_answer(answer)


def test_nul_control_characters_and_a_bom_are_cleaned_away(grader: Grader) -> None:
    raw = "\ufeffFeature\x00 stores keep\x07 online\r\nand off\u00adline\u200b values\x85in sync\x1b[31m"
    assert grader.clean_answer(raw) == "Feature stores keep online\nand offline values\nin sync [31m"
    with pytest.raises(AnswerRejected, match="has no readable text"):
        grader.clean_answer("\ufeff\x00\x07\u200b")


def test_the_copy_of_an_answer_a_transcript_shows_keeps_wording_and_markup() -> None:
    assert printable("\ufeffa\x00b\r\nc\u200b **d**\x85") == "a b\nc **d**\n"


def test_the_engine_stores_nothing_for_a_refused_answer(settings: Settings) -> None:
    from interviewer.compose import build_engine
    from interviewer.interview.access import Caller

    engine, me = build_engine(settings, progress=False), Caller.terminal()
    session_id, question = engine.start(me, "topic", "fs-why")
    before = engine.views.transcript(me, session_id)
    with pytest.raises(AnswerRejected, match="lone UTF-16 surrogate"):
        engine.submit(me, session_id, "Feature stores \ud800 avoid skew.")
    assert engine.views.transcript(me, session_id) == before
    assert engine.views.current(me, session_id) == question
    outcome = engine.submit(me, session_id, "\ufeff" + REAL_ANSWER.replace(" ", "\x00 ", 3))
    assert outcome.grade is not None and outcome.grade.score >= 1


# -- 4. a missing or broken curriculum index -------------------------------------------------------


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Day 58 alone: an index of about a hundred entries, quick to build."""
    target = tmp_path_factory.mktemp("small") / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    for path in [*(target / "topics").glob("*.yaml"), *(target / "days").glob("*.yaml")]:
        if path.name != "day58.yaml":
            path.unlink()
    return load_corpus(target)


def _works(index: CurriculumIndex) -> None:
    """Retrieval answers and every entry of the corpus is there."""
    query = encoder().encode(["features computed the same way for training and serving"])[0]
    assert index.related(query, topic="fs-why", k=3)
    assert index.count() == len(corpus_entries(index.corpus))


def _aside(folder: Path) -> Path:
    kept = [p for p in folder.iterdir() if BROKEN.search(p.name)]
    assert len(kept) == 1, kept
    return kept[0]


def test_a_missing_index_is_built_with_a_notice(
    tmp_path: Path, small_corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    index = CurriculumIndex(tmp_path / "index", small_corpus)
    index.collection()
    assert f"Building the curriculum index in {tmp_path / 'index'} (first start)..." in capsys.readouterr().err
    assert index.notice is None
    _works(index)


def test_a_garbage_index_database_is_moved_aside_and_rebuilt(
    data_dir: Path, corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = b"this is not a database\n" * 400
    (data_dir / "index" / "chroma.sqlite3").write_bytes(garbage)
    index = CurriculumIndex(data_dir / "index", corpus, progress=False)
    index.collection()
    kept = _aside(data_dir)
    assert (kept / "chroma.sqlite3").read_bytes() == garbage  # the user's folder is kept as it was
    assert index.notice is not None
    assert capsys.readouterr().err.splitlines() == [index.notice]
    assert "could not be used (" in index.notice and f"moved it to {kept} and built a new one." in index.notice
    _works(index)


def test_an_index_whose_vectors_are_gone_is_rebuilt_by_a_sync(data_dir: Path, corpus: Corpus) -> None:
    with sqlite3.connect(data_dir / "index" / "chroma.sqlite3") as db:
        db.execute("DELETE FROM embeddings_queue WHERE rowid % 3 = 0")
    db.close()
    index = CurriculumIndex(data_dir / "index", corpus, progress=False)
    report = index.sync()  # what `interviewer index` does
    assert report.added == len(corpus_entries(corpus))
    assert index.notice is not None and str(_aside(data_dir)) in index.notice
    point = corpus.prompt("fsw-p1").prompt.rubric[0].id
    assert index.vectors(index.entry_ids("point", point)).shape == (1, 384)
    _works(index)


def test_a_file_where_the_index_folder_should_be_is_kept_and_replaced(
    tmp_path: Path, small_corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "index").write_text("not a folder\n", encoding="utf-8")
    index = CurriculumIndex(tmp_path / "index", small_corpus, progress=False)
    _works(index)
    assert _aside(tmp_path).read_text(encoding="utf-8") == "not a folder\n"
    assert index.notice is not None and "(it is a file, not a folder)" in index.notice
    assert capsys.readouterr().err.splitlines() == [index.notice]


def test_a_busy_index_is_reported_not_moved_aside(
    data_dir: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(self: CurriculumIndex) -> None:
        raise RuntimeError("error returned from database: (code: 5) database is locked")

    monkeypatch.setattr(CurriculumIndex, "_open", busy)
    index = CurriculumIndex(data_dir / "index", corpus, progress=False)
    with pytest.raises(InterviewerError, match=r"cannot be used now .* database is locked.*try again shortly"):
        index.collection()
    assert sorted(p.name for p in data_dir.iterdir()) == ["index"] and index.notice is None


# -- 5. a corrupt session database -----------------------------------------------------------------


def test_a_corrupt_session_database_stops_the_web_app_and_is_left_untouched(data_dir: Path) -> None:
    database = data_dir / "sessions.sqlite"
    garbage = b"this is not a session database\n" * 300
    database.write_bytes(garbage)
    done = run_app("--port", "0")
    assert done.returncode == 2
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"error: The session database {database} is corrupt"), done.stderr
    assert database.read_bytes() == garbage
    assert sorted(p.name for p in data_dir.iterdir()) == ["index", "sessions.sqlite"]


def test_a_broken_index_at_web_start_is_rebuilt_and_the_page_says_so(data_dir: Path, corpus: Corpus) -> None:
    import httpx
    from gradio_client import Client

    (data_dir / "index" / "chroma.sqlite3").write_bytes(b"this is not a database\n" * 400)
    with serving() as url:
        config = httpx.get(f"{url}config", timeout=30).text
        assert "Notice:" in config and "could not be used" in config and _aside(data_dir).name in config
        client = Client(url, verbose=False, download_files=False)
        sid = client.predict("topic:fs-why", 1, api_name="/start")[0]
        graded = client.predict(sid, corpus.prompt("fsw-p1").prompt.reference_answer, api_name="/answer")
        assert graded[3].startswith("### Last answer: ")


def test_control_characters_never_reach_the_stored_transcript_and_odd_ids_name_no_session(
    settings: Settings,
) -> None:
    from interviewer.compose import build_engine
    from interviewer.errors import NotFoundError
    from interviewer.interview.access import Caller

    engine, me = build_engine(settings, progress=False), Caller.terminal()
    sid, _ = engine.start(me, "topic", "fs-why", count=1)
    engine.submit(me, sid, "Skew\x00 is when\x1b training and serving\u200b features differ.")
    stored = engine.views.transcript(me, sid).prompts[0].turns[0].answer
    assert stored == "Skew  is when  training and serving features differ."
    for odd in ("\ud800abcd", sid[:4] + "\ud800", "<img src=x>", "' OR 1=1 --", "%"):
        with pytest.raises(NotFoundError, match=r"^No session "):
            engine.views.transcript(me, odd)


def test_a_lone_surrogate_sent_through_the_web_api_gets_a_message_and_the_session_is_kept(
    app_url: str, corpus: Corpus
) -> None:
    import httpx
    from gradio_client import Client

    client = Client(app_url, verbose=False, download_files=False)
    sid = client.predict("topic:fs-why", 1, api_name="/start")[0]
    # JSON may carry an unpaired surrogate as an escape; many clients cannot even encode one.
    body = f'{{"data": ["{sid}", "Skew \\ud800 is when features differ."]}}'
    posted = httpx.post(f"{app_url}gradio_api/call/answer", content=body, headers={"content-type": "application/json"})
    assert posted.status_code == 200, posted.text
    event = posted.json()["event_id"]
    stream = httpx.get(f"{app_url}gradio_api/call/answer/{event}", timeout=60).text
    assert "event: complete" in stream and "not valid text" in stream
    reopened = client.predict(sid, api_name="/open_session")
    assert reopened[0] == sid and "Question 1 of 1" in reopened[1] and "Last answer" not in reopened[3]
    graded = client.predict(sid, corpus.prompt("fsw-p1").prompt.reference_answer, api_name="/answer")
    assert graded[3].startswith("### Last answer: ")
