"""Real frames as canvases: simulated anomalies injected into real detector frames.

A canvas is a real frame with its header geometry, its own mask (NaN gaps) and what is
known of its labels (``?`` where not known). An injection draws anomalies as the simulator
does (``sample_scene``), renders them on the canvas's own geometry and adds them to its
counts:

* loop, water and ice rings and the strong background: the simulator's radial profiles on
  the canvas's pixels (s from its beam centre, distance and wavelength; ice at the real ice
  d-spacings), with polarisation and solid angle, drawn as Poisson photons;
* diffuse scattering: haloes round the canvas's own spots (its counts above the local
  background, blurred by the halo width) and a cloudy modulation of its background;
* non-uniform response: the simulator's gain kinds on the canvas's module layout, found
  from its gaps (lines of invalid or zero pixels), applied by thinning or adding photons;
* digital artefacts: the simulator's, written into the counts.

The injected intensity is scaled to the canvas's own background level (``CONTRAST``; the
level floored at ``MIN_LEVEL`` counts per pixel so that an injection on a nearly empty frame
can be seen),
and every injected class is judged visible or not (``simulate.visibility``) in the
canvas's own normalisation. The label of an injected frame is 1 for the visible injected
classes and the canvas's label elsewhere (0, 1 or unknown).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.coords import ImageMapping
from mxqc.dataset import DatasetError, read_labels, write_dataset_info, write_labels
from mxqc.frame import Geometry
from mxqc.io.registry import read_frame
from mxqc.normalise import clip_value_of, normalise
from mxqc.simulate import render, response
from mxqc.simulate.detector import canvas_name
from mxqc.simulate.generate import DRAWS, grey_view, to_view
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, sample_scene
from mxqc.simulate.visibility import RENDERED_APART, THRESHOLDS, VIEW_SIZE, Layers, visibility
from mxqc.threads import prepare_worker
from mxqc.witness.detector import module_layout

MIN_LEVEL = 0.5  # counts per pixel the injected intensity is scaled to at least
# What an injected class adds, in units of the canvas's background level: a ring's peak, or
# the strong background's mean (drawn log-uniformly between the two).
CONTRAST = {"background_ring": (0.3, 3.0), "ice_ring": (0.5, 20.0),
            "loop_scattering": (0.3, 5.0), "strong_background": (1.0, 4.0)}
FRAME_EXTENSIONS = (".cbf", ".img", ".h5", ".nxs", ".gz", ".bz2", ".smv", ".edf", ".tif")


@dataclass(frozen=True, eq=False)
class Canvas:
    """A real frame to inject anomalies into.

    Attributes
    ----------
    name : str
        The frame's file name (its row in ``labels.csv``).
    counts : (H, W) float32 ndarray
        Counts, NaN where the detector has no valid pixel.
    geometry : Geometry
        From the header; beam, pixel size, distance and wavelength are needed.
    labels : tuple of int
        Known labels in canonical order, ``UNKNOWN`` where not known.
    """

    name: str
    counts: np.ndarray
    geometry: Geometry
    labels: tuple[int, ...]

    @cached_property
    def pedestal(self) -> float:
        """The CCD's dark offset (the 1st percentile of the pixels above 0; 0 for photon
        counters, whose background pixels read 0)."""
        sample = self.counts[::4, ::4]
        sample = sample[np.isfinite(sample)]
        low = float(np.percentile(sample, 1))
        return low if low > 0 else 0.0

    @cached_property
    def level(self) -> float:
        """Background counts per pixel above the pedestal: the median of 16×16 block means
        (spots and shadows move it little)."""
        h, w = self.counts.shape
        blocks = self.counts[: h // 16 * 16, : w // 16 * 16].reshape(h // 16, 16, w // 16, 16)
        with warnings.catch_warnings():  # all-gap blocks are NaN, and left out
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(blocks, axis=(1, 3))
        return max(float(np.nanmedian(means)) - self.pedestal, 0.0)

    @cached_property
    def modules(self) -> np.ndarray:
        return module_layout(self.counts)


@dataclass(frozen=True, eq=False)
class CanvasFrame:
    """A canvas with injected anomalies: its counts, what was drawn and what is seen."""

    counts: np.ndarray
    canvas: Canvas
    scene: Scene  # the injection's draws on the canvas's geometry (``scene.labels``: drawn)
    visibility: dict[str, float | None]
    contrast: dict[str, float]  # what each injected ring or background adds (``CONTRAST``)

    @property
    def injected(self) -> tuple[int, ...]:
        """1 for each drawn class that is visible."""
        return tuple(int(bool(d) and (self.visibility[c] or 0.0) >= THRESHOLDS[c])
                     for c, d in zip(CLASSES, self.scene.labels, strict=True))

    @property
    def labels(self) -> tuple[int, ...]:
        """1 where a visible class was injected, else the canvas's label."""
        return tuple(1 if shown else known
                     for shown, known in zip(self.injected, self.canvas.labels, strict=True))


