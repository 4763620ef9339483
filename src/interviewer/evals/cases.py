"""The labelled cases (evals/cases/<prompt-id>.yaml, see evals/cases/README.md) and their graded results."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interviewer.curriculum.corpus import Corpus, Prompt, load_yaml
from interviewer.curriculum.tokens import words
from interviewer.errors import CorpusError, InterviewerError
from interviewer.grading import FollowUp
from interviewer.grading.models import Grade, Verdict

Kind = Literal[
    "level",
    "paraphrase",
    "concise",
    "long_wrong",
    "spoken",
    "grader_words",
    "stuffing",
    "injection",
    "strong_injection",
    "padding",
    "restated",
    "off_topic",
]
# Answers on the prompt that try nothing on the grader: ordinary ones, plain-language paraphrases, short strong
# ones, long confident wrong ones, speech-to-text transcripts, and ones that merely use words such as "test",
# "baseline" or "ignore" in their MLOps sense.
HONEST: frozenset[str] = frozenset({"level", "paraphrase", "concise", "long_wrong", "spoken", "grader_words"})
Origin = Literal["independent", "authored"]
Split = Literal["development", "held_out"]


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Kind
    origin: Origin = Field(description="Who wrote it: a writer who never saw the rubric, or its authors.")
    gold_score: int = Field(ge=0, le=4)
    intended: int | None = Field(default=None, ge=0, le=4, description="The level its writer aimed at.")
    gold_points: dict[str, Verdict]
    gold_red_flags: list[str] = Field(
        default_factory=list, description="The claims of the prompt's red flags that the answer states (gold)."
    )
    graders: dict[str, int] | None = Field(
        default=None, description="Each independent grader's score before adjudication (gold_score is the final)."
    )
    answer: str = Field(min_length=1)
    note: str | None = None

    @field_validator("graders")
    @classmethod
    def _two_graders(cls, graders: dict[str, int] | None) -> dict[str, int] | None:
        if graders is not None and (set(graders) != {"a", "b"} or not all(0 <= s <= 4 for s in graders.values())):
            raise ValueError("graders gives grader a's and grader b's score, each 0-4: {a: 3, b: 2}")
        return graders


class CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_id: str
    split: Split = Field(description="Frozen by prompt: only development cases may be used for tuning.")
    cases: list[EvalCase] = Field(min_length=1)


@dataclass(frozen=True)
class LabelledCase:
    prompt: Prompt
    case: EvalCase
    split: Split = "development"


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
            data = CaseFile.model_validate(load_yaml(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not YAML: {str(exc).splitlines()[0]}")
            continue
        except ValidationError as exc:
            problems += [f"{path.name}: {problem}" for problem in _schema_problems(exc)]
            continue
        ref = corpus.prompts.get(data.prompt_id)
        if ref is None:
            problems.append(f"{path.name}: prompt_id: no prompt {data.prompt_id!r}")
            continue
        for case in data.cases:
            if case.id in seen:
                problems.append(f"{path.name}: {case.id}: id used twice")
            seen.add(case.id)
            problem = _case_problem(case, ref.prompt)
            if problem:
                problems.append(f"{path.name}: {case.id}: {problem}")
                continue
            out.append(LabelledCase(ref.prompt, case, data.split))
    if problems:
        raise CorpusError("The eval cases have problems:\n" + "\n".join(problems[:20]))
    return out


def _case_problem(case: EvalCase, prompt: Prompt) -> str | None:
    """What does not fit the prompt: a gold verdict missing or for no point, a red flag the prompt lacks."""
    point_ids = {r.id for r in prompt.rubric}
    if set(case.gold_points) != point_ids:
        missing = sorted(point_ids - set(case.gold_points))
        extra = sorted(set(case.gold_points) - point_ids)
        return f"gold_points: missing {missing}, unknown {extra}"
    unknown_flags = sorted(set(case.gold_red_flags) - {f.claim for f in prompt.red_flags})
    if unknown_flags:
        return f"gold_red_flags: not a red flag of {prompt.id}: {unknown_flags}"
    return None


# What a case file must say, for the fields a writer is most likely to leave out.
FIELD_HINTS = {
    "split": "say `split: development` (may be used for tuning) or `split: held_out` (only ever measured)",
    "origin": "say `origin: independent` (written without seeing the rubric) or `origin: authored`",
}


def _schema_problems(exc: ValidationError) -> list[str]:
    """Each schema error as `field: problem`, with how to fix the fields a writer most often leaves out."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "file"
        hint = FIELD_HINTS.get(str(error["loc"][-1])) if error["loc"] else None
        problems.append(f"{where}: {error['msg']}" + (f" ({hint})" if hint else ""))
    return problems


def development_prompts(cases: list[LabelledCase]) -> set[str]:
    """The prompts whose cases may be used for tuning: those whose case file says `split: development`."""
    return {c.prompt.id for c in cases if c.split == "development"}


# Product and tool names: a candidate who names the same tools as the rubric copies nothing.
TOOL_NAMES = frozenset(
    """
    mlflow feast tecton vertex sagemaker databricks kubeflow airflow dagster prefect dvc lakefs delta iceberg
    hudi great expectations pandera tfdv deequ soda evidently whylabs arize triton kafka flink spark bigquery
    bigtable redis dynamodb cassandra snowflake kubernetes argo seldon kserve bentoml prometheus grafana
    datadog pagerduty git github gitlab jenkins terraform docker onnx tensorrt pytorch tensorflow sklearn
    scikit xgboost lightgbm ray gcp aws azure s3 gcs
    """.split()
)
COPY_RUN = 8  # words in a row that a case may not share with its prompt's rubric or reference answer


def copied_runs(answer: str, prompt: Prompt, n: int = COPY_RUN) -> list[str]:
    """Every run of n words the answer shares with the prompt's rubric (points, paraphrases, probes, red flags)
    or reference answer, allowing one word in the run to differ (a near-copy with one word swapped is still a
    copy); a tool name breaks a run."""
    sources = [prompt.reference_answer]
    for point in prompt.rubric:
        sources += [point.point, point.probe, *point.paraphrases]
    for flag in prompt.red_flags:
        sources += [flag.claim, flag.correction]
    theirs = _masked_grams(tuple(sources), n)
    return [" ".join(gram) for gram in dict.fromkeys(_grams(answer, n)) if theirs.intersection(_masked(gram))]


@functools.lru_cache(maxsize=256)
def _masked_grams(sources: tuple[str, ...], n: int) -> frozenset[tuple[str, ...]]:
    """Every masked n-word run of the sources (a prompt's rubric and reference answer), made once per prompt."""
    return frozenset(masked for source in sources for gram in _grams(source, n) for masked in _masked(gram))


def _masked(gram: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The run with each of its words in turn replaced by a wildcard: two runs that differ in at most one word
    share one of these."""
    return [(*gram[:k], "\0", *gram[k + 1 :]) for k in range(len(gram))]


def _grams(text: str, n: int) -> list[tuple[str, ...]]:
    tokens = words(text)
    return [
        tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1) if not TOOL_NAMES.intersection(tokens[i : i + n])
    ]
