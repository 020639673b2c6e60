"""Cores, thread limits and the allocator for worker processes (one place for the scanner,
simulator, watcher and service)."""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
KEEP_BELOW = 1 << 30  # bytes: blocks up to this size are reused, not mapped afresh
TRIM_ABOVE = (1 << 31) - 1  # free bytes at the heap's top before any go back


def prepare_worker(threads: int) -> None:
    """A worker process's set-up (the pools' initialiser): ``threads`` threads per library
    and freed memory kept for reuse."""
    limit_threads(threads)
    keep_freed_memory()


def keep_freed_memory() -> None:
    """Have glibc's allocator reuse freed blocks of any size instead of returning them.

    A frame's stages allocate and free arrays of 4–70 MB. By default glibc maps the larger
    ones afresh each time (all above 32 MB, such as an Eiger 16M frame) and the kernel
    zero-fills every page again on first touch. Measured with and without, alternating:
    the simulator's CPU time per 1024² frame 36–39 → 32–33 ms, an Eiger 16M frame's read
    89–92 → 43–48 ms. The price is that a process keeps its peak memory. Nothing happens
    where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return
    mallopt(M_MMAP_THRESHOLD, KEEP_BELOW)
    mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE)


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
