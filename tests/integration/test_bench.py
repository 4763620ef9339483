"""`interviewer bench` runs end to end and reports medians, p95 and peak memory (the figures themselves are
measured by `make bench`, never asserted on timings here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import Cli


def test_bench_measures_a_turn_a_cold_start_the_index_and_transcription(cli: Cli, tmp_path: Path) -> None:
    result = cli("bench", "--quick", "--json", "--reports", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert figures["turn_grade_and_next_question"]["n"] == 5
    assert figures["cold_start_to_first_question"]["peak_rss_mb"] > 0
    for measure in ("median_ms", "p95_ms"):
        assert figures["cold_start_to_first_question"][measure] > 0
        assert figures["index"]["reindex_no_change"][measure] >= 0
    assert figures["speech_transcription"]["measured"], "espeak-ng is missing: run `make speech`"
    assert 0 < figures["speech_transcription"]["rtf_median"] <= figures["speech_transcription"]["rtf_p95"]
    report = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "turn: grade + next question" in report and "real-time factor median" in report
    longest = figures["turn_longest_answer"]
    assert longest["n"] == 2 and longest["chars"] == 20_000 and longest["median_ms"] > 0
    assert longest["unread_min"] > 0  # the longest answers hold more sentences than are read
    assert "turn: the longest accepted answer (20,000 characters)" in report and "goal p95 < 1000 ms" in report


def test_a_quick_bench_never_overwrites_the_kept_reports(cli: Cli) -> None:
    refused = cli("bench", "--quick")
    assert refused.returncode != 0 and "--reports" in refused.stderr, refused.stderr
