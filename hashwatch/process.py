"""Process-level settings for long-running hashwatch servers."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

# mallopt parameter number in glibc's malloc.h.
_M_MMAP_THRESHOLD = -3


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard limit; returns the new soft limit.

    A fleet scrape (or a simulated fleet) holds one socket per connection in
    flight, and many systems still start processes with a soft limit of 1,024
    (Go raises it the same way).
    """
    try:
        import resource
    except ImportError:  # not on every platform
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, 65536) if hard == resource.RLIM_INFINITY else hard
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # not allowed: run with what we have
            pass
    return soft


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    # musl (Alpine) and other C libraries have neither call: nothing to tune there.
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_large_buffers_returnable(threshold: int = 256 * 1024) -> bool:
    """Make glibc give large buffers straight back to the OS when freed.

    A fleet scrape moves tens of megabytes of text in large buffers. glibc
    raises its mmap threshold after the first such buffer is freed and then
    serves the next ones from a heap it rarely shrinks, so resident memory
    stays at the peak of the largest scrape. A fixed threshold keeps them mmapped.
    """
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, threshold))


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc malloc_trim); a no-op elsewhere."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


# Collect the youngest generation after this many net allocations (CPython's
# default is 700), and the older ones after 50 and 100 younger collections.
GC_THRESHOLDS = (100_000, 50, 100)


def tune_garbage_collector() -> None:
    """Fewer, larger cyclic-GC passes, and none over what was loaded at startup.

    A fleet scrape allocates millions of short-lived objects (decoded replies,
    miner models, text lines) that reference counting frees on its own. With
    CPython's default thresholds the cyclic collector ran 500 times in a
    5,000-miner scrape, re-walking every live object, and took a fifth of the
    CPU; with these it runs a few times. Cycles are still collected, later.
    """
    gc.collect()
    gc.freeze()  # modules, classes and config: never garbage, never walked again
    gc.set_threshold(*GC_THRESHOLDS)
