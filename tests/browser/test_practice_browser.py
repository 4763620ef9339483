"""Deliberate practice in a real browser, on SQLite and on PostgreSQL: answer a question, answer it again and see
what changed, then move the fixed clock (INTERVIEWER_NOW) on and find it due on the start page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from tests.browser.conftest import answer
from tests.helpers import free_port

WEAK = "It depends on the company and I would ask the team."
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def practice_url(storage_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The web app in this process over each storage backend in turn, on a fixed clock the test can move."""
    from interviewer.web.server import launch

    assert storage_settings.data_dir.exists()
    monkeypatch.setenv("INTERVIEWER_NOW", START.isoformat())
    port = free_port()
    demo = launch("127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def _until_done(page: Page, text: str) -> None:
    """Answer the question, and each follow-up on it, with `text` until the session says it has finished."""
    finished = page.get_by_text(re.compile(r"Finished · 1 prompt"))
    for _ in range(3):
        answer(page, text)
        expect(page.get_by_label("Your answer")).to_have_value("")
        page.wait_for_timeout(100)
        if finished.is_visible():
            return
    expect(finished).to_be_visible()


def test_answer_again_see_what_changed_then_find_it_due(
    browser: Browser, practice_url: str, corpus: Corpus, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = corpus.prompt("fsw-p1").prompt
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.goto(practice_url)
    page.get_by_label("Number of prompts (0 = all of them)").fill("1")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_text(question.text).first).to_be_visible()
    _until_done(page, WEAK)

    page.get_by_role("button", name=re.compile("^Answer again")).click()
    expect(page.get_by_text(re.compile(r"Question 1 of 1"))).to_be_visible()
    _until_done(page, question.reference_answer)
    grade = page.locator(".grade-panel")
    expect(grade.get_by_text("Since your previous attempt")).to_be_visible()
    expect(grade.get_by_text(re.compile(r"[01]/4 → [34]/4"))).to_be_visible()
    expect(grade.get_by_text("Newly made").first).to_be_visible()
    page.screenshot(path=str(shots / "answer-again.png"), full_page=True)

    page.get_by_role("tab", name="Review").click()
    expect(page.get_by_text("Your attempts at this question (2)")).to_be_visible()

    page.get_by_role("tab", name="Interview").click()
    page.get_by_role("button", name="New session").click()
    due = page.locator("#due-card")
    expect(due.get_by_text("Nothing is due today")).to_be_visible()
    expect(due.get_by_text("2027-01-05")).to_be_visible()

    monkeypatch.setenv("INTERVIEWER_NOW", (START + timedelta(days=3)).isoformat())  # three days on
    page.goto(practice_url)
    expect(due.get_by_text("Due today: 1 question")).to_be_visible()
    page.screenshot(path=str(shots / "due-today.png"), full_page=True)
    due.get_by_role("button", name="Practise the due questions").click()
    expect(page.get_by_text(question.text).first).to_be_visible()
    expect(page.get_by_text("Questions due")).to_be_visible()
