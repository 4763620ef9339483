import pickle
import sys

import numpy as np

sys.path.insert(0,"evals")
import fit_reader as fr

rows=pickle.load(open("/tmp/work/rows_nli.pkl","rb"))
def auc(y,s):
    y=np.array(y); s=np.array(s); pos=s[y==1]; neg=s[y==0]
    return float((pos[:,None]>neg[None,:]).mean()+0.5*(pos[:,None]==neg[None,:]).mean())
for split in ("development","held_out"):
    rs=[r for r in rows if r.case.split==split and r.table and "nli_pt" in r.table]
    y=np.concatenate([fr.LEVELS_OF(r) for r in rs])
    for f in ["mini_pt","mini_para","e5_para","tokal_s","cur","terms_all","nli_pt","nli_margin","nli_contra"]:
        x=np.concatenate([r.table[f] for r in rs])
        print(split,f,"made",round(auc(y>=1,x),3),"covered|made",round(auc(y[y>=1]>=2,x[y>=1]),3))
