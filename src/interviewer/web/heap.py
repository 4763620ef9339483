"""A server's heap that does not grow with its threads.

glibc gives each thread that allocates its own heap arena (up to 8 per core), and it keeps freed memory in them
for reuse; it also raises its mmap threshold after a large block is freed, so that the next large blocks come
from those arenas too. A web app whose handler threads each run the encoders (megabytes of activations per
answer) so holds hundreds of megabytes it no longer uses. `bound_heap` caps the arenas at two and fixes the
threshold: blocks of 8 MB and more are mapped and given back when freed. The encoders' own memory pools are off
(`embeddings.onnx_session`), so their activations are such blocks.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 8 << 20


def bound_heap() -> bool:
    """Bound the process's heap as above; False where the C library is not glibc (nothing changes there)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, ARENAS)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
