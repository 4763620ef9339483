"""The report's sections on the length shortcut and on the case set's balance, in Markdown."""

from __future__ import annotations

from collections.abc import Callable

from interviewer.evals.gate import Goal
from interviewer.evals.labels import Balance, Intended
from interviewer.evals.shortcut import ShortcutFigures
from interviewer.evals.summary import Agreement

SPLITS = ("development", "held_out")


def plain(value: float | int | None) -> str:
    """A figure as a table cell: "-" for none, three decimals for a share or a correlation."""
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _interval(f: ShortcutFigures | None, name: str) -> str:
    if f is None or name not in f.intervals:
        return "-"
    low, high = f.intervals[name]
    return f"[{low:.3f}, {high:.3f}]"


def _agreement_cells(a: Agreement | None) -> list[str]:
    return ["-"] * 4 if a is None else [str(a.n), plain(a.qwk), f"{a.exact:.1%}", f"{a.within_1:.1%}"]


def shortcut_markdown(shortcut: dict[str, ShortcutFigures]) -> list[str]:
    """The grader beside the length shortcut on each split's honest answers, with prompt-bootstrap intervals."""
    if not shortcut:
        return []
    dev, held = (shortcut.get(name) for name in SPLITS)
    cuts = next(f.cuts for f in shortcut.values())
    lines = [
        "",
        "## Beside the length shortcut",
        "",
        "The shortcut scores an answer by its length alone: word-count cut-offs fitted on the development",
        f"prompts' honest answers (score 1 from {cuts[0]} words, 2 from {cuts[1]}, 3 from {cuts[2]}, 4 from"
        f" {cuts[3]}). A grader earns its keep where the shortcut fails. Intervals: 95%, from a bootstrap over",
        "prompts (1,000 resamples of whole prompts, fixed seed).",
        "",
        "| honest answers | development | held-out | held-out 95% interval |",
        "|---|---|---|---|",
    ]
    rows: list[tuple[str, Callable[[ShortcutFigures], str], str | None]] = [
        ("answers", lambda f: str(f.n), None),
        ("length vs gold, Spearman", lambda f: plain(f.length_gold_spearman), None),
        ("shortcut QWK", lambda f: plain(f.length_baseline.qwk), None),
        ("shortcut exact", lambda f: f"{f.length_baseline.exact:.1%}", None),
        ("grader's margin over the shortcut, QWK", lambda f: f"{f.margin.qwk:+.3f}", "margin_qwk"),
        ("grader's margin over the shortcut, exact", lambda f: f"{f.margin.exact:+.1%}", "margin_exact"),
        ("grader vs gold, length fixed (partial Spearman)", lambda f: plain(f.partial_spearman), "partial_spearman"),
    ]
    for label, cell, interval in rows:
        values = ["-" if f is None else cell(f) for f in (dev, held)]
        lines.append(f"| {label} | {values[0]} | {values[1]} | {_interval(held, interval) if interval else '-'} |")
    lines += [
        "",
        "Held-out intervals of the grader's own figures on honest answers: "
        + ", ".join(f"{name} {_interval(held, name)}" for name in ("spearman", "qwk", "exact")),
        "",
        "Where the shortcut fails (it misses gold by 2 or more), the grader on the same answers:",
        "",
        "| split | answers | QWK | exact | within 1 |",
        "|---|---|---|---|---|",
    ]
    for name, f in zip(SPLITS, (dev, held), strict=True):
        lines.append(f"| {name} | " + " | ".join(_agreement_cells(None if f is None else f.shortcut_fails)) + " |")
    return lines


def balance_markdown(balance: dict[str, Balance], intended: Intended) -> list[str]:
    """How many honest answers sit at each gold level, whether length predicts gold, and the writers' aim."""
    lines = [
        "",
        "## The case set's balance",
        "",
        "Honest answers at each gold level, and how well length alone ranks them by gold (the goal is |Spearman|",
        "at most 0.4, so that a word count cannot pass for a grader).",
        "",
        "| honest answers | gold 0 | gold 1 | gold 2 | gold 3 | gold 4 | all | length vs gold, Spearman |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, b in balance.items():
        counts = " | ".join(str(n) for n in b.per_level)
        lines.append(f"| {name.replace('_', '-')} | {counts} | {b.n} | {plain(b.length_gold_spearman)} |")
    if intended.n:
        lines += [
            "",
            f"The writers aimed {intended.n} answers at a level: gold came out at that level for "
            f"{intended.exact:.1%}, above it for {intended.above} and below it for {intended.below}.",
            "",
            "| intended | gold 0 | gold 1 | gold 2 | gold 3 | gold 4 |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {i} | " + " | ".join(str(n) for n in row) + " |" for i, row in enumerate(intended.confusion)]
    return lines


def goals_markdown(rows: list[Goal]) -> list[str]:
    """Each goal beside its measured figure; a missed one is marked SHORT."""
    if not rows:
        return []
    lines = [
        "## Goals",
        "",
        "The goals set for the grader and the case set (`goals` in evals/thresholds.yaml). The gate's floors sit at",
        "the measured figures; a figure that misses its goal is marked SHORT here.",
        "",
        "| figure | goal | measured | |",
        "|---|---|---|---|",
    ]
    for row in rows:
        value = "-" if row.value is None else f"{row.value:.4f}"
        lines.append(f"| {row.figure} | {row.goal} | {value} | {'met' if row.met else '**SHORT**'} |")
    return [*lines, ""]
