"""Soak test of ``mxqc watch``: frames written at a detector's rate, the watcher killed
(SIGKILL) at random moments and restarted, then lost and duplicated frames counted.

    .venv/bin/python benchmarks/bench_soak.py WORK [--frames 10000] [--rate 100]
        [--kills 5] [--db URL]

Frames are small simulated CBFs (256×256) written under new names, each in two parts like
a slow file system. After the writer stops, the watcher drains the backlog
(``--until-idle``). Every written file must be in the database exactly once.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from mxqc.simulate.export import write_simulated
from mxqc.watch import connect, db

BIN = Path(sys.executable).parent


def writer(sources: list[bytes], out: Path, n: int, rate: float, done: threading.Event):
    period, start = 1.0 / rate, time.perf_counter()
    for i in range(n):
        data = sources[i % len(sources)]
        with open(out / f"soak_{i:06d}.cbf", "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            f.write(data[len(data) // 2:])
        time.sleep(max(0.0, start + (i + 1) * period - time.perf_counter()))
    done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in WORK)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    source, watched = args.work / "source", args.work / "beamline"
    write_simulated(source, 20, seed=41, detector="square256", fmt="cbf")
    watched.mkdir(parents=True)
    url = args.db or str(args.work / "soak.sqlite")
    command = [BIN / "mxqc", "watch", watched, "--db", url, "--settle", "0.3",
               "--rescan", "0.5", "--no-verbose"]
    sources = [p.read_bytes() for p in sorted(source.glob("*.cbf"))]
    written = threading.Event()
    start = time.perf_counter()
    thread = threading.Thread(target=writer, args=(sources, watched, args.frames, args.rate,
                                                   written))
    thread.start()
    rng = random.Random(args.seed)
    kill_times = sorted(rng.uniform(5, args.frames / args.rate) for _ in range(args.kills))
    for at in kill_times:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(0.0, start + at - time.perf_counter()))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    thread.join()
    write_s = time.perf_counter() - start
    drain = subprocess.run([*command, "--until-idle"], capture_output=True, text=True)
    total_s = time.perf_counter() - start
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(select(db.files.c.path, db.frames.c.frame, db.frames.c.status)
                            .join(db.files, db.files.c.id == db.frames.c.file_id)).all()
        n_files = conn.execute(select(func.count()).select_from(db.files)).scalar()
    names = [Path(path).name for path, _, _ in rows]
    expected = {f"soak_{i:06d}.cbf" for i in range(args.frames)}
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    print(f"frames written: {args.frames} at {args.rate:g} Hz in {write_s:.0f} s; watcher "
          f"killed {args.kills} times at {', '.join(f'{t:.0f}' for t in kill_times)} s")
    print(f"drain exit code {drain.returncode}; all done after {total_s:.0f} s")
    print(f"files recorded {n_files}; frame rows {len(rows)}; "
          f"errors {sum(s == 'error' for *_, s in rows)}")
    print(f"lost: {len(expected - set(names))}; duplicated: {len(names) - len(set(names))}")


if __name__ == "__main__":
    main()
