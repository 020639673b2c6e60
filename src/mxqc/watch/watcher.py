"""Following directories as a detector writes into them.

Discovery: watchdog events wake the loop early, and a periodic rescan finds whatever the
events missed (network file systems often send none). A file is taken once it is complete:
its size and modification time unchanged for ``settle_s``, and it is readable (a CBF has
its end marker; an HDF5 master opens and counts its frames). Backlog goes oldest first.
A file that fails is recorded as an error row and retried only if it changes, at most
``max_attempts`` times.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from mxqc.guard import GuardedPool, map_each
from mxqc.io import count_frames, read_frame
from mxqc.paths import expand_paths
from mxqc.result import FrameResult, error_result
from mxqc.scan.options import ScanOptions
from mxqc.scan.run import analyse_guarded
from mxqc.scan.sweeps import group_sweeps
from mxqc.threads import prepare_worker
from mxqc.watch import db

log = logging.getLogger("mxqc.watch")
SWEEP_ALERT_FRAMES = 3  # a sweep shorter than this cannot read a frame with its neighbours
CBF_END = b"--CIF-BINARY-FORMAT-SECTION----"


@dataclass(frozen=True)
class WatchOptions:
    settle_s: float = 1.0  # size and mtime unchanged this long → the writer is done
    give_up_factor: float = 20.0  # unchanged for this × settle_s: read it even if it looks
    #                               unfinished (a truncated file then gets its error row)
    rescan_s: float = 5.0  # periodic rescan even without events
    max_attempts: int = 3
    batch_size: int = 16
    alert_window: int = 100
    alert_rates: tuple[tuple[str, float], ...] = (("ice_ring", 0.4), ("artifact", 0.5),
                                                  ("non_uniform_detector", 0.5))
    # classes raised once per sweep when the sweep shows them (``mxqc.scan.sweeps``: frames
    # read with their neighbours), judged on the dataset's last ``alert_window`` frames
    sweep_alerts: tuple[str, ...] = ("ice_ring", "non_uniform_detector")


def last_frame_reads(path: str) -> bool:
    """An HDF5 master is complete when its last frame (in whichever data file holds it)
    reads; run in a guarded worker, as any reading is."""
    n = count_frames(path)
    read_frame(path, n - 1)
    return n > 0


def _complete(path: str, pool: GuardedPool) -> bool:
    """True when a file looks finished by its own structure (not only by its size): a CBF
    has its end marker; an HDF5 master opens and its last frame reads."""
    name = path.lower()
    if name.endswith(".cbf"):
        with open(path, "rb") as f:
            f.seek(max(os.path.getsize(path) - 4096, 0))
            return CBF_END in f.read()
    if name.endswith((".h5", ".nxs", ".hdf5")):
        [(_, finished, _)] = map_each(pool, last_frame_reads, [path])
        return bool(finished)
    return True


class Watcher:
    """Process every complete frame in ``dirs`` exactly once into the database."""

    def __init__(self, dirs, engine, *, scan_options: ScanOptions | None = None,
                 options: WatchOptions | None = None, workers: int = 1):
        self.dirs = [os.path.abspath(d) for d in dirs]
        self.engine = engine
        self.scan_options = scan_options or ScanOptions(heatmaps=False)
        self.options = options or WatchOptions()
        self._seen: dict[str, tuple[int, float, float]] = {}  # path → size, mtime, since
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.processed = 0
        self.errors = 0
        self.waiting = 0  # files seen but not yet complete
        # every file is opened in a guarded worker; each worker's libraries on one thread
        self.workers = max(workers, 1)
        self.pool = GuardedPool(self.workers, initializer=prepare_worker, initargs=(1,))

    # --- discovery ---------------------------------------------------------------
    def _candidates(self) -> list[str]:
        return [p for p in expand_paths(self.dirs) if os.path.isfile(p)]

    def _unchanged_for(self, path: str, now: float) -> float:
        """Seconds since ``path`` last changed size or mtime (0 when it just did)."""
        try:
            st = os.stat(path)
        except OSError:
            return 0.0
        key = (st.st_size, st.st_mtime)
        size, mtime, since = self._seen.get(path, (-1, -1.0, now))
        if (size, mtime) != key:
            self._seen[path] = (*key, now)
            return 0.0
        return now - since if st.st_size > 0 else 0.0

    def pending(self) -> list[str]:
        """Complete files not yet done (or changed since they failed), oldest first."""
        now = time.time()
        with self.engine.connect() as conn:
            known = {r.path: r for r in conn.execute(select(db.files))}
        ready, self.waiting = [], 0
        for path in self._candidates():
            row = known.get(path)
            if row is not None and row.status == "done":
                continue
            quiet = self._unchanged_for(path, now)
            if quiet < self.options.settle_s:
                self.waiting += 1
                continue
            try:
                st = os.stat(path)
            except OSError:  # deleted since it was listed
                continue
            if row is not None and row.status == "error" and (
                    row.attempts >= self.options.max_attempts
                    or (row.size, row.mtime) == (st.st_size, st.st_mtime)):
                continue  # never retry forever; retry a changed file a few times
            try:
                finished = _complete(path, self.pool)
            except OSError:
                finished = False
            if not finished and quiet < self.options.give_up_factor * self.options.settle_s:
                self.waiting += 1
                continue
            ready.append((st.st_mtime, path))
        return [p for _, p in sorted(ready)]

    # --- processing --------------------------------------------------------------
    def process_files(self, paths: list[str]) -> int:
        """Classify every frame of ``paths`` in shared batches; record each file with its
        frames, atomically, as soon as all its frames are in. The number of rows."""
        stats = {}
        for path in paths:
            try:
                stats[path] = os.stat(path)
            except OSError:  # deleted since it was found: nothing to record
                log.warning("%s: vanished before it was read", path)
        counts = {path: (n, error or (None if n else "holds no frames"))
                  for path, n, error in map_each(self.pool, count_frames, list(stats))}
        for path, (_, error) in counts.items():
            if error is not None:
                self._record(path, stats[path], [error_result(path, -1, error)], error)
        expected = {path: n for path, (n, error) in counts.items() if error is None}
        units = [(path, i) for path, n in expected.items() for i in range(n)]
        # as many batches as workers when few frames are ready, so that all of them work
        size = max(1, min(self.options.batch_size, -(-len(units) // self.workers)))
        options = replace(self.scan_options, images_dir=None)
        found: dict[str, list[FrameResult]] = {}
        for rows in analyse_guarded(self.pool, [units[i:i + size]
                                                for i in range(0, len(units), size)], options):
            for row in rows:
                found.setdefault(row.file, []).append(row)
                if len(found[row.file]) == expected[row.file]:
                    self._record(row.file, stats[row.file], found.pop(row.file))
        return len(units) + sum(error is not None for _, error in counts.values())

    def _record(self, path: str, st: os.stat_result, rows: list[FrameResult],
                error: str | None = None) -> None:
        """The file and its frame rows in one transaction (exactly once, even if killed)."""
        dataset_path = os.path.dirname(path)
        with self.engine.begin() as conn:
            dataset = db.dataset_id(conn, dataset_path)
            file_id = conn.execute(select(db.files.c.id).where(db.files.c.path == path)).scalar()
            values = dict(dataset_id=dataset, path=path, size=st.st_size, mtime=st.st_mtime,
                          status="error" if error else "done", error=error,
                          updated=time.time())
            if file_id is None:
                file_id = conn.execute(db.files.insert().values(**values, attempts=1)
                                       ).inserted_primary_key[0]
            else:
                conn.execute(update(db.files).where(db.files.c.id == file_id)
                             .values(**values, attempts=db.files.c.attempts + 1))
            db.insert_frames_ignoring_duplicates(
                conn, [db.frame_values(r, file_id, dataset) for r in rows])
            self._check_alerts(conn, dataset, dataset_path)
            self._check_sweep_alerts(conn, dataset)
        bad = sum(not r.ok for r in rows)
        self.processed += len(rows) - bad
        self.errors += bad
        log.info("%s: %d frame(s)%s", path, len(rows), f", {bad} error(s)" if bad else "")

    def _check_alerts(self, conn, dataset: int, dataset_path: str) -> None:
        window = self.options.alert_window
        rates = db.class_rates(conn, dataset, window)
        if rates["frames"] < min(window, 20):
            return
        for name, limit in self.options.alert_rates:
            if rates[name] < limit:
                continue
            last = conn.execute(select(db.alerts.c.created).where(
                (db.alerts.c.dataset_id == dataset) & (db.alerts.c.class_name == name))
                .order_by(db.alerts.c.id.desc()).limit(1)).scalar()
            if last is not None and time.time() - last < 300:
                continue  # one alert per class and dataset every 5 minutes
            message = (f"{name.replace('_', ' ')} in {rates[name]:.0%} of the last "
                       f"{rates['frames']} frames of {dataset_path}")
            log.warning("ALERT %s", message)
            conn.execute(db.alerts.insert().values(
                dataset_id=dataset, class_name=name, rate=rates[name],
                window=rates["frames"], message=message, created=time.time()))

    def _check_sweep_alerts(self, conn, dataset: int) -> None:
        """One alert per sweep (of ``SWEEP_ALERT_FRAMES`` or more) and class when the sweep
        shows the class: which frames hold it, its probability and the strongest frame's
        evidence. Frames alone are left to the rate alerts."""
        if not self.options.sweep_alerts:
            return
        rows = db.latest_rows(conn, dataset, self.options.alert_window)
        for sweep in group_sweeps(rows):
            if sweep.frames < SWEEP_ALERT_FRAMES:
                continue
            key = sweep.name.split(" (")[0]  # a geometry run's frame range grows: not its key
            for name in self.options.sweep_alerts:
                shown = sweep.classes[name]
                if not shown.call or conn.execute(select(db.alerts.c.id).where(
                        (db.alerts.c.dataset_id == dataset) & (db.alerts.c.class_name == name)
                        & (db.alerts.c.sweep == key))).first():
                    continue
                message = (f"{name.replace('_', ' ')} in sweep {sweep.label}: held on frames "
                           f"{shown.held}, flagged on {shown.ranges} so far (p "
                           f"{shown.p_sweep:.2f})"
                           + (f": {shown.evidence}" if shown.evidence else ""))
                log.warning("ALERT %s", message)
                conn.execute(db.alerts.insert().values(
                    dataset_id=dataset, class_name=name, rate=shown.p_sweep,
                    window=sweep.frames, message=message, created=time.time(), sweep=key))

    # --- loop --------------------------------------------------------------------
    def run_once(self) -> int:
        """Process what is ready now; the number of files processed."""
        done, pending = 0, self.pending()
        size = self.options.batch_size
        for start in range(0, len(pending), size):  # files share the model's batches
            if self._stop.is_set():
                break
            self.process_files(pending[start:start + size])
            done += len(pending[start:start + size])
        return done

    def run(self, *, until_idle: bool = False) -> None:
        """Follow the directories until ``stop()`` (or, with ``until_idle``, until nothing
        is left and nothing changes for two settle periods)."""
        observer = self._observe()
        idle_since = None
        try:
            while not self._stop.is_set():
                if self.run_once():
                    idle_since = None
                    continue
                if until_idle and not self.waiting:
                    idle_since = idle_since or time.time()
                    if time.time() - idle_since > 2 * self.options.settle_s + 0.5:
                        return
                self._wake.wait(min(self.options.rescan_s, self.options.settle_s / 2 + 0.1))
                self._wake.clear()
        finally:
            self.pool.close()
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _observe(self):
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:  # the rescan alone still finds everything
            return None
        wake = self._wake

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event):
                wake.set()

        observer = Observer()
        for d in self.dirs:
            os.makedirs(d, exist_ok=True)
            observer.schedule(Wake(), d, recursive=True)
        observer.start()
        return observer
