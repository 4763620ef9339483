"""A real headless Chromium (Debian's, at /usr/bin/chromium or CHROMIUM_PATH); `make test` installs it.

The browser tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"Chromium is missing at {CHROMIUM}: run `make test` (it installs it)"
    downloads = tmp_path_factory.mktemp("browser-downloads")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, downloads_path=downloads)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """The folder named by INTERVIEWER_SCREENSHOTS (a relative one is in the repository), else a temporary one."""
    chosen = os.environ.get("INTERVIEWER_SCREENSHOTS")
    folder = ROOT / chosen if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def answer(page: Page, text: str) -> None:
    """Type an answer and send it with Enter, as a candidate does."""
    box = page.get_by_label("Your answer")
    box.fill(text)
    box.press("Enter")