def canvas_files(paths) -> list[Path]:
    """The frame files among ``paths`` (files, or folders of them)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.name.endswith(FRAME_EXTENSIONS))
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"{path}: no such file or folder")
    if not files:
        raise DatasetError(f"no frame files in {', '.join(map(str, paths))}")
    return files


def read_canvas(path) -> Canvas:
    """A real frame with the labels of the ``labels.csv`` beside it (its row named by the
    file name; a frame without a row is unknown in every class)."""
    path = Path(path)
    frame = read_frame(path)
    g = frame.geometry
    if not (g.has_beam and g.can_resolve):
        raise DatasetError(f"{path}: a canvas needs the beam centre, pixel size, distance and "
                           f"wavelength in its header; got {g}")
    labels = (UNKNOWN,) * len(CLASSES)
    table_path = path.parent / "labels.csv"
    if table_path.is_file():
        table = read_labels(table_path)
        if path.name in table.names:
            labels = tuple(int(v) for v in table.labels[table.names.index(path.name)])
    return Canvas(path.name, np.asarray(frame.pixels, np.float32), g, labels)


def inject(canvas: Canvas, labels, *, seed: int, draws: int = DRAWS) -> CanvasFrame:
    """``canvas`` with the classes ``labels`` marks drawn into it; drawn again (at most
    ``draws`` times) until every drawn class is visible, as ``draw_visible`` does."""
    rng = np.random.default_rng(seed)
    labels = tuple(int(v) for v in labels)
    for attempt in range(draws):
        frame = _inject_once(canvas, labels, rng, seed if attempt == 0 else
                             int(rng.integers(2**31)))
        if frame.injected == labels or attempt == draws - 1:
            return frame
    raise ValueError(f"draws must be at least 1, got {draws}")


def _inject_once(canvas: Canvas, labels, rng, seed: int) -> CanvasFrame:
    g = canvas.geometry
    scene = replace(sample_scene(rng, "square1k", labels, seed=seed),
                    detector=canvas_name(canvas.counts.shape, g.pixel_size_mm),
                    wavelength_a=g.wavelength_a, distance_mm=g.distance_mm,
                    beam_x=g.beam_x, beam_y=g.beam_y, tilt_deg=0.0, crystal_scale=0.0)
    geometry = render.pixel_geometry(scene)
    found = render.profiles(scene, geometry.s_index[1])
    valid = np.isfinite(canvas.counts)
    level = max(canvas.level, MIN_LEVEL)
    parts, contrast = {}, {}
    for name in sorted(RENDERED_APART):
        part = render.class_background(geometry, found, name) if _drawn(scene, name) else None
        if part is None:
            continue
        part *= geometry.factor
        lo, hi = CONTRAST[name]
        contrast[name] = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        # strong background: its mean over the frame; rings: their peak
        reference = part[valid].mean() if name == "strong_background" else part[valid].max()
        parts[name] = part * np.float32(contrast[name] * level / max(float(reference), 1e-12))
    signal = np.where(valid, canvas.counts - np.float32(canvas.pedestal), 0).astype(np.float32)
    if _drawn(scene, "diffuse_scattering"):
        parts["diffuse_scattering"] = _diffuse(scene, geometry, signal)
    added = sum(parts.values()) if parts else np.zeros_like(signal)
    _, gains = response.gain_maps(scene, render.sample_rng(scene, render.GAIN_STREAM),
                                  np.where(valid, canvas.modules, -1))
    faulty = bool(scene.nonuniform)
    counts = _thin_or_add(signal + response.poisson(added, rng), gains, rng) if faulty \
        else signal + response.poisson(added, rng)
    counts += np.float32(canvas.pedestal)
    before = counts.copy() if scene.artifacts else None
    response.apply_artifacts(scene, counts, rng)
    counts[~valid] = np.nan
    total = (signal + added) * (gains if faulty else np.float32(1)) + np.float32(canvas.pedestal)
    total[~valid] = np.nan
    layers = _layers(counts, before, total, parts, gains if faulty else None, canvas)
    return CanvasFrame(counts, canvas, scene, visibility(layers, scene.labels), contrast)


def _drawn(scene: Scene, name: str) -> bool:
    return bool(scene.labels[CLASSES.index(name)])


def _diffuse(scene: Scene, geometry, signal: np.ndarray) -> np.ndarray:
    """Haloes round the canvas's own spots (counts above the local background, spread over
    the halo width, ``strength`` of each spot's photons) and a cloudy modulation of its
    background."""
    strength, halo = scene.diffuse[:2]
    local = np.maximum(cv2.blur(signal, (31, 31)), 0)
    spots = np.maximum(signal - local - 3 * np.sqrt(local + 1), 0)
    out = cv2.GaussianBlur(spots, (0, 0), halo) * np.float32(strength)
    modulation = render.cloud(scene, geometry)
    if modulation is not None:
        out += np.maximum(modulation, 0) * cv2.blur(local, (31, 31))
    return out


def _thin_or_add(counts: np.ndarray, gains: np.ndarray, rng) -> np.ndarray:
    """Recorded counts under ``gains``: photons lost below 1 (binomial thinning), more
    photons above."""
    whole = np.maximum(np.rint(counts), 0).astype(np.int64)
    lower = np.minimum(gains, 1.0)
    out = rng.binomial(whole, lower).astype(np.float32)
    return out + response.poisson(np.maximum(gains - 1.0, 0) * counts, rng)


def _layers(counts, before, total, parts, gains, canvas) -> Layers:
    """The injected frame in the view, and the grey-level change of each injected part
    (``generate._layers`` for a frame whose background is real)."""
    clip = clip_value_of(counts[::2, ::2])[0]
    seen = grey_view(total, clip)
    scaled = {name: part * (gains if gains is not None else np.float32(1))
              for name, part in parts.items()}
    shown = {name: seen - grey_view(total - part, clip) for name, part in scaled.items()}
    if before is not None:
        shown["artifact"] = grey_view(counts, clip) - grey_view(before, clip)
    h, w = counts.shape
    level = to_view(np.nan_to_num(total))
    return Layers(level=level, shown=shown,
                  gain_change=None if gains is None else to_view(gains - np.float32(1)),
                  background=None if gains is None else level,
                  adu_per_photon=1.0, readout_noise=0.0, clip=clip,
                  raw_per_view=h * w / VIEW_SIZE**2)


def write_canvases(out_dir, paths, n: int, *, seed: int = 0, rates=None, size: int = 512,
                   resize: str = "area", draws: int = DRAWS, workers: int = 1,
                   progress=None) -> list[str]:
    """``n`` injected frames (PNG, ``size``² in the paper's normalisation) made from the
    canvases in ``paths`` in turn, with ``labels.csv`` (partial: ``?`` where the canvas's
    label is unknown and nothing visible was injected), ``truth.csv``, ``truth.jsonl``
    and ``centres.csv``. The classes to inject are drawn like the RefleX labels; frame
    ``i`` is seeded by ``seed`` and ``i``, so the output is the same for any ``workers``."""
    files = canvas_files(paths)
    os.makedirs(out_dir, exist_ok=True)
    wanted = sample_labels(n, np.random.default_rng(seed), rates)
    jobs = [(os.fspath(out_dir), os.fspath(path),
             [(i, tuple(int(v) for v in wanted[i])) for i in range(k, n, len(files))],
             seed, size, resize, draws) for k, path in enumerate(files)]
    pool_context = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=prepare_worker, initargs=(1,))
                    if workers > 1 else nullcontext())
    rows = []
    with pool_context as pool:
        for block in (pool.map(_write_canvas_block, jobs) if pool
                      else map(_write_canvas_block, jobs)):
            rows += block
            if progress:
                progress(len(block))
    rows.sort(key=lambda r: r["image"])
    write_labels(os.path.join(out_dir, "labels.csv"), [r["image"] for r in rows],
                 [[r["labels"][c] for c in CLASSES] for r in rows])
    _write_truth(out_dir, rows)
    write_dataset_info(out_dir, size=size, resize=resize)
    return [r["image"] for r in rows]


def _write_canvas_block(job) -> list[dict]:
    """Every injection into one canvas (read once)."""
    out_dir, path, draws_of, seed, size, resize, draws = job
    canvas = read_canvas(path)
    rows = []
    for i, labels in draws_of:
        name = f"canvas_{seed}_{i:06d}"
        frame = inject(canvas, labels, seed=seed * 1_000_003 + i, draws=draws)
        cv2.imwrite(os.path.join(out_dir, f"{name}.png"),
                    normalise(frame.counts, size=size, resize=resize).image)
        rows.append(_truth_row(name, frame, size))
    return rows


def _truth_row(name: str, frame: CanvasFrame, size: int) -> dict:
    g = frame.canvas.geometry
    x, y = ImageMapping.resize(frame.counts.shape, (size, size)).to_image(g.beam_x, g.beam_y)
    return {"image": name, "canvas": frame.canvas.name, "beam_x": g.beam_x, "beam_y": g.beam_y,
            "x": float(x), "y": float(y),
            "contrast": {k: round(v, 3) for k, v in frame.contrast.items()},
            "drawn": dict(zip(CLASSES, frame.scene.labels, strict=True)),
            "visibility": {c: None if v is None else round(v, 3)
                           for c, v in frame.visibility.items()},
            "canvas_labels": dict(zip(CLASSES, frame.canvas.labels, strict=True)),
            "labels": dict(zip(CLASSES, frame.labels, strict=True))}


def _write_truth(out_dir, rows: list[dict]) -> None:
    with open(os.path.join(out_dir, "truth.jsonl"), "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    with open(os.path.join(out_dir, "truth.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image", "canvas", "beam_x", "beam_y"))
        writer.writerows((r["image"], r["canvas"], r["beam_x"], r["beam_y"]) for r in rows)
    with open(os.path.join(out_dir, "centres.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image", "x", "y"))
        writer.writerows((r["image"], f"{r['x']:.3f}", f"{r['y']:.3f}") for r in rows)
