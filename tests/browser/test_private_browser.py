"""Privacy in a real browser: someone else's session link, hostile model text, deleting a session."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from playwright.sync_api import Browser, Page, expect

from interviewer.compose import build_engine
from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.interview.access import Caller
from tests.helpers import serving
from tests.llm.scripted import ScriptedChatModel

from .conftest import answer

expect.set_options(timeout=20_000)
HOSTILE = "<img src=x onerror=window.pwned=1> What would you log to catch it?"
ANSWER = "Skew <img src=y onerror=window.pwned=3> happens when training and serving features differ."


def test_opening_someone_elses_session_link_shows_the_start_screen_and_a_neutral_note(
    browser: Browser, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERVIEWER_AUTH", "alice:alice-pass-1234,bob:bob-pass-5678")
    engine = build_engine(settings, progress=False)
    sid, _ = engine.start(Caller.web("alice"), "topic", "fs-why")
    engine.submit(Caller.web("alice"), sid, "Alice's private words about the Quorvex churn model.")
    with serving(engine) as url:
        context = browser.new_context()
        signed_in = context.request.post(f"{url}login", form={"username": "bob", "password": "bob-pass-5678"})
        assert signed_in.ok
        page = context.new_page()
        for probe in (sid, "0123456789ab"):
            page.goto(f"{url}?session={probe}")
            expect(page.get_by_role("button", name="Start")).to_be_visible()
            expect(page.get_by_text(f"No session '{probe}'.")).to_be_visible()
            expect(page.get_by_text("Quorvex")).to_have_count(0)
            expect(page.get_by_label("Your answer")).to_have_count(0)
        context.close()


@pytest.fixture
def hostile_app(settings: Settings) -> Iterator[str]:
    """The app with a model whose follow-ups carry HTML and script, and whose quotes do too."""
    from interviewer.grading.grader import Grader
    from interviewer.grading.llm import LLMSettings
    from interviewer.grading.llm_brain import LLMBrain
    from interviewer.grading.rubric import RubricBrain

    def respond(messages: list[BaseMessage]) -> str:
        if "grading one key point" in str(messages[0].content):
            return json.dumps({"verdict": "covered", "quote": "<img src=y onerror=window.pwned=3> happens"})
        return HOSTILE

    grader = Grader(replace(settings, brain="llm"), progress=False)
    rubric = grader.brain("rubric")
    assert isinstance(rubric, RubricBrain)
    llm = LLMSettings(base_url="http://127.0.0.1:9", api_key=None, model="local", concurrency=1)
    grader.register_brain(LLMBrain(ScriptedChatModel(respond=respond), llm, fallback=rubric))
    with serving(build_engine(progress=False, grader=grader)) as url:
        yield url


def test_html_and_script_written_by_the_model_is_shown_as_text_everywhere(
    page: Page, hostile_app: str, tmp_path: Path
) -> None:
    page.goto(hostile_app)
    page.get_by_label("Number of prompts (0 = all of them)").fill("1")
    page.get_by_role("button", name="Start").click()
    answer(page, ANSWER)
    expect(page.locator("#chat").get_by_text("onerror=window.pwned=1", exact=False)).to_be_visible()
    assert page.evaluate("() => window.pwned") is None
    page.get_by_role("tab", name="Review").click()
    expect(page.get_by_text("onerror=window.pwned=1", exact=False).last).to_be_visible()
    expect(page.get_by_text("onerror=window.pwned=3", exact=False).last).to_be_visible()
    assert page.evaluate("() => window.pwned") is None
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Markdown").click()
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=window.pwned=1&gt;" in markdown and "<img" not in markdown
    page.get_by_role("tab", name="History").click()
    expect(page.get_by_role("gridcell", name=re.compile("Day 58|Feature|fs")).first).to_be_visible()
    assert page.evaluate("() => window.pwned") is None


def test_a_session_is_deleted_from_history_only_after_a_confirmation(
    page: Page, app_url: str, settings: Settings, corpus: Corpus
) -> None:
    page.goto(app_url)
    page.get_by_label("Number of prompts (0 = all of them)").fill("1")
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"\?session=[0-9a-f]{12}$"))
    sid = page.url.rsplit("=", 1)[1]
    answer(page, corpus.prompt("fsw-p1").prompt.reference_answer)
    expect(page.get_by_text("Last answer:")).to_be_visible()
    assert list(settings.downloads_dir.glob(f"*/interview-{sid}.md"))

    page.get_by_role("tab", name="History").click()
    expect(page.get_by_role("gridcell", name=sid).first).to_be_visible()
    page.get_by_label("Delete one of your sessions").click()
    page.get_by_role("option", name=re.compile(sid)).click()
    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("This cannot be undone.")).to_be_hidden()
    expect(page.get_by_role("gridcell", name=sid).first).to_be_visible()  # nothing happened without a yes

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Yes, delete it for good").click()
    expect(page.get_by_text(f"Deleted 1 session(s) ({sid})")).to_be_visible()
    expect(page.get_by_role("gridcell", name=sid)).to_have_count(0)
    assert not re.search(r"session=", page.url)
    assert list(settings.downloads_dir.glob(f"*/interview-{sid}.*")) == []
    page.goto(f"{app_url}?session={sid}")
    expect(page.get_by_text(f"No session '{sid}'.")).to_be_visible()
