"""Keep the C allocator from holding on to what a run's sending threads have freed.

glibc gives threads that contend for memory arenas of their own, up to eight per core,
and memory freed in an arena stays with the process until the arena's top is free. A
run sends from up to 52 threads, each decoding answers and encoding ``$batch`` bodies of
tens of KiB that land in whichever arena it holds, so the high-water mark of the process
grew with the number of batches sent, not with what was alive: measured on a 50,000-mailbox
apply, 87 MiB against 74 MiB at 5,000 mailboxes while Python's own objects stayed flat.
Two arenas bring it to 80 MiB, at no measurable cost in time (the sending threads take
turns under the interpreter's lock anyway).

This is the ``MALLOC_ARENA_MAX`` setting glibc documents (mallopt(3), ``M_ARENA_MAX``),
applied from inside the process because a user's shell should not have to know about it.
Elsewhere (macOS, musl, Windows) nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_ARENA_MAX = -8
ARENAS = 2


@functools.cache
def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas for threads created from now on; True when the allocator took it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
