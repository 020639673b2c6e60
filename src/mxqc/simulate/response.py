"""Detector response: gains (non-uniform detector), counting/readout noise, saturation,
and digital artefacts applied to the recorded counts."""

from __future__ import annotations

import numpy as np

from mxqc.simulate.scene import Scene


def gain_map(scene: Scene, rng) -> np.ndarray:
    """Per-pixel gain: ±2% per module always; the non-uniform kinds when labelled."""
    model = scene.model
    modules = model.module_map()
    n = int(modules.max()) + 1
    per_module = rng.normal(1.0, 0.02, n).astype(np.float32)
    strength = scene.nonuniform_strength
    h, w = model.shape
    extra = np.ones((h, w), np.float32)
    if "module_gains" in scene.nonuniform:
        per_module *= rng.normal(1.0, strength, n).clip(0.3, 2.0).astype(np.float32)
    if "dead_module" in scene.nonuniform:
        per_module[rng.integers(n)] = 0.0 if rng.random() < 0.6 else 3.0  # dead or hot
    if "half_step" in scene.nonuniform:
        if rng.random() < 0.5:
            extra[:, : w // 2] *= 1.0 - strength
        else:
            extra[: h // 2, :] *= 1.0 - strength
    if "gradient" in scene.nonuniform:
        along_columns = rng.random() < 0.5
        ramp = np.linspace(1.0 - strength, 1.0 + strength, w if along_columns else h,
                           dtype=np.float32)
        extra *= ramp[None, :] if along_columns else ramp[:, None]
    gains = np.where(modules >= 0, per_module[np.maximum(modules, 0)], 1.0)
    return (gains * extra).astype(np.float32)


def record(scene: Scene, expected: np.ndarray, rng) -> np.ndarray:
    """Expected photons → recorded counts (float32, NaN in module gaps)."""
    model = scene.model
    gains = gain_map(scene, rng)
    counts = rng.poisson(np.clip(expected * gains, 0, 1e7)).astype(np.float32)
    if model.ccd:
        # one pedestal for the whole CCD (tile-to-tile differences are gains, above): a
        # per-tile offset would paint a tile grid that real corrected images do not show
        counts += np.float32(rng.uniform(10, 40))
        counts += rng.normal(0, model.readout_noise, counts.shape).astype(np.float32)
    apply_artifacts(scene, counts, rng)
    np.rint(counts, out=counts)  # detectors record whole counts
    np.clip(counts, 0, model.overload, out=counts)
    counts[model.module_map() < 0] = np.nan
    return counts


def apply_artifacts(scene: Scene, counts: np.ndarray, rng) -> None:
    """Digital artefacts, in place."""
    h, w = counts.shape
    top = scene.model.overload
    level = float(np.percentile(counts[:: max(1, h // 64), :: max(1, w // 64)], 99)) + 10
    kinds = scene.artifacts
    if "hot_pixels" in kinds:
        n = int(rng.integers(20, 400))
        counts[rng.integers(0, h, n), rng.integers(0, w, n)] = rng.uniform(5, 50, n) * level
    if "dead_columns" in kinds:
        for col in rng.integers(0, w - 8, rng.integers(1, 4)):
            counts[:, col:col + int(rng.integers(1, 9))] = 0
    if "zingers" in kinds:
        n = int(rng.integers(5, 40))
        ys, xs = rng.integers(1, h - 2, n), rng.integers(1, w - 2, n)
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
            counts[ys + dy, xs + dx] = top
    if "streak" in kinds:  # readout/bleeding streak from a saturated pixel along a row
        row, start = int(rng.integers(0, h)), int(rng.integers(0, w // 2))
        length = int(rng.integers(w // 8, w // 2))
        counts[row, start:start + length] = top * np.exp(-np.arange(length) / (length / 3))
    if "shutter_band" in kinds:
        start = int(rng.integers(0, h - h // 8))
        counts[start:start + int(rng.integers(h // 40, h // 8))] *= rng.uniform(0.3, 1.8)
    if "gap_cross" in kinds:  # a stray cross of (enlarged) gap pixels, as on Timepix frames
        row, col = int(rng.integers(h // 4, 3 * h // 4)), int(rng.integers(w // 4, 3 * w // 4))
        width = int(rng.integers(2, 6))
        counts[row:row + width, :] = level * 3
        counts[:, col:col + width] = level * 3
