"""The Chroma index: content-hash ids, incremental re-index, filtered retrieval, self-repair."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from interviewer.curriculum.corpus import load_corpus
from interviewer.curriculum.embeddings import (
    SHIPPED_PIN,
    SHIPPED_VECTORS,
    SentenceEncoder,
    encoder,
    shipped_folder,
    shipped_vectors,
    text_key,
)
from interviewer.curriculum.index import CurriculumIndex, corpus_entries

ROOT = Path(__file__).resolve().parents[2]


def _copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


def test_the_index_holds_summaries_objectives_and_rubric_points(data_dir: Path) -> None:
    corpus = load_corpus(ROOT / "corpus")
    index = CurriculumIndex(data_dir / "index", corpus, progress=False)
    assert index.sync().added == 0
    kinds = {e.metadata["kind"] for e in corpus_entries(corpus)}
    assert kinds == {"summary", "objective", "prompt", "point", "paraphrase"}
    assert index.count() == len(corpus_entries(corpus))


def test_reindex_embeds_only_what_changed_and_removes_what_was_deleted(tmp_path: Path, data_dir: Path) -> None:
    corpus_dir = _copy_corpus(tmp_path)
    index_dir = data_dir / "index"
    before = CurriculumIndex(index_dir, load_corpus(corpus_dir), progress=False).sync()
    assert before.added == 0 and before.removed == 0

    path = corpus_dir / "days" / "day58.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    point = data["topics"][0]["prompts"][0]["rubric"][0]
    point["point"] = point["point"] + " Reworded for the test."
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (corpus_dir / "days" / "day59.yaml").unlink()
    changed = load_corpus(corpus_dir)
    report = CurriculumIndex(index_dir, changed, progress=False).sync()

    gone = len(corpus_entries(load_corpus(ROOT / "corpus"))) - len(corpus_entries(changed)) + 1
    assert report.added == 1
    assert report.removed == gone
    assert CurriculumIndex(index_dir, changed, progress=False).sync().added == 0


def test_retrieval_finds_related_objectives_within_a_topic_or_day(data_dir: Path) -> None:
    index = CurriculumIndex(data_dir / "index", load_corpus(ROOT / "corpus"), progress=False)
    query = encoder().encode(["a model trained on features that leak information from the future"])[0]
    topical = index.related(query, topic="point-in-time", kinds=("objective",), k=3)
    assert topical and all(r.topic == "point-in-time" and r.kind == "objective" for r in topical)
    day = index.related(query, day=58, k=5)
    assert day[0].topic == "point-in-time"
    assert all(r.topic in {"fs-why", "fs-platforms", "point-in-time"} for r in day)
    assert day == sorted(day, key=lambda r: -r.similarity)


def test_a_missing_index_is_built_on_first_use(tmp_path: Path) -> None:
    index = CurriculumIndex(tmp_path / "fresh", load_corpus(ROOT / "corpus"), progress=False)
    assert index.count() == len(corpus_entries(index.corpus))


def test_an_index_folder_deleted_mid_run_is_rebuilt(data_dir: Path) -> None:
    index = CurriculumIndex(data_dir / "index", load_corpus(ROOT / "corpus"), progress=False)
    query = encoder().encode(["canary release with rollback signals"])[0]
    assert index.related(query, k=3)
    shutil.rmtree(data_dir / "index")
    assert index.related(query, k=3)
    assert (data_dir / "index" / "chroma.sqlite3").exists()
    assert index.count() == len(corpus_entries(index.corpus))


def test_the_shipped_vectors_hold_every_corpus_text_as_the_encoder_makes_it() -> None:
    texts = sorted({e.text for e in corpus_entries(load_corpus(ROOT / "corpus"))})
    shipped = shipped_vectors()
    lacking = [t for t in texts if text_key(t) not in shipped]
    assert lacking == [], f"the corpus changed since the shipped vectors were made: run `make vectors` ({lacking[:3]})"
    sample = texts[::16]
    fresh = SentenceEncoder(shipped={}).encode(sample)
    # Bit for bit on the machine that wrote them; within float noise on a CPU whose kernels round differently.
    assert np.allclose(fresh, np.stack([shipped[text_key(t)] for t in sample]), rtol=0, atol=1e-5)


def test_shipped_vectors_that_are_altered_missing_or_made_by_another_encoder_are_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    altered = tmp_path / "altered"
    shutil.copytree(shipped_folder(), altered)
    data = bytearray((altered / SHIPPED_VECTORS).read_bytes())
    data[-100] ^= 0xFF
    (altered / SHIPPED_VECTORS).write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert shipped_vectors(altered) == {}
    assert "not used" in caplog.text and "sha256" in caplog.text
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with np.load(shipped_folder() / SHIPPED_VECTORS) as shipped:
        np.savez(
            foreign / SHIPPED_VECTORS,
            model=np.array("another encoder"),
            keys=shipped["keys"],
            vectors=shipped["vectors"],
        )
    digest = hashlib.sha256((foreign / SHIPPED_VECTORS).read_bytes()).hexdigest()
    (foreign / SHIPPED_PIN).write_text(f"{digest}  {SHIPPED_VECTORS}\n", encoding="utf-8")
    assert shipped_vectors(foreign) == {}
    assert shipped_vectors(tmp_path / "missing") == {}
