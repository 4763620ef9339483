"""Grading outside an interview: one answer or many, against a prompt of the corpus or an ad-hoc one."""

from __future__ import annotations

from interviewer.config import Settings
from interviewer.curriculum.corpus import Corpus, Prompt, load_corpus
from interviewer.curriculum.embeddings import Vectors, encoder
from interviewer.curriculum.index_server import open_index
from interviewer.errors import AnswerRejected, NotFoundError
from interviewer.grading import Brain, TurnContext
from interviewer.grading.llm import chat_model
from interviewer.grading.llm_brain import LLMBrain
from interviewer.grading.models import Grade
from interviewer.grading.reader import keep_rubric_tokens
from interviewer.grading.rubric import RubricBrain, encode_points
from interviewer.grading.text import clean

RUBRIC_TOKENS = "rubric-tokens.npz"  # in the data folder: the key points' token vectors, read once


def store_rubric_tokens(settings: Settings, corpus: Corpus) -> None:
    """Store the key points' token vectors in the data folder (at index time), so no start or turn reads them."""
    points = [p.point for ref in corpus.prompts.values() for p in ref.prompt.rubric]
    keep_rubric_tokens(settings.data_dir / RUBRIC_TOKENS, points)


class Grader:
    """The corpus, its index and the brains; what both the engine and `interviewer grade` use."""

    def __init__(self, settings: Settings | None = None, *, progress: bool = True) -> None:
        self.settings = settings or Settings()
        self.corpus: Corpus = load_corpus(self.settings.corpus_dir)
        self.index = open_index(self.settings, self.corpus, progress=progress)
        self._point_cache: dict[str, dict[str, Vectors]] = {}
        rubric = RubricBrain(point_vectors=self.point_vectors)
        self._brains: dict[str, Brain] = {"rubric": rubric}
        llm = self.settings.llm
        if llm.configured:
            self._brains["llm"] = LLMBrain(chat_model(llm), llm, fallback=rubric, retrieve=self.related_texts)

    def prepare(self) -> None:
        """Read the rubric side of every prompt now, before the first turn (see RubricBrain.prepare)."""
        prompts = [ref.prompt for ref in self.corpus.prompts.values()]
        asked = [i for p in prompts for i in self.index.entry_ids("prompt", p.id)]
        if len(asked) == len(prompts):  # the questions' vectors, as the index holds them
            encoder().remember([p.text for p in prompts], self.index.vectors(asked))
        rubric = self._brains["rubric"]
        if isinstance(rubric, RubricBrain):
            rubric.prepare(prompts, self.settings.data_dir / RUBRIC_TOKENS)

    def brain(self, name: str) -> Brain:
        try:
            return self._brains[name]
        except KeyError:
            hint = " (set OPENAI_BASE_URL or OPENAI_API_KEY to use the LLM brain)" if name == "llm" else ""
            raise NotFoundError(f"No brain named {name!r}; available: {', '.join(self._brains)}{hint}.") from None

    def brains(self) -> list[tuple[str, str]]:
        """(label, name) of every brain that can grade now, the default first."""
        labels = {"rubric": "Rubric (offline, instant)"}
        llm = self._brains.get("llm")
        if isinstance(llm, LLMBrain):
            labels["llm"] = f"Language model ({llm.settings.model})"
        names = sorted(self._brains, key=lambda n: (n != self.settings.brain, n))
        return [(labels.get(n, n), n) for n in names]

    def register_brain(self, brain: Brain) -> None:
        self._brains[brain.name] = brain

    def point_vectors(self, prompt: Prompt) -> dict[str, Vectors]:
        """Rubric point vectors from the index for corpus prompts; embedded on the fly otherwise."""
        cached = self._point_cache.get(prompt.id)
        if cached is not None:
            return cached
        known = self.corpus.prompts.get(prompt.id)
        if known is None or known.prompt != prompt:
            return encode_points(prompt)
        vectors = {
            r.id: self.index.vectors(self.index.entry_ids("point", r.id) + self.index.entry_ids("paraphrase", r.id))
            for r in prompt.rubric
        }
        self._point_cache[prompt.id] = vectors
        return vectors

    def related_texts(self, prompt_id: str, query: str) -> list[str]:
        """Objectives and rubric points of a prompt's topic nearest to a query (the LLM interviewer's tool)."""
        topic = self.corpus.prompt(prompt_id).topic.id
        found = self.index.related(encoder().encode([query[:1000]])[0], topic=topic, kinds=("objective", "point"), k=5)
        return [f"{r.kind}: {r.text}" for r in found]

    def clean_answer(self, answer: str) -> str:
        """The answer as graded; refuses empty, unreadable and over-long answers with a clear message.

        Text that could not be stored (a lone surrogate) is refused here, before anything is written;
        control characters, NUL and invisible marks such as a byte-order mark are cleaned away.
        """
        text = clean(answer, self.settings.max_answer_chars)
        if not any(ch.isalnum() for ch in text):
            what = "is empty" if not answer.strip() else "has no readable text"
            raise AnswerRejected(f"The answer {what}: nothing to grade.")
        return text

    def grade(self, prompt: Prompt, answer: str, brain: str | None = None) -> Grade:
        return self.brain(brain or self.settings.brain).grade(prompt, self.clean_answer(answer), TurnContext())
