"""The one composition root: settings in, a working engine out, every part built once and injected."""

from __future__ import annotations

from interviewer.config import Settings
from interviewer.grading.grader import Grader
from interviewer.interview.engine import Engine
from interviewer.storage import open_storage


def build_engine(settings: Settings | None = None, *, progress: bool = True, grader: Grader | None = None) -> Engine:
    """The corpus, its index and the brains (a `Grader`, or the one given), the storage, and the engine over them.

    With `grader`, its settings are the engine's too.
    """
    grader = grader or Grader(settings, progress=progress)
    storage = open_storage(grader.settings)
    grader.prepare()  # the rubric side read now, so that no user's turn pays for it
    return Engine(grader.settings, grader, storage)
