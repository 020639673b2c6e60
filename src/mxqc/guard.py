"""Work on files that may crash or hang a library, without losing the rest.

A reader deep inside fabio, h5py or a compression filter can loop forever, segfault or
allocate gigabytes on one damaged file. Every file a scan, watch or service opens is
therefore opened in a worker process of a :class:`GuardedPool`: each unit of work runs under
a time limit, each worker under a memory limit, and a worker that dies or overruns is
replaced. The unit it was on comes back as a :class:`Failure` with a reason a person
understands; the other units of its batch are run again.

Tasks are module-level functions ``fn(batch, *, started)`` that call ``started(i)`` before
they work on ``batch[i]`` (and ``started(len(batch))`` for work on the whole batch), so
the pool knows which unit was running when a worker died.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import wait

from mxqc.errors import MxqcError, error_message


@dataclass(frozen=True)
class Limits:
    """Per-unit time and per-worker memory limits (documented in docs/user-guide.md)."""

    seconds: float = 60.0  # one unit (one frame read and analysed, or one file counted)
    memory_gb: float = 6.0  # a worker's private data (RLIMIT_DATA); allocations beyond fail
    startup_s: float = 300.0  # a new worker's imports and model loading


@dataclass(frozen=True)
class Done:
    """A task that ran to its end: ``result`` is what the task function returned."""

    batch: list
    result: object


@dataclass(frozen=True)
class Failure:
    """A unit whose worker crashed or overran (``timed_out``); ``reason`` is for people."""

    unit: object
    reason: str
    timed_out: bool = False


class PoolError(MxqcError):
    """Workers cannot start at all (they die before taking any work)."""


def _limit_memory(gigabytes: float) -> None:
    limit = int(gigabytes * 2**30)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _serve(conn, memory_gb: float, initializer, initargs) -> None:
    """A worker: run tasks until told to stop, saying which unit each is on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    os.dup2(2, 1)  # a library's prints must not mix with the parent's machine output
    _limit_memory(memory_gb)
    if initializer is not None:
        initializer(*initargs)
    conn.send(("ready", None))
    while (task := conn.recv()) is not None:
        fn, batch = task
        try:
            result = fn(batch, started=lambda i: conn.send(("unit", i)))
        except Exception as exc:  # blamed on the unit in hand, like a crash
            conn.send(("raised", error_message(exc)))
            continue
        conn.send(("done", result))
    # Nothing is left to clean up: skip the interpreter's teardown, which with torch loaded
    # took ~1 s at the end of every scan (a forked worker ends the same way).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def crash_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in words."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = ", out of memory?" if name == "SIGKILL" else ""
        return f"the worker crashed ({name}{hint})"
    return f"the worker exited with code {exitcode}"


