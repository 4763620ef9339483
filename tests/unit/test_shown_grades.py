"""What a candidate reads after an answer and at the end: a follow-up answer's verdict on the point it asked about
and the question's result so far, the terminal's short and verbose grades, what stays hidden while a question
is still probed, and the overall line of a session ended early. Built from recorded turns, no brain or index."""

from __future__ import annotations

from typing import Any

import pytest

from interviewer.curriculum.corpus import Corpus, Prompt
from interviewer.grading.models import Grade, Verdict
from interviewer.grading.rubric import assess, verdict_for
from interviewer.interview.disclosure import last_shown_grade, shown_grade
from interviewer.interview.grade_text import advice_lines, render_grade, shorten
from interviewer.interview.records import Question, Turn
from interviewer.interview.report import overall_line, to_markdown
from interviewer.interview.results import overall, session_score
from interviewer.interview.transcript import transcript
from interviewer.storage.session_index import SessionRow

PLAN = ["lc-p1", "lc-p2"]
SHORT_REPLY = "We would watch the dashboards."
ROW = SessionRow(
    "a1b2c3d4e5f6", "2026-11-29T20:00:00", "2026-11-29T20:05:00", "day", "57", "Day 57", "rubric", "active", 2, 0, None
)


@pytest.fixture
def prompt(corpus: Corpus) -> Prompt:
    return corpus.prompt("lc-p1").prompt


def _grade(
    prompt: Prompt, verdicts: dict[str, Verdict], evidence: dict[str, str] | None = None, short: bool = False
) -> Grade:
    """A grade with the given verdicts (every other point missed), as a brain would record it."""
    words = evidence or {}
    points = [verdict_for(r, verdicts.get(r.id, "missed"), words.get(r.id)) for r in prompt.rubric]
    return Grade(prompt_id=prompt.id, **assess(points, [], ["too_short"] if short else []))


def _full_but(prompt: Prompt, *open_points: str) -> Grade:
    """A first answer that makes every point but `open_points`, each in the candidate's own words."""
    made = {r.id: "covered" for r in prompt.rubric if r.id not in open_points}
    return _grade(prompt, made, {r: f"My words on {r}." for r in made})  # type: ignore[arg-type]


def _turn(
    prompt: Prompt, grade: Grade | None, point_id: str | None = None, answer: str = "an answer"
) -> dict[str, Any]:
    kind = "question" if point_id is None else "followup"
    text = prompt.text if point_id is None else "A follow-up question?"
    return Turn(
        kind=kind, prompt_id=prompt.id, question=text, point_id=point_id, answer=answer, grade=grade
    ).model_dump()


def _state(turns: list[dict[str, Any]], pending: Question | None, status: str = "active") -> dict[str, Any]:
    return {"plan": PLAN, "position": 0, "status": status, "turns": turns, "pending": pending and pending.model_dump()}


def _next_question(corpus: Corpus) -> Question:
    return Question(kind="question", prompt_id="lc-p2", text=corpus.prompt("lc-p2").prompt.text, number=2, of=2)


def _after_short_follow_up(corpus: Corpus, prompt: Prompt) -> dict[str, Any]:
    """The user's report: a 4/4 answer on the lifecycle, then a short reply to the follow-up about monitoring."""
    first = _full_but(prompt, "lc-p1-operate")
    reply = _grade(prompt, {"lc-p1-operate": "partial"}, short=True)
    assert (first.score, reply.score) == (4, 1)
    turns = [_turn(prompt, first), _turn(prompt, reply, "lc-p1-operate", SHORT_REPLY)]
    return _state(turns, _next_question(corpus))


