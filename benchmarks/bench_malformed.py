"""The whole malformed corpus through ``mxqc scan`` and ``mxqc info --json``.

    .venv/bin/python benchmarks/bench_malformed.py WORK [--shared ../shared/real-frames]

Builds the corpus (``tests/malformed.py``) in WORK/corpus, scans it with default options
into WORK/scan, and reports: wall time, peak memory of any one process, whether every
file is in ``results.csv``, how the errors read, and the same for ``info --json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.malformed import build_corpus

BIN = Path(sys.executable).parent
BARE = re.compile(r"^\w+(Error|Exception)\b|Traceback|: $")


def _kind(error: str) -> str:
    if "timed out" in error:
        return "hang (stopped)"
    if "crashed" in error or "exited with code" in error:
        return "crash (isolated)"
    return "clean error"


def _mismatches(cases: dict, errors: dict) -> list[str]:
    out = []
    for name, case in cases.items():
        error = errors.get(name)
        if case["expect"] == "read" and error is not None:
            out.append(f"{name} ({case['case']}): expected a frame, got: {error}")
        if case["expect"] == "error" and error is None:
            out.append(f"{name} ({case['case']}): read as a frame")
    return out


def run_scan(corpus: Path, out: Path, cases: dict) -> dict:
    start = time.perf_counter()
    done = subprocess.run([BIN / "mxqc", "scan", corpus, "--out", out, "--workers", "2"],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    errors, seen = {}, set()
    for row in rows:
        name = os.path.basename(row["file"])
        seen.add(name)
        if row["status"] == "error":
            errors.setdefault(name, row["error"])
    return {"wall_s": wall, "exit": done.returncode, "rows": len(rows),
            "missing": sorted(set(cases) - seen), "errors": errors,
            "traceback": "Traceback" in done.stderr + done.stdout,
            "warned": sum(bool(r.get("warnings")) for r in rows)}


def run_info(corpus: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run([BIN / "mxqc", "info", "--json", corpus], capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    try:
        answer = json.loads(done.stdout, parse_constant=lambda c: 1 / 0)
    except (ValueError, ZeroDivisionError):
        return {"wall_s": wall, "valid_json": False}
    errors = {os.path.basename(f["path"]): f["error"] for f in answer["failures"]}
    return {"wall_s": wall, "valid_json": True, "read": len(answer["files"]), "errors": errors,
            "traceback": "Traceback" in done.stderr}


def report(cases: dict, scan: dict, info: dict, peak_mb: float) -> None:
    print(f"corpus: {len(cases)} target files\n")
    print("## mxqc scan CORPUS --out OUT --workers 2 (default options)\n")
    kinds = Counter(_kind(e) for e in scan["errors"].values())
    print(f"- wall time {scan['wall_s']:.0f} s; peak memory of one process {peak_mb:.0f} MB; "
          f"exit code {scan['exit']}; traceback printed: {scan['traceback']}")
    print(f"- files missing from results.csv: {len(scan['missing'])} {scan['missing'][:5]}")
    print(f"- rows {scan['rows']}; files with an error row {len(scan['errors'])} "
          f"({dict(kinds)}); ok rows with a warning {scan['warned']}")
    bare = [e for e in scan["errors"].values() if BARE.search(e)]
    print(f"- errors that only name an exception type: {len(bare)}")
    for line in _mismatches(cases, scan["errors"]):
        print(f"  - not as expected: {line}")
    print("\n## mxqc info --json CORPUS\n")
    if not info["valid_json"]:
        print("- output is NOT valid JSON")
        return
    kinds = Counter(_kind(e) for e in info["errors"].values())
    print(f"- wall time {info['wall_s']:.0f} s; valid JSON: yes; reads {info['read']}; "
          f"errors {dict(kinds)}; traceback printed: {info['traceback']}")
    for line in _mismatches(cases, info["errors"]):
        print(f"  - not as expected: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--shared", type=Path, default=None)
    args = parser.parse_args()
    corpus = args.work / "corpus"
    cases = {c["file"]: c for c in build_corpus(corpus, args.shared)
             if "_data_0" not in c["file"]}  # Eiger data files are read via their master
    scan = run_scan(corpus, args.work / "scan", cases)
    info = run_info(corpus)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report(cases, scan, info, peak_mb)


if __name__ == "__main__":
    main()
