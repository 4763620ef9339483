"""The curriculum: load the YAML files of corpus/ into typed models and check them.

Every problem is reported with its file, the entry it sits in and the field, so a broken file can be
fixed without guessing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interviewer.errors import CorpusError, NotFoundError

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Source = Literal["seed", "authored"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class Objective(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=3)
    source: Source


class RubricPoint(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    point: str = Field(min_length=10)
    objective: str = Field(pattern=ID_PATTERN)
    weight: int = Field(ge=1, le=3)
    terms: tuple[str, ...] = Field(min_length=2)
    paraphrases: tuple[str, ...] = ()
    probe: str = Field(min_length=5)

    @field_validator("terms", "paraphrases")
    @classmethod
    def _no_blank_items(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        for item in items:
            _non_blank(item)
        return items

    @field_validator("probe")
    @classmethod
    def _probe_is_question(cls, probe: str) -> str:
        if not probe.rstrip().endswith("?"):
            raise ValueError("a probe is a question and must end with '?'")
        return probe


class RedFlag(_Strict):
    claim: str = Field(min_length=5)
    cues: tuple[str, ...] = Field(min_length=1)
    correction: str = Field(min_length=5)


class Prompt(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=5)
    source: Source
    rubric: tuple[RubricPoint, ...] = Field(min_length=3, max_length=10)
    red_flags: tuple[RedFlag, ...] = ()
    follow_ups: tuple[str, ...] = Field(min_length=2)
    reference_answer: str = Field(min_length=40)

    @field_validator("follow_ups")
    @classmethod
    def _follow_ups_are_questions(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        for item in items:
            if not item.rstrip().endswith("?"):
                raise ValueError(f"follow-up {item[:40]!r} must end with '?'")
        return items


class TopicCard(_Strict):
    kind: Literal["topic_card"]
    id: str = Field(pattern=ID_PATTERN)
    title: str
    level: Literal["Beginner", "Intermediate", "Advanced"]
    minutes: int = Field(gt=0, le=600)
    day: int = Field(ge=1, le=366)
    summary: str = Field(min_length=10)
    objectives: tuple[Objective, ...] = Field(min_length=1)
    prompts: tuple[Prompt, ...] = Field(min_length=1)


class DailyTopic(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    subtopic: str
    objectives: tuple[Objective, ...] = Field(min_length=1)
    prompts: tuple[Prompt, ...] = Field(min_length=1)


class DayPlan(_Strict):
    kind: Literal["day_plan"]
    day: int = Field(ge=1, le=366)
    track: str
    title: str
    topics: tuple[DailyTopic, ...] = Field(min_length=1)


class Pillar(_Strict):
    kind: Literal["pillar"]
    id: str = Field(pattern=ID_PATTERN)
    tagline: str
    title: str
    focus: str


@dataclass(frozen=True)
class Topic:
    """A unit of study with objectives and prompts: a topic card or a daily-plan topic."""

    id: str
    title: str
    kind: Literal["topic_card", "daily_topic"]
    day: int
    summary: str
    objectives: tuple[Objective, ...]
    prompts: tuple[Prompt, ...]
    level: str | None = None
    minutes: int | None = None
    track: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "topic_card":
            return f"{self.title} - {self.level} - {self.minutes} min"
        return f"Day {self.day} - {self.title}"


@dataclass(frozen=True)
class Day:
    number: int
    title: str
    topic_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"Day {self.number} - {self.title}"


@dataclass(frozen=True)
class PromptRef:
    """A prompt with the topic it belongs to."""

    prompt: Prompt
    topic: Topic


@dataclass
class Corpus:
    pillar: Pillar
    topics: dict[str, Topic]
    days: dict[int, Day]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of its bytes

    @cached_property
    def prompts(self) -> dict[str, PromptRef]:
        return {p.id: PromptRef(p, t) for t in self.topics.values() for p in t.prompts}

    @cached_property
    def objectives(self) -> dict[str, tuple[Objective, Topic]]:
        return {o.id: (o, t) for t in self.topics.values() for o in t.objectives}

    @cached_property
    def version(self) -> str:
        """A hash of every corpus file, so a result can be traced to the curriculum that produced it."""
        digest = hashlib.sha256(json.dumps(self.files, sort_keys=True).encode()).hexdigest()
        return digest[:12]

    def prompt(self, prompt_id: str) -> PromptRef:
        try:
            return self.prompts[prompt_id]
        except KeyError:
            raise NotFoundError(f"No prompt with id {prompt_id!r}; `interviewer prompts` lists them.") from None

    def prompt_by_text(self, text: str) -> PromptRef:
        wanted = " ".join(text.split()).casefold()
        for ref in self.prompts.values():
            if " ".join(ref.prompt.text.split()).casefold() == wanted:
                return ref
        raise NotFoundError(f"No prompt with the text {text[:80]!r}; `interviewer prompts` lists them.")

    def topic(self, topic_id: str) -> Topic:
        try:
            return self.topics[topic_id]
        except KeyError:
            known = ", ".join(sorted(self.topics))
            raise NotFoundError(f"No topic with id {topic_id!r}. Known topics: {known}.") from None

    def day(self, number: int) -> Day:
        try:
            return self.days[number]
        except KeyError:
            known = ", ".join(str(d) for d in sorted(self.days))
            raise NotFoundError(f"No roadmap day {number}. Days with content: {known}.") from None

    def topics_of_day(self, number: int) -> list[Topic]:
        return [self.topics[t] for t in self.day(number).topic_ids]


def _location(data: Any, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as `topics[0] (fs-why) > prompts[1] (fsw-p2) > terms`."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(node, list) and step < len(node):
                node = node[step]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label += f" ({node['id']})"
            else:
                node = None
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return " > ".join(parts) or "(top level)"


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same safe loading, in C when PyYAML has libyaml


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, in C when PyYAML has libyaml (a YAML error is raised as `yaml.YAMLError`)."""
    return yaml.load(text, Loader=_LOADER)


