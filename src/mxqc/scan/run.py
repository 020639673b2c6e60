"""Running a scan: plan (file, frame) units, analyse them in batches on guarded local worker
processes or a Dask cluster, record each batch in the journal as it finishes, and write the
tables at the end (also after an interruption)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from mxqc.classes import CLASSES
from mxqc.guard import Failure, GuardedPool, Limits, call_each, map_each
from mxqc.io import count_frames
from mxqc.paths import expand_paths
from mxqc.result import FrameResult, error_result
from mxqc.scan.batch import analyse_batch
from mxqc.scan.centres import refine_centres
from mxqc.scan.options import ScanOptions
from mxqc.scan.results import Journal, write_tables
from mxqc.threads import prepare_worker

IMAGES_DIR = "images"
SMALL_SCAN = 300  # frames: every one gets a thumbnail (the report embeds up to 300)


@dataclass(frozen=True)
class ScanSummary:
    frames: int  # frames with a result row (ok or error) after this run
    analysed: int  # frames analysed by this run (those analysed again counted twice)
    recentred: int  # frames analysed again with their sweep's centre
    skipped: int  # frames found done in the journal (--resume)
    failures: int  # error rows
    per_class: dict
    seconds: float
    tables: dict


def plan_units(paths, *, frames: slice | None = None, every: int = 1,
               exclude: str | None = None, pool: GuardedPool | None = None
               ) -> tuple[list[tuple[str, int]], list[FrameResult]]:
    """(file, frame) units to analyse, and error results for files whose frames cannot be
    counted or that hold none. ``frames`` selects from each multi-frame file, ``every``
    keeps one in N. Files are opened only in ``pool``'s guarded workers."""
    skip = os.path.abspath(exclude) + os.sep if exclude else None
    files = [p for p in expand_paths(paths)
             if not (skip and os.path.abspath(p).startswith(skip))]
    if pool is None:
        with GuardedPool(1) as own:
            return plan_units(files, frames=frames, every=every, pool=own)
    return units_of(files, map_each(pool, count_frames, files), frames=frames, every=every)


def units_of(files, counts, *, frames: slice | None = None, every: int = 1
             ) -> tuple[list[tuple[str, int]], list[FrameResult]]:
    """(file, frame) units and error results from ``counts``, the (file, frames, error) of
    each of ``files`` (``guard.map_each`` or ``guard.call_each`` of ``count_frames``)."""
    counts = {path: (n, error) for path, n, error in counts}
    units, errors = [], []
    for path in files:
        n, error = counts[path]
        if error is not None:
            errors.append(error_result(path, -1, error))
        elif n == 0:
            errors.append(error_result(path, -1, "holds no frames"))
        else:
            indices = range(n)[frames] if frames is not None else range(n)
            units += [(path, i) for i in indices[::max(every, 1)]]
    return units, errors


def classify(paths, *, model: str | None = None, centre_method: str = "auto",
             witnesses: bool = True) -> list[FrameResult]:
    """Classify every frame of ``paths`` (files, directories or globs) in this process: one
    ``FrameResult`` per frame, with the columns of ``results.csv`` (probabilities, labels,
    evidence, spots, centre, rings); a file or frame that cannot be read is a result with
    ``status`` "error" and the reason. ``model``: a model file (None: the default model). Frames are
    counted as a scan counts them (``units_of``); for many files, ``scan`` does the same
    in guarded worker processes and writes the tables."""
    options = ScanOptions(model_path=model, centre_method=centre_method, witnesses=witnesses,
                          heatmaps=False)
    if isinstance(paths, str | os.PathLike):  # one path, not a sequence of characters
        paths = [paths]
    files = expand_paths(paths)
    units, rows = units_of(files, call_each(count_frames, files, started=lambda i: None))
    return rows + (analyse_batch(units, options=options) if units else [])


def _batches(units, size):
    return [units[i:i + size] for i in range(0, len(units), size)]


def analyse_guarded(pool: GuardedPool, batches, options: ScanOptions, centres=None):
    """Yield each batch's rows as it finishes; a unit that crashed or hung its worker
    becomes an error row saying so. ``centres``: as for ``analyse_units``."""
    for event in pool.map(partial(analyse_batch, options=options, centres=centres), batches):
        if isinstance(event, Failure):
            path, index = event.unit
            yield [error_result(path, index,
                                f"{event.reason} while reading or analysing this frame")]
        else:
            yield event.result


