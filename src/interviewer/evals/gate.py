"""The CI gate: the figures of a cases report against the floors and ceilings in evals/thresholds.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from interviewer.evals.run import CasesReport


def check_thresholds(report: CasesReport, thresholds_path: Path) -> list[str]:
    """Figures below their floor (or above their ceiling), as messages; empty when all pass."""
    return check_figures(report.model_dump(), thresholds_path)


def check_figures(report: Mapping[str, Any], thresholds_path: Path) -> list[str]:
    """`check_thresholds` on a report as written to JSON (or any part of one: a missing figure fails)."""
    limits = yaml.safe_load(thresholds_path.read_text(encoding="utf-8")) or {}
    summary = report["summary"]
    adversarial = {kind: row.get("handled") for kind, row in summary.get("adversarial", {}).items()}
    # (section of thresholds.yaml, the figures it limits, how a failure is named, True for a floor)
    sections = [
        ("floors", summary, "{}", True),
        ("ceilings", summary, "{}", False),
        ("adversarial_floors", adversarial, "adversarial {} handled", True),
        ("follow_up_floors", report.get("follow_ups") or {}, "follow-up {}", True),
        ("follow_up_ceilings", report.get("follow_ups") or {}, "follow-up {}", False),
    ]
    failures: list[str] = []
    for section, figures, label, is_floor in sections:
        for name, limit in (limits.get(section) or {}).items():
            value = figures.get(name)
            if value is None or (value < limit if is_floor else value > limit):
                side = "below its floor" if is_floor else "above its ceiling"
                failures.append(f"{label.format(name)} = {value} is {side} {limit}")
    return failures
