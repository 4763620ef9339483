"""`interviewer bench`: speed and memory of the offline interview, as medians, p95 and peak RSS.

Everything runs against a scratch data folder, so a user's sessions are never touched. Figures are
printed and written to evals/reports/bench.json and bench.md.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus
from interviewer.errors import InterviewerError
from interviewer.interview.access import Caller


@dataclass(frozen=True)
class Runs:
    """How often each measure runs: the defaults for figures worth keeping, `QUICK` to check that bench works."""

    turns: int = 200
    index_builds: int = 3
    resyncs: int = 10
    index_commands: int = 3
    cold_starts: int = 5
    spoken_answers: int = 5
    longest_answers: int = 10


QUICK = Runs(turns=5, index_builds=1, resyncs=2, index_commands=1, cold_starts=1, spoken_answers=1, longest_answers=2)


def chosen_runs(quick: bool, turns: int | None, reports: Path | None) -> Runs:
    """The runs `interviewer bench` was asked for. A quick bench's figures are not worth keeping, so it must be
    given a folder of its own to write to, never the tracked reports."""
    if quick and reports is None:
        raise InterviewerError("`bench --quick` checks that bench runs; give it --reports FOLDER to write to.")
    runs = QUICK if quick else Runs()
    return replace(runs, turns=turns) if turns else runs


FILLER = (
    "In my last role we ran this for several teams and learned a lot along the way. "
    "It depends on the scale and the maturity of the organisation, and on what the business needs. "
    "I would start simple, measure, and only add complexity when the numbers justify it. "
    "Communication with stakeholders matters as much as the tooling we pick."
).split(". ")


def _stats(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
    }


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def make_answers(corpus: Corpus, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(prompt id, answer) pairs of 50-300 words mixing reference sentences, paraphrases and filler."""
    rng = random.Random(seed)
    refs = list(corpus.prompts.values())
    out: list[tuple[str, str]] = []
    for _ in range(count):
        ref = rng.choice(refs)
        pool = ref.prompt.reference_answer.split(". ")
        pool += [p for r in ref.prompt.rubric for p in r.paraphrases] + FILLER
        target = rng.randint(50, 300)
        words: list[str] = []
        while len(words) < target:
            words += (rng.choice(pool).rstrip(".") + ".").split()
        out.append((ref.prompt.id, " ".join(words[:target])))
    return out


def _cold_start(settings: Settings, runs: int) -> tuple[dict[str, float], float]:
    """Wall time of a new process from launch to its first question, and the child's peak RSS."""
    code = (
        "from interviewer.interview.access import Caller; from interviewer.compose import build_engine; "
        "e = build_engine(progress=False); sid, q = e.start(Caller.terminal(), 'day', '58'); print(q.text)"
    )
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(settings.data_dir)}
    samples: list[float] = []
    peak_kb = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        samples.append((time.perf_counter() - start) * 1000)
        if status != 0:
            raise RuntimeError("the cold-start process failed")
        peak_kb = max(peak_kb, usage.ru_maxrss)
        if proc.stdout:
            proc.stdout.close()
    return _stats(samples), round(peak_kb / 1024, 1)


def _index_figures(settings: Settings, corpus: Corpus, runs: Runs) -> dict[str, Any]:
    from interviewer.curriculum.embeddings import encoder
    from interviewer.curriculum.index import CurriculumIndex

    build_ms: list[float] = []
    for n in range(runs.index_builds):
        path = settings.data_dir / f"index-build-{n}"
        encoder().clear_cache()  # every build starts cold, as a first start does (the corpus's vectors are shipped)
        build_ms.append(_timed(lambda p=path: CurriculumIndex(p, corpus, progress=False).sync()))  # type: ignore[misc]
    sync_ms = [
        _timed(lambda: CurriculumIndex(settings.index_dir, corpus, progress=False).sync()) for _ in range(runs.resyncs)
    ]
    cli_ms: list[float] = []
    env = {**os.environ, "INTERVIEWER_DATA_DIR": str(settings.data_dir)}
    for _ in range(runs.index_commands):
        cli_ms.append(
            _timed(
                lambda: subprocess.run(
                    [sys.executable, "-m", "interviewer.cli", "index"], env=env, check=True, capture_output=True
                )
            )
        )
    return {
        "entries": CurriculumIndex(settings.index_dir, corpus, progress=False).count(),
        "full_build": _stats(build_ms),
        "reindex_no_change": _stats(sync_ms),
        "reindex_no_change_cli_process": _stats(cli_ms),
    }