def centre_sweeps(pool: GuardedPool, journal: Journal, options: ScanOptions,
                  batch_size: int = 16) -> Iterator[int]:
    """Give each sweep that needs it its centre from the sweep's sum (``mxqc.scan.centres``)
    and analyse again the frames it moves; yields the count of frames to analyse again, then
    each batch's size as it is recorded. A frame whose second analysis fails keeps its first."""
    if not (options.sweep_centre and options.centre_method == "auto"):
        return
    updated, again = refine_centres(pool, journal.rows(), options.centre_method)
    if updated:
        journal.append(updated)
    yield len(again)
    for rows in analyse_guarded(pool, _batches(sorted(again), batch_size), options, again):
        journal.append([r for r in rows if r.ok])
        yield len(rows)


def _dask(batches, options, address: str):
    """Yield batch rows from a Dask cluster: ``local[N]`` starts N local worker processes."""
    from dask.distributed import Client, LocalCluster, as_completed

    if address.startswith("local"):
        n = int(address[6:-1]) if address.startswith("local[") else os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(address)
    try:
        futures = client.map(analyse_batch, batches, options=options, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def scan(paths, out_dir, *, options: ScanOptions | None = None, frames: slice | None = None,
         every: int = 1, workers: int = 1, dask: str | None = None, resume: bool = False,
         batch_size: int = 16, limits: Limits | None = None,
         progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Scan ``paths`` into ``out_dir``; ``progress(done, total)`` after each batch.

    Files are opened only in guarded worker processes (:mod:`mxqc.guard`): a file that
    crashes or hangs a reader, or overruns ``limits``, costs its own row only."""
    started = time.perf_counter()
    out = Path(out_dir)
    journal = Journal(out)
    if not resume:
        journal.reset()
    options = replace(options or ScanOptions(), images_dir=str(out / IMAGES_DIR))
    pool = GuardedPool(workers, limits, initializer=prepare_worker, initargs=(options.threads,))
    with pool:
        units, file_errors = plan_units(paths, frames=frames, every=every, exclude=str(out),
                                        pool=pool)
        done = journal.done()
        todo = [u for u in units if u not in done]
        new_errors = [e for e in file_errors if e.key not in done]
        if new_errors:
            journal.append(new_errors)
        if len(units) <= SMALL_SCAN:  # a thumbnail for every frame of a small scan
            options = replace(options, sample_every=1)
        batches = _batches(todo, batch_size)
        rows_source = (_dask(batches, options, dask) if dask
                       else analyse_guarded(pool, batches, options))
        finished = recentred = 0
        if progress:
            progress(0, len(todo))
        try:
            for rows in rows_source:
                journal.append(rows)
                finished += len(rows)
                if progress:
                    progress(finished, len(todo))
            again = centre_sweeps(pool, journal, options, batch_size)
            recentred = next(again, 0)
            for count in again:
                finished += count
                if progress:
                    progress(finished, len(todo) + recentred)
        finally:
            rows = journal.rows()
            tables = write_tables(out, rows, metadata=_metadata(rows, options)) if rows else {}
    ok = [r for r in rows if r.ok]
    per_class = {c: sum(r[c] or 0 for r in ok) for c in CLASSES}
    return ScanSummary(frames=len(rows), analysed=finished, recentred=recentred,
                       skipped=len(units) - len(todo), failures=len(rows) - len(ok),
                       per_class=per_class, seconds=time.perf_counter() - started, tables=tables)


def _metadata(rows, options: ScanOptions) -> dict:
    models = Counter((r.model, r.model_version) for r in rows if r.model)
    (name, version), _ = models.most_common(1)[0] if models else ((None, None), 0)
    from mxqc import __version__
    from mxqc.learn.bundle import read_card
    from mxqc.learn.card import verdict_thresholds

    # the thresholds the verdicts used, so the report can show how near each frame came
    thresholds = verdict_thresholds(read_card(options.model_path), options.witnesses,
                                    options.tta)
    return {"model": name, "model_version": version, "mxqc_version": __version__,
            "tta": options.tta, "heatmaps": options.heatmaps,
            "heatmap_every": options.heatmap_every,
            "thresholds": dict(zip(CLASSES, map(float, thresholds), strict=True))}