def test_a_short_follow_up_reply_shows_its_verdict_on_the_probed_point_and_the_questions_result(
    corpus: Corpus, prompt: Prompt
) -> None:
    shown = last_shown_grade(_after_short_follow_up(corpus, prompt))
    assert shown is not None and (shown.kind, shown.score, shown.answers) == ("followup", 4, 2)
    text = render_grade(shown, "text", verbose=False)
    operate = next(r for r in prompt.rubric if r.id == "lc-p1-operate").point
    assert text.splitlines()[0] == f"On the point the follow-up asked about: partly covered - {shorten(operate)}"
    weight = {r.id: r.weight for r in prompt.rubric}
    coverage = 1 - 0.5 * weight["lc-p1-operate"] / sum(weight.values())  # every point covered, one partly
    assert text.splitlines()[1] == f"This question so far: 4/4 over 2 answers (coverage {coverage:.0%}, brain rubric)"
    assert "1/4" not in text and "Score:" not in text
    for point in prompt.rubric:  # each point made in one short line, the one missing counted
        if point.id != "lc-p1-operate":
            assert f"  + {shorten(point.point)}" in text.splitlines()
    assert text.splitlines()[-1] == "  1 point only partly made - --verbose to see it"


def test_to_study_after_a_follow_up_lists_only_what_is_still_missing_and_strong_is_not_repeated(
    corpus: Corpus, prompt: Prompt
) -> None:
    shown = last_shown_grade(_after_short_follow_up(corpus, prompt))
    assert shown is not None
    operate = next(r for r in prompt.rubric if r.id == "lc-p1-operate").point
    advice = advice_lines(shown)
    assert advice == [f"To study: {operate.rstrip('.')}."]
    verbose = render_grade(shown, "text")
    assert f"  ~ [partial] {operate}" in verbose.splitlines() and verbose.count("[covered]") == len(prompt.rubric) - 1
    assert "Strong:" not in "\n".join([verbose, *advice])


def test_a_covered_probed_point_is_shown_with_the_candidates_own_words_escaped_in_markdown(
    corpus: Corpus, prompt: Prompt
) -> None:
    said = "We compare <b>live</b> *drift* weekly and gate retrains on the champion."
    first = _full_but(prompt, "lc-p1-operate")
    reply = _grade(prompt, {"lc-p1-operate": "covered"}, {"lc-p1-operate": said})
    state = _state([_turn(prompt, first), _turn(prompt, reply, "lc-p1-operate", said)], _next_question(corpus))
    shown = last_shown_grade(state)
    assert shown is not None and shown.probed is not None and shown.probed.verdict == "covered"
    text = render_grade(shown, "text", verbose=False)
    assert text.startswith("On the point the follow-up asked about: covered - ")
    assert f'evidence: "{shorten(said)}"' in text and "This question so far: 4/4" in text
    assert "still missing" not in text
    markdown = render_grade(shown, "markdown")
    assert markdown.startswith("### Last answer, to the follow-up: the point it asked about is covered")
    assert "&lt;b&gt;live&lt;/b&gt; \\*drift\\*" in markdown and "<b>" not in markdown
    assert "**This question so far: 4/4** over 2 answers" in markdown


def test_while_still_probed_only_points_made_or_asked_about_are_named(corpus: Corpus, prompt: Prompt) -> None:
    first = _full_but(prompt, "lc-p1-operate", "lc-p1-deploy")
    reply = _grade(prompt, {"lc-p1-operate": "partial"})
    pending = Question(kind="followup", prompt_id="lc-p1", text="Why might it differ live?", point_id="lc-p1-deploy")
    state = _state([_turn(prompt, first), _turn(prompt, reply, "lc-p1-operate")], pending)
    shown = last_shown_grade(state)
    deploy = next(r for r in prompt.rubric if r.id == "lc-p1-deploy").point
    assert shown is not None and shown.withheld == 1 and deploy not in shown.model_dump_json()
    assert {p.point_id: p.verdict for p in shown.points}["lc-p1-operate"] == "partial"  # asked about: named
    text = render_grade(shown, "text", verbose=False)
    assert "On the point the follow-up asked about: partly covered" in text
    assert "1 point only partly made - --verbose to see it" in text
    assert "1 more key point(s) not made yet: named when this question is done" in text
    markdown = to_markdown(transcript(corpus, ROW, state))
    assert deploy not in markdown and prompt.reference_answer not in markdown
    assert f"This question so far: **{shown.score}/4** over 2 answers" in markdown