def _turn_figures(settings: Settings, turns: int) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    from interviewer.compose import build_engine
    from interviewer.curriculum.embeddings import encoder
    from interviewer.grading.cross import point_reader

    engine, me = build_engine(settings, progress=False), Caller.terminal()
    answers = make_answers(engine.corpus, turns)
    samples: list[float] = []
    words = [len(a.split()) for _, a in answers]
    session_id, _ = engine.start(me, "topic", engine.corpus.prompt(answers[0][0]).topic.id)
    for _, answer in answers:
        encoder().clear_cache()  # every turn reads its answer from scratch, as a new answer would
        point_reader().clear_cache()
        start = time.perf_counter()
        outcome = engine.submit(me, session_id, answer)
        samples.append((time.perf_counter() - start) * 1000)
        if outcome.next is None:
            session_id, _ = engine.start(me, "day", str(random.Random(len(samples)).choice([57, 58, 59])))
    queries = [a for _, a in answers]
    retrieval: list[float] = []
    for text in queries:
        encoder().clear_cache()
        start = time.perf_counter()
        vector = encoder().encode([text[:1000]])[0]
        engine.grader.index.related(vector, k=5)
        retrieval.append((time.perf_counter() - start) * 1000)
    shape = {
        "answers_words_min": min(words),
        "answers_words_max": max(words),
        "answers_words_median": statistics.median(words),
    }
    return _stats(samples), _stats(retrieval), shape


def longest_answers(corpus: Corpus, chars: int, count: int, seed: int = 5) -> list[tuple[str, str]]:
    """(prompt id, answer) pairs of the longest accepted length, `chars`, in turn of two shapes: reference answers end
    to end (long sentences that make points), and short sentences of the curriculum's words (the most sentences)."""
    rng = random.Random(seed)
    refs = list(corpus.prompts.values())
    vocabulary = sorted({w for r in refs for w in r.prompt.reference_answer.split() if w.isalpha()})
    out: list[tuple[str, str]] = []
    for n in range(count):
        ref, text = rng.choice(refs), ""
        while len(text) < chars:
            if n % 2 == 0:
                text += rng.choice(refs).prompt.reference_answer + " "
            else:
                text += " ".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 8))) + ". "
        out.append((ref.prompt.id, text[:chars]))
    return out


def _longest_figures(settings: Settings, runs: int) -> dict[str, Any]:
    """A turn on an answer of the longest accepted length (INTERVIEWER_MAX_ANSWER_CHARS), read from scratch."""
    from interviewer.compose import build_engine
    from interviewer.curriculum.embeddings import encoder
    from interviewer.curriculum.tokens import READ_SENTENCES
    from interviewer.grading.cross import point_reader

    engine, me = build_engine(settings, progress=False), Caller.terminal()
    samples: list[float] = []
    unread: list[int] = []
    for prompt_id, answer in longest_answers(engine.corpus, settings.max_answer_chars, runs):
        session_id, _ = engine.start(me, "prompt", prompt_id)
        encoder().clear_cache()
        point_reader().clear_cache()
        start = time.perf_counter()
        outcome = engine.submit(me, session_id, answer)
        samples.append((time.perf_counter() - start) * 1000)
        unread.append(outcome.grade.unread if outcome.grade else 0)
    return {
        **_stats(samples),
        "chars": settings.max_answer_chars,
        "sentences_read": READ_SENTENCES,
        "unread_min": min(unread),
        "unread_max": max(unread),
    }


def _speech_figures(scratch: Path, corpus: Corpus, answers: int = 5) -> dict[str, Any]:
    """The real-time factor of transcribing answers spoken by espeak-ng (when installed) with whisper tiny.en."""
    from interviewer.speech.hints import vocabulary
    from interviewer.speech.recognition import espeak, speech_model, synthesize, transcribe

    if espeak() is None:
        return {"measured": False, "note": "espeak-ng is not installed (`make speech` installs it): not measured"}
    load_ms = _timed(speech_model)
    factors: list[float] = []
    lengths: list[float] = []
    for n, (prompt_id, answer) in enumerate(make_answers(corpus, answers, seed=11)):
        wav = synthesize(" ".join(answer.split()[:60]), scratch / f"answer-{n}.wav")
        spoken = transcribe(wav, hint=vocabulary(corpus.prompt(prompt_id)))
        factors.append(spoken.real_time_factor)
        lengths.append(spoken.duration_s)
    rtf = _stats(factors)
    return {
        "measured": True,
        "n": len(factors),
        "audio_s_min": min(lengths),
        "audio_s_max": max(lengths),
        "rtf_median": round(rtf["median_ms"], 4),
        "rtf_p95": round(rtf["p95_ms"], 4),
        "model_load_ms": round(load_ms, 1),
    }


