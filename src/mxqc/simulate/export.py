"""Writing simulated frames as real detector files, with RefleX-format labels and truth."""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict

import cv2

from mxqc.classes import CLASSES
from mxqc.coords import ImageMapping
from mxqc.dataset import write_dataset_info
from mxqc.io import write_cbf, write_nexus, write_smv
from mxqc.normalise import DEFAULT_RESIZE, normalise
from mxqc.simulate.detector import DETECTORS
from mxqc.simulate.generate import DRAWS, SimulatedFrame
from mxqc.simulate.scene import Scene
from mxqc.simulate.sweep import simulate_sweep
from mxqc.threads import prepare_worker

FORMATS = ("cbf", "smv", "h5", "png")
_TRUTH_COLUMNS = ("image", "file", "frame", "detector", "beam_x", "beam_y", "pixel_size_mm",
                  "distance_mm", "wavelength_a", "sweep")


def simulate_series(n: int, *, seed: int, detector: str, rates=None,
                    series_length: int = 1, draws: int = DRAWS) -> list[SimulatedFrame]:
    """``n`` frames; consecutive blocks of ``series_length`` are sweeps (``simulate_sweep``),
    the block starting at frame ``i`` seeded with ``seed + i``."""
    return [frame for start in range(0, n, series_length)
            for frame in simulate_sweep(min(series_length, n - start), seed=seed + start,
                                        detector=detector, rates=rates, draws=draws)]


def write_simulated(out_dir, n: int, *, seed: int = 0,
                    detector: str | Sequence[str] = "square1k", fmt: str | None = None,
                    rates=None, frames_per_file: int = 50, size: int = 512,
                    resize: str = DEFAULT_RESIZE, workers: int = 1, resume: bool = False,
                    sweep: int = 1, draws: int = DRAWS,
                    progress: Callable[[int], None] | None = None) -> list[str]:
    """Simulate ``n`` frames into ``out_dir`` with ``labels.csv``, ``truth.csv``, ``truth.jsonl``.

    ``labels.csv`` holds the visible labels (what a person would mark); ``truth.jsonl`` each
    frame's scene with the classes ``drawn``, their ``visibility`` scores and the ``visible``
    ones; ``truth.csv`` the geometry and the ``sweep`` each frame belongs to.

    ``detector`` may list several models: consecutive blocks take them in turn, so a training
    set covers every geometry. Blocks of frames (one file, or one HDF5 sweep) are seeded by
    their position, so the output is identical for any number of ``workers`` (processes).
    With ``resume``, blocks already finished in ``out_dir`` (recorded in ``.blocks/``) are
    kept, not rendered again, and the tables are rewritten, so an interrupted run continues
    where it stopped.
    Single-frame formats (CBF, SMV, PNG) with ``sweep`` > 1 write rotation sweeps of
    ``sweep`` consecutive files (``simulate.sweep``: shared geometry, persistent sample and
    detector, the crystal turning); an HDF5 master is always one sweep.
    ``draws``: scenes drawn per label vector until its classes are visible (1: keep the
    first draw, and label what it shows).
    Returns the image names (file stems, or ``<master stem>_<frame>`` for HDF5), which are
    the ``image`` column of ``labels.csv`` as in the RefleX label files.
    """
    detectors = [detector] if isinstance(detector, str) else list(detector)
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown or not detectors:
        raise ValueError(f"detector must be among {sorted(DETECTORS)}, got {unknown}")
    if fmt is None:
        fmt = DETECTORS[detectors[0]].writer
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    os.makedirs(out_dir, exist_ok=True)
    if sweep < 1 or draws < 1:
        raise ValueError(f"sweep and draws must be at least 1, got {sweep} and {draws}")
    series = frames_per_file if fmt == "h5" else sweep
    jobs = [(os.fspath(out_dir), start, min(series, n - start), seed,
             detectors[(start // series) % len(detectors)], fmt, rates, frames_per_file,
             size, resize, resume, draws) for start in range(0, n, series)]
    names, truth, scenes = [], [], []
    # one thread per worker: the workers are the parallelism. spawn, not fork: limiting
    # OpenMP threads in a child forked from a process with a running pool (torch) hangs.
    pool_context = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=prepare_worker, initargs=(1,))
                    if workers > 1 else nullcontext())
    with pool_context as pool:
        blocks = pool.map(_write_block, jobs) if pool else map(_write_block, jobs)
        for block_names, block_truth, block_scenes in blocks:
            names += block_names
            truth += block_truth
            scenes += block_scenes
            if progress:
                progress(len(block_names))
    for scratch in glob.glob(os.path.join(out_dir, ".part-*")):
        with contextlib.suppress(OSError):  # empty unless another run is writing there
            os.rmdir(scratch)
    _write_tables(out_dir, names, [[sc["visible"][c] for c in CLASSES] for sc in scenes],
                  truth, scenes)
    if fmt == "png":
        write_image_centres(out_dir, truth, size)
        write_dataset_info(out_dir, size=size, resize=resize)
    return names


