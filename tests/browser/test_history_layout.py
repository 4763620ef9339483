"""The History and Review tabs read cleanly on a desktop (1280 wide) and on a phone (390 wide).

No table header breaks inside a word, the trend shows its whole 0-4 range with its labels clear of the plot, the
"Delete…" button is a button's height beside its list, and the Review tab writes each question once. The trend is
a PNG, so its figure is checked in this process too (`test_the_trend_figure_*`); the browser checks the image as
the page shows it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from playwright.sync_api import Page, expect

from interviewer.curriculum.corpus import Corpus
from interviewer.interview.progress import TrendPoint
from interviewer.web.practice import trend_figure

from .conftest import answer

expect.set_options(timeout=20_000)  # a loaded CI machine may take seconds to grade and redraw
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PROMPTS = ("fsw-p1", "fst-p1")  # Day 58's first two prompts, answered with their reference answers: 4/4 each

# Each word of each header cell, measured with a Range over its characters: a word on one line has its boxes on
# one line; "attempt" over "s" has two. Cells that are not laid out (no boxes) are not counted.
HEADER_WORDS = """(selector) => {
  const broken = [];
  let words = 0;
  for (const cell of document.querySelectorAll(selector)) {
    const texts = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const word = document.createRange();
        word.setStart(node, match.index);
        word.setEnd(node, match.index + match[0].length);
        const lines = new Set([...word.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size === 0) { continue; }
        words += 1;
        if (lines.size > 1) { broken.push(match[0]); }
      }
    }
  }
  return {words, broken};
}"""

# The trend's image as shown: its natural and shown size, whether anything around it clips it, whether the
# block's label covers it, and whether it fits the window's width.
TREND_IMAGE = """() => {
  const img = document.querySelector("#trend img");
  const box = img.getBoundingClientRect();
  const inside = (outer) => box.left >= outer.left - 1 && box.right <= outer.right + 1
    && box.top >= outer.top - 1 && box.bottom <= outer.bottom + 1;
  const clippedBy = [];
  for (let el = img.parentElement; el && el !== document.body; el = el.parentElement) {
    const style = getComputedStyle(el);
    if ((style.overflowX !== "visible" || style.overflowY !== "visible") && !inside(el.getBoundingClientRect())) {
      clippedBy.push(el.tagName + "." + [...el.classList].join("."));
    }
  }
  const label = document.querySelector("#trend [data-testid='block-label']");
  const tag = label ? label.getBoundingClientRect() : null;
  const covers = !!tag && tag.height > 0 && tag.bottom > box.top + 1 && tag.top < box.bottom - 1
    && tag.right > box.left + 1 && tag.left < box.right - 1;
  return {
    loaded: img.complete && img.naturalWidth > 0,
    natural: [img.naturalWidth, img.naturalHeight],
    shown: [box.width, box.height],
    clippedBy,
    labelCovers: covers,
    fitsWidth: box.left >= -1 && box.right <= window.innerWidth + 1,
  };
}"""


def test_history_and_review_read_cleanly_on_a_desktop_and_a_phone(
    page: Page, app_url: str, corpus: Corpus, shots: Path
) -> None:
    questions = [corpus.prompt(pid).prompt for pid in PROMPTS]
    page.goto(app_url)
    page.get_by_label("Number of prompts (0 = all of them)").fill(str(len(questions)))
    page.get_by_role("button", name="Start").click()
    for question in questions:
        expect(page.get_by_text(question.text).first).to_be_visible()
        answer(page, question.reference_answer)
        expect(page.locator("#chat").get_by_text(question.reference_answer[:60])).to_be_visible()
    expect(page.get_by_text(re.compile(r"Finished · 2 prompts\b"))).to_be_visible()
    session = page.url.rsplit("=", 1)[1]

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _review_writes_each_question_once(page, [q.text for q in questions], name)
        _history_reads_cleanly(page, session, name)
        page.screenshot(path=str(shots / f"history-layout-{name}.png"), full_page=True)
        page.get_by_role("tab", name="Interview").click()


def _review_writes_each_question_once(page: Page, questions: list[str], where: str) -> None:
    page.get_by_role("tab", name="Review").click()
    review = page.locator(".prose.review-md")
    expect(review.get_by_role("heading", name=re.compile("Mock interview: Day 58"))).to_be_visible()
    expect(review.get_by_text("Your answer:").first).to_be_visible()
    text = review.inner_text()
    for question in questions:
        assert text.count(question) == 1, f"{where}: the Review tab writes {question!r} {text.count(question)} times"
    assert "Question:" not in text, f"{where}: a question is written again under its heading"
    _no_header_breaks_inside_a_word(page, ".review-md th", where)
    if where == "desktop":
        markdown = _downloaded_markdown(page)
        for question in questions:
            assert markdown.count(question) == 1 and f". {question}" in markdown
        assert markdown.count("**Your answer:**") == len(questions)


def _downloaded_markdown(page: Page) -> str:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download Markdown").click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def _history_reads_cleanly(page: Page, session: str, where: str) -> None:
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#sessions").get_by_role("gridcell", name=session).first).to_be_attached()
    expect(page.locator("#sessions").get_by_role("gridcell", name="4.00").first).to_be_attached()  # a 4 to draw
    expect(page.locator("#mastery").get_by_role("gridcell", name="mastered").first).to_be_attached()
    expect(page.locator("#trend img")).to_be_visible()
    _no_header_breaks_inside_a_word(page, "#sessions th, #mastery th", where)
    _trend_shows_whole(page, where)
    _delete_is_a_button_high(page, where)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), where


def _eventually(page: Page, script: str, ok: Callable[[Any], bool], arg: Any = None, seconds: float = 10) -> Any:
    """The script's value once `ok` holds of it (a table may still be measuring its columns), else its last value."""
    deadline = time.monotonic() + seconds
    value = page.evaluate(script, arg)
    while not ok(value) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        value = page.evaluate(script, arg)
    return value


