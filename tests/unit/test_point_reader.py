"""The point reader: a right claim and a wrong one in the same words, a reading that ignores sentence order and the
other points read with it, and a model file that is refused when it is not the one shipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from interviewer.curriculum.corpus import Corpus
from interviewer.curriculum.embeddings import checked_file, encoder
from interviewer.errors import InterviewerError
from interviewer.grading import cross
from interviewer.grading.cross import point_reader, windows

# A rubric point of the corpus, then a sentence that makes it and one that uses its words for something else.
RIGHT_AND_WRONG = [
    (
        "fsw-p1",
        "fsw-p1-define",
        "Skew is when the features a model sees in serving differ from the ones it was trained on.",
        "Skew is when the model overfits its training data and does badly on the test set.",
    ),
    (  # a held-out prompt: the point reader never trained on its points
        "mon-p2",
        "mon-p2-concept",
        "With concept drift the same inputs now lead to a different outcome than before.",
        "With concept drift the inputs shift, for example a new mix of customers arrives.",
    ),
]


@pytest.mark.parametrize(("prompt_id", "point_id", "right", "wrong"), RIGHT_AND_WRONG)
def test_the_reader_tells_the_point_made_from_the_same_words_misused(
    corpus: Corpus, prompt_id: str, point_id: str, right: str, wrong: str
) -> None:
    point = next(p for p in corpus.prompt(prompt_id).prompt.rubric if p.id == point_id)
    made = point_reader().made([(point.point, right), (point.point, wrong)])
    assert made[0] > made[1], made


def test_a_points_reading_depends_on_neither_sentence_order_nor_the_other_points_read_with_it(corpus: Corpus) -> None:
    prompt = next(iter(corpus.prompts.values())).prompt
    sentences = [p.point for p in prompt.rubric]
    point_vecs = {p.id: encoder().encode([p.point, *p.paraphrases]) for p in prompt.rubric}
    forward = windows(prompt.rubric, sentences, encoder().encode(sentences), point_vecs)
    back = list(reversed(sentences))
    assert forward == windows(prompt.rubric, back, encoder().encode(back), point_vecs)
    # each point's closest sentence is the point's own, and its window opens with it
    assert [
        one == p.point and both.startswith(p.point) for (one, both), p in zip(forward, prompt.rubric, strict=True)
    ] == [True] * len(sentences)
    pairs = [(p.point, both) for p, (_, both) in zip(prompt.rubric, forward, strict=True)]
    together = point_reader().made(pairs)
    alone = np.array([point_reader().made([pair])[0] for pair in pairs])
    assert np.array_equal(together, alone)
    assert np.array_equal(point_reader().made(pairs[::-1]), together[::-1])


def test_an_altered_model_file_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    shipped = cross._data(cross.MODEL_FILE)
    assert checked_file(shipped, cross.MODEL_SHA256) == shipped
    altered = tmp_path / cross.MODEL_FILE
    shutil.copy(shipped, altered)
    with altered.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(InterviewerError, match="sha256"):
        checked_file(altered, cross.MODEL_SHA256)
    with pytest.raises(InterviewerError, match="missing"):
        checked_file(tmp_path / "gone.onnx", cross.MODEL_SHA256)
