"""The CI gate: the figures of a cases report against the floors and ceilings in evals/thresholds.yaml, and
the copy rule (no case may share a run of 8 or more words with its prompt's rubric or reference answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml

from interviewer.evals.cases import COPY_RUN, Split
from interviewer.evals.run import CasesReport

# (section of thresholds.yaml, the figures it limits, how a failure is named, True for a floor)
Section = tuple[str, Mapping[str, Any], str, bool]


def check_thresholds(report: CasesReport, thresholds_path: Path) -> list[str]:
    """Figures below their floor (or above their ceiling), and cases that copy their rubric, as messages;
    empty when all pass."""
    return check_figures(report.model_dump(), thresholds_path)


def check_figures(report: Mapping[str, Any], thresholds_path: Path) -> list[str]:
    """`check_thresholds` on a report as written to JSON (or any part of one: a missing figure fails).

    The top-level sections limit the whole set; a `development` or `held_out` section limits that split's
    figures (`ordinary_floors`: ordinary answers, `honest_floors`: all honest answers, `kind_floors`: each
    kind's handled share, `floors` and `ceilings`: the split's own figures such as `verdict_macro_f1` and
    `guard_false_positives`, `shortcut_floors`: the grader's margin over the length shortcut and its partial
    correlation with gold for length, `balance_floors` and `balance_ceilings`: the case set's honest answers per
    level and how well length ranks them).
    """
    limits = yaml.safe_load(thresholds_path.read_text(encoding="utf-8")) or {}
    whole = _whole_set(report)
    failures = _copied(report)
    failures += _unknown(limits, {s[0] for s in whole} | set(get_args(Split)) | {"goals"}, thresholds_path.name)
    failures += _limited(limits, whole)
    for split in get_args(Split):
        if split in limits:
            sections = _split(report, split)
            failures += _unknown(limits[split] or {}, {s[0] for s in sections}, f"{thresholds_path.name} {split}")
            failures += _limited(limits[split] or {}, sections)
    return failures


def _whole_set(report: Mapping[str, Any]) -> list[Section]:
    summary = report.get("summary") or {}
    follow_ups = report.get("follow_ups") or {}
    return [
        ("floors", summary, "{}", True),
        ("ceilings", summary, "{}", False),
        ("kind_floors", _handled(summary), "{} handled", True),
        ("follow_up_floors", follow_ups, "follow-up {}", True),
        ("follow_up_ceilings", follow_ups, "follow-up {}", False),
        ("balance_floors", _balance(report, "all"), "all honest answers {}", True),
        ("balance_ceilings", _balance(report, "all"), "all honest answers {}", False),
    ]


def _split(report: Mapping[str, Any], split: str) -> list[Section]:
    figures = (report.get("splits") or {}).get(split) or {}
    shortcut = (report.get("shortcut") or {}).get(split) or {}
    margins = {f"margin_{k}": v for k, v in (shortcut.get("margin") or {}).items()}
    name = split.replace("_", "-")
    return [
        ("floors", figures, name + " {}", True),
        ("ceilings", figures, name + " {}", False),
        ("ordinary_floors", figures.get("ordinary") or {}, name + " ordinary {}", True),
        ("honest_floors", figures.get("honest") or {}, name + " honest {}", True),
        ("kind_floors", _handled(figures), name + " {} handled", True),
        ("shortcut_floors", {**shortcut, **margins}, name + " {} (beside the length shortcut)", True),
        ("balance_floors", _balance(report, split), name + " honest answers {}", True),
        ("balance_ceilings", _balance(report, split), name + " honest answers {}", False),
    ]


def _handled(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {kind: row.get("handled") for kind, row in (figures.get("kinds") or {}).items()}


def _balance(report: Mapping[str, Any], group: str) -> dict[str, Any]:
    """The fewest honest answers at any gold level, and |Spearman| of their length against gold."""
    figures = (report.get("balance") or {}).get(group) or {}
    spearman = figures.get("length_gold_spearman")
    return {
        "min_per_level": min(figures["per_level"]) if figures.get("per_level") else None,
        "abs_length_gold_spearman": None if spearman is None else abs(spearman),
    }


def _limited(limits: Mapping[str, Any], sections: list[Section]) -> list[str]:
    failures: list[str] = []
    for section, figures, label, is_floor in sections:
        for name, limit in (limits.get(section) or {}).items():
            value = figures.get(name)
            if value is None or (value < limit if is_floor else value > limit):
                side = "below its floor" if is_floor else "above its ceiling"
                failures.append(f"{label.format(name)} = {value} is {side} {limit}")
    return failures


def _unknown(limits: Mapping[str, Any], known: set[str], where: str) -> list[str]:
    """A misspelt section would gate nothing, so it fails."""
    names = ", ".join(sorted(known))
    return [f"{where}: unknown section {name!r} (known: {names})" for name in limits if name not in known]


def _copied(report: Mapping[str, Any]) -> list[str]:
    copied = report.get("copied")
    if copied is None:
        return ["copied: missing from the report, so the copy rule was not checked"]
    return [
        f"case {row['case']} shares {COPY_RUN}+ words with its prompt's rubric or reference answer: "
        + "; ".join(f'"{run}"' for run in row["runs"])
        for row in copied
    ]


@dataclass(frozen=True)
class Goal:
    """A goal for a figure (`at_least` or `at_most`), its measured value, and whether it is met."""

    figure: str
    goal: str
    value: float | None
    met: bool


def goals(report: Mapping[str, Any], thresholds_path: Path) -> list[Goal]:
    """The `goals` of thresholds.yaml (reported beside the measured figures, not gated), each with its value found
    by its dotted path in the report (`splits.held_out.honest.spearman`)."""
    limits = yaml.safe_load(thresholds_path.read_text(encoding="utf-8")) or {}
    rows = []
    for entry in limits.get("goals") or []:
        value: Any = report
        for part in str(entry["figure"]).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if "at_least" in entry:
            goal, met = f">= {entry['at_least']}", value is not None and value >= entry["at_least"]
        else:
            goal, met = f"<= {entry['at_most']}", value is not None and value <= entry["at_most"]
        rows.append(Goal(str(entry["figure"]), goal, value, bool(met)))
    return rows
