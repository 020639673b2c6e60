"""What a scan computes per frame (``ScanOptions``) and the small helpers every consumer of
its results shares, in a module light enough for the process that only plans and records
a scan: the analysis itself (``mxqc.scan.analyse``, with torch) loads in the workers."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ScanOptions:
    """What to compute per frame besides the model's probabilities."""

    model_path: str | None = None  # None: the default model
    centre_method: str = "auto"
    sweep_centre: bool = True  # auto centres from the sweep's sum where the header is unconfirmed
    rings: bool = True
    witnesses: bool = True  # physical evidence per class (mxqc.witness); fusion needs it
    heatmaps: bool = True
    images_dir: str | None = None  # where thumbnails and heatmaps go (None: nowhere)
    sample_every: int = 25  # thumbnails for flagged frames and one in N of the others
    heatmap_every: int = 10  # heatmaps for one in N flagged frames (1: all); they cost most
    threads: int = 1  # torch threads in this process
    device: str = "cpu"  # where the CNN runs: "cpu", "cuda" or "auto"
    tta: int = 1  # test-time views averaged per frame (CnnModel.check_views; Cartesian CNNs)


def frame_key(path: str, index: int) -> str:
    """A file-system-safe, unique name for a frame (stem + index + hash of the full path)."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:8]
    return f"{Path(path).name.split('.')[0]}_{index:05d}_{digest}"


def in_sample(row, every: int) -> bool:
    """A fixed one-in-``every`` choice of frames (by a hash of file and frame), the same on
    any worker, in any order and on resume; single-frame files all have frame 0."""
    if every <= 1:
        return True
    digest = hashlib.sha1(frame_key(row["file"], row["frame"]).encode()).digest()
    return int.from_bytes(digest[:4], "little") % every == 0

