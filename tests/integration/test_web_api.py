"""The web app through its HTTP API (gradio_client), as a script or another front end would use it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from gradio_client import Client

from interviewer.curriculum.corpus import Corpus
from tests.helpers import free_port, run_app

# The first outputs of every screen-changing endpoint, in order. A turn (/answer, /skip, /end) returns these and the
# answer box; /review returns the transcript and its two downloads, /history the sessions, delete list and chart.
SESSION, PROGRESS, CHAT, GRADE, NOTICE = range(5)


def text(message: dict[str, object]) -> str:
    """The text of a chat message as the API returns it (a string, or a list of typed parts)."""
    content = message["content"]
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


@pytest.fixture
def client(app_url: str, tmp_path: Path) -> Client:
    return Client(app_url, verbose=False, download_files=str(tmp_path / "client"))


def test_a_short_interview_through_the_api_returns_the_graded_transcript(client: Client, corpus: Corpus) -> None:
    started = client.predict("day:58", 2, api_name="/start")
    session = started[SESSION]
    assert len(session) == 12
    assert "Day 58 - Feature stores" in started[PROGRESS] and "Question 1 of 2" in started[PROGRESS]
    assert text(started[CHAT][-1]) == corpus.prompt("fsw-p1").prompt.text

    first = client.predict(session, corpus.prompt("fsw-p1").prompt.reference_answer, api_name="/answer")
    assert first[GRADE].startswith("### Last answer: ")
    assert text(first[CHAT][-1]) == corpus.prompt("fst-p1").prompt.text
    assert first[-1] == ""  # the answer box is cleared once the answer is stored

    second = client.predict(session, corpus.prompt("fst-p1").prompt.reference_answer, api_name="/answer")
    assert "Finished" in second[PROGRESS]
    assert len(second) == 8  # a turn sends back the interview panel only, not the transcript or the history
    review, download, _ = client.predict(session, api_name="/review")  # what the Review tab draws as it opens
    assert "## 1. What is training/serving skew" in review and "## 2. Walk through how Feast" in review
    assert "**Reference answer:**" in review and "## Learning objectives" in review
    path = download["value"] if isinstance(download, dict) else download
    markdown = Path(path).read_text(encoding="utf-8")
    assert markdown.startswith("# Mock interview: Day 58 - Feature stores")
    history = client.predict(api_name="/history")[0]  # what the History tab draws as it opens
    assert session in {row[0] for row in history["data"]}


def test_a_done_question_is_answered_again_through_the_api_and_shows_what_changed(
    client: Client, corpus: Corpus
) -> None:
    session = client.predict("day:58", 1, api_name="/start")[SESSION]
    weak = "It depends on the company and I would ask the team."
    refused = client.predict(session, "fsw-p1", api_name="/again")  # still waiting for its answer
    assert refused[SESSION] == session and "done" in refused[NOTICE]
    for _ in range(3):  # the answer, then each follow-up, until the question is done
        done = client.predict(session, weak, api_name="/answer")
        if "Finished" in done[PROGRESS]:
            break
    again = client.predict(session, "fsw-p1", api_name="/again")
    assert again[SESSION] != session and "Question 1 of 1" in again[PROGRESS]
    assert text(again[CHAT][-1]) == corpus.prompt("fsw-p1").prompt.text
    for _ in range(3):
        graded = client.predict(again[SESSION], corpus.prompt("fsw-p1").prompt.reference_answer, api_name="/answer")
        if "Finished" in graded[PROGRESS]:
            break
    assert "Since your previous attempt" in graded[GRADE] and "Newly made" in graded[GRADE]
    review = client.predict(again[SESSION], api_name="/review")[0]
    assert "Your attempts at this question (2)" in review


def test_a_refused_answer_keeps_the_typed_text_and_says_why(client: Client) -> None:
    session = client.predict("topic:fs-why", 0, api_name="/start")[SESSION]
    huge = "feature " * 3000
    out = client.predict(session, huge, api_name="/answer")
    assert "limit is 20,000" in out[NOTICE]
    assert out[-1] == {"__type__": "update"}  # the answer box is left as typed: nothing is lost
    assert "Question 1 of 2" in out[PROGRESS]


def test_reopening_a_session_by_id_resumes_it(client: Client, corpus: Corpus) -> None:
    session = client.predict("topic:versioning", 0, api_name="/start")[SESSION]
    client.predict(session, corpus.prompt("ver-p1").prompt.reference_answer, api_name="/answer")
    reopened = client.predict(session, api_name="/open_session")
    assert reopened[SESSION] == session
    assert text(reopened[CHAT][-1]) == corpus.prompt("ver-p2").prompt.text
    assert "Question 2 of 2" in reopened[PROGRESS]


def test_an_unknown_session_id_shows_the_start_screen_with_a_message(client: Client) -> None:
    out = client.predict("ffffffffffff", api_name="/open_session")
    assert out[SESSION] == "" and "No session 'ffffffffffff'" in out[NOTICE]


def test_several_users_at_once_each_get_their_own_session(app_url: str, corpus: Corpus, tmp_path: Path) -> None:
    results: dict[int, tuple[str, str]] = {}
    errors: list[BaseException] = []
    choices = ["topic:fs-why", "topic:point-in-time", "topic:versioning", "topic:mlflow-registry"]

    def user(n: int) -> None:
        try:
            c = Client(app_url, verbose=False, download_files=str(tmp_path / f"user-{n}"))
            sid = c.predict(choices[n], 1, api_name="/start")[SESSION]
            c.predict(sid, "I would log served features and compare them with training.", api_name="/answer")
            results[n] = (sid, c.predict(sid, api_name="/review")[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    assert len({sid for sid, _ in results.values()}) == 4
    for n, (sid, review) in results.items():
        topic = choices[n].split(":")[1]
        first_prompt = corpus.topic(topic).prompts[0].text
        assert sid in review and first_prompt.split(" ")[0] in review


def test_the_app_refuses_to_start_on_an_unusable_data_folder_with_one_clear_line(tmp_path: Path) -> None:
    import os

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = run_app("--port", "0", env={**os.environ, "INTERVIEWER_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: The data folder {blocker / 'data'}")


def test_with_a_model_configured_the_app_offers_it_and_carries_on_when_it_is_down(
    data_dir: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from interviewer.web.server import launch

    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    monkeypatch.setenv("INTERVIEWER_LLM_MODEL", "local-model")
    monkeypatch.setenv("INTERVIEWER_LLM_RETRIES", "0")
    port = free_port()
    demo = launch("127.0.0.1", port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "client"))
        started = client.predict("topic:fs-why", 1, "llm", api_name="/start")
        graded = client.predict(started[SESSION], corpus.prompt("fsw-p1").prompt.reference_answer, api_name="/answer")
        assert "brain rubric" in graded[GRADE] and "The model failed (" in graded[GRADE]
        assert "ConnectionError" in graded[GRADE]
        review = client.predict(started[SESSION], api_name="/review")[0]
        assert "brain llm" in review  # the session was run with the model, and the fallback is marked
        assert "*Graded by the rubric brain: The model failed (" in review
    finally:
        demo.close()


def test_the_server_keeps_the_state_of_its_most_recent_page_loads_only_and_a_page_let_go_still_works(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Gradio keeps a copy of the page's configuration for every page load; a server bounds how many it keeps."""
    from interviewer.web import server

    monkeypatch.setattr(server, "PAGE_STATES", 4)
    port = free_port()
    demo = server.launch("127.0.0.1", port, block=False)
    try:
        pages = []
        for _ in range(10):  # ten visits, each loading the page as a browser does
            page = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "client"))
            page.predict(api_name="/load")
            page.predict(api_name="/start_page")
            pages.append(page)
        assert len(demo.state_holder.session_data) == 4  # not ten: the six oldest were let go
        started = pages[0].predict("topic:fs-why", 1, "rubric", api_name="/start")  # the first page, let go
        assert started[SESSION] and started[CHAT], started[NOTICE]  # an interview, with its first question
        assert len(demo.state_holder.session_data) == 4
    finally:
        demo.close()
