"""The rubric brain: grades an answer point by point with local embeddings and lexical evidence.

For each rubric point it looks for the answer's sentence that best makes the point, by meaning (cosine
similarity to the point and its paraphrases) and by its terms (stemmed, not negated, not merely copied
from the question). The verdicts decide the score, in code; nothing the answer says can set it.
Deterministic: the same answer always gets the same grade.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from interviewer.curriculum.corpus import Prompt, RubricPoint
from interviewer.curriculum.embeddings import Vectors, encoder
from interviewer.curriculum.tokens import READ_SENTENCES
from interviewer.grading.brain import FollowUp, TurnContext
from interviewer.grading.claims import denies, states
from interviewer.grading.cross import point_reader
from interviewer.grading.guards import addresses_grader
from interviewer.grading.models import (
    FLAG_MESSAGES,
    Assessment,
    Flag,
    Grade,
    PointVerdict,
    RedFlagHit,
    Verdict,
    score_from,
)
from interviewer.grading.reader import (
    FEATURES,
    Answer,
    Reader,
    Table,
    evidence,
    keep_rubric_tokens,
    read_answer,
    rubric_tokens,
    shipped_reader,
)
from interviewer.grading.text import (
    STOPWORDS,
    Sentence,
    content_stems,
    find_phrase,
    negated,
    split_sentences,
    stems,
    words,
)

T = TypeVar("T")


def knob(default: T, doc: str) -> T:
    """A tuning number of the rubric brain, with what it does."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class RubricConfig:
    """Every number the rubric brain grades with; its hash is stored with each grade."""

    sim_floor: float = knob(0.45, "Cosine at which a sentence's meaning starts to count toward a point.")
    sim_full: float = knob(0.66, "Cosine at which a sentence's meaning makes the point in full.")
    meaning_weight: float = knob(0.9, "Share of a point's strength that meaning alone can give.")
    term_weight: float = knob(0.6, "How much two distinct terms of the point add to its meaning.")
    rival_margin: float = knob(1.0, "How much closer a sentence must be to another point to count as it (1 = off).")
    restate_similarity: float = knob(0.70, "A sentence this close to the question, with few words of its own, ...")
    restate_novel: int = knob(3, "... at most this many content words that the question lacks, only restates it.")
    question_discount: float = knob(0.5, "How much a sentence's closeness to the question lowers its meaning.")
    covered_at: float = knob(0.60, "Strength at which a point is covered.")
    says_point: float = knob(
        0.85,
        "Cosine to a point or one of its paraphrases at which a sentence says the point, whatever the reader says "
        "(on development, 5 of the 7 sentences this close make it in full and 2 miss it).",
    )
    partial_at: float = knob(0.30, "Strength at which a point is partly made.")
    min_words: int = knob(12, "An answer of fewer words than this is too short to show understanding.")
    off_topic_below: float = knob(
        0.34, "An answer less like every key point than this, and using none of their terms, is off topic."
    )
    stuffing_function_ratio: float = knob(0.22, "Below this share of function words, a term-heavy answer is a list.")
    stuffing_min_terms: int = knob(3, "Rubric terms an answer needs before it can count as keyword stuffing.")

    @property
    def version(self) -> str:
        blob = json.dumps({"brain": "rubric", "v": 3, **asdict(self)}, sort_keys=True)
        return "rubric-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


PointVectorSource = Callable[[Prompt], dict[str, Vectors]]


def encode_points(prompt: Prompt) -> dict[str, Vectors]:
    """Vectors of each rubric point and its paraphrases, embedded now (used outside the index)."""
    out: dict[str, Vectors] = {}
    for point in prompt.rubric:
        out[point.id] = encoder().encode([point.point, *point.paraphrases])
    return out


@dataclass(frozen=True)
class _Match:
    strength: float
    sentence: int | None
    terms: float = 0.0  # the point's terms in the sentence that holds most of them
    terms_all: float = 0.0  # the point's distinct terms anywhere in the answer


@dataclass(frozen=True)
class _Reading:
    answer: Answer
    point_vecs: dict[str, Vectors]
    sims: Vectors  # usable sentences x points, meaning less closeness to the question
    judged: list[tuple[PointVerdict, _Match]]


def _strength(judged: list[tuple[PointVerdict, _Match]]) -> Table:
    """The hand-tuned strength and the term evidence, features of the calibrated reader."""
    return {
        "cur": np.array([m.strength for _, m in judged]),
        "terms_s": np.array([m.terms for _, m in judged]),
        "terms_all": np.array([m.terms_all for _, m in judged]),
    }


