"""The per-frame work of a scan: read → normalise → centre → rings → model → heatmaps.

``analyse_units`` takes a list of (file, frame index) and returns one ``FrameResult`` per
unit; a frame that cannot be read or analysed becomes an error result. Local worker
processes and Dask workers call the same function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from mxqc.centre import Centre
from mxqc.classes import CLASSES
from mxqc.coords import ImageMapping
from mxqc.errors import error_message
from mxqc.io import read_frame
from mxqc.learn.fusion import fused_probabilities
from mxqc.learn.model import CnnModel, Model
from mxqc.normalise import normalise_frame
from mxqc.result import FrameResult, error_result
from mxqc.scan import rings as ring_analysis
from mxqc.scan.centres import HeaderChecks, centre_columns, confirmed_by_image
from mxqc.scan.explain import heatmaps, to_image
from mxqc.scan.options import ScanOptions, frame_key, in_sample
from mxqc.witness import weak_evidence, witness_frame, witness_row
from mxqc.witness.background import Binned

THUMBNAIL_SIZE = 256
# thumbnails and overlays of noisy diffraction images: a fifth of a PNG's size (26 against
# 141 kB), so a report that embeds 300 of them stays near 10 MB
JPEG = (cv2.IMWRITE_JPEG_QUALITY, 90)


_MODELS: dict[tuple[str | None, str, int], Model] = {}


def model_for(options: ScanOptions) -> Model:
    """The model, loaded once per process (workers keep it between batches)."""
    key = (options.model_path, options.device)
    if key not in _MODELS:
        from mxqc.learn import load_model
        from mxqc.learn.cnn import resolve_device

        model = load_model(options.model_path)
        if isinstance(model, CnnModel):
            model.to(resolve_device(options.device))
        _MODELS[key] = model
    _MODELS[key].check_views(options.tta)
    return _MODELS[key]


def _prepare(path: str, index: int, model: Model, options: ScanOptions, checks: HeaderChecks,
             centre: Centre | None = None):
    """Read, normalise, centre, ring-analyse and witness one frame; (row, image, image
    centre, weak evidence: ``witness.weak_evidence``). ``centre``, where given (the
    sweep's), is used instead of the frame's own, which ``checks`` (the batch's) finds
    otherwise."""
    t = {}
    start = time.perf_counter()
    frame = read_frame(path, index)
    t["t_read_ms"] = (time.perf_counter() - start) * 1e3
    mark = time.perf_counter()
    norm = normalise_frame(frame, **model.normalisation)
    t["t_normalise_ms"] = (time.perf_counter() - mark) * 1e3
    mark = time.perf_counter()
    if centre is None:
        centre = checks.centre(frame, norm)
    image_centre = norm.mapping.to_image(centre.x, centre.y)
    t["t_centre_ms"] = (time.perf_counter() - mark) * 1e3
    g = frame.geometry
    row = {"file": str(path), "frame": index, "status": "ok", "error": "",
           **centre_columns(centre), "header_beam_x": g.beam_x, "header_beam_y": g.beam_y,
           "distance_mm": g.distance_mm, "wavelength_a": g.wavelength_a,
           "warnings": "; ".join(frame.warnings)}
    found, weak = None, {}
    if options.rings or options.witnesses:
        mark = time.perf_counter()
        binned = Binned.of(frame.pixels)  # one binned copy for the rings and the witnesses
        if g.can_resolve:
            found = ring_analysis.analyse_rings(frame, (centre.x, centre.y), binned=binned)
            for kind in ("ice", "water", "low-resolution"):
                row[f"rings_{kind.replace('-', '_')}_d_a"] = ";".join(
                    f"{r.d_a:.2f}" for r in found.of_kind(kind))
            row["rings"] = found.summary()
        else:
            row["rings"] = "no geometry"
        t["t_rings_ms"] = (time.perf_counter() - mark) * 1e3
    if options.witnesses:
        mark = time.perf_counter()
        try:
            witnessed = witness_frame(frame, (centre.x, centre.y), found, binned,
                                      trusted_centre=confirmed_by_image(centre))
            row.update(witness_row(witnessed))
            weak = weak_evidence(witnessed)
        except Exception as exc:  # a failed measurement must not cost the frame its verdict
            row["error"] = f"witnesses failed ({type(exc).__name__}: {exc}); the verdict is " \
                           "the network's alone"
        t["t_witness_ms"] = (time.perf_counter() - mark) * 1e3
    row.update(t)
    return row, norm.image, (float(image_centre[0]), float(image_centre[1])), weak


def analyse_units(units, options: ScanOptions | None = None,
                  started: Callable[[int], None] | None = None,
                  centres: dict[tuple[str, int], Centre] | None = None) -> list[FrameResult]:
    """Results for (path, index) units; errors become results, never exceptions. ``centres``
    gives units a centre found elsewhere (their sweep's: ``mxqc.scan.centres``).

    ``started(i)`` is called before unit ``i`` and ``started(len(units))`` before the
    model's pass over the batch (the protocol of :class:`mxqc.guard.GuardedPool`).
    """
    import torch

    options = options or ScanOptions()
    started = started or (lambda i: None)
    torch.set_num_threads(options.threads)
    model = model_for(options)
    checks = HeaderChecks(options.centre_method)
    rows, images, image_centres, weak, good = [], [], [], [], []
    for i, (path, index) in enumerate(units):
        started(i)
        start = time.perf_counter()
        try:
            row, image, centre, measured = _prepare(path, index, model, options, checks,
                                                    (centres or {}).get((path, index)))
        except Exception as exc:  # one frame's failure is its row, whatever raised it
            rows.append(error_result(path, index, error_message(exc), {
                "t_read_ms": (time.perf_counter() - start) * 1e3}).record())
            continue
        good.append(len(rows))
        rows.append(row)
        images.append(image)
        image_centres.append(centre)
        weak.append(measured)
    started(len(units))
    if good:
        _verdicts(model, np.stack(images), np.array(image_centres), [rows[i] for i in good],
                  options, weak)
    meta = {"model": model.name, "model_version": model.metadata["mxqc_version"]}
    return [FrameResult.model_validate(row | meta) for row in rows]


def _verdicts(model: Model, images, centres, rows, options: ScanOptions, weak) -> None:
    """The verdicts of analysed ``rows`` (fused where they have witnesses), their heatmaps
    and images; a flagged class nothing was said for gets its ``weak`` evidence."""
    mark = time.perf_counter()
    if isinstance(model, CnnModel):
        x = model.inputs(images, centres)
        probs = model.probabilities(x, views=options.tta)
    else:
        probs = model.predict_proba(images, centres)
    cnn = probs
    probs, thresholds = fused_probabilities(model, cnn, rows, options.tta)
    labels = probs > thresholds
    per_frame = (time.perf_counter() - mark) * 1e3 / len(rows)
    heat = {}  # row index → {class name: heatmap} for the explained frames
    if options.heatmaps and isinstance(model, CnnModel) and model.representation == "cartesian":
        mark = time.perf_counter()
        chosen = labels.any(axis=1) & np.array([in_sample(r, options.heatmap_every)
                                                for r in rows])
        flagged = sorted({int(c) for c in np.flatnonzero(labels[chosen].any(axis=0))})
        if flagged:  # only sampled frames with a finding get heatmaps
            with_finding = np.flatnonzero(chosen)
            to_input = ImageMapping.resize(images.shape[1:], x.shape[2:])
            input_centres = np.column_stack(to_input.to_image(*centres[with_finding].T))
            maps = heatmaps(model, x[torch.as_tensor(with_finding, device=x.device)],
                            input_centres, flagged)
            for j, i in enumerate(with_finding):
                heat[int(i)] = {CLASSES[c]: maps[j, k] for k, c in enumerate(flagged)
                                if labels[i, c]}
        heat_ms = (time.perf_counter() - mark) * 1e3 / len(rows)
    else:
        heat_ms = 0.0
    for i, row in enumerate(rows):
        row["t_inference_ms"] = per_frame
        row["t_heatmap_ms"] = heat_ms
        for j, name in enumerate(CLASSES):
            row[f"p_{name}"] = round(float(probs[i, j]), 4)
            row[f"p_cnn_{name}"] = round(float(cnn[i, j]), 4)
            row[name] = int(labels[i, j])
            if labels[i, j] and not row.get(f"evidence_{name}") and name in weak[i]:
                row[f"evidence_{name}"] = weak[i][name]
        row["n_anomalies"] = int(labels[i].sum())
        if options.images_dir and (row["n_anomalies"] or in_sample(row, options.sample_every)):
            _write_images(options.images_dir, row, images[i], centres[i], heat.get(i, {}))


def _write_images(images_dir: str, row: dict, image: np.ndarray, centre, heatmaps) -> None:
    """Thumbnail with the centre marked, and one heatmap overlay per flagged class."""
    key = frame_key(row["file"], row["frame"])
    out = Path(images_dir)
    out.mkdir(parents=True, exist_ok=True)
    scale = THUMBNAIL_SIZE / image.shape[0]
    small = cv2.resize(image, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    cx, cy = round(centre[0] * scale), round(centre[1] * scale)
    cv2.drawMarker(rgb, (cx, cy), (0, 0, 255), cv2.MARKER_CROSS, 14, 2)
    cv2.imwrite(str(out / f"{key}.jpg"), rgb, JPEG)
    row["thumbnail"] = f"{out.name}/{key}.jpg"
    row["heatmaps"] = []
    for name, heat in heatmaps.items():
        colour = cv2.applyColorMap((to_image(heat, THUMBNAIL_SIZE) * 255).astype(np.uint8),
                                   cv2.COLORMAP_JET)
        alpha = to_image(heat, THUMBNAIL_SIZE)[..., None] * 0.6
        overlay = (rgb * (1 - alpha) + colour * alpha).astype(np.uint8)
        cv2.imwrite(str(out / f"{key}_{name}.jpg"), overlay, JPEG)
        row["heatmaps"].append({"class": name, "image": f"{out.name}/{key}_{name}.jpg"})
