"""Recognising text in an answer that addresses the grader instead of the question.

Such sentences are flagged and removed from the evidence: they can never earn credit.
"""

from __future__ import annotations

import re

from interviewer.curriculum.tokens import split_sentences

REMOVED = "[removed: text addressed to the grader]"
_TARGET = (
    r"(grader|(grading|scoring|marking) (model|system|ai|engine)|evaluator|examiner|assessor|judge|marker|ai|llm"
    r"|assistant|chatbot)"
)
_PATTERNS = [
    r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.?!\n]{0,60}\b(instruction|rubric|rule|prompt|guideline|"
    r"criteria|previous|prior|above)",
    r"\b(you are|you're|act as|pretend( to be| you are)?|dear|attention|hey|note to|message to|instructions? (to|for))"
    r"\s+([\w-]+\s+){0,3}" + _TARGET + r"\b",
    r"\bas (the|an?) (grader|evaluator|examiner|assessor|marker)\b",
    r"\b(give|award|assign|grant|mark|grade|score|rate|put)\b[^.?!\n]{0,40}\b(full|maximum|max|perfect|top|highest|"
    r"all( the)?|100 ?%?)\s+(marks?|scores?|points?|credit|grade|rating)",
    r"\b(score|grade|mark|rate)\s+(this|me|my|it|the answer)\b[^.?!\n]{0,30}\b(4|four|5|five|10|ten|100|"
    r"perfect|excellent|max(imum)?)\b",
    r"\b(mark|count|treat|consider|set)\b[^.?!\n]{0,20}\b(all|every|each)\b[^.?!\n]{0,20}\b(points?|objectives?|"
    r"items?|criteria)\b[^.?!\n]{0,15}\b(covered|met|satisfied|correct|complete)",
    r"\b(new instructions?|developer message)\b",
    r"\bsystem (prompt|message)\s*:",
    r"\b(4|four)\s*(/|out of)\s*(4|four)\b",
    r"\bthis (answer|response)\b[^.?!\n]{0,20}\b(deserves|earns|should (get|receive|be given)|gets|is worth)\b",
    r"^\s*(please\s+)?(output|return|respond with|reply with|print)\b[^.?!\n]{0,30}\b(score|grade|verdicts?)\b",
    r"\b(score|grade|verdict)\s*[:=]\s*(4|four|covered|pass)\b",
    r"^\W*(system|assistant|developer|grader|evaluator|admin|instructions?)\s*[:>\]]",
    r"\b(assign|give|award|set|grant)\b[^.?!\n]{0,20}\b(score|grade|mark|rating)\s+(of|to|=)\s*(4|four|5|five|10|100|max)",
    r"\b(covered|met|addressed|satisfied|hit)\s+(all|every)\b[^.?!\n]{0,20}\b(rubric|points?|criteria|objectives?)",
    r"\bthe candidate('s)?\s+(has|have|answer|response|covered|deserves|should)\b",
    r"\b(full|maximum|perfect|top)\s+(marks|score|credit|points)\b",
    r"\b(scoring|grading|marking|assessment|evaluation)\s+(system|model|engine|instructions?|note)\b",
]
_COMPILED = [re.compile(p, re.IGNORECASE) for p in _PATTERNS]


def addresses_grader(sentence: str) -> bool:
    """True when a sentence reads as an instruction to whoever grades the answer."""
    return any(p.search(sentence) for p in _COMPILED)


def redact(answer: str) -> str:
    """The answer as a model sees it: sentences addressed to the grader are replaced by a marker."""
    out = answer
    for sentence in split_sentences(answer):
        if addresses_grader(sentence.text):
            out = out.replace(sentence.text, REMOVED)
    return out