def test_the_transcript_shows_a_follow_up_answer_as_what_it_changed(corpus: Corpus, prompt: Prompt) -> None:
    state = _after_short_follow_up(corpus, prompt)
    data = transcript(corpus, ROW, state)
    follow = data.prompts[0].turns[1]
    assert follow.probed is not None and follow.probed.point_id == "lc-p1-operate"
    assert follow.so_far is not None and (follow.so_far.score, follow.so_far.answers) == (4, 2)
    operate = next(r for r in prompt.rubric if r.id == "lc-p1-operate").point
    assert data.prompts[0].study == [operate]  # not the whole rubric
    markdown = to_markdown(data)
    assert markdown.count("Grade for this answer:") == 1  # the first answer; the follow-up reply is not 1/4 alone
    weight = {r.id: r.weight for r in prompt.rubric}
    coverage = 1 - 0.5 * weight["lc-p1-operate"] / sum(weight.values())
    assert f"This question so far: **4/4** over 2 answers (coverage {coverage:.0%})" in markdown
    assert "**1/4**" not in markdown


def test_sessions_saved_before_these_fields_still_load(corpus: Corpus, prompt: Prompt) -> None:
    state = _after_short_follow_up(corpus, prompt)
    for turn in state["turns"]:  # as an older version stored them: no optional field
        for key in ("at", "related", "followup_usage", "followup_fallback"):
            del turn[key]
    shown = last_shown_grade(state)
    assert shown is not None and shown.score == 4 and transcript(corpus, ROW, state).prompts[0].turns[1].so_far
    assert not {"probed", "so_far"} & set(Turn.model_validate(state["turns"][1]).model_dump())  # never stored


def test_a_first_answer_is_its_own_grade_short_by_default(corpus: Corpus, prompt: Prompt) -> None:
    grade = _full_but(prompt, "lc-p1-operate", "lc-p1-deploy")
    text = render_grade(shown_grade(grade, False), "text", verbose=False)
    assert text.splitlines()[0] == f"Score: {grade.score}/4 (coverage {grade.coverage:.0%}, brain rubric)"
    assert text.splitlines()[-1] == "  2 points still missing - --verbose to see them"
    assert all(len(line) <= 4 + 70 for line in text.splitlines()[1:])
    assert render_grade(shown_grade(grade, False), "markdown").startswith(f"### Last answer: {grade.score}/4")


def _finished(corpus: Corpus, prompt: Prompt, second: str | None) -> dict[str, Any]:
    """Question 1 answered in full; question 2 skipped (`second="skip"`) or never reached (the session ended)."""
    turns = [_turn(prompt, _full_but(prompt))]
    if second == "skip":
        turns.append(_turn(corpus.prompt("lc-p2").prompt, None, answer=None))  # type: ignore[arg-type]
    return _state(turns, None, status="finished")


def test_ending_early_scores_the_questions_asked_and_counts_the_unanswered(corpus: Corpus, prompt: Prompt) -> None:
    state = _finished(corpus, prompt, None)
    summary = overall(state)
    assert (summary.asked, summary.planned, summary.unanswered, summary.score) == (1, 2, 1, 4.0)
    assert overall_line(summary) == "Overall 4.00/4 over 1 of 2 questions asked; 1 unanswered"
    data = transcript(corpus, ROW, state)
    assert data.overall == summary and "**Overall 4.00/4 over 1 of 2 questions asked; 1 unanswered.**" in to_markdown(
        data
    )


def test_a_skipped_question_is_asked_and_scores_zero_everywhere(corpus: Corpus, prompt: Prompt) -> None:
    state = _finished(corpus, prompt, "skip")
    summary = overall(state)
    assert (summary.asked, summary.skipped, summary.unanswered, summary.score) == (2, 1, 0, session_score(state))
    assert overall_line(summary) == "Overall 2.00/4 over 2 of 2 questions asked (1 skipped, scored 0)"
    assert "**Result:** skipped (0/4)." in to_markdown(transcript(corpus, ROW, state))


def test_the_overall_line_while_active_and_before_any_answer(corpus: Corpus, prompt: Prompt) -> None:
    active = _state([_turn(prompt, _full_but(prompt))], _next_question(corpus))
    assert overall_line(overall(active)) == "Overall so far 4.00/4 over 1 of 2 questions asked"
    assert overall_line(overall(_state([], None, status="finished"))) == "No question answered; 2 unanswered"
