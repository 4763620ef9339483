"""The labelled cases (evals/cases/<prompt-id>.yaml, see evals/cases/README.md) and their graded results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interviewer.corpus import Corpus, Prompt
from interviewer.errors import CorpusError, InterviewerError
from interviewer.grading import FollowUp
from interviewer.grading.models import Grade, Verdict

Kind = Literal["level", "paraphrase", "stuffing", "injection", "padding", "restated", "off_topic"]
HONEST: frozenset[str] = frozenset({"level", "paraphrase"})  # answers on the prompt, not adversarial


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Kind
    gold_score: int = Field(ge=0, le=4)
    gold_points: dict[str, Verdict]
    answer: str = Field(min_length=1)
    note: str | None = None


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_id: str
    cases: list[EvalCase] = Field(min_length=1)


@dataclass(frozen=True)
class LabelledCase:
    prompt: Prompt
    case: EvalCase


@dataclass(frozen=True)
class CaseResult:
    """A labelled case as a brain graded it, with the follow-up it would ask after an honest answer."""

    labelled: LabelledCase
    grade: Grade
    seconds: float
    retrieved: tuple[str, ...]
    follow_up: FollowUp | None = None
    asked_follow_up: bool = False  # whether a follow-up was asked for (answers on the prompt, not adversarial)


def folder_hash(folder: Path, pattern: str = "*") -> str:
    """A short content hash of the files in a folder (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob(pattern) if p.is_file()) if folder.is_dir() else []:
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_cases(cases_dir: Path, corpus: Corpus) -> list[LabelledCase]:
    """Every labelled case; problems are reported with file, case and field."""
    problems: list[str] = []
    out: list[LabelledCase] = []
    seen: set[str] = set()
    files = sorted(cases_dir.glob("*.yaml"))
    if not files:
        raise InterviewerError(f"No case files (*.yaml) in {cases_dir}.")
    for path in files:
        try:
            data = CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as exc:
            problems.append(f"{path.name}: {str(exc).splitlines()[0]}")
            continue
        ref = corpus.prompts.get(data.prompt_id)
        if ref is None:
            problems.append(f"{path.name}: prompt_id: no prompt {data.prompt_id!r}")
            continue
        point_ids = {r.id for r in ref.prompt.rubric}
        for case in data.cases:
            if case.id in seen:
                problems.append(f"{path.name}: {case.id}: id used twice")
            seen.add(case.id)
            if set(case.gold_points) != point_ids:
                missing = sorted(point_ids - set(case.gold_points))
                extra = sorted(set(case.gold_points) - point_ids)
                problems.append(f"{path.name}: {case.id}: gold_points: missing {missing}, unknown {extra}")
                continue
            out.append(LabelledCase(ref.prompt, case))
    if problems:
        raise CorpusError("The eval cases have problems:\n" + "\n".join(problems[:20]))
    return out


def development_prompts(cases: list[LabelledCase]) -> set[str]:
    """The prompts whose cases may be used for tuning: every other prompt id in sorted order."""
    return set(sorted({c.prompt.id for c in cases})[0::2])
