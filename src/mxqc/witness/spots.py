"""Bragg spot finding on the raw frame: the dispersion threshold of XDS's COLSPOT and DIALS
(Parkhurst et al. 2014), vectorised with box filters.

A pixel is signal where its local window (7×7, valid pixels only) is over-dispersed for
counting statistics, variance/mean > 1 + σ_b √(2/(N−1)), and the pixel itself stands
σ_s √mean above the local mean. Connected signal pixels are a candidate; its background
is the local mean of the non-signal pixels about it, its I/σ the summed excess over the
counting noise. One-pixel candidates are hot pixels or zingers, not spots: a Bragg spot
on a 75–172 µm pixel detector covers several pixels. Nor are candidates one or two bins
across and many along a row or column: readout streaks and hot lines, for the artefact
witness to judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mxqc.frame import Frame
from mxqc.witness.background import Binned

KERNEL = 5  # window edge in (binned) pixels
SIGMA_BACKGROUND = 6.0  # DIALS's default σ_b
SIGMA_STRONG = 3.0  # DIALS's default σ_s
MIN_VALID = 3  # valid pixels a window needs
MAX_SPOT_PX = 250  # larger candidates (binned pixels) are rings, streaks or shadow edges
LINE_WIDTH = 2  # a candidate at most this many bins across and ...
LINE_LENGTH = 16  # ... this many long is a streak or a hot line along a row or column
HOT_SHARE = 0.8  # a one-bin candidate with this share of its counts in one pixel is hot
HOT_I_SIGMA = 10.0  # if it stands this far above the noise (a noise spike does not)
GOOD_I_SIGMA = 3.0  # a spot counted toward the resolution estimate
MIN_SPOTS_FOR_RESOLUTION = 10
RESOLUTION_QUANTILE = 0.95  # share of good spots at lower resolution than the estimate


@dataclass(frozen=True)
class SpotFinding:
    """What the spot finder saw on one frame.

    Attributes
    ----------
    n_spots : int
        Candidates that are neither hot pixels nor larger than ``MAX_SPOT_PX`` bins.
    n_good : int
        Spots with I/σ ≥ ``GOOD_I_SIGMA``.
    median_i_sigma : float
        Median I/σ of the spots (0 without spots).
    background : float
        Median counts per valid pixel outside the spots.
    background_share : float
        Share of the frame's total counts that lies outside the spots.
    resolution_a : float or None
        d (Å) with ``RESOLUTION_QUANTILE`` of the good spots at lower resolution; None
        without geometry or with fewer than ``MIN_SPOTS_FOR_RESOLUTION`` good spots.
    n_hot_pixels : int
        Candidates with their counts in one pixel (hot pixels, zingers).
    gain : float
        Counts per photon estimated from the background's dispersion (1: counting).
    x, y, i_sigma : ndarray
        Per spot: centroid (raw pixels) and I/σ.
    """

    n_spots: int
    n_good: int
    median_i_sigma: float
    background: float
    background_share: float
    resolution_a: float | None
    n_hot_pixels: int
    gain: float
    x: np.ndarray
    y: np.ndarray
    i_sigma: np.ndarray

    def sentence(self) -> str:
        reach = f" to {self.resolution_a:.1f} Å" if self.resolution_a else ""
        return (f"{self.n_spots} spots{reach}, median I/σ {self.median_i_sigma:.1f} over a "
                f"background of {self.background:.1f} counts/px "
                f"({self.background_share:.0%} of the counts)")


def _box_sum(a: np.ndarray) -> np.ndarray:
    return cv2.boxFilter(a, -1, (KERNEL, KERNEL), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)


def signal_pixels(counts: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, float]:
    """The dispersion threshold on ``counts`` (0 where not ``valid``): (signal mask, gain).

    The gain (counts per photon) is the median index of dispersion of the frame's
    windows, most of which hold background only: 1 on a photon-counting detector, more on
    a CCD, whose counting noise the tests must be scaled by. The pixel test (cheap) is
    applied everywhere, the dispersion test only where the pixel test holds."""
    n = _box_sum(valid.view(np.uint8).astype(np.float32))
    s1 = _box_sum(counts)
    s2 = _box_sum(counts * counts)
    gain = _gain(n[::4, ::4], s1[::4, ::4], s2[::4, ::4])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        excess = counts - mean
        strong = (excess > 0) & (excess * excess > (SIGMA_STRONG ** 2 * gain) * mean)
    strong &= valid & (n >= MIN_VALID)
    at = np.flatnonzero(strong)
    m, k, k2 = mean.ravel()[at], n.ravel()[at], s2.ravel()[at]
    variance = (k2 - s1.ravel()[at] * m) / (k - 1)
    dispersed = variance > gain * m * (1 + SIGMA_BACKGROUND * np.sqrt(2 / (k - 1)))
    signal = np.zeros(counts.shape, bool)
    signal.ravel()[at[dispersed]] = True
    return signal, gain


def _gain(n, s1, s2) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        index = ((s2 - s1 * mean) / (n - 1) / mean)[(mean > 0) & (n >= MIN_VALID)]
    return max(1.0, float(np.median(index))) if index.size else 1.0


def find_spots(frame: Frame, centre=None) -> SpotFinding:
    """Spots of a raw frame; ``centre`` (raw x, y) overrides the header's beam for the
    resolution estimate."""
    binned = Binned.of(frame.pixels)
    valid = np.isfinite(binned.counts)
    counts = np.where(valid, binned.counts, np.float32(0))
    signal, gain = signal_pixels(counts, valid)
    return measure_spots(frame, binned, counts, valid, signal, gain, centre)[0]


def measure_spots(frame: Frame, binned: Binned, counts: np.ndarray, valid: np.ndarray,
                  signal: np.ndarray, gain: float, centre=None
                  ) -> tuple[SpotFinding, np.ndarray]:
    """The candidates of a ``signal`` mask (``signal_pixels`` on the ``binned`` frame's
    ``counts``, 0 where not ``valid``) measured, and the mask of the bins that belong to
    spots, hot pixels or zingers (what a line or a band must not be judged by; larger
    candidates and line-like ones, streaks and hot lines, are not in it)."""
    quiet = valid & ~signal
    with np.errstate(divide="ignore", invalid="ignore"):
        local = _box_sum(np.where(quiet, counts, np.float32(0))) / _box_sum(
            quiet.view(np.uint8).astype(np.float32))
    n_labels, labels = cv2.connectedComponents(signal.view(np.uint8), connectivity=8,
                                               ltype=cv2.CV_32S)
    on = labels[signal]
    ys, xs = np.nonzero(signal)
    raw = counts[signal].astype(np.float64)
    background = np.nan_to_num(local[signal].astype(np.float64))
    positive = np.maximum(raw - background, 1e-9)

    def per_spot(values):
        return np.bincount(on, values, n_labels)[1:]

    size = per_spot(np.ones_like(raw))
    weight = per_spot(positive)
    # counting noise of the spot's counts and of its background estimate, in photons
    i_sigma = per_spot(raw - background) / np.sqrt(
        np.maximum(gain * (per_spot(raw) + per_spot(background)), 1.0))
    hot = _hot(frame.pixels, binned.k, ys, xs, on, size, local) & (i_sigma >= HOT_I_SIGMA)
    compact = (size <= MAX_SPOT_PX) & ~_line_like(on, ys, xs, n_labels)
    spot = ~hot & compact
    cx = binned.to_raw(per_spot(xs * positive) / weight)
    cy = binned.to_raw(per_spot(ys * positive) / weight)
    good = spot & (i_sigma >= GOOD_I_SIGMA)
    spot_bins = np.zeros(signal.shape, bool)
    spot_bins[ys, xs] = compact[on - 1]
    return SpotFinding(
        n_spots=int(spot.sum()), n_good=int(good.sum()),
        median_i_sigma=float(np.median(i_sigma[spot])) if spot.any() else 0.0,
        background=_level(counts, quiet) / binned.k ** 2,
        background_share=_share(counts, raw),
        resolution_a=_resolution(frame, cx[good], cy[good], centre),
        n_hot_pixels=int(hot.sum()), gain=round(gain, 2),
        x=cx[spot].astype(np.float32), y=cy[spot].astype(np.float32),
        i_sigma=i_sigma[spot].astype(np.float32)), spot_bins


def _line_like(on, ys, xs, n_labels: int) -> np.ndarray:
    """Per candidate (label ``on`` of each signal bin at ``ys``, ``xs``): its bounding box
    is at most LINE_WIDTH bins across and at least LINE_LENGTH along a row or column.
    (The extents by ufunc.at over the signal bins: cv2's component statistics cost a pass
    over the whole frame.)"""

    def extent(values):
        low = np.full(n_labels, np.iinfo(np.intp).max)
        high = np.full(n_labels, -1)
        np.minimum.at(low, on, values)
        np.maximum.at(high, on, values)
        return (high - low + 1)[1:]

    width, height = extent(xs), extent(ys)
    return (np.minimum(width, height) <= LINE_WIDTH) & (np.maximum(width, height) >= LINE_LENGTH)


def _hot(pixels: np.ndarray, k: int, ys, xs, on, size, local) -> np.ndarray:
    """Per candidate: a hot pixel or zinger, one bin whose raw neighbourhood (the bin and
    one raw pixel about it) holds ``HOT_SHARE`` of its excess counts in one pixel; a Bragg
    spot spreads over several. ``ys``, ``xs``, ``on``: each signal bin and its candidate."""
    hot = np.zeros(len(size), bool)
    single = size[on - 1] == 1
    if not single.any():
        return hot
    by, bx, which = ys[single], xs[single], on[single] - 1
    dy, dx = np.divmod(np.arange((k + 2) ** 2), k + 2)
    rows = np.clip(by[:, None] * k - 1 + dy, 0, pixels.shape[0] - 1)
    cols = np.clip(bx[:, None] * k - 1 + dx, 0, pixels.shape[1] - 1)
    background = np.nan_to_num(local[by, bx])[:, None] / k ** 2
    block = np.maximum(np.nan_to_num(pixels[rows, cols].astype(np.float64)) - background, 0)
    share = block.max(axis=1) / np.maximum(block.sum(axis=1), 1e-9)
    hot[which] = share >= HOT_SHARE
    return hot


def _level(counts: np.ndarray, quiet: np.ndarray) -> float:
    """Mean of the spot-free bins (one in 4×4 of them): a median reads 0 on a weak frame."""
    sample = counts[::4, ::4][quiet[::4, ::4]]
    return float(sample.mean()) if sample.size else 0.0


def _share(counts: np.ndarray, spot_counts: np.ndarray) -> float:
    total = float(counts.sum(dtype=np.float64))
    return 1.0 - float(spot_counts.sum()) / total if total > 0 else 1.0


def _resolution(frame: Frame, x, y, centre) -> float | None:
    g = frame.geometry
    bx, by = centre if centre is not None else (g.beam_x, g.beam_y)
    if not g.can_resolve or bx is None or by is None or len(x) < MIN_SPOTS_FOR_RESOLUTION:
        return None
    inverse_d = 1.0 / g.d_spacing(np.hypot(x - bx, y - by))
    return round(float(1.0 / np.quantile(inverse_d, RESOLUTION_QUANTILE)), 2)