def _read_yaml(path: Path, rel: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"{rel}: not UTF-8 text") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CorpusError(f"{rel}:{where}: invalid YAML: {problem}") from None


_MODELS: dict[str, type[_Strict]] = {"pillar": Pillar, "topic_card": TopicCard, "day_plan": DayPlan}


def _parse(path: Path, rel: str, problems: list[str]) -> _Strict | None:
    try:
        data = _read_yaml(path, rel)
    except CorpusError as exc:
        problems.append(str(exc))
        return None
    if not isinstance(data, dict):
        problems.append(f"{rel}: (top level): expected a mapping with a `kind` field")
        return None
    kind = data.get("kind")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        problems.append(f"{rel}: kind: expected one of {', '.join(_MODELS)}, got {kind!r}")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{rel}: {_location(data, tuple(err['loc']))}: {err['msg']}")
        return None


def _corpus_files(corpus_dir: Path) -> Iterator[Path]:
    yield from sorted(p for p in corpus_dir.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def _topic_from_card(card: TopicCard) -> Topic:
    shared = {
        k: getattr(card, k) for k in ("id", "title", "day", "summary", "objectives", "prompts", "level", "minutes")
    }
    return Topic(kind="topic_card", **shared)


def _topics_from_day(plan: DayPlan) -> list[Topic]:
    """A day plan's topics; each is titled and summarised by its subtopic line."""
    topics = []
    for t in plan.topics:
        shared: dict[str, Any] = {"id": t.id, "objectives": t.objectives, "prompts": t.prompts}
        topics.append(
            Topic(kind="daily_topic", title=t.subtopic, summary=t.subtopic, day=plan.day, track=plan.track, **shared)
        )
    return topics


class _IdRegistry:
    def __init__(self, problems: list[str]) -> None:
        self.seen: dict[str, str] = {}
        self.problems = problems

    def claim(self, ident: str, where: str) -> None:
        if ident in self.seen:
            self.problems.append(f"{where}: id: {ident!r} is already used at {self.seen[ident]}")
        else:
            self.seen[ident] = where


def _cross_check(owners: list[tuple[str, Topic]], problems: list[str]) -> None:
    ids = _IdRegistry(problems)
    objective_ids = {o.id for _, t in owners for o in t.objectives}
    used: set[str] = set()
    for rel, topic in owners:
        ids.claim(topic.id, f"{rel}: {topic.id}")
        for o in topic.objectives:
            ids.claim(o.id, f"{rel}: {topic.id} > objectives ({o.id})")
        for p in topic.prompts:
            where = f"{rel}: {topic.id} > prompts ({p.id})"
            ids.claim(p.id, where)
            for r in p.rubric:
                ids.claim(r.id, f"{where} > rubric ({r.id})")
                used.add(r.objective)
                if r.objective not in objective_ids:
                    problems.append(f"{where} > rubric ({r.id}) > objective: no objective {r.objective!r}")
    for rel, topic in owners:
        for o in topic.objectives:
            if o.id not in used:
                problems.append(f"{rel}: {topic.id} > objectives ({o.id}): not assessed by any rubric point")


def load_corpus(corpus_dir: Path) -> Corpus:
    """Load and check every file; raise CorpusError listing every problem found."""
    problems = validate(corpus_dir)
    if problems:
        shown = "\n".join(problems[:20])
        more = f"\n(+{len(problems) - 20} more)" if len(problems) > 20 else ""
        raise CorpusError(f"The corpus in {corpus_dir} has {len(problems)} problem(s):\n{shown}{more}")
    return _build(corpus_dir)


def _collect(corpus_dir: Path, problems: list[str]) -> tuple[list[Pillar], list[tuple[str, _Strict]]]:
    pillars: list[Pillar] = []
    parsed: list[tuple[str, _Strict]] = []
    if not corpus_dir.is_dir():
        problems.append(f"{corpus_dir}: the corpus folder does not exist")
        return pillars, parsed
    for path in _corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir.parent).as_posix()
        model = _parse(path, rel, problems)
        if isinstance(model, Pillar):
            pillars.append(model)
        elif model is not None:
            parsed.append((rel, model))
    return pillars, parsed


