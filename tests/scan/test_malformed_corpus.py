"""A sample of the malformed corpus (``tests/malformed.py``) through ``scan`` and ``info``:
every file is accounted for, damaged files are errors that say why, none is a traceback."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mxqc.scan import ScanOptions, scan
from tests.malformed import build_corpus

SHARED = Path(__file__).parents[2].parent / "shared" / "real-frames"
BARE = re.compile(r"^\w+(Error|Exception)\b|Traceback|: $")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("malformed")
    cases = build_corpus(out, SHARED if SHARED.is_dir() else None, sample=True)
    return out, {c["file"]: c for c in cases}


def _check(name: str, expect: str, error: str | None) -> None:
    if expect == "read":
        assert error is None, f"{name}: {error}"
    elif expect == "error":
        assert error is not None, f"{name} was read as a frame"
    if error is not None:
        assert not BARE.search(error), f"{name}: {error}"


def test_scan_accounts_for_every_file_of_the_corpus(corpus, tmp_path, smoke_model_path):
    root, cases = corpus
    out = tmp_path / "scan"
    scan([root], out, options=ScanOptions(model_path=str(smoke_model_path), heatmaps=False),
         workers=2)
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_file: dict[str, list] = {}
    for row in rows:
        by_file.setdefault(os.path.basename(row["file"]), []).append(row)
    targets = [n for n in cases if "_data_0" not in n]
    assert sorted(by_file) == sorted(targets)
    for name in targets:
        errors = [r["error"] for r in by_file[name] if r["status"] == "error"]
        _check(name, cases[name]["expect"], errors[0] if errors else None)
    warned = by_file["cbf_edit_pixel0.cbf"][0]
    assert warned["status"] == "ok" and "pixel size (0 mm)" in warned["warnings"]
    assert "no frames" in by_file["h5_zero_master.h5"][0]["error"]


def test_info_json_is_valid_and_says_why_for_every_file(corpus):
    root, cases = corpus
    done = subprocess.run([sys.executable, "-m", "mxqc.cli", "info", "--json", str(root)],
                          capture_output=True, text=True, timeout=600)
    answer = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    read = {os.path.basename(f["path"]): None for f in answer["files"]}
    failed = {os.path.basename(f["path"]): f["error"] for f in answer["failures"]}
    targets = [n for n in cases if "_data_0" not in n]
    assert sorted(read | failed) == sorted(targets) and not set(read) & set(failed)
    for name in targets:
        _check(name, cases[name]["expect"], failed.get(name))
