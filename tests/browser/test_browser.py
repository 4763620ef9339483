"""The web app in a real headless Chromium: start, answer, grade, reload, review, download, escaping.

These tests need Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH); `make test` installs it. They
fail, never skip, when it is missing. Their screenshots go to a temporary folder, or to the folder named by
INTERVIEWER_SCREENSHOTS (`make reports` sets it to evals/reports/screenshots).
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from interviewer.curriculum.corpus import Corpus
from tests.helpers import free_port

from .conftest import answer

expect.set_options(timeout=20_000)  # a loaded CI machine may take seconds to grade and redraw
# Each header of the Review tab's tables is one line of text ("score", never "scor" over "e").
HEADERS_ON_ONE_LINE = """() => [...document.querySelectorAll(".review-md th")].every((th) => {
  const text = document.createRange();
  text.selectNodeContents(th);
  return text.getClientRects().length === 1;
})"""
HTML_ANSWER = 'Skew <script>window.pwned=1</script><img src=x onerror="window.pwned=2"> is **bad**.'


def test_day_58_in_the_browser_grades_resumes_after_reload_and_downloads_the_transcript(
    page: Page, app_url: str, corpus: Corpus, shots: Path
) -> None:
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(app_url) else None)
    page.goto(app_url)
    expect(page.get_by_text("What to practise")).to_be_visible()

    page.get_by_label("Number of prompts (0 = all of them)").fill("3")
    page.get_by_role("button", name="Start").click()
    first = corpus.prompt("fsw-p1").prompt
    expect(page.get_by_text(first.text).first).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?session=[0-9a-f]{12}$"))
    session = page.url.rsplit("=", 1)[1]

    answer(page, first.reference_answer)
    expect(page.get_by_text(re.compile(r"Last answer: [34]/4"))).to_be_visible()
    second = corpus.prompt("fst-p1").prompt
    expect(page.get_by_text(second.text).first).to_be_visible()
    expect(page.get_by_label("Your answer")).to_have_value("")
    expect(page.locator("#chat").get_by_role("button", name="Clear")).to_have_count(0)  # the stored chat stays

    answer(page, HTML_ANSWER)
    expect(page.get_by_text("Follow-up:").first).to_be_visible()
    expect(page.get_by_text("not made yet: named when this question is done")).to_be_visible()
    for point in second.rubric:  # the points the follow-up may probe are not shown before it is answered
        expect(page.locator(".grade-panel").get_by_text(point.point)).to_have_count(0)
    expect(page.get_by_text("<script>window.pwned=1</script>", exact=False)).to_be_visible()
    assert page.evaluate("() => window.pwned") is None
    page.screenshot(path=str(shots / "interview.png"), full_page=True)

    _resumes_after_reload(page, session, first.text)

    page.get_by_role("button", name="End now").click()
    expect(page.get_by_role("heading", name=re.compile("Mock interview: Day 58 - Feature stores"))).to_be_visible()
    expect(page.get_by_text("Reference answer:").first).to_be_visible()
    expect(page.get_by_role("heading", name="Learning objectives")).to_be_visible()
    page.screenshot(path=str(shots / "review.png"), full_page=True)
    assert page.evaluate(HEADERS_ON_ONE_LINE), "a Review table header breaks inside a word"

    markdown = downloaded_markdown(page)
    assert markdown.startswith("# Mock interview: Day 58 - Feature stores")
    assert f"Session `{session}`" in markdown
    assert first.text in markdown and second.text in markdown
    assert "&lt;script&gt;" in markdown and "<script>" not in markdown

    assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []  # no fonts, scripts or analytics

    _history_shows(page, session, corpus.topic("fs-why").objectives[0].text, shots)


def _resumes_after_reload(page: Page, session: str, first: str) -> None:
    page.reload()
    expect(page.get_by_text(f"session {session}", exact=False)).to_be_visible()
    expect(page.get_by_text(first).first).to_be_visible()
    expect(page.get_by_text("Question 2 of 3")).to_be_visible()
    expect(page.get_by_text("Follow-up:").first).to_be_visible()


def downloaded_markdown(page: Page) -> str:
    """The transcript as the Review tab's "Download Markdown" button gives it."""
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Markdown").click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def _history_shows(page: Page, session: str, objective: str, shots: Path) -> None:
    """The History tab lists the session, draws the trend and names the objective in full in the mastery table."""
    page.get_by_role("tab", name="History").click()
    expect(page.get_by_role("gridcell", name=session).first).to_be_visible()
    expect(page.locator("#mastery").get_by_role("gridcell", name=objective).first).to_be_visible()  # in full
    expect(page.locator("#trend img")).to_be_visible()
    page.screenshot(path=str(shots / "history.png"), full_page=True)


def test_shift_enter_adds_a_line_and_enter_sends(page: Page, app_url: str) -> None:
    page.goto(app_url)
    page.get_by_role("button", name="Start").click()
    box = page.get_by_label("Your answer")
    box.click()
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    box.press("Enter")
    expect(box).to_have_value("")
    expect(page.get_by_text("Last answer:")).to_be_visible()