class RubricBrain:
    """The embedded default brain: offline, deterministic, no key."""

    name = "rubric"

    def __init__(
        self,
        point_vectors: PointVectorSource = encode_points,
        config: RubricConfig | None = None,
        reader: Reader | Literal["shipped"] | None = "shipped",
        read_every_point: bool = False,
    ) -> None:
        self.point_vectors = point_vectors
        self.config = config or RubricConfig()
        # The calibrated reader of meaning (grading/reader.py); None grades by the hand-tuned strength alone.
        self.reader = shipped_reader() if reader == "shipped" else reader
        # Run the point reader on every point, not only where it can change the verdict: an exact P(covered) on
        # each (the SemEval measurement reads it as a continuous score).
        self.read_every_point = read_every_point

    @property
    def version(self) -> str:
        return self.config.version + (f"-{self.reader.digest}" if self.reader else "")

    def prepare(self, prompts: Sequence[Prompt], tokens_file: Path | None = None) -> None:
        """Read the rubric side of every prompt now (its point vectors, the points' token vectors, the point
        reader), so that a user's turn reads only the answer. The token vectors are kept in `tokens_file`, so a
        process that finds them there reads none."""
        if self.reader is None:
            return
        if tokens_file:
            keep_rubric_tokens(tokens_file, [p.point for prompt in prompts for p in prompt.rubric])
        for prompt in prompts:
            self.point_vectors(prompt)
            rubric_tokens(tuple(p.point for p in prompt.rubric))
        if "nli_pt" in self.reader.features:
            point_reader()

    def grade(self, prompt: Prompt, answer: str, context: TurnContext | None = None) -> Grade:
        """Grade a cleaned answer (see text.clean) against the prompt's rubric, reading at most its first
        READ_SENTENCES sentences that may make a point (the grade counts the rest as `unread`)."""
        sentences = split_sentences(answer)
        injected = [s for s in sentences if addresses_grader(s.text)]
        said = [s for s in sentences if s not in injected]
        candidates = [s for s in said if not denies(s.text)]  # a denied sentence makes no point
        flags: list[Flag] = ["instruction_to_grader"] if injected else []
        if not candidates:
            if not said:
                flags.insert(0, "empty")
            return self._finish(prompt, [verdict_for(p, "missed") for p in prompt.rubric], [], flags)
        graded = self._read_candidates(prompt, answer, candidates[:READ_SENTENCES], flags)
        return graded.model_copy(update={"unread": max(0, len(candidates) - READ_SENTENCES)})

    def _read_candidates(self, prompt: Prompt, answer: str, candidates: list[Sentence], flags: list[Flag]) -> Grade:
        reading = self.reading(prompt, answer, candidates)
        if reading is None:
            flags.append("restated_question")
            return self._finish(prompt, [verdict_for(p, "missed") for p in prompt.rubric], [], flags)
        verdicts = self._read(prompt, reading)
        usable = reading.answer.sentences
        flags.extend(self._answer_flags(prompt, usable, reading.answer.vectors, reading.point_vecs, verdicts))
        red_flags = red_flags_stated(prompt, usable)
        return self._finish(prompt, verdicts, red_flags, flags)

    def evidence(self, prompt: Prompt, answer: str, features: frozenset[str] = FEATURES) -> Table | None:
        """The readers' evidence (by default every feature) for each rubric point of a cleaned answer; None when
        no sentence is usable."""
        candidates = [s for s in split_sentences(answer) if not addresses_grader(s.text) and not denies(s.text)]
        reading = self.reading(prompt, answer, candidates) if candidates else None
        if reading is None:
            return None
        return evidence(prompt, reading.answer, reading.point_vecs, _strength(reading.judged), features)

    def reading(self, prompt: Prompt, text: str, candidates: list[Sentence]) -> _Reading | None:
        """The answer read once: usable sentences, their meaning against each point, the hand-tuned judgement."""
        read = encoder().read([s.text for s in candidates], STOPWORDS)
        question = encoder().encode([prompt.text])[0]
        vectors = np.stack([r.vector for r in read])
        keep = self._usable(prompt, candidates, vectors, question)
        if not keep:
            return None
        answer = Answer(text, [candidates[i] for i in keep], [read[i] for i in keep], question)
        vectors, point_vecs, asked = vectors[keep], self.point_vectors(prompt), set(stems(prompt.text))
        sims = np.stack([(vectors @ point_vecs[p.id].T).max(axis=1) for p in prompt.rubric], axis=1)
        # Question demoting for meaning: closeness to the question itself is not evidence of a point.
        sims = sims - self.config.question_discount * (vectors @ question - 0.4)[:, None]
        judged = [self._judge(p, answer.sentences, sims, j, asked) for j, p in enumerate(prompt.rubric)]
        return _Reading(answer, point_vecs, sims, judged)

    def follow_up(
        self,
        prompt: Prompt,
        points: list[PointVerdict],
        probed: list[str],
        context: TurnContext | None = None,
    ) -> FollowUp | None:
        """The authored probe of the most important point not yet made and not yet probed."""
        by_id = {p.id: p for p in prompt.rubric}
        open_points = [v for v in points if v.verdict != "covered" and v.point_id not in probed]
        if not open_points:
            return None
        target = min(open_points, key=lambda v: (-v.weight, v.verdict == "partial", points.index(v)))
        return FollowUp(text=by_id[target.point_id].probe, point_id=target.point_id)

    # -- points --------------------------------------------------------------------------------

    def _judge(
        self,
        point: RubricPoint,
        sentences: list[Sentence],
        sims: Vectors,
        column: int,
        question: set[str],
    ) -> tuple[PointVerdict, _Match]:
        """The point's strength in its best sentence: meaning plus the point's own terms there.

        A sentence that is clearly closer to another rubric point lends this one only half its meaning,
        so one good sentence cannot make every point at once.
        """
        cfg = self.config
        best = _Match(0.0, None)
        hits = [_term_hits(point.terms, s.stems, question) for s in sentences]
        for i in range(len(sentences)):
            sim = float(sims[i, column])
            meaning = float(np.clip((sim - cfg.sim_floor) / (cfg.sim_full - cfg.sim_floor), 0.0, 1.0))
            if sim < float(sims[i].max()) - cfg.rival_margin:
                meaning *= 0.5
            strength = min(1.0, cfg.meaning_weight * meaning + cfg.term_weight * min(hits[i], 2.0) / 2.0)
            if strength > best.strength:
                best = _Match(strength, i)
        verdict: Verdict = (
            "covered" if best.strength >= cfg.covered_at else "partial" if best.strength >= cfg.partial_at else "missed"
        )
        evidence = sentences[best.sentence].text if best.sentence is not None and verdict != "missed" else None
        return verdict_for(point, verdict, evidence, round(best.strength, 4)), _Match(
            best.strength, best.sentence, max(hits, default=0.0), _distinct_terms(point.terms, sentences, question)
        )

    def _read(self, prompt: Prompt, reading: _Reading) -> list[PointVerdict]:
        """The calibrated reader's verdict on each point (the hand-tuned one without a reader), quoting the
        sentence that makes the point best."""
        judged, answer = reading.judged, reading.answer
        if self.reader is None:
            return [v for v, _ in judged]
        labels, covered = read_answer(
            self.reader, prompt, answer, reading.point_vecs, _strength(judged), self.read_every_point
        )
        said = _sentences_and_pairs(answer.vectors)
        for j, point in enumerate(prompt.rubric):  # an answer that says the point, in its words or a paraphrase's
            if float((said @ reading.point_vecs[point.id].T).max()) >= self.config.says_point:
                labels[j] = "covered"
        out = []
        for j, (point, label) in enumerate(zip(prompt.rubric, labels, strict=True)):
            quoted = judged[j][1].sentence
            where = quoted if quoted is not None else int(reading.sims[:, j].argmax())
            text = answer.sentences[where].text if label != "missed" else None
            out.append(verdict_for(point, label, text, round(float(covered[j]), 4)))
        return out

    def _usable(self, prompt: Prompt, sentences: list[Sentence], vectors: Vectors, question: Vectors) -> list[int]:
        """The sentences that do more than restate the question (a restatement evidences no point)."""
        asked = set(content_stems(prompt.text))
        return [
            i
            for i, s in enumerate(sentences)
            if float(vectors[i] @ question) < self.config.restate_similarity
            or len(set(content_stems(s.text)) - asked) > self.config.restate_novel
        ]

    # -- whole-answer flags ----------------------------------------------------------------------

    def _answer_flags(
        self,
        prompt: Prompt,
        sentences: list[Sentence],
        vectors: Vectors,
        point_vecs: dict[str, Vectors],
        verdicts: list[PointVerdict],
    ) -> list[Flag]:
        cfg = self.config
        flags: list[Flag] = []
        all_words = [w for s in sentences for w in words(s.text)]
        if len(all_words) < cfg.min_words:
            flags.append("too_short")
        relevance = float((vectors @ np.vstack(list(point_vecs.values())).T).max())
        any_terms = any(_term_hits(p.terms, s.stems, set()) for p in prompt.rubric for s in sentences)
        if relevance < cfg.off_topic_below and not any_terms:
            flags.append("off_topic")
        if _stuffed(cfg, prompt, all_words, sentences):
            flags.append("keyword_stuffing")
        return flags

    # -- result ----------------------------------------------------------------------------------

    def _finish(
        self, prompt: Prompt, verdicts: list[PointVerdict], red_flags: list[RedFlagHit], flags: list[Flag]
    ) -> Grade:
        return Grade(
            prompt_id=prompt.id, brain=self.name, grader_version=self.version, **assess(verdicts, red_flags, flags)
        )


