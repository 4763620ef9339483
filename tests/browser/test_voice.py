"""Speaking an answer in a real Chromium whose microphone plays a recorded answer (Chromium's fake capture device,
fed a WAV file that espeak-ng speaks; `make test` installs espeak-ng, and the test fails, never skips, without it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from interviewer.speech.recognition import synthesize

from .conftest import CHROMIUM, FLAGS

expect.set_options(timeout=60_000)  # transcription and grading on a loaded 2-core machine
SPOKEN = "A feature store keeps one definition of each feature for training and serving, so there is no skew."
TYPED = "Typed before speaking."


@pytest.fixture(scope="module")
def voice_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium whose microphone says SPOKEN, again and again, and which grants the page the microphone."""
    assert Path(CHROMIUM).exists(), f"Chromium is missing at {CHROMIUM}: run `make test` (it installs it)"
    wav = synthesize(SPOKEN, tmp_path_factory.mktemp("voice") / "answer.wav")
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    fake.append(f"--use-file-for-fake-audio-capture={wav}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *fake])
        yield b
        b.close()


def test_a_spoken_answer_lands_in_the_box_is_corrected_and_then_graded(
    voice_browser: Browser, app_url: str, shots: Path
) -> None:
    page = voice_browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["microphone"]).new_page()
    page.goto(app_url)
    page.get_by_label("Number of prompts (0 = all of them)").fill("1")
    page.get_by_role("button", name="Start").click()
    box = page.get_by_label("Your answer")
    box.fill(TYPED)

    voice = page.locator("#voice")
    voice.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_timeout(7_000)  # the fake microphone says the whole answer once in about 6 s
    voice.get_by_role("button", name="Stop").click()
    expect(box).to_have_value(re.compile(rf"^{re.escape(TYPED)} .*one definition of each feature for training", re.I))
    expect(page.locator("#voice-note")).to_contain_text("words a minute")
    expect(page.locator("#voice-note")).not_to_contain_text("<mark>")  # marks on unsure words are drawn, not shown
    page.screenshot(path=str(shots / "interview-heard.png"), full_page=True)
    expect(page.locator("#chat").get_by_text("feature store keeps", exact=False)).to_have_count(0)  # not sent

    corrected = SPOKEN + " The online and offline stores are filled from one pipeline."
    box.fill(corrected)
    box.press("Enter")
    expect(page.get_by_text(re.compile(r"Last answer"))).to_be_visible()
    expect(box).to_have_value("")
    expect(page.locator("#chat").get_by_text(corrected)).to_be_visible()
    expect(page.locator("#chat").get_by_text(re.compile(r"Spoken: \d+ words a minute"))).to_be_visible()
    expect(page.locator("#voice-note")).to_have_text("")  # the note was about the recording just sent
    page.screenshot(path=str(shots / "interview-voice.png"), full_page=True)

    page.get_by_role("tab", name="Review").click()
    expect(page.get_by_text("Delivery over 1 spoken answer", exact=False)).to_be_visible()
