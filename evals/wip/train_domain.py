"""In-domain cross-encoder: (point, two-sentence window) -> made (covered) vs not (missed); partial left out.
Trains on development prompts outside fold k of K (k=-1: all development), scores every pair, writes scores."""
import json
import random
import sys
import time

import torch

sys.path.insert(0, "/work/main/evals")
from train_cross_encoder import minilm_folder
from transformers import AutoModelForSequenceClassification, AutoTokenizer

k, K, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.manual_seed(7); random.seed(7); torch.set_num_threads(2)
pairs = json.load(open("/tmp/work/pairs.json"))
dev_prompts = sorted({p["prompt"] for p in pairs if p["split"] == "development"})
fold = {pr: i % K for i, pr in enumerate(dev_prompts)}
train = [p for p in pairs if p["split"] == "development" and p["gold"] != "partial" and (k < 0 or fold[p["prompt"]] != k)]
print(len(train), "train pairs", flush=True)
tok = AutoTokenizer.from_pretrained(minilm_folder())
model = AutoModelForSequenceClassification.from_pretrained(minilm_folder(), num_labels=2)
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
epochs, batch = 3, 32
steps = epochs * ((len(train) + batch - 1) // batch); warm = max(1, steps // 10)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (1 - s / steps))
model.train(); t = time.time(); n = 0
for e in range(epochs):
    random.shuffle(train)
    for i in range(0, len(train), batch):
        ch = train[i:i + batch]
        enc = tok([p["text"] for p in ch], [p["window"] for p in ch], truncation=True, max_length=160, padding=True, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor([1 if p["gold"] == "covered" else 0 for p in ch])).loss
        loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); opt.zero_grad(); n += 1
        if n % 25 == 0: print(f"step {n}/{steps} loss {loss.item():.3f} {time.time()-t:.0f}s", flush=True)
model.eval()
target = [p for p in pairs if (p["split"] == "held_out") if k < 0] + [p for p in pairs if p["split"] == "development" and (k < 0 or fold[p["prompt"]] == k)]
scores = {}
with torch.no_grad():
    for i in range(0, len(target), 64):
        ch = target[i:i + 64]
        enc = tok([p["text"] for p in ch], [p["window"] for p in ch], truncation=True, max_length=160, padding=True, return_tensors="pt")
        pr = torch.softmax(model(**enc).logits, dim=1)[:, 1].tolist()
        for p, s in zip(ch, pr): scores[f'{p["case"]}|{p["point"]}'] = s
json.dump(scores, open(out, "w")); print("scored", len(scores), time.time() - t)