def read_scenes(out_dir) -> dict[str, Scene]:
    """The scenes of a simulated set, by image name, from its ``truth.jsonl``: each one
    renders the same counts again (``render_scene``), for analyses of what a model missed."""
    scenes = {}
    with open(os.path.join(out_dir, "truth.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            name = row.pop("image")
            fields = {k: v for k, v in row.items() if k in Scene.__dataclass_fields__}
            scenes[name] = Scene(**{k: _tuples(v) for k, v in fields.items()})
    return scenes


def _tuples(value):
    """JSON lists back to the tuples a frozen Scene holds (nested for the loop rings)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def write_image_centres(out_dir, truth, size: int) -> None:
    """``centres.csv``: each PNG's true beam centre in its own pixels (a PNG has no header)."""
    with open(os.path.join(out_dir, "centres.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image", "x", "y"))
        for row in truth:
            name, detector, beam_x, beam_y = row[0], row[3], float(row[4]), float(row[5])
            mapping = ImageMapping.resize(DETECTORS[detector].shape, (size, size))
            x, y = mapping.to_image(beam_x, beam_y)
            writer.writerow((name, f"{float(x):.3f}", f"{float(y):.3f}"))


def _write_block(job):
    """Simulate and write one sweep (an HDF5 master, or ``count`` single-frame files);
    return its table rows. A finished block is recorded in ``.blocks/`` for ``resume``."""
    (out_dir, start, count, seed, detector, fmt, rates, frames_per_file, size, resize, resume,
     draws) = job
    record = os.path.join(out_dir, ".blocks", f"{start:06d}.json")
    if resume and os.path.isfile(record):
        with open(record) as f:
            done = json.load(f)
        return done["names"], [tuple(t) for t in done["truth"]], done["rows"]
    model = DETECTORS[detector]
    frames = simulate_sweep(count, seed=seed * 1_000_003 + start, detector=detector,
                            rates=rates, draws=draws)
    if fmt == "h5":
        stem = f"sim_{seed}_{start:06d}"
        path = os.path.join(out_dir, f"{stem}_master.h5")
        entries = [(f"{stem}_master_{i:06d}", path, i) for i in range(count)]
        _render_and_write(frames, path, fmt, model, frames_per_file, size, resize)
    else:
        entries = [(f"sim_{seed}_{start + i:06d}",
                    os.path.join(out_dir, f"sim_{seed}_{start + i:06d}.{fmt}"), 0)
                   for i in range(count)]
        for frame, (_, path, _) in zip(frames, entries, strict=True):
            _render_and_write([frame], path, fmt, model, frames_per_file, size, resize)
    names, truth, rows = [], [], []
    for frame, (name, path, index) in zip(frames, entries, strict=True):
        s = frame.scene
        names.append(name)
        truth.append((name, os.path.basename(path), index, s.detector, s.beam_x, s.beam_y,
                      s.model.pixel_size_mm, s.distance_mm, s.wavelength_a, entries[0][0]))
        rows.append({"image": name, **asdict(s), **_judgement(frame)})
    os.makedirs(os.path.dirname(record), exist_ok=True)
    with open(record + ".tmp", "w") as f:
        json.dump({"names": names, "truth": truth, "rows": rows}, f)
    os.replace(record + ".tmp", record)
    return names, truth, rows


def _judgement(frame: SimulatedFrame) -> dict:
    """What was drawn, how visible it is, and what is labelled, by class."""
    scores = frame.visibility or {}
    return {"drawn": dict(zip(CLASSES, frame.scene.labels, strict=True)),
            "visibility": {c: None if scores.get(c) is None else round(scores[c], 3)
                           for c in CLASSES},
            "visible": dict(zip(CLASSES, frame.labels, strict=True)),
            "rejected_draws": [list(r) for r in frame.rejected]}


def _render_and_write(block, path, fmt, model, frames_per_file, size, resize):
    if fmt == "h5":  # (the master names its data files: it cannot be renamed afterwards)
        write_nexus(path, (f.counts for f in block), block[0].geometry,
                    frames_per_file=frames_per_file)
    else:
        # write in a scratch folder, then move: an interrupted run never leaves a half file
        # to resume (same base name, since a CBF header records it)
        scratch = os.path.join(os.path.dirname(path), f".part-{os.getpid()}")
        os.makedirs(scratch, exist_ok=True)
        tmp = os.path.join(scratch, os.path.basename(path))
        frame = block[0]
        if fmt == "cbf":
            write_cbf(tmp, frame.counts, frame.geometry, count_cutoff=model.overload)
        elif fmt == "smv":
            write_smv(tmp, frame.counts, frame.geometry)
        else:
            cv2.imwrite(tmp, normalise(frame.counts, size=size, resize=resize).image)
        os.replace(tmp, path)


def _write_tables(out_dir, names, labels, truth, scenes):
    with open(os.path.join(out_dir, "labels.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image", *CLASSES))
        writer.writerows((name, *lab) for name, lab in zip(names, labels, strict=True))
    with open(os.path.join(out_dir, "truth.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(_TRUTH_COLUMNS)
        writer.writerows(truth)
    with open(os.path.join(out_dir, "truth.jsonl"), "w") as f:
        for scene in scenes:
            f.write(json.dumps(scene) + "\n")
