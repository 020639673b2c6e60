"""The guarded pool: a unit that crashes or hangs its worker costs that unit only."""

import ctypes
import time

import numpy as np
import pytest

from mxqc.guard import Done, Failure, GuardedPool, Limits


def _work(batch, started):
    """Squares, except: "segv" crashes the process, "hang" loops, "big" allocates 8 GB."""
    out = []
    for i, item in enumerate(batch):
        started(i)
        if item == "segv":
            ctypes.string_at(0)
        if item == "hang":
            time.sleep(3600)
        if item == "big":
            np.ones(2**30)
        out.append(item * item)
    started(len(batch))
    return out


def _run(batches, **limits):
    with GuardedPool(2, Limits(startup_s=120, **limits)) as pool:
        events = list(pool.map(_work, batches))
    done = sorted(x for e in events if isinstance(e, Done) for x in e.result)
    failed = {e.unit: e.reason for e in events if isinstance(e, Failure)}
    return done, failed


def test_a_crash_and_a_hang_cost_their_units_only():
    done, failed = _run([[1, 2, "segv", 3], [4, "hang", 5], [6]], seconds=3)
    assert done == [1, 4, 9, 16, 25, 36]
    assert failed == {"segv": "the worker crashed (SIGSEGV)",
                      "hang": "the worker timed out after 3 s and was stopped"}


def test_an_allocation_over_the_memory_limit_fails_its_unit():
    done, failed = _run([[2, "big"]], memory_gb=2)
    assert done == [4]
    assert list(failed) == ["big"] and "memory" in failed["big"]


@pytest.mark.parametrize("bad", ["segv"])
def test_a_pool_survives_many_crashes(bad):
    done, failed = _run([[bad, 1], [bad], [2, bad]], seconds=30)
    assert done == [1, 4] and len(failed) == 1
