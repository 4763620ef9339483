"""A server's heap that does not grow with its threads, nor with the turns it serves.

glibc gives each thread that allocates its own heap arena (up to 8 per core), and it keeps freed memory in them
for reuse; it also raises its mmap threshold after a large block is freed, so that the next large blocks come
from those arenas too. A web app whose handler threads each run the encoders (megabytes of activations per
answer) so holds hundreds of megabytes it no longer uses. `bound_heap` caps the arenas at two and fixes the
threshold: blocks of 8 MB and more are mapped and given back when freed. The encoders' own memory pools are off
(`embeddings.onnx_session`), so their activations are such blocks.

Smaller blocks stay in the arenas. A turn's activations, token lists and JSON are freed when it ends, but the
long-lived objects made beside them (a cached reading, a stored row) pin the arena around them, and glibc gives
back on its own only the free memory at an arena's top. Under a steady load the free memory inside the arenas
so grows for as long as the server runs: in a 14-minute soak of the cluster, the memory a replica's heap had in
use stayed between 167 and 208 MB while its free memory grew from 66 to 200 MB: most of its growth. `give_back` returns
the free pages inside the arenas to the system (glibc's `malloc_trim`), and `keep_giving_back` does so every
second from a thread of its own, so the memory a server holds is what it uses plus at most about a second's
freed turns. A call walks the arenas' free lists: given back every 5 s in a 12-minute soak, it took a median of
7 ms and at most 89 ms.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 8 << 20
GIVE_BACK_EVERY_S = 1.0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, when it is glibc (the only one with both mallopt and malloc_trim); else None. Looked up
    once: `find_library` runs `ldconfig`."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def bound_heap() -> bool:
    """Bound the process's heap as above; False where the C library is not glibc (nothing changes there)."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, ARENAS)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def give_back() -> bool:
    """Return the heap's free pages to the system; False where the C library is not glibc (nothing changes)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def keep_giving_back(every_s: float = GIVE_BACK_EVERY_S) -> Callable[[], None] | None:
    """`give_back` every `every_s` seconds from a daemon thread, until the returned function is called (it waits
    for the thread to end); None where the C library is not glibc."""
    if _libc() is None:
        return None
    stopped = threading.Event()

    def run() -> None:
        while not stopped.wait(every_s):
            give_back()

    thread = threading.Thread(target=run, name="heap-give-back", daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join()

    return stop
