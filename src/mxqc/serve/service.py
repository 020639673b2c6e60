"""The service's state, typed: settings, inference workers, metrics, where uploads go and
the watch database. One ``Service`` per application, made at start-up (``app.lifespan``)."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from mxqc.guard import Done, Failure, GuardedPool, Limits
from mxqc.scan.analyse import ScanOptions, model_for

DEFAULT_MAX_UPLOAD = 128 * 1024 * 1024  # an Eiger 16M frame as 32-bit integers is 72 MB


@dataclass(frozen=True)
class ServeSettings:
    model_path: str | None = None
    db_url: str | None = None  # the watch database; None: no /v1/frames data
    api_key: str | None = None  # required as X-API-Key on /v1 when set
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    timeout_s: float = 120.0
    workers: int = 1
    data_dir: str | None = None  # uploaded frames' images; default: a temporary folder


class Inference:
    """``n`` guarded inference workers (:mod:`mxqc.guard`); a request borrows one, so a
    frame that crashes or hangs its reader costs that request only."""

    def __init__(self, n: int, timeout_s: float):
        self._free: queue.Queue[GuardedPool] = queue.Queue()
        for _ in range(max(n, 1)):
            self._free.put(GuardedPool(1, Limits(seconds=timeout_s)))

    def run(self, fn, unit) -> Done | Failure:
        """``fn([unit])`` in a free worker (blocking: call it in a thread)."""
        pool = self._free.get()
        try:
            return next(iter(pool.map(fn, [[unit]])))
        finally:
            self._free.put(pool)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get().close()


def warm(batch, *, started, options: ScanOptions) -> str:
    """Load the model in an inference worker before the first request needs it."""
    started(0)
    return model_for(options).name


class Metrics:
    """Prometheus counters and a latency histogram in the app's own registry."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.frames = Counter("mxqc_frames_classified", "Frames classified", registry=self.registry)
        self.errors = Counter("mxqc_request_errors", "Requests answered with an error",
                              ["status"], registry=self.registry)
        self.latency = Histogram("mxqc_classify_seconds", "Upload to answer",
                                 buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
                                 registry=self.registry)


@dataclass
class Service:
    """Everything a request may use; ``pool``, ``options``, ``data_dir`` and ``model`` are
    set at start-up."""

    settings: ServeSettings
    metrics: Metrics = field(default_factory=Metrics)
    pool: Inference | None = None
    options: ScanOptions | None = None  # the scan options of one uploaded frame
    data_dir: Path | None = None
    engine: Engine | None = None  # the watch database, where one is given
    model: dict = field(default_factory=dict)  # name, version, representation, thresholds
