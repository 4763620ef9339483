"""WCAG 2 AA in a real Chromium: axe-core audits every tab, and a whole interview is done with the keyboard alone.

axe-core comes from npm, pinned with its hash in tests/browser/package-lock.json; `make axe` (part of `make test`)
installs it in tests/browser/node_modules. These tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from interviewer.curriculum.corpus import Corpus

from .conftest import answer

expect.set_options(timeout=20_000)  # a loaded CI machine may take seconds to grade and redraw
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({
    id: v.id, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")), why: v.nodes[0].failureSummary,
  }));
}"""
# Gradio fades an output in as an event ends, and a tab as it opens: colours are measured once those are done.
SETTLED = """() => document.getAnimations().every(
  (a) => a.playState !== "running" || a.effect.getComputedTiming().endTime === Infinity
)"""
# An output being computed is drawn at a fifth of its opacity, and one event's end may start the next (End now, then
# the controls it refreshes): the page counts as idle once nothing has been pending for a whole second.
IDLE = """() => {
  const now = performance.now();
  if (document.querySelector('.pending') || window.idleSince === undefined) { window.idleSince = now; }
  return now - window.idleSince >= 1000;
}"""
# Any pointer event the page receives (a keyboard's Enter or Space on a button makes a click, never a pointer event).
COUNT_POINTER = """(() => {
  window.pointerEvents = 0;
  for (const kind of ["pointerdown", "mousedown", "touchstart"]) {
    document.addEventListener(kind, () => { window.pointerEvents += 1; }, true);
  }
})();"""


def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no WCAG 2.0/2.1 A or AA violation on the page as it is now; else it lists each one."""
    assert AXE.is_file(), f"axe-core is missing at {AXE}: run `make axe` (`make test` does)"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    page.evaluate("() => { window.idleSince = undefined; }")
    page.wait_for_function(IDLE)
    page.wait_for_function(SETTLED)
    found = page.evaluate(RUN_AXE, WCAG_AA)
    listed = "\n".join(
        f"- {v['id']}: {v['help']} ({len(v['targets'])}): {'; '.join(v['targets'])}\n  first: {v['why']}" for v in found
    )
    assert not found, f"{where}: {len(found)} WCAG 2 AA violation(s):\n{listed}"


def test_every_tab_meets_wcag_2_aa(page: Page, app_url: str, corpus: Corpus) -> None:
    page.goto(app_url)
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    expect(page.get_by_text("Answer a few questions first", exact=False)).to_be_visible()
    assert_accessible(page, "the start page")

    page.get_by_label("Number of prompts (0 = all of them)").fill("2")
    page.get_by_role("button", name="Start").click()
    first = corpus.prompt("fsw-p1").prompt
    expect(page.get_by_text(first.text).first).to_be_visible()
    answer(page, first.reference_answer)
    expect(page.get_by_text(re.compile(r"Last answer: [34]/4"))).to_be_visible()
    assert_accessible(page, "the interview, with a graded answer")

    page.get_by_role("button", name="End now").click()
    expect(page.get_by_role("heading", name=re.compile("Mock interview: Day 58"))).to_be_visible()
    expect(page.get_by_role("button", name="Download Markdown")).to_be_visible()
    assert_accessible(page, "the Review tab")

    page.get_by_role("tab", name="History").click()
    session = page.url.rsplit("=", 1)[1]
    expect(page.locator("#sessions").get_by_role("gridcell", name=session).first).to_be_visible()
    expect(page.locator("#mastery").get_by_role("gridcell").first).to_be_visible()
    expect(page.locator("#trend img")).to_be_visible()
    assert_accessible(page, "the History tab")


def focus_with(page: Page, target: Locator, key: str = "Tab", presses: int = 60) -> None:
    """Press Tab (or Shift+Tab) until `target` has the keyboard's focus; fail if it never does."""
    for _ in range(presses):
        page.keyboard.press(key)
        if target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"{target} is not reached with {key} in {presses} presses")


def test_a_whole_interview_is_done_with_the_keyboard_alone(page: Page, app_url: str) -> None:
    page.add_init_script(COUNT_POINTER)
    page.goto(app_url)
    start = page.get_by_role("button", name="Start")
    expect(start).to_be_enabled()

    focus_with(page, page.get_by_label("Number of prompts (0 = all of them)"))
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    focus_with(page, start)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Question 1 of 3")).to_be_visible()

    box = page.get_by_label("Your answer")
    focus_with(page, box)
    page.keyboard.type("Skew is when the features at serving differ from training; a feature store defines them once.")
    page.keyboard.press("Enter")  # Enter sends
    expect(page.get_by_text("Last answer:")).to_be_visible()
    expect(box).to_have_value("")

    focus_with(page, page.get_by_role("button", name="Skip question"))
    page.keyboard.press("Space")
    expect(page.get_by_text("Question 2 of 3")).to_be_visible()
    expect(page.locator("#chat").get_by_text("(skipped)")).to_be_visible()

    focus_with(page, page.get_by_role("button", name="End now"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("tab", name="Review", selected=True)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Mock interview: Day 58"))).to_be_visible()
    expect(page.get_by_text("Reference answer:").first).to_be_visible()
    focus_with(page, page.get_by_role("button", name="Download Markdown"))
    assert page.evaluate("() => window.pointerEvents") == 0, "the page received a pointer event"