def red_flags_stated(prompt: Prompt, sentences: list[Sentence]) -> list[RedFlagHit]:
    """The prompt's misconceptions the answer states (a cue read with negation, contrast and rejecting frames)."""
    hits: list[RedFlagHit] = []
    for flag in prompt.red_flags:
        for sentence in sentences:
            if any(states(sentence.text, cue) for cue in flag.cues):
                hits.append(RedFlagHit(claim=flag.claim, evidence=sentence.text, correction=flag.correction))
                break
    return hits


def verdict_for(
    point: RubricPoint, verdict: Verdict, evidence: str | None = None, strength: float = 0.0
) -> PointVerdict:
    """A rubric point's verdict, carrying the point's text, objective and weight."""
    return PointVerdict(
        point_id=point.id,
        text=point.point,
        objective=point.objective,
        weight=point.weight,
        verdict=verdict,
        evidence=evidence,
        strength=strength,
    )


def _stuffed(cfg: RubricConfig, prompt: Prompt, all_words: list[str], sentences: list[Sentence]) -> bool:
    """A list of the rubric's terms with few function words between them."""
    if len(all_words) < 4:
        return False
    function_ratio = sum(1 for w in all_words if w in STOPWORDS) / len(all_words)
    distinct_terms = {t for p in prompt.rubric for t in p.terms for s in sentences if find_phrase(s.stems, stems(t))}
    return function_ratio < cfg.stuffing_function_ratio and len(distinct_terms) >= cfg.stuffing_min_terms