def test_the_start_screen_fits_a_phone(browser: Browser, app_url: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.goto(app_url)
    expect(pg.get_by_role("button", name="Start")).to_be_visible()
    assert pg.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.get_by_role("button", name="Start").click()
    expect(pg.get_by_label("Your answer")).to_be_visible()
    assert pg.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.screenshot(path=str(shots / "interview-phone.png"), full_page=True)
    context.close()


def test_each_tab_keeps_its_own_session(browser: Browser, app_url: str, corpus: Corpus) -> None:
    pages = []
    for choice in ("Day 57 - ML lifecycle", "Day 59 - Model registry & versioning"):
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(app_url)
        pg.get_by_label("What to practise").click()
        pg.get_by_role("option", name=choice, exact=True).click()
        pg.get_by_role("button", name="Start").click()
        pages.append(pg)
    expect(pages[0].get_by_text(corpus.prompt("lc-p1").prompt.text).first).to_be_visible()
    expect(pages[1].get_by_text(corpus.prompt("mlf-p1").prompt.text).first).to_be_visible()
    assert pages[0].url != pages[1].url
    expect(pages[0].get_by_text(corpus.prompt("mlf-p1").prompt.text)).to_have_count(0)


def test_the_session_survives_a_server_restart(browser: Browser, data_dir: Path, corpus: Corpus) -> None:
    from interviewer.web.server import launch

    port = free_port()
    demo = launch("127.0.0.1", port, block=False)
    page = browser.new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/")
    page.get_by_role("button", name="Start").click()
    answer(page, corpus.prompt("fsw-p1").prompt.reference_answer)
    expect(page.get_by_text(corpus.prompt("fst-p1").prompt.text).first).to_be_visible()
    url = page.url
    page.close()  # left open, the page would reload itself when the server came back, racing the visit below
    demo.close()

    demo = launch("127.0.0.1", port, block=False)
    try:
        page = browser.new_context().new_page()  # the person opens the session's link again
        page.goto(url)
        expect(page.get_by_text(corpus.prompt("fst-p1").prompt.text).first).to_be_visible()
        expect(page.get_by_text("Question 2 of 6")).to_be_visible()
    finally:
        demo.close()


def test_the_start_page_shows_the_curriculum_and_a_card_starts_in_one_click(
    browser: Browser, app_url: str, corpus: Corpus, shots: Path
) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(app_url)
    serving = corpus.topic("serving-patterns")
    card = page.locator(".card").filter(has_text=serving.title)
    expect(card.get_by_text("Advanced · 100 min · 5 prompts", exact=False)).to_be_visible()
    expect(card.get_by_text("Not practised yet.")).to_be_visible()
    expect(card.get_by_text(serving.objectives[0].text)).to_be_hidden()  # folded until asked for
    card.get_by_text("It tests 2 learning objectives").click()
    expect(card.get_by_text(serving.objectives[0].text)).to_be_visible()
    expect(page.get_by_text("Answer a few questions first; your weakest objectives will show here.")).to_be_visible()
    page.screenshot(path=str(shots / "start.png"), full_page=True)

    page.get_by_label("Number of prompts (0 = all of them)").fill("1")
    card.get_by_role("button", name=f"Practise {serving.title}").click()
    expect(page.get_by_text(serving.prompts[0].text).first).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?session=[0-9a-f]{12}$"))
    finished = page.get_by_text(re.compile(r"Finished · 1 prompt\b"))
    for turn in range(1, 5):  # a weak answer, then weak answers to the follow-ups until the question is done
        answer(page, "I am not sure; I would ask the team.")
        expect(page.locator("#chat").get_by_text("I am not sure; I would ask the team.")).to_have_count(turn)
        if finished.is_visible():
            break
    expect(finished).to_be_visible()

    page.get_by_role("button", name="New session").click()
    expect(card.get_by_text(re.compile(r"Last [01]\.\d\d/4 · best [01]\.\d\d/4"))).to_be_visible()
    weak = page.locator(".weak-card")
    expect(
        weak.get_by_text(serving.objectives[0].text, exact=False)
        .or_(weak.get_by_text(serving.objectives[1].text, exact=False))
        .first
    ).to_be_visible()
    weak.get_by_role("button", name="Review my weak points").click()
    expect(page.get_by_text("Review of weak prompts", exact=False).first).to_be_visible()
    expect(page.get_by_text(serving.prompts[0].text).first).to_be_visible()
    _history_on_a_phone(page, serving.objectives[0].text, shots)


def _history_on_a_phone(page: Page, objective: str, shots: Path) -> None:
    """On a phone's width the History tab still fits: nothing scrolls sideways but the tables themselves."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#mastery").get_by_role("gridcell", name=objective).first).to_be_visible()
    expect(page.locator("#trend img")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(shots / "history-phone.png"), full_page=True)


def test_the_start_page_cards_stack_on_a_phone(browser: Browser, app_url: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.goto(app_url)
    cards = pg.locator("#cards > .card")
    expect(cards.first).to_be_visible()
    boxes = [cards.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and abs(boxes[0]["x"] - boxes[1]["x"]) < 2  # one column, one card under another
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
    assert pg.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    pg.screenshot(path=str(shots / "start-phone.png"), full_page=False)
    context.close()