def _owners(parsed: list[tuple[str, _Strict]]) -> list[tuple[str, Topic]]:
    owners: list[tuple[str, Topic]] = []
    for rel, model in parsed:
        if isinstance(model, TopicCard):
            owners.append((rel, _topic_from_card(model)))
        elif isinstance(model, DayPlan):
            owners.extend((rel, t) for t in _topics_from_day(model))
    return owners


def validate(corpus_dir: Path) -> list[str]:
    """Every problem of the corpus as `file: entry > field: message`; empty when it is sound."""
    problems: list[str] = []
    pillars, parsed = _collect(corpus_dir, problems)
    if corpus_dir.is_dir() and len(pillars) != 1:
        problems.append(f"{corpus_dir}: expected exactly one file of kind pillar, found {len(pillars)}")
    days = [m.day for _, m in parsed if isinstance(m, DayPlan)]
    for number in {d for d in days if days.count(d) > 1}:
        problems.append(f"{corpus_dir}: day {number} is described by more than one day_plan file")
    _cross_check(_owners(parsed), problems)
    return problems


def _build(corpus_dir: Path) -> Corpus:
    problems: list[str] = []
    pillars, parsed = _collect(corpus_dir, problems)
    topics: dict[str, Topic] = {}
    day_topics: dict[int, list[str]] = {}
    day_titles: dict[int, str] = {}
    for _, topic in _owners(parsed):
        topics[topic.id] = topic
        day_topics.setdefault(topic.day, []).append(topic.id)
    for _, model in parsed:
        if isinstance(model, DayPlan):
            day_titles[model.day] = model.title
    for number, ids in day_topics.items():
        if number not in day_titles:
            day_titles[number] = " / ".join(topics[i].title for i in ids)
    days = {n: Day(n, day_titles[n], tuple(day_topics[n])) for n in sorted(day_topics)}
    files = {
        p.relative_to(corpus_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _corpus_files(corpus_dir)
    }
    return Corpus(pillar=pillars[0], topics=topics, days=days, files=files)
