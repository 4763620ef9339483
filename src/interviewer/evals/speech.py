"""How well spoken answers full of the field's words are heard (the domain set, evals/speech/domain.json).

The set holds, for each of the corpus's 25 prompts, two sentences a candidate might say in answer, dense with tool
names, acronyms and terms of art. They were written by someone who saw the questions and topics, not the rubrics,
and each lists the jargon it uses. Each sentence is spoken by espeak-ng in two voices at two paces and transcribed
with a hint (none, the question alone, or the prompt's vocabulary: `interviewer.speech.hints`).

Figures, per pace and per half of the set (split by prompt: development, to choose settings on, and held-out):
- the word error rate, after the usual normalisation (`words`), counted with jiwer;
- rubric-term recall: each time one of the prompt's rubric terms is in a sentence, is it in what was heard? These
  are the words grades turn on;
- jargon recall: the same for the words the writer listed (not all of them rubric terms, so not all in the hint);
- the real-time factor (median and p95) and, per process, peak memory;
- whether the transcribed answer (a prompt's two sentences) grades within 1 of the same answer typed;
- how well the words marked unsure (probability below a line, `MARK_LINES`) pick out the words heard wrongly.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from interviewer.config import PROJECT_ROOT
from interviewer.curriculum.corpus import Corpus, PromptRef
from interviewer.errors import InterviewerError
from interviewer.speech.cleanup import tidy
from interviewer.speech.delivery import SpokenWord
from interviewer.speech.hints import Hint, vocabulary

SET_PATH = PROJECT_ROOT / "evals" / "speech" / "domain.json"
VOICES = ("en-us+m1", "en-gb+f3")
PACES = (150, 175)
HintMode = Literal["none", "question", "untidied", "vocabulary"]
HINT_MODES: tuple[HintMode, ...] = ("none", "question", "untidied", "vocabulary")
"""How the set is heard: with no hint, the question alone, or the prompt's vocabulary, each as the recogniser wrote
it; and with the prompt's vocabulary, tidied of the recogniser's slips (`interviewer.speech.cleanup`), as the app
hears an answer."""
Split = Literal["development", "held-out"]


@dataclass(frozen=True)
class Line:
    """One sentence of the set."""

    prompt_id: str
    index: int
    text: str
    jargon: tuple[str, ...]

    @property
    def split(self) -> Split:
        return split_of(self.prompt_id)


@dataclass(frozen=True)
class Heard:
    """One sentence as a voice said it at a pace, and what the recogniser made of it."""

    line: Line
    voice: str
    pace: int
    text: str
    words: tuple[SpokenWord, ...]
    duration_s: float
    seconds: float


def split_of(prompt_id: str) -> Split:
    """A prompt's half of the set, fixed by a hash of its id (about half each way, never chosen by hand)."""
    return "development" if int(hashlib.sha256(prompt_id.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def load_lines(path: Path = SET_PATH) -> list[Line]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            Line(entry["prompt_id"], n, s["text"], tuple(s["domain_words"]))
            for entry in data
            for n, s in enumerate(entry["sentences"])
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InterviewerError(f"The domain speech set {path} cannot be read: {exc}") from None


# -- counting words -----------------------------------------------------------------------------------------

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
NUMBERS = {w: n for n, w in enumerate(f"{_UNITS} seventeen eighteen nineteen".split())}
NUMBERS |= {w: 20 + 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}


def words(text: str) -> list[str]:
    """Lower case, without punctuation; hyphens, slashes and letter-digit seams split ("p95" and "P-95" are
    "p 95"); numbers as digits ("ninety five" is "95"). So only recognition errors count, not spelling."""
    plain = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    plain = re.sub(r"[-/]", " ", plain)
    plain = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", plain)
    plain = re.sub(r"[^\w\s.']|(?<!\d)\.|\.(?!\d)|'(?!\w)|(?<!\w)'", " ", plain)
    out: list[str] = []
    for word in plain.split():
        value = NUMBERS.get(word)
        tens = out[-1] if out and out[-1].isdigit() and len(out[-1]) == 2 and out[-1].endswith("0") else None
        if value is not None and value < 10 and tens is not None:
            out[-1] = str(int(tens) + value)
        else:
            out.append(str(value) if value is not None else word)
    return out


def occurrences(phrase: Sequence[str], within: Sequence[str]) -> int:
    """How many times the words of `phrase` occur in a row in `within`."""
    n = len(phrase)
    return sum(1 for i in range(len(within) - n + 1) if n and list(within[i : i + n]) == list(phrase))


def recall(phrases: Iterable[str], said: Sequence[str], heard: Sequence[str]) -> tuple[int, int]:
    """(found, wanted): each occurrence of a phrase in what was said, and whether what was heard has it too."""
    found = wanted = 0
    for phrase in {tuple(words(p)) for p in phrases}:
        times = occurrences(phrase, said)
        wanted += times
        found += min(times, occurrences(phrase, heard))
    return found, wanted


def rubric_terms(ref: PromptRef) -> list[str]:
    return list(vocabulary(ref).terms)


def spoken_form(text: str) -> str:
    """The sentence as a candidate says it: "CI/CD" and "A/B" without the "slash" espeak-ng would read out."""
    return re.sub(r"(?<=\w)/(?=\w)", " ", text)


def hint_for(mode: HintMode, ref: PromptRef) -> Hint:
    if mode == "none":
        return Hint()
    if mode == "question":
        return Hint(sentences=(" ".join(ref.prompt.text.split()),))
    return vocabulary(ref)  # "untidied" and "vocabulary"


# -- hearing the set ----------------------------------------------------------------------------------------


def hear_all(
    lines: Sequence[Line],
    corpus: Corpus,
    scratch: Path,
    mode: HintMode,
    model_name: str,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Heard]:
    """Every line in every voice at every pace, spoken into `scratch` (kept there for the next mode) and heard."""
    from interviewer.speech.recognition import decode, speech_model, synthesize

    model = speech_model(model_name)
    out: list[Heard] = []
    for line in lines:
        hint = hint_for(mode, corpus.prompt(line.prompt_id))
        for voice in VOICES:
            for pace in PACES:
                wav = scratch / f"{line.prompt_id}-{line.index}-{voice}-{pace}.wav"
                if not wav.exists():
                    synthesize(spoken_form(line.text), wav, voice=voice, words_per_minute=pace)
                samples = decode(wav.read_bytes(), str(wav))
                start = time.perf_counter()
                said = model.words(samples, hint)
                seconds = time.perf_counter() - start
                text = " ".join(w.text for w in said)
                out.append(Heard(line, voice, pace, text, tuple(said), samples.size / 16_000, seconds))
        progress(f"{model_name} {mode}: {len(out)} of {len(lines) * len(VOICES) * len(PACES)} heard")
    return out


def tidied(heard: Heard) -> Heard:
    """What was heard, without the recogniser's slips (as the app shows it), the tidying's time counted in."""
    start = time.perf_counter()
    kept = tidy(heard.words).words
    seconds = heard.seconds + time.perf_counter() - start
    return replace(heard, text=" ".join(w.text for w in kept), words=kept, seconds=seconds)


# -- the figures --------------------------------------------------------------------------------------------


def error_rate(heard: Sequence[Heard]) -> float:
    import jiwer

    said = [" ".join(words(h.line.text)) for h in heard]
    return float(jiwer.wer(said, [" ".join(words(h.text)) or "<nothing>" for h in heard]))


def figures_of(heard: Sequence[Heard], corpus: Corpus) -> dict[str, Any]:
    """Word error rate, rubric-term and jargon recall, and real-time factor of a group of heard lines."""
    terms = jargon = (0, 0)
    by_prompt = {pid: rubric_terms(corpus.prompt(pid)) for pid in {h.line.prompt_id for h in heard}}
    for h in heard:
        said, got = words(h.line.text), words(h.text)
        t = recall(by_prompt[h.line.prompt_id], said, got)
        j = recall(h.line.jargon, said, got)
        terms, jargon = (terms[0] + t[0], terms[1] + t[1]), (jargon[0] + j[0], jargon[1] + j[1])
    factors = sorted(h.seconds / h.duration_s for h in heard)
    return {
        "clips": len(heard),
        "audio_s": round(sum(h.duration_s for h in heard), 1),
        "wer": round(error_rate(heard), 4),
        "term_recall": round(terms[0] / terms[1], 4) if terms[1] else None,
        "terms": terms[1],
        "jargon_recall": round(jargon[0] / jargon[1], 4) if jargon[1] else None,
        "jargon": jargon[1],
        "rtf_median": round(statistics.median(factors), 4),
        "rtf_p95": round(factors[min(len(factors) - 1, int(0.95 * len(factors)))], 4),
    }


def by_group(heard: Sequence[Heard], corpus: Corpus) -> dict[str, dict[str, Any]]:
    """The figures per pace, over the whole set and over each half."""
    out: dict[str, dict[str, Any]] = {}
    for pace in PACES:
        at = [h for h in heard if h.pace == pace]
        out[f"{pace}"] = figures_of(at, corpus)
        for split in ("development", "held-out"):
            out[f"{pace} {split}"] = figures_of([h for h in at if h.line.split == split], corpus)
    return out


MARK_LINES = (0.3, 0.4, 0.5, 0.6, 0.7)
"""The probabilities below which words are marked, measured side by side; the app marks below
`interviewer.speech.recognition.UNSURE_BELOW` (0.5)."""


def wrong_words(h: Heard) -> list[tuple[SpokenWord, bool]]:
    """Each word heard, and whether it was heard wrongly (part of a substitution or an insertion against what was
    said, after normalising both)."""
    import jiwer

    pieces = [(w, words(w.text)) for w in h.words]
    flat = [token for _, tokens in pieces for token in tokens]
    said = words(h.line.text)
    if not flat:
        return []
    if not said:
        return [(w, True) for w, _ in pieces]
    bad: set[int] = set()
    for chunk in jiwer.process_words(" ".join(said), " ".join(flat)).alignments[0]:
        if chunk.type in ("substitute", "insert"):
            bad.update(range(chunk.hyp_start_idx, chunk.hyp_end_idx))
    out, at = [], 0
    for word, tokens in pieces:
        out.append((word, any(i in bad for i in range(at, at + len(tokens)))))
        at += len(tokens)
    return out


def marking(heard: Sequence[Heard], below: float) -> dict[str, Any]:
    """How well marking the words below `below` picks out the words heard wrongly."""
    pairs = [pair for h in heard for pair in wrong_words(h)]
    marked = [wrong for word, wrong in pairs if word.probability < below]
    wrong = sum(1 for _, bad in pairs if bad)
    hits = sum(marked)
    return {
        "below": below,
        "words": len(pairs),
        "wrong": wrong,
        "marked": len(marked),
        "precision": round(hits / len(marked), 4) if marked else None,
        "recall": round(hits / wrong, 4) if wrong else None,
    }


def grade_agreement(heard: Sequence[Heard], corpus: Corpus, grade: Callable[[PromptRef, str], int]) -> dict[str, Any]:
    """Each prompt's two sentences as one answer, typed and as heard (per voice and pace): graded within 1?"""
    answers: dict[tuple[str, str, int], list[Heard]] = {}
    for h in heard:
        answers.setdefault((h.line.prompt_id, h.voice, h.pace), []).append(h)
    pairs: list[dict[str, Any]] = []
    for (prompt_id, voice, pace), group in sorted(answers.items()):
        group.sort(key=lambda h: h.line.index)
        ref = corpus.prompt(prompt_id)
        typed = grade(ref, " ".join(h.line.text for h in group))
        spoken = grade(ref, " ".join(h.text for h in group))
        pairs.append({"prompt_id": prompt_id, "voice": voice, "pace": pace, "typed": typed, "spoken": spoken})
    within = sum(abs(p["typed"] - p["spoken"]) <= 1 for p in pairs)
    same = sum(p["typed"] == p["spoken"] for p in pairs)
    return {
        "answers": len(pairs),
        "within_1": round(within / len(pairs), 4) if pairs else None,
        "same": round(same / len(pairs), 4) if pairs else None,
        "typed_scores": sorted({p["typed"] for p in pairs}),
        "pairs": pairs,
    }


# -- one model, measured in a process of its own -----------------------------------------------------------


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_model(
    model_name: str, modes: Sequence[HintMode], scratch: Path, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """One recogniser over the whole set in each hint mode: figures per pace and half, marking at several lines,
    grade agreement (with the default grader, from the last mode) and the memory it took."""
    from interviewer.config import Settings
    from interviewer.curriculum.corpus import load_corpus
    from interviewer.grading.grader import Grader
    from interviewer.speech.recognition import speech_model

    corpus = load_corpus(Settings().corpus_dir)
    lines = load_lines()
    before = _rss_mb()
    speech_model(model_name)
    loaded = _rss_mb()
    out: dict[str, Any] = {"model": model_name, "modes": {}}
    heard: list[Heard] = []
    untidied: list[Heard] = []  # "untidied" and "vocabulary" are one hearing, the second tidied
    for mode in modes:
        heard = (
            untidied
            if mode == "vocabulary" and untidied
            else hear_all(lines, corpus, scratch, mode, model_name, progress)
        )
        untidied = heard if mode in ("untidied", "vocabulary") else untidied
        heard = [tidied(h) for h in heard] if mode == "vocabulary" else heard
        out["modes"][mode] = by_group(heard, corpus)
    recogniser_peak = _peak_rss_mb()
    out["marking"] = {
        split: [marking([h for h in heard if h.line.split == split], b) for b in MARK_LINES]
        for split in ("development", "held-out")
    }
    grader = Grader(Settings(), progress=False)
    out["grades"] = grade_agreement(heard, corpus, lambda ref, text: grader.grade(ref.prompt, text).score)
    out["memory_mb"] = {
        "before_load": round(before, 1),
        "model_loaded": round(loaded - before, 1),
        "peak_while_transcribing": round(recogniser_peak, 1),
    }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m interviewer.evals.speech MODEL OUT.json [MODE ...]`: one model, measured in this process."""
    import sys
    import tempfile

    args = list(sys.argv[1:] if argv is None else argv)
    model_name, out_path, modes = args[0], Path(args[1]), tuple(args[2:]) or ("vocabulary",)
    with tempfile.TemporaryDirectory(prefix="interviewer-speech-") as scratch:
        try:
            result = measure_model(
                model_name,
                [m for m in HINT_MODES if m in modes],
                Path(scratch),
                lambda line: print(line, file=sys.stderr, flush=True),
            )
        except InterviewerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    out_path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
