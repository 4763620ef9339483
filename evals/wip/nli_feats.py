"""Add cross-encoder features to the cached evidence rows: nli_pt, nli_margin (point vs each usable sentence)."""
import pickle
import sys
import time

import numpy as np

sys.path.insert(0, "evals")
import onnxruntime as ort
from tokenizers import Tokenizer

from interviewer.config import Settings
from interviewer.grader import Grader
from interviewer.grading.claims import denies
from interviewer.grading.guards import addresses_grader
from interviewer.grading.rubric import RubricBrain
from interviewer.grading.text import clean, split_sentences

model_dir = sys.argv[1]; floor = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
opts = ort.SessionOptions(); opts.intra_op_num_threads = 2
sess = ort.InferenceSession(f"{model_dir}/cross-encoder-int8.onnx", opts, providers=["CPUExecutionProvider"])
tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
tok.enable_truncation(128); tok.enable_padding()
def nli(pairs):
    if not pairs: return np.zeros((0, 3))
    enc = tok.encode_batch(pairs)
    feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
    logits = sess.run(None, feed)[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True)); return e / e.sum(axis=1, keepdims=True)
rows = pickle.load(open("/tmp/work/rows.pkl", "rb"))
g = Grader(Settings(), progress=False)
brain = RubricBrain(point_vectors=g.point_vectors, reader=None)
t = time.time(); npairs = 0
for n, r in enumerate(rows):
    prompt = r.case.prompt
    answer = clean(r.case.case.answer, 50_000)
    cands = [s for s in split_sentences(answer) if not addresses_grader(s.text) and not denies(s.text)]
    reading = brain._reading(prompt, answer, cands) if cands else None
    P = len(prompt.rubric)
    if reading is None or not r.table:
        continue
    sv = reading.answer.vectors; sents = [s.text for s in reading.answer.sentences]
    pairs, where = [], []
    for j, p in enumerate(prompt.rubric):
        sims = (sv @ reading.point_vecs[p.id].T).max(axis=1)
        for i in np.nonzero(sims >= floor)[0]:
            pairs.append((p.point, sents[i])); where.append(j)
    probs = nli(pairs); npairs += len(pairs)
    ent = np.zeros(P); mar = np.full(P, -1.0); con = np.zeros(P)
    for (j, pr) in zip(where, probs):
        ent[j] = max(ent[j], pr[0]); mar[j] = max(mar[j], pr[0] - pr[1]); con[j] = max(con[j], pr[1])
    r.table["nli_pt"] = ent; r.table["nli_margin"] = mar; r.table["nli_contra"] = con
    if n % 100 == 0: print(n, npairs, time.time() - t, flush=True)
pickle.dump(rows, open("/tmp/work/rows_nli.pkl", "wb"))
print("pairs", npairs, "seconds", time.time() - t)
