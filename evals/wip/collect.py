import sys
import time

sys.path.insert(0, "evals")
from pathlib import Path

import fit_reader as fr

from interviewer.config import Settings
from interviewer.evals.cases import load_cases
from interviewer.grader import Grader

t=time.time()
g=Grader(Settings(), progress=False)
cases=load_cases(Settings().cases_dir, g.corpus)
rows=fr.collect(g, cases, Path("/tmp/work/rows.pkl"))
print(len(rows), time.time()-t)
