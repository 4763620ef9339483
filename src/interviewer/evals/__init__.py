"""`interviewer eval`: a brain's grades measured against gold grades, as typed reports.

cases    the labelled-case schema and loading (evals/cases/<prompt-id>.yaml)
run      grading the cases with a brain, with the follow-up it would ask; the cases report
summary  the figures: agreement with gold (whole set and per split), each kind of answer, model use
labels   the figures of the cases themselves: score bands, the graders' agreement, balance, copied answers
shortcut the length shortcut beside the grader: its baseline, partial correlation, prompt-bootstrap intervals
gate     the thresholds.yaml and copy-rule check behind `interviewer eval --check`
render   Markdown (render_shortcut: the shortcut and balance sections), the PNG and the shared report writer
asag     `interviewer eval asag FILE.jsonl` on human-graded short-answer data sets
metrics  the agreement statistics, in plain numpy
speech   spoken answers full of the field's words: how well each recogniser and hint hears them
"""
