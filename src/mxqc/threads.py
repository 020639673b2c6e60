"""Cores and thread limits for worker processes (one place for the scanner, simulator,
watcher and service)."""

from __future__ import annotations

import os


def limit_threads(n: int) -> None:
    """``n`` threads for OpenCV, BLAS and OpenMP in this process.

    Each library otherwise starts one thread per core in every worker, and on 2 cores two
    workers then ran their stages 1.5× slower than one. Used as a pool initialiser.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(n)  # for libraries loaded from now on
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(n)
    threadpool_limits(n)  # for those already loaded (numpy's BLAS)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a batch system or a
    container sets), the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity
        return os.cpu_count() or 1