def _no_header_breaks_inside_a_word(page: Page, selector: str, where: str) -> None:
    found = _eventually(page, HEADER_WORDS, lambda v: v["words"] > 0 and not v["broken"], selector)
    assert found["words"] > 0, f"{where}: no header cell of {selector} is laid out"
    assert not found["broken"], f"{where}: header words of {selector} broken over lines: {found['broken']}"


def _trend_shows_whole(page: Page, where: str) -> None:
    image = _eventually(page, TREND_IMAGE, lambda v: v["loaded"] and not v["clippedBy"] and not v["labelCovers"])
    assert image["loaded"], f"{where}: the trend's image did not load"
    width, height = image["natural"]
    figure_width, figure_height = trend_figure([]).get_size_inches()
    assert abs(width / height - figure_width / figure_height) < 0.02, f"{where}: the image is not the whole figure"
    shown_width, shown_height = image["shown"]
    assert abs(shown_width / shown_height - width / height) < 0.03, f"{where}: the trend is stretched or cropped"
    assert not image["clippedBy"], f"{where}: the trend's image is clipped by {image['clippedBy']}"
    assert not image["labelCovers"], f"{where}: the trend's label covers the plot"
    assert image["fitsWidth"], f"{where}: the trend is wider than the window"


def _delete_is_a_button_high(page: Page, where: str) -> None:
    button = page.get_by_role("button", name="Delete…").bounding_box()
    listing = page.locator(".block").filter(has=page.get_by_label("Delete one of your sessions")).last.bounding_box()
    assert button and listing
    assert button["height"] < 60, f"{where}: the Delete… button is {button['height']:.0f} px high"
    if where == "desktop":  # beside its list, level with it
        assert button["x"] >= listing["x"] + listing["width"] - 1
        assert listing["y"] - 1 <= button["y"]
        assert button["y"] + button["height"] <= listing["y"] + listing["height"] + 1


def _laid_out(trend: list[TrendPoint]) -> tuple[Figure, Any]:
    figure = trend_figure(trend)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return figure, canvas.get_renderer()


def test_the_trend_figure_shows_0_to_4_whole_with_its_labels_clear_of_the_plot() -> None:
    one_day = [TrendPoint(at="2026-03-02T10:00:00", session="a" * 12, label="Day 58", score=4.0)]
    weeks = [
        TrendPoint(at=f"2026-03-{day:02d}T10:00:00", session=f"{day:012d}", label="Day 58", score=score)
        for day, score in ((1, 0.0), (4, 2.5), (9, 3.25), (20, 4.0))
    ]
    for trend in (one_day, weeks, []):
        figure, renderer = _laid_out(trend)
        axes = figure.axes[0]
        low, high = axes.get_ylim()
        assert low <= 0 and 4 <= high <= 4.3, f"the y axis is {low}-{high}, not 0-4"
        plot = axes.get_window_extent(renderer)
        labels = [axes.yaxis.label, axes.xaxis.label, axes.xaxis.get_offset_text()]
        labels += [*axes.get_yticklabels(), *axes.get_xticklabels()]
        for label in (t for t in labels if t.get_visible() and t.get_text()):
            box = label.get_window_extent(renderer)
            assert not box.overlaps(plot), f"{label.get_text()!r} overlaps the plot"
            assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1), label.get_text()
        for line in axes.get_lines():  # every dot whole, a 4 and a 0 too: not cut at the plot's edge, in the image
            dots = line.get_window_extent(renderer)
            assert not line.get_clip_on() or (plot.contains(dots.x0, dots.y0) and plot.contains(dots.x1, dots.y1))
            assert figure.bbox.contains(dots.x0, dots.y0) and figure.bbox.contains(dots.x1, dots.y1)
