import json
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

d=sys.argv[1]
opts=ort.SessionOptions(); opts.intra_op_num_threads=2
sess=ort.InferenceSession(f"{d}/cross-encoder-int8.onnx",opts,providers=["CPUExecutionProvider"])
tok=Tokenizer.from_file(f"{d}/tokenizer.json"); tok.enable_truncation(128); tok.enable_padding()
def nli(pairs):
    out=[]
    for i in range(0,len(pairs),64):
        enc=tok.encode_batch(pairs[i:i+64])
        feed={"input_ids":np.array([e.ids for e in enc]),"attention_mask":np.array([e.attention_mask for e in enc]),"token_type_ids":np.array([e.type_ids for e in enc])}
        l=sess.run(None,feed)[0]; e=np.exp(l-l.max(1,keepdims=True)); out.append(e/e.sum(1,keepdims=True))
    return np.vstack(out)
def auc(y,s):
    y=np.array(y); s=np.array(s); pos=s[y==1]; neg=s[y==0]
    return float((pos[:,None]>neg[None,:]).mean()+0.5*(pos[:,None]==neg[None,:]).mean())
for name in ("beetle","scientsbank"):
    rows=[json.loads(l) for l in open(f"/work/shared/data/asag/{name}.jsonl")]
    for split in sorted({r["split"] for r in rows}-{"train"}):
        rs=[r for r in rows if r["split"]==split]
        p=nli([(r["reference_answer"],r["answer"]) for r in rs])
        y=[1 if r["label_2way"]=="correct" else 0 for r in rs]
        acc=float(np.mean((p[:,0]>0.5)==np.array(y)))
        print(name,split,len(rs),"acc2way",round(acc,3),"auc",round(auc(y,p[:,0]),3))
