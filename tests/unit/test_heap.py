"""The web app's heap gives back what its turns freed: the machines it is built and served on run glibc.

Each check runs in a Python process of its own, so that what it allocates and frees is the only thing in its
heap that moves. The process fills 100 MB with blocks of 1,000 bytes (each from malloc, not Python's own
allocator), then frees all but one in fifty: the few left pin the heap around the free memory, as a turn's cached
readings and stored rows do, and glibc keeps it all.
"""

from __future__ import annotations

import json
import subprocess
import sys

FRAGMENTED_HEAP = """
import json, sys, time
from interviewer.web.heap import bound_heap, give_back, keep_giving_back

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

assert bound_heap()
blocks = [bytes(1000) for _ in range(100_000)]
kept = blocks[::50]
del blocks
held = rss_mb()
if sys.argv[1] == "once":
    assert give_back()
else:
    stop = keep_giving_back(0.1)
    time.sleep(1.0)
    stop()
print(json.dumps({"held": held, "after": rss_mb(), "kept": len(kept)}))
"""


def _heap(mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP, mode], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def test_freed_memory_pinned_inside_the_heap_is_given_back() -> None:
    figures = _heap("once")
    assert figures["held"] > 100, figures  # glibc alone keeps the freed 98 MB
    assert figures["held"] - figures["after"] > 60, figures


def test_the_server_gives_freed_memory_back_every_few_seconds_until_stopped() -> None:
    figures = _heap("keep")
    assert figures["held"] - figures["after"] > 60, figures
