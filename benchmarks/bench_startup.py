"""Where a scan's start-up goes: `mxqc scan` of one frame, end to end, and its parts, each
timed in a fresh interpreter (a warm file cache: every run after the first).

    .venv/bin/python benchmarks/bench_startup.py [--repeats 3] [--frame FILE]

Parts: the command's own imports (``mxqc.cli``); the frame stages' imports (reading,
normalisation, rings, witnesses); the network a worker loads before its first frame
(torch, the default model's weights; torchvision for comparison: the scan no longer
imports it); and one Pilatus 6M frame's read and
measurement in a warm worker. Medians over the repeats. Writes a table to stdout for
benchmarks/results-scan.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = {
    "command imports (mxqc.cli)": "import mxqc.cli",
    "interpreter alone": "pass",
    "frame stages (mxqc.io, normalise, scan.rings, witness)": (
        "import mxqc.io, mxqc.normalise, mxqc.scan.rings, mxqc.witness"),
    "network: torch": "import torch",
    "torchvision, which the scan no longer imports (with torch)": "import torch, torchvision",
    "all a worker loads before its first frame (the above, the default model)": (
        "from mxqc.scan.analyse import model_for; from mxqc.scan.options import ScanOptions;"
        " model_for(ScanOptions())"),
}
FRAME = """
import sys, time
from mxqc.scan.analyse import _prepare, model_for
from mxqc.scan.centres import HeaderChecks
from mxqc.scan.options import ScanOptions
options = ScanOptions()
model = model_for(options)
start = time.perf_counter()
_prepare(sys.argv[1], 0, model, options, HeaderChecks(options.centre_method))
print(time.perf_counter() - start)
"""


def timed(argv) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frame", help="a Pilatus 6M CBF (default: one simulated here)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        frame = args.frame or _simulated(Path(tmp))
        rows = []
        scan = [str(Path(python).with_name("mxqc")), "scan", frame, "--out",
                str(Path(tmp) / "out"), "--no-report"]
        timed(scan)  # the file cache warm
        rows.append(("`mxqc scan` of one frame, end to end",
                     statistics.median(timed(scan) for _ in range(args.repeats))))
        for name, code in PARTS.items():
            rows.append((name, statistics.median(timed([python, "-c", code])
                                                 for _ in range(args.repeats))))
        frame_s = [float(subprocess.run([python, "-c", FRAME, frame], check=True,
                                        capture_output=True, text=True, cwd=ROOT).stdout)
                   for _ in range(args.repeats)]
        rows.append(("one frame read and measured (in a warm worker)", statistics.median(frame_s)))
    print("| part | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


def _simulated(tmp: Path) -> str:
    from mxqc.simulate.export import write_simulated

    write_simulated(tmp / "frames", 1, detector="pilatus6m", fmt="cbf", seed=3)
    return str(next((tmp / "frames").glob("*.cbf")))


if __name__ == "__main__":
    main()
