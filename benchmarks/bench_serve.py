"""Load on the HTTP service, and the watcher's sustained rate, on loopback.

    .venv/bin/python benchmarks/bench_serve.py [--clients 20] [--seconds 60] [--workers 2]

Starts ``mxqc serve`` as a separate process, then ``--clients`` threads upload the same
simulated Pilatus 6M CBF (6.2 Mpixel, ~6 MB) again and again for ``--seconds``; reports
requests/s, p50/p99 latency and failures. Then drops ``--watch-frames`` CBFs at once into a
directory followed by ``mxqc watch --until-idle`` (frames arrive faster than it can
classify them: it must queue, not drop) and reports frames/s and frames recorded.
Writes benchmarks/results-serve.md.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from mxqc.serve.local import serve_subprocess
from mxqc.simulate.export import write_simulated


def load(frame: Path, clients: int, seconds: float, workers: int, model: str | None) -> dict:
    args = ["--workers", str(workers)] + (["--model", model] if model else [])
    with serve_subprocess(*args, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as url:
        data = frame.read_bytes()
        latencies, statuses, lock = [], [], threading.Lock()
        stop = time.time() + seconds

        def client():
            with httpx.Client(timeout=300) as http:
                while time.time() < stop:
                    start = time.perf_counter()
                    try:
                        status = http.post(url + "/v1/classify",
                                           files={"file": ("f.cbf", data)}).status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with lock:
                        latencies.append(time.perf_counter() - start)
                        statuses.append(status)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    ok = sum(s == 200 for s in statuses)
    return {"requests": len(statuses), "ok": ok, "failed": len(statuses) - ok,
            "per_s": ok / wall, "p50_s": float(np.percentile(latencies, 50)),
            "p99_s": float(np.percentile(latencies, 99)), "wall_s": wall}


def watch_rate(frames_dir: Path, tmp: Path, model: str | None) -> dict:
    watched = tmp / "watched"
    watched.mkdir()
    for path in sorted(frames_dir.glob("*.cbf")):
        shutil.copy(path, watched / path.name)
    database = tmp / "watch.sqlite"
    command = [sys.executable, "-m", "mxqc.cli", "watch", str(watched), "--db",
               str(database), "--until-idle", "--settle", "0.5", "--no-verbose"] + (
        ["--model", model] if model else [])
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    with sqlite3.connect(database) as conn:
        recorded = conn.execute("select count(*) from frames").fetchone()[0]
    n = len(list(watched.glob("*.cbf")))
    return {"frames": n, "recorded": recorded, "per_s": recorded / wall, "wall_s": wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--watch-frames", type=int, default=60)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-serve.md")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_simulated(tmp / "frames", args.watch_frames, seed=77, detector="pilatus6m",
                        fmt="cbf", workers=2)
        frame = next((tmp / "frames").glob("*.cbf"))
        frame_mb = frame.stat().st_size / 1e6
        served = load(frame, args.clients, args.seconds, args.workers, args.model)
        print(served, flush=True)
        watched = watch_rate(tmp / "frames", tmp, args.model)
        print(watched, flush=True)
    lines = [f"# Service benchmark ({time.strftime('%Y-%m-%d')}, loopback, 2-core machine)", "",
             f"`mxqc serve --workers {args.workers}`: {args.clients} clients uploading a "
             f"Pilatus 6M CBF ({frame_mb:.1f} MB) for {args.seconds:.0f} s", "",
             "| requests | ok | failed | frames/s | p50 latency s | p99 latency s |",
             "|---|---|---|---|---|---|",
             f"| {served['requests']} | {served['ok']} | {served['failed']} | "
             f"{served['per_s']:.2f} | {served['p50_s']:.2f} | {served['p99_s']:.2f} |", "",
             f"`mxqc watch`: {watched['frames']} Pilatus 6M CBFs present at once (a backlog), "
             f"{watched['recorded']} recorded in {watched['wall_s']:.1f} s = "
             f"{watched['per_s']:.2f} frames/s sustained (one process, start-up included)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
