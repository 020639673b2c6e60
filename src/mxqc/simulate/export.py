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
from dataclasses import asdict, replace

import cv2
import numpy as np

from mxqc.classes import CLASSES
from mxqc.coords import ImageMapping
from mxqc.dataset import write_dataset_info
from mxqc.io import write_cbf, write_nexus, write_smv
from mxqc.normalise import DEFAULT_RESIZE, normalise
from mxqc.simulate.detector import DETECTORS
from mxqc.simulate.generate import SimulatedFrame, render_scene
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, sample_scene
from mxqc.threads import limit_threads

FORMATS = ("cbf", "smv", "h5", "png")
_TRUTH_COLUMNS = ("image", "file", "frame", "detector", "beam_x", "beam_y", "pixel_size_mm",
                  "distance_mm", "wavelength_a")


def simulate_series(n: int, *, seed: int, detector: str, rates=None,
                    series_length: int = 1) -> list[SimulatedFrame]:
    """``n`` frames; consecutive blocks of ``series_length`` share one geometry (a sweep)."""
    return [SimulatedFrame(render_scene(scene), scene) for scene in
            series_scenes(n, seed=seed, detector=detector, rates=rates,
                          series_length=series_length)]


def series_scenes(n: int, *, seed: int, detector: str, rates=None,
                  series_length: int = 1) -> list[Scene]:
    """The scenes of ``simulate_series`` without rendering them (cheap)."""
    rng = np.random.default_rng(seed)
    labels = sample_labels(n, rng, rates)
    scenes, base = [], None
    for i in range(n):
        frame_seed = int(rng.integers(2**31))
        scene = sample_scene(np.random.default_rng(frame_seed), detector, labels[i],
                             seed=frame_seed)
        if i % series_length and base is not None:
            scene = replace(scene, wavelength_a=base.wavelength_a, distance_mm=base.distance_mm,
                            beam_x=base.beam_x, beam_y=base.beam_y, tilt_deg=base.tilt_deg,
                            beamstop_radius_px=base.beamstop_radius_px,
                            arm_angle_deg=base.arm_angle_deg, arm_width_px=base.arm_width_px)
        else:
            base = scene
        scenes.append(scene)
    return scenes


def write_simulated(out_dir, n: int, *, seed: int = 0,
                    detector: str | Sequence[str] = "square1k", fmt: str | None = None,
                    rates=None, frames_per_file: int = 50, size: int = 512,
                    resize: str = DEFAULT_RESIZE, workers: int = 1, resume: bool = False,
                    sweep: int = 1,
                    progress: Callable[[int], None] | None = None) -> list[str]:
    """Simulate ``n`` frames into ``out_dir`` with ``labels.csv``, ``truth.csv``, ``truth.jsonl``.

    ``detector`` may list several models: consecutive blocks take them in turn, so a training
    set covers every geometry. Blocks of frames (one file, or one HDF5 sweep) are seeded by
    their position, so the output is identical for any number of ``workers`` (processes).
    With ``resume``, files already in ``out_dir`` are kept (not rendered again) and only the
    tables are rewritten, so an interrupted run continues where it stopped.
    Single-frame formats (CBF, SMV, PNG) with ``sweep`` > 1 write rotation series: each run
    of ``sweep`` consecutive files shares its geometry (wavelength, distance, beam centre,
    tilt, beam stop), as the frames of one sweep at a beamline do; an HDF5 master is always
    one sweep.
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
    if sweep < 1:
        raise ValueError(f"sweep must be at least 1, got {sweep}")
    series = frames_per_file if fmt == "h5" else sweep
    jobs = [(os.fspath(out_dir), start, min(series, n - start), seed,
             detectors[(start // series) % len(detectors)], fmt, rates, frames_per_file,
             size, resize, resume) for start in range(0, n, series)]
    names, truth, scenes = [], [], []
    # one thread per worker: the workers are the parallelism. spawn, not fork: limiting
    # OpenMP threads in a child forked from a process with a running pool (torch) hangs.
    pool_context = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=limit_threads, initargs=(1,))
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
    _write_tables(out_dir, names, [sc["labels"] for sc in scenes], truth, scenes)
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
    return its table rows."""
    out_dir, start, count, seed, detector, fmt, rates, frames_per_file, size, resize, resume = job
    model = DETECTORS[detector]
    scenes = series_scenes(count, seed=seed * 1_000_003 + start, detector=detector,
                           rates=rates, series_length=count)
    if fmt == "h5":
        stem = f"sim_{seed}_{start:06d}"
        path = os.path.join(out_dir, f"{stem}_master.h5")
        entries = [(f"{stem}_master_{i:06d}", path, i) for i in range(count)]
        if not (resume and os.path.isfile(path)):
            _render_and_write([SimulatedFrame(render_scene(s), s) for s in scenes], path, fmt,
                              model, frames_per_file, size, resize)
    else:
        entries = [(f"sim_{seed}_{start + i:06d}",
                    os.path.join(out_dir, f"sim_{seed}_{start + i:06d}.{fmt}"), 0)
                   for i in range(count)]
        for scene, (_, path, _) in zip(scenes, entries, strict=True):
            if not (resume and os.path.isfile(path)):
                _render_and_write([SimulatedFrame(render_scene(scene), scene)], path, fmt,
                                  model, frames_per_file, size, resize)
    names, truth, rows = [], [], []
    for s, (name, path, index) in zip(scenes, entries, strict=True):
        names.append(name)
        truth.append((name, os.path.basename(path), index, s.detector, s.beam_x, s.beam_y,
                      s.model.pixel_size_mm, s.distance_mm, s.wavelength_a))
        rows.append({"image": name, **asdict(s)})
    return names, truth, rows


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
