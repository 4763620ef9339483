"""The curriculum files: the roadmap's text verbatim, the authored content complete, problems named."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from interviewer.curriculum.corpus import Corpus, load_corpus, validate
from interviewer.errors import CorpusError

ROOT = Path(__file__).resolve().parents[2]
# The roadmap page the curriculum is taken from, as published.
SEED_TEXT = (ROOT / "tests" / "data" / "roadmap-seed.txt").read_text(encoding="utf-8")


def test_the_shipped_corpus_has_no_problems() -> None:
    assert validate(ROOT / "corpus") == []


def test_every_seed_line_is_in_the_corpus_verbatim(corpus: Corpus) -> None:
    texts: set[str] = {corpus.pillar.title, corpus.pillar.tagline, corpus.pillar.focus}
    for topic in corpus.topics.values():
        texts |= {topic.title, topic.summary, *(o.text for o in topic.objectives if o.source == "seed")}
        texts |= {p.text for p in topic.prompts if p.source == "seed"}
        if topic.track:
            texts.add(topic.track)
    skip = {
        "Featured topics",
        "Learning objectives",
        "Practice prompts",
        "5 topic cards built for interview prep",
    }
    missing = []
    for raw in SEED_TEXT.splitlines():
        line = raw.strip().lstrip("•").strip()
        line = re.sub(r"^(Intermediate|Advanced|Beginner)\d+ minDay \d+$", "", line)
        line = re.sub(r"^Day \d+(?=MLOps)", "", line)
        if (
            not line
            or line in skip
            or line.startswith(("Each topic includes", "Daily-plan topics", "These are pulled"))
        ):
            continue
        if line not in texts:
            missing.append(line)
    assert missing == []


def test_topic_cards_keep_the_roadmap_metadata(corpus: Corpus) -> None:
    cards = {t.title: (t.level, t.minutes, t.day) for t in corpus.topics.values() if t.kind == "topic_card"}
    assert cards == {
        "Data Validation and Data Quality": ("Intermediate", 85, 31),
        "Training Pipeline Orchestration": ("Intermediate", 95, 31),
        "Model Registry and CI/CD for ML": ("Intermediate", 85, 32),
        "Model Serving Patterns": ("Advanced", 100, 33),
        "Monitoring, Drift, and Retraining": ("Intermediate", 90, 34),
    }


def test_every_topic_card_has_at_least_four_authored_prompts(corpus: Corpus) -> None:
    for topic in corpus.topics.values():
        if topic.kind == "topic_card":
            assert sum(p.source == "authored" for p in topic.prompts) >= 4, topic.id


def test_days_57_to_59_hold_the_sixteen_roadmap_prompts(corpus: Corpus) -> None:
    seed_prompts = [p for d in (57, 58, 59) for t in corpus.topics_of_day(d) for p in t.prompts if p.source == "seed"]
    assert len(seed_prompts) == 16
    assert corpus.day(58).label == "Day 58 - Feature stores"


def test_every_rubric_point_is_one_short_idea(corpus: Corpus) -> None:
    """Atomic points: each states one idea in at most 40 words, so a reader of one sentence against one point (and
    a 64-token pair encoder) sees all of it."""
    long = [(r.id, len(r.point.split())) for ref in corpus.prompts.values() for r in ref.prompt.rubric]
    assert max(n for _, n in long) <= 40, [x for x in long if x[1] > 40]


def test_every_prompt_is_fully_authored(corpus: Corpus) -> None:
    for ref in corpus.prompts.values():
        p = ref.prompt
        assert 3 <= len(p.rubric) <= 10
        assert len(p.follow_ups) >= 2 and p.reference_answer
        assert any(r.weight == 3 for r in p.rubric), p.id


@pytest.fixture
def broken_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", target)
    return target


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_invalid_yaml_names_file_and_line(broken_corpus: Path) -> None:
    path = broken_corpus / "days" / "day58.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  - broken: [unclosed\n", encoding="utf-8")
    problems = validate(broken_corpus)
    assert len(problems) == 1
    assert problems[0].startswith("corpus/days/day58.yaml: line ")
    assert "invalid YAML" in problems[0]


def test_a_missing_field_names_file_entry_and_field(broken_corpus: Path) -> None:
    def drop_probe(data: dict[str, Any]) -> None:
        del data["topics"][0]["prompts"][1]["rubric"][2]["probe"]

    _edit(broken_corpus / "days" / "day58.yaml", drop_probe)
    problems = validate(broken_corpus)
    day58 = yaml.safe_load((ROOT / "corpus/days/day58.yaml").read_text())
    point_id = day58["topics"][0]["prompts"][1]["rubric"][2]["id"]
    where = f"topics[0] (fs-why) > prompts[1] (fsw-p2) > rubric[2] ({point_id})"
    assert problems == [f"corpus/days/day58.yaml: {where} > probe: Field required"]


def test_bad_cross_references_and_duplicate_ids_are_named(broken_corpus: Path) -> None:
    def break_refs(data: dict[str, Any]) -> None:
        data["prompts"][0]["rubric"][0]["objective"] = "no-such-objective"
        data["prompts"][1]["id"] = data["prompts"][0]["id"]

    _edit(broken_corpus / "topics" / "serving-patterns.yaml", break_refs)
    problems = validate(broken_corpus)
    assert any("rubric (sv-p1-" in p and "objective: no objective 'no-such-objective'" in p for p in problems)
    assert any("id: 'sv-p1' is already used" in p for p in problems)


def test_loading_a_broken_corpus_raises_one_clear_error(broken_corpus: Path) -> None:
    (broken_corpus / "topics" / "extra.yaml").write_text("kind: topic_card\nid: Bad Id\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(broken_corpus)
    message = str(info.value)
    assert "corpus/topics/extra.yaml: id: String should match pattern" in message
    assert "corpus/topics/extra.yaml: title: Field required" in message
