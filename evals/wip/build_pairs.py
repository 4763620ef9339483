"""For every case and point: the window of the answer's two sentences closest to the point (MiniLM), gold label."""
import json
import sys

import numpy as np

sys.path.insert(0, "evals")
from interviewer.config import Settings
from interviewer.evals.cases import load_cases
from interviewer.grader import Grader
from interviewer.grading.claims import denies
from interviewer.grading.guards import addresses_grader
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import clean, split_sentences

g = Grader(Settings(), progress=False)
brain = RubricBrain(point_vectors=g.point_vectors, reader=None)
out = []
for c in load_cases(Settings().cases_dir, g.corpus):
    prompt = c.prompt; answer = clean(c.case.answer, 50_000)
    cands = [s for s in split_sentences(answer) if not addresses_grader(s.text) and not denies(s.text)]
    reading = brain._reading(prompt, answer, cands) if cands else None
    if reading is None: continue
    sv = reading.answer.vectors; sents = [s.text for s in reading.answer.sentences]
    for p in prompt.rubric:
        sims = (sv @ reading.point_vecs[p.id].T).max(axis=1)
        top = sorted(np.argsort(-sims)[:2].tolist())
        out.append({"case": c.case.id, "split": c.split, "prompt": prompt.id, "point": p.id, "text": p.point,
                    "window": " ".join(sents[i] for i in top), "gold": c.case.gold_points[p.id]})
json.dump(out, open("/tmp/work/pairs.json", "w"))
print(len(out))