class _Worker:
    def __init__(self, context, memory_gb, initializer, initargs):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, daemon=True,
                                       args=(child, memory_gb, initializer, initargs))
        self.process.start()
        child.close()
        self.ready = False
        self.task = None  # (fn, batch) in hand
        self.unit = None  # index of the unit being worked on
        self.since = time.monotonic()

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class GuardedPool:
    """``workers`` processes that run tasks under :class:`Limits`.

    Use as a context manager; :meth:`map` yields a :class:`Done` per finished batch and a
    :class:`Failure` per unit that crashed or hung its worker.
    """

    def __init__(self, workers: int = 1, limits: Limits | None = None, *,
                 initializer: Callable | None = None, initargs: tuple = ()):
        self.n = max(int(workers), 1)
        self.limits = limits or Limits()
        self._spec = (initializer, initargs)
        # spawn: a forked torch runtime can deadlock
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def __enter__(self) -> GuardedPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self._workers:
            worker.stop(kill=worker.task is not None)
        self._workers = []

    def _spawn(self) -> _Worker:
        return _Worker(self._context, self.limits.memory_gb, *self._spec)

    def map(self, fn: Callable, batches) -> Iterator[Done | Failure]:
        """Run ``fn(batch, started)`` on each batch; results in order of completion."""
        queue = deque((list(b), False) for b in batches if len(b))
        while len(self._workers) < min(self.n, len(queue)):
            self._workers.append(self._spawn())
        try:
            yield from self._run(fn, queue)
        finally:  # a caller that stops early leaves no worker holding a task
            for worker in [w for w in self._workers if w.task is not None]:
                worker.stop(kill=True)
                self._workers.remove(worker)

    def _run(self, fn: Callable, queue: deque) -> Iterator[Done | Failure]:
        busy = 0
        while queue or busy:
            for worker in self._workers:
                if worker.ready and worker.task is None and queue:
                    batch, single = queue.popleft()
                    worker.task, worker.unit = (batch, single), None
                    worker.since = time.monotonic()
                    worker.conn.send((fn, batch))
                    busy += 1
            ready = wait([w.conn for w in self._workers]
                         + [w.process.sentinel for w in self._workers], timeout=0.5)
            for i, worker in enumerate(self._workers):
                event = self._event(worker, ready)
                if event is None:
                    continue
                kind, value = event
                if kind == "unit":
                    worker.unit, worker.since = value, time.monotonic()
                    continue
                task, unit = worker.task, worker.unit
                worker.task = worker.unit = None
                if kind in ("lost", "overran"):
                    worker.stop(kill=True)
                    self._workers[i] = self._spawn()
                if task is not None:
                    busy -= 1
                    yield from self._finish(task, unit, kind, value, queue)

    def _event(self, worker: _Worker, ready) -> tuple[str, object] | None:
        """The worker's next message, or ("lost"/"overran", reason) when it died or hung."""
        if worker.conn in ready:
            try:
                kind, value = worker.conn.recv()
            except (EOFError, OSError):
                return self._lost(worker, None)
            if kind == "ready":
                worker.ready, worker.since = True, time.monotonic()
                return None
            return kind, value
        if worker.process.sentinel in ready:
            return self._lost(worker, None)
        limit = self.limits.seconds if worker.ready else self.limits.startup_s
        if worker.task is not None and worker.unit is not None \
                and worker.unit >= len(worker.task[0]):
            limit *= len(worker.task[0])  # the model's pass over the whole batch
        if time.monotonic() - worker.since > limit:
            return self._lost(worker, limit)
        return None

    @staticmethod
    def _lost(worker: _Worker, overran_after: float | None) -> tuple[str, str]:
        if not worker.ready:  # nothing was given to it: no unit to blame, no point retrying
            worker.stop(kill=True)
            why = (f"took over {overran_after:.0f} s" if overran_after is not None
                   else crash_reason(worker.process.exitcode))
            raise PoolError(f"a worker process could not start: {why}")
        if overran_after is not None:
            return "overran", f"the worker timed out after {overran_after:.0f} s and was stopped"
        worker.process.join(timeout=5)
        return "lost", crash_reason(worker.process.exitcode)

    @staticmethod
    def _finish(task, unit, kind: str, value, queue) -> Iterator[Done | Failure]:
        batch, single = task
        timed_out = kind == "overran"
        if kind == "done":
            yield Done(batch, value)
        elif unit is not None and unit < len(batch):  # the culprit is known
            yield Failure(batch[unit], value, timed_out)
            rest = batch[:unit] + batch[unit + 1:]
            if rest:
                queue.appendleft((rest, single))
        elif len(batch) == 1 or single:  # alone and still failing
            yield from (Failure(u, value, timed_out) for u in batch)
        else:  # failed on the whole batch: find the culprit one unit at a time
            queue.extendleft(([u], True) for u in reversed(batch))


def call_each(fn: Callable, batch: list, *, started) -> list[tuple]:
    """A task applying ``fn`` to each item: ``(item, value, None)`` or ``(item, None, why)``."""
    out = []
    for i, item in enumerate(batch):
        started(i)
        try:
            out.append((item, fn(item), None))
        except Exception as exc:  # one item's failure is its own answer
            out.append((item, None, error_message(exc)))
    return out


def map_each(pool: GuardedPool, fn: Callable, items, batch_size: int = 64) -> Iterator[tuple]:
    """``fn(item)`` for each item in the pool's workers, as ``(item, value, error)``; a
    crash or overrun is that item's error."""
    items = list(items)
    batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    for event in pool.map(partial(call_each, fn), batches):
        if isinstance(event, Failure):
            yield event.unit, None, event.reason
        else:
            yield from event.result
