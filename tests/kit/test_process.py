"""Process-level tuning shared by the long-running servers."""

import gc
import resource

from hashwatch.process import (
    GC_THRESHOLDS,
    keep_large_buffers_returnable,
    raise_open_file_limit,
    release_free_memory,
    tune_garbage_collector,
)


def test_open_file_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard > 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        raised = raise_open_file_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raised >= min(hard, 65536) if hard == resource.RLIM_INFINITY else raised == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_gc_tuning_raises_thresholds_and_freezes_startup_objects():
    before = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_allocator_tuning_is_harmless():
    # glibc here: the call is accepted; elsewhere it is a no-op returning False.
    assert keep_large_buffers_returnable() in (True, False)
    release_free_memory()
    big = bytearray(64 * 1024 * 1024)
    del big
    release_free_memory()
