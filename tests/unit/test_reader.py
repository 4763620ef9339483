"""The calibrated reader of meaning: a broken fitted file is refused with its reason, the shipped one loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from interviewer.errors import InterviewerError
from interviewer.grading.reader import FEATURES, reader_from, shipped_reader


def test_the_shipped_reader_loads_and_reads_only_known_evidence() -> None:
    reader = shipped_reader()
    assert reader.features and set(reader.features) <= FEATURES
    assert 0 < reader.partial_at < 1 and 0 < reader.covered_at < 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not a fitted reader"),
        (json.dumps({"features": ["mini_pt"]}), "is not a fitted reader (KeyError"),
        (
            json.dumps(
                {
                    "features": ["shoe_size"],
                    "partial_at": 0.5,
                    "covered_at": 0.5,
                    "partial": {"mean": [0], "scale": [1], "weights": [0, 0]},
                    "covered": {"mean": [0], "scale": [1], "weights": [0, 0]},
                }
            ),
            "unknown features ['shoe_size']",
        ),
        (
            json.dumps(
                {
                    "features": ["mini_pt"],
                    "partial_at": 0.5,
                    "covered_at": 0.5,
                    "partial": {"mean": [0], "scale": [1], "weights": [1, 0]},
                    "covered": {"mean": [0], "scale": [1], "weights": [-1, 0]},
                }
            ),
            "weighs some evidence negatively",
        ),
    ],
)
def test_a_broken_reader_file_is_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(InterviewerError, match=r"reader-under-test\.json") as caught:
        reader_from(text, "reader-under-test.json")
    assert message in str(caught.value)


def test_rubric_token_vectors_are_stored_once_and_read_back_the_same(tmp_path: Path) -> None:
    from interviewer.grading import reader as reader_module

    texts = ["Validates every input table against a declared schema.", "Alerts the owning team when a check fails."]
    fresh = reader_module.rubric_tokens(tuple(texts))
    stored = tmp_path / "rubric-tokens.npz"
    reader_module.save_rubric_tokens(stored, texts)
    for text in texts:
        reader_module._TOKENS.pop(text)
    assert reader_module.load_rubric_tokens(stored, [*texts, "A text it never held."]) == 2
    assert all(np.allclose(a, b) for a, b in zip(reader_module.rubric_tokens(tuple(texts)), fresh, strict=True))
    stored.write_bytes(b"not an npz file")
    assert reader_module.load_rubric_tokens(stored, texts) == 0  # a broken file is read again from the model