def _sentences_and_pairs(vectors: Vectors) -> Vectors:
    """Each sentence's vector and the unit mean of every two sentences (a point said over two sentences, as in
    "If the schema breaks we stop; if a feature drifts we go on"): adding a sentence only adds rows, and their order
    does not matter."""
    first, second = np.triu_indices(len(vectors), k=1)
    pairs = vectors[first] + vectors[second]
    pairs = pairs / np.maximum(np.linalg.norm(pairs, axis=1, keepdims=True), 1e-12)
    out: Vectors = np.vstack([vectors, pairs.astype(np.float32)])
    return out


def _occurs_affirmed(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    return any(not negated(haystack, i) for i in find_phrase(haystack, phrase))


def _distinct_terms(terms: tuple[str, ...], sentences: list[Sentence], question: set[str]) -> float:
    """The point's distinct terms affirmed in any sentence (a question-only term counts a quarter)."""
    total = 0.0
    for term in terms:
        if any(_term_hits((term,), s.stems, question) for s in sentences):
            total += 0.25 if set(stems(term)) <= question else 1.0
    return total


def _term_hits(terms: tuple[str, ...], haystack: tuple[str, ...], question: set[str]) -> float:
    """Distinct terms present and affirmed; a term made only of the question's own words counts a quarter."""
    total = 0.0
    present = set(haystack)
    for term in terms:
        phrase = stems(term)
        if phrase and phrase[0] in present and _occurs_affirmed(haystack, phrase):
            total += 0.25 if set(phrase) <= question else 1.0
    return total


def assess(verdicts: list[PointVerdict], red_flags: list[RedFlagHit], flags: Sequence[Flag]) -> dict[str, Any]:
    """The score, coverage and advice that verdicts, misconceptions and flags give: every grade and prompt result
    is built from this (as keyword arguments of an `Assessment`)."""
    score, coverage = score_from(verdicts, red_flags, flags)
    return Assessment(
        score=score,
        coverage=coverage,
        points=verdicts,
        red_flags=red_flags,
        flags=list(flags),
        feedback=feedback(verdicts, red_flags, flags),
    ).__dict__


def feedback(verdicts: list[PointVerdict], red_flags: list[RedFlagHit], flags: Sequence[str]) -> str:
    """What was strong and what to study, in a few short lines."""
    lines = [FLAG_MESSAGES[f] for f in flags if f in FLAG_MESSAGES]
    strong = [v for v in verdicts if v.verdict == "covered"]
    gaps = sorted((v for v in verdicts if v.verdict != "covered"), key=lambda v: (-v.weight, v.verdict != "partial"))
    if strong:
        lines.append("Strong: " + "; ".join(v.text.rstrip(".") for v in strong[:3]) + ".")
    if gaps:
        lines.append("To study: " + "; ".join(v.text.rstrip(".") for v in gaps[:3]) + ".")
    lines.extend(f"Misconception: {r.claim} {r.correction}" for r in red_flags)
    return "\n".join(lines)