def _speech_line(s: dict[str, Any]) -> str:
    if not s["measured"]:
        return f"Transcription (whisper tiny.en, int8, 2 threads): {s['note']}."
    return (
        f"Transcription (whisper tiny.en, int8, 2 threads) of {s['n']} answers spoken by espeak-ng "
        f"({s['audio_s_min']:.0f}-{s['audio_s_max']:.0f} s): real-time factor median {s['rtf_median']:.3f}, "
        f"p95 {s['rtf_p95']:.3f} (below 1 is faster than the recording plays); model load {s['model_load_ms']:.0f} ms."
    )


def measure(settings: Settings, runs: Runs = Runs()) -> dict[str, Any]:
    from interviewer.curriculum.corpus import load_corpus
    from interviewer.grading.rubric import RubricBrain

    corpus = load_corpus(settings.corpus_dir)
    with tempfile.TemporaryDirectory(prefix="interviewer-bench-") as scratch:
        local = replace(settings, data_dir=Path(scratch))
        index = _index_figures(local, corpus, runs)
        cold, cold_rss = _cold_start(local, runs=runs.cold_starts)
        turn, retrieval, shape = _turn_figures(local, runs.turns)
        longest = _longest_figures(local, runs.longest_answers)
        speech = _speech_figures(Path(scratch), corpus, answers=runs.spoken_answers)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus_version": corpus.version,
        "grader_version": RubricBrain().version,
        "cold_start_to_first_question": {**cold, "peak_rss_mb": cold_rss},
        "turn_grade_and_next_question": {**turn, **shape},
        "turn_longest_answer": longest,
        "retrieval": retrieval,
        "index": index,
        "speech_transcription": speech,
        "bench_process_peak_rss_mb": _peak_rss_mb(),
        "goals": {
            "turn_p95_ms": 100,
            "longest_answer_p95_ms": 1000,
            "reindex_no_change_ms": 1000,
            "cold_start_ms": 3000,
        },
    }


def to_markdown(r: dict[str, Any]) -> str:
    def row(name: str, s: dict[str, Any], extra: str = "") -> str:
        return f"| {name} | {s['n']} | {s['median_ms']:.1f} | {s['p95_ms']:.1f} | {s['max_ms']:.1f} | {extra} |"

    idx = r["index"]
    return "\n".join(
        [
            f"# Benchmark ({r['date']})",
            "",
            f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}. Corpus {r['corpus_version']}, "
            f"grader {r['grader_version']}. Bench process peak RSS {r['bench_process_peak_rss_mb']} MB.",
            "",
            "| measure | runs | median ms | p95 ms | max ms | notes |",
            "|---|---|---|---|---|---|",
            row(
                "cold start to first question (new process)",
                r["cold_start_to_first_question"],
                f"peak RSS {r['cold_start_to_first_question']['peak_rss_mb']} MB; goal < 3000 ms",
            ),
            row(
                "turn: grade + next question",
                r["turn_grade_and_next_question"],
                f"answers {r['turn_grade_and_next_question']['answers_words_min']}-"
                f"{r['turn_grade_and_next_question']['answers_words_max']} words; goal p95 < 100 ms",
            ),
            _longest_row(row, r["turn_longest_answer"]),
            row("retrieval (embed query + Chroma query)", r["retrieval"]),
            row("index: full build", idx["full_build"], f"{idx['entries']} entries, their vectors shipped"),
            row("index: re-index, no change (in process)", idx["reindex_no_change"], "goal < 1000 ms"),
            row("index: `interviewer index`, no change (whole process)", idx["reindex_no_change_cli_process"]),
            "",
            _speech_line(r["speech_transcription"]),
            "",
        ]
    )


def _longest_row(row: Callable[[str, dict[str, Any], str], str], s: dict[str, Any]) -> str:
    return row(
        f"turn: the longest accepted answer ({s['chars']:,} characters)",
        s,
        f"its first {s['sentences_read']} sentences read, {s['unread_min']}-{s['unread_max']} not; goal p95 < 1000 ms",
    )


def run_bench(settings: Settings, as_json: bool = False, runs: Runs = Runs(), reports: Path | None = None) -> int:
    """Measure, print, and write bench.json and bench.md to `reports` (default the tracked evals/reports/)."""
    result = measure(settings, runs)
    out_dir = reports or settings.reports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    markdown = to_markdown(result)
    (out_dir / "bench.md").write_text(markdown, encoding="utf-8")
    print(json.dumps(result, indent=2) if as_json else markdown)
    return 0
