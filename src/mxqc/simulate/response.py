"""Detector response: gains (non-uniform detector), counting/readout noise, saturation,
and digital artefacts applied to the recorded counts."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from mxqc.simulate.scene import Scene

# Poisson sampling by table below this mean (all but the brightest pixels); numpy's exact
# sampler above it. The table's rows are means in steps of 1/FINE up to SPLIT and of
# 1/COARSE above; a mean is rounded stochastically to a row (the mean is kept exactly, the
# variance grows by under 2 % of the mean below SPLIT and 0.1 % above), and a uniform
# deviate in 2**U_BITS bins picks the column. The coarse steps keep the table small
# (5 MB; the rows of the faint pixels, most of a frame, in the first 1 MB).
TABLE_MAX_MEAN, SPLIT = 128, 4
FINE, COARSE = 64, 8
U_BITS = 12


def gain_maps(scene: Scene, rng, modules: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel gains (baseline, actual): ±2 % per module always; the actual gains add the
    non-uniform kinds when the scene draws them (else both are one array). ``modules``:
    each pixel's module index (−1 in gaps); default the detector model's layout."""
    model = scene.model
    n = int(model.modules[0] * model.modules[1]) if modules is None else int(modules.max()) + 1

    def per_pixel(values):  # gaps: 1
        if modules is None:
            return model.per_pixel(values)
        return np.concatenate([[np.float32(1.0)], values]).take((modules + 1).astype(np.intp))

    per_module = rng.normal(1.0, 0.02, n).astype(np.float32)
    baseline = per_pixel(per_module)
    if not scene.nonuniform:
        return baseline, baseline
    strength = scene.nonuniform_strength
    h, w = model.shape
    if "module_gains" in scene.nonuniform:
        per_module = per_module * rng.normal(1.0, strength, n).clip(0.3, 2.0).astype(np.float32)
    if "dead_module" in scene.nonuniform:
        per_module[rng.integers(n)] = 0.0 if rng.random() < 0.6 else 3.0  # dead or hot
    gains = per_pixel(per_module)
    if "half_step" in scene.nonuniform:
        if rng.random() < 0.5:
            gains[:, : w // 2] *= 1.0 - strength
        else:
            gains[: h // 2, :] *= 1.0 - strength
    if "gradient" in scene.nonuniform:
        along_columns = rng.random() < 0.5
        ramp = np.linspace(1.0 - strength, 1.0 + strength, w if along_columns else h,
                           dtype=np.float32)
        gains *= ramp[None, :] if along_columns else ramp[:, None]
    return baseline, gains


def record(scene: Scene, expected: np.ndarray, gains: np.ndarray, rng
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Expected photons × gains → recorded counts (float32, NaN in module gaps), and what the
    digital artefacts changed (counts, or None without artefacts)."""
    model = scene.model
    counts = poisson(expected * gains, rng)
    if model.ccd:
        counts *= np.float32(model.adu_per_photon)
        # one pedestal for the whole CCD (tile-to-tile differences are gains, above): a
        # per-tile offset would paint a tile grid that real corrected images do not show
        counts += np.float32(ccd_pedestal(scene))
        counts += rng.normal(0, model.readout_noise, counts.shape).astype(np.float32)
    before = counts.copy() if scene.artifacts else None
    apply_artifacts(scene, counts, rng)
    np.rint(counts, out=counts)  # detectors record whole counts
    np.clip(counts, 0, model.overload, out=counts)
    changed = None
    if before is not None:
        changed = counts - np.clip(np.rint(before), 0, model.overload)
    if any(model.gap):
        counts[model.module_map() < 0] = np.nan
    seams = model.seam_mask()
    if seams is not None:  # a tiled CCD writes 0, not a flag, between its tiles
        counts[seams] = 0
    return counts, changed


def ccd_pedestal(scene: Scene) -> float:
    """The CCD's dark offset in counts (drawn from the sample seed: one per sweep)."""
    return float(np.random.default_rng([scene.sample_key, 7]).uniform(10, 40))


@lru_cache(maxsize=1)
def _poisson_table() -> np.ndarray:
    """(means, 2**U_BITS) uint8: the inverse Poisson CDF at each uniform bin's centre."""
    means = np.concatenate([np.arange(SPLIT * FINE) / FINE,
                            SPLIT + np.arange((TABLE_MAX_MEAN - SPLIT) * COARSE + 2) / COARSE])
    k = np.arange(256)  # counts above 255 have probability < 1e-20 at the table's means
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = k[None, :] * np.log(means[:, None]) - means[:, None] - gammaln(k + 1)[None, :]
    pmf = np.nan_to_num(np.exp(log_pmf))
    pmf[0, 0] = 1.0  # mean 0: always 0 counts
    cdf = np.cumsum(pmf, axis=1)
    u = (np.arange(2**U_BITS) + 0.5) / 2**U_BITS
    table = np.stack([np.searchsorted(row, u) for row in cdf]).astype(np.uint8)
    table.flags.writeable = False
    return table


def poisson(mean: np.ndarray, rng) -> np.ndarray:
    """Poisson counts (float32) for per-pixel means, about 5× faster than
    ``Generator.poisson`` on a frame; the frequency of each count is exact to 1/4096 at
    the table's means."""
    mean = np.asarray(mean, np.float32)
    # 32 random bits per pixel straight from the bit generator (half the cost of integers()):
    # the low U_BITS pick the table's column, the others round the row
    bits = rng.bit_generator.random_raw(-(-mean.size // 2)).view(np.uint32)[:mean.size]
    bits = bits.reshape(mean.shape)
    # the row of a mean: FINE per count below SPLIT, COARSE per count above (a negative
    # mean: 0); each step in place, as the frame-sized temporaries cost more than the sums
    row = np.clip(mean, np.float32(0), np.float32(TABLE_MAX_MEAN))
    scratch = row * np.float32(COARSE)
    scratch += np.float32(SPLIT * (FINE - COARSE))
    row *= np.float32(FINE)
    np.minimum(row, scratch, out=row)
    # stochastic rounding down to the table's row: the high bits as the mantissa of a
    # float in [1, 2), so 1 + the fraction they make, added without an int-to-float pass
    one_plus = scratch.view(np.uint32)
    np.right_shift(bits, U_BITS, out=one_plus)
    one_plus <<= np.uint32(23 - (32 - U_BITS))
    one_plus |= np.uint32(0x3F800000)  # the exponent of 1.0
    row += scratch
    index = row.astype(np.intp)
    index -= 1
    index <<= U_BITS
    bits &= np.uint32(2**U_BITS - 1)
    index |= bits
    counts = _poisson_table().take(index).astype(np.float32)
    if mean.size and mean.max() >= TABLE_MAX_MEAN:
        high = mean >= TABLE_MAX_MEAN
        counts[high] = rng.poisson(np.minimum(mean[high], 1e7))
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
        # at least ±30 %: a band of nearly unchanged exposure is labelled but not visible
        dim, bright = rng.uniform(0.3, 0.7), rng.uniform(1.3, 1.8)
        counts[start:start + int(rng.integers(h // 40, h // 8))] *= (
            dim if rng.random() < 0.5 else bright)
    if "gap_cross" in kinds:  # the enlarged pixels between a Timepix quad's chips: each
        # reads what its area collects, 1.5-3 times a normal pixel's (the corner, both ways)
        row, col = int(rng.integers(h // 4, 3 * h // 4)), int(rng.integers(w // 4, 3 * w // 4))
        width, area = int(rng.integers(2, 7)), np.float32(rng.uniform(1.5, 3.0))
        counts[row:row + width, :] *= area
        counts[:, col:col + width] *= area
