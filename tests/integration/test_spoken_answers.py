"""Spoken answers in an interview: the transcription goes to the answer box and nowhere else, a sent answer keeps
how it was said, and the review sums it; a recording that cannot be read loses nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np

from interviewer.interview.access import Caller
from interviewer.interview.engine import Engine
from interviewer.interview.report import to_markdown
from interviewer.speech.recognition import synthesize
from interviewer.web.handlers import InterviewApp, chat_messages

ME = Caller.web(None)
SAID = "A feature store keeps one definition of each feature for training and serving, so there is no skew."
TYPED = "What I typed before I spoke."


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_a_spoken_answer_is_kept_with_its_delivery_and_summed_in_the_review(engine: Engine, tmp_path: Path) -> None:
    app = InterviewApp(engine)
    session, _ = engine.start(ME, "topic", "fs-why")
    box, spoken, said = app.transcribe(session, str(synthesize(SAID, tmp_path / "a.wav")), TYPED, None)  # type: ignore[arg-type]
    # Heard after what was typed; the sentence's first words ("A feature store keeps") are the ones the recogniser
    # hears least reliably, so the check reads the words after them.
    assert box.startswith(TYPED + " ") and "one definition of each feature for training and serving" in box.lower()
    assert "words a minute" in said
    assert engine.views.transcript(ME, session).prompts == []  # transcribed, not sent

    app.answer(session, box, spoken, None)  # type: ignore[arg-type]
    engine.submit(ME, session, "I would log the served features and compare them with the offline values.")
    data = engine.views.transcript(ME, session)
    first, second = data.prompts[0].turns[0], data.prompts[-1].turns[-1]
    assert first.spoken is not None and second.spoken is None
    assert first.spoken.words >= 15 and first.spoken.words_per_minute > 60
    assert data.delivery is not None and data.delivery.answers == 1 and data.delivery.words == first.spoken.words
    markdown = to_markdown(data)
    assert "**Delivery over 1 spoken answer:**" in markdown and markdown.count("*Spoken: ") == 1
    assert json.loads(data.model_dump_json())["delivery"]["words"] == first.spoken.words
    chat = chat_messages(engine.views.snapshot(ME, session).messages)
    assert sum("*Spoken: " in m["content"] for m in chat if m["role"] == "user") == 1


DRIFT = (
    "Data drift is a change in the input distribution, while concept drift is a change in the relationship between "
    "inputs and the label"
)


def test_a_spoken_answer_is_heard_with_the_questions_terms_and_unsure_words_are_marked(
    engine: Engine, tmp_path: Path
) -> None:
    """The waiting question's rubric terms are the recogniser's hint: "data drift" and "concept drift" come out
    right at 175 words a minute. The words it was unsure of are marked under the box, for the candidate to check,
    and the box itself holds only the plain text; what is sent is graded on those words."""
    app = InterviewApp(engine)
    session, question = engine.start(ME, "prompt", "mon-p2")
    assert question.prompt_id == "mon-p2"
    wav = synthesize(DRIFT, tmp_path / "d.wav", words_per_minute=175)
    box, spoken, said = app.transcribe(session, str(wav), "", None)  # type: ignore[arg-type]
    assert "data drift" in box.lower() and "concept drift" in box.lower()
    assert "<mark>" not in box and "?]" not in box
    marked = re.findall(r"<mark>(.*?)</mark>", said)
    assert marked and ("Check the marked word" if len(marked) == 1 else f"Check the marked {len(marked)} words") in said
    assert all(m.strip(".,") in box for m in marked)
    app.answer(session, box, spoken, None)  # type: ignore[arg-type]
    (turn,) = engine.views.transcript(ME, session).prompts[0].turns
    assert turn.answer == box and turn.grade is not None
    quoted = [p.evidence for p in turn.grade.points if p.evidence]
    assert quoted and all(q in box for q in quoted)  # the grade quotes what was heard, as sent


def test_a_recording_that_cannot_be_read_leaves_the_box_as_typed_and_the_interview_goes_on(
    engine: Engine, tmp_path: Path
) -> None:
    app = InterviewApp(engine)
    session, _ = engine.start(ME, "topic", "fs-why")
    rng = np.random.default_rng(7)
    bad = {
        "silence": _wav(tmp_path / "silence.wav", np.zeros(16_000 * 3)),
        "noise": _wav(tmp_path / "noise.wav", rng.normal(0, 0.3, 16_000 * 3)),
        "ten minutes": _wav(tmp_path / "long.wav", np.zeros(16_000 * 600)),
        "not audio": tmp_path / "notes.wav",
        "empty": tmp_path / "empty.wav",
    }
    bad["not audio"].write_text("These are my notes, not a recording.")
    bad["empty"].write_bytes(b"")
    for kind, path in bad.items():
        box, spoken, said = app.transcribe(session, str(path), TYPED, None)  # type: ignore[arg-type]
        assert box == {"__type__": "update"} and spoken == {"__type__": "update"}, kind  # the box is left as typed
        assert said.startswith("**Note:**") and "Traceback" not in said and str(tmp_path) not in said, kind
    assert "limited to 5:00" in app.transcribe(session, str(bad["ten minutes"]), TYPED, None)[2]  # type: ignore[arg-type]
    outcome = engine.submit(ME, session, engine.corpus.prompt("fsw-p1").prompt.reference_answer)
    assert outcome.grade is not None and outcome.grade.score >= 3
