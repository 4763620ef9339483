import json
import pickle
import sys

import numpy as np

sys.path.insert(0, "evals")
rows = pickle.load(open("/tmp/work/rows_nli.pkl", "rb"))
scores = {}
for k in ("0", "1"):
    scores.update(json.load(open(f"/tmp/work/dom_{k}.json")))
full = json.load(open("/tmp/work/dom_-1.json"))
for key, v in full.items():
    if key not in scores: scores[key] = v  # held-out from the model trained on all development
miss = 0
for r in rows:
    if not r.table: continue
    vals = []
    for p in r.case.prompt.rubric:
        key = f"{r.case.case.id}|{p.id}"
        if key not in scores: miss += 1
        vals.append(scores.get(key, 0.0))
    r.table["nli_pt"] = np.array(vals)
    r.table["nli_margin"] = np.array(vals)
print("missing", miss)
pickle.dump(rows, open("/tmp/work/rows_dom.pkl", "wb"))
