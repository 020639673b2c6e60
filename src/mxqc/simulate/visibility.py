"""Is a drawn anomaly visible? Labels that mean what a person would mark.

The RefleX labels are human labels: a person marks what they can see in the normalised
image. The simulator knows what it drew; this module judges whether each drawn class can be
seen in the frame as written, the way a person looks at it:

* the frame's own normalisation: clipped at its own 95th-percentile count (``normalise``),
  scaled to 0–255 and area-resized to a ``VIEW_SIZE``² image;
* each class's contribution rendered on its own, noise-free, and turned into the change of
  grey level it makes in that image (``Δ``: the noise-free frame minus the noise-free frame
  without the class, both clipped per raw pixel, then area-averaged; where the frame is
  clipped, the change is 0);
* against the frame's own noise where the change lies: the Poisson (and CCD readout) noise
  σ of the view's pixels, averaged over as much of the footprint as the eye integrates
  (``EYE_PIXELS`` view pixels at most: a person sees a faint step over a whole module but
  not a faint dot), added in quadrature to a just-noticeable difference of ``JND`` grey
  levels (the eye's contrast threshold on a screen).

The score of a class is the contrast-to-noise ratio over its footprint F (the view pixels
it changes by at least half a grey level):

    score = p90(|Δ| over F) / √((median(σ over F) / √min(|F|, EYE_PIXELS))² + JND²)

and it is visible when the footprint covers at least the class's ``MIN_FOOTPRINT`` view
pixels (a ring a person marks is more than a blob beside the beam stop; a hot pixel is a
pixel) and the score reaches the class's threshold in ``THRESHOLDS``. What each class's
``Δ`` is:

* loop scattering, background ring, ice ring: their rings and arcs;
* strong background: the air scatter and flat background above the most a frame without
  strong background draws (``render.NORMAL_AIR_SCATTER`` and ``NORMAL_FLAT_BACKGROUND``);
* diffuse scattering: the haloes and streaks round the spots and the cloudy modulation;
* artifact: what the digital artefacts changed in the recorded counts;
* non-uniform detector: the gain change relative to the baseline (±2 % module) gains,
  high-passed (less its Gaussian blur of σ = ``VIEW_SIZE``/32 view pixels), times the grey
  level of the background it multiplies. A person sees a step, an edge or a module out of
  line; a smooth gain ramp under a radially falling background carries no edge.

The thresholds were set by looking at frames just below and just above them
(``benchmarks/bench_visibility.py --gallery``, drawn in ``docs/visibility-gallery-*.png``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mxqc.classes import CLASSES

VIEW_SIZE = 512
EYE_PIXELS = 64
JND = 2.5
MIN_FOOTPRINT = {"loop_scattering": 100, "background_ring": 100, "strong_background": 400,
                 "diffuse_scattering": 50, "artifact": 4, "ice_ring": 100,
                 "non_uniform_detector": 100}
FOOTPRINT_GREY = 0.5
THRESHOLDS = {
    "loop_scattering": 2.0,
    "background_ring": 2.0,
    "strong_background": 2.0,
    "diffuse_scattering": 2.0,
    "artifact": 2.0,
    "ice_ring": 2.0,
    "non_uniform_detector": 2.0,
}


RENDERED_APART = frozenset({"loop_scattering", "background_ring", "strong_background",
                            "ice_ring"})  # the classes drawn as parts of the background


@dataclass(frozen=True, eq=False)
class Layers:
    """A frame and what each drawn class changes in it, in the ``VIEW_SIZE``² view.

    Attributes
    ----------
    level : noise-free recorded counts (per raw pixel, averaged over each view pixel)
    shown : grey-level change Δ of each drawn class but the non-uniform response (the
        classes drawn as additive parts and the digital artefacts)
    gain_change : actual / baseline gains − 1, and ``background`` the background's counts
        under baseline gains (both None without a faulty response)
    adu_per_photon, readout_noise : the detector's counting noise
    clip : the recorded frame's own clip value (``normalise.clip_value_of``)
    raw_per_view : raw pixels averaged into one view pixel
    """

    level: np.ndarray
    shown: dict[str, np.ndarray]
    gain_change: np.ndarray | None
    background: np.ndarray | None
    adu_per_photon: float
    readout_noise: float
    clip: float
    raw_per_view: float


QUANTILE_SAMPLE = 16384  # footprint pixels the quantiles read (every n-th beyond that)


def score(change: np.ndarray, noise: np.ndarray, min_footprint: int = 4) -> float:
    """Contrast-to-noise of a grey-level change over its footprint (0 if it is smaller than
    ``min_footprint`` view pixels). The quantiles of a footprint larger than
    ``QUANTILE_SAMPLE`` pixels are read from an evenly strided sample of it (a rank error
    under 0.5 %)."""
    footprint = np.flatnonzero(np.abs(change) >= FOOTPRINT_GREY)
    if footprint.size < min_footprint:
        return 0.0
    area = min(footprint.size, EYE_PIXELS)
    sample = footprint[::-(-footprint.size // QUANTILE_SAMPLE)]
    contrast = float(np.percentile(np.abs(change.take(sample)), 90))
    return contrast / float(np.hypot(np.median(noise.take(sample)) / np.sqrt(area), JND))


def noise(layers: Layers) -> np.ndarray:
    """σ of the view's grey levels (0 where the frame is clipped)."""
    variance = (layers.adu_per_photon * np.maximum(layers.level, 0)
                + layers.readout_noise**2) / layers.raw_per_view
    sigma = np.where(layers.level < layers.clip, np.sqrt(variance), 0).astype(np.float32)
    return sigma * np.float32(255.0 / layers.clip)


def changes(layers: Layers, drawn) -> dict[str, np.ndarray]:
    """Grey-level change Δ each drawn class makes in the normalised view."""
    empty = np.zeros_like(layers.level)
    return {name: _gain_edges(layers) if name == "non_uniform_detector"
            else layers.shown.get(name, empty)
            for name, flag in zip(CLASSES, drawn, strict=True) if flag}


def visibility(layers: Layers, drawn) -> dict[str, float | None]:
    """Score of every drawn class (None for a class not drawn), in canonical order."""
    sigma = noise(layers)
    found = changes(layers, drawn)
    return {name: score(found[name], sigma, MIN_FOOTPRINT[name]) if name in found else None
            for name in CLASSES}


def _gain_edges(layers: Layers) -> np.ndarray:
    """Grey-level change of the non-uniform response that a person can see: its edges."""
    if layers.gain_change is None:
        return np.zeros_like(layers.level)
    relative = layers.gain_change
    # the smooth part, blurred over VIEW_SIZE / 32 on an 8× smaller copy (same result, cheaper)
    coarse = cv2.resize(relative, (VIEW_SIZE // 8, VIEW_SIZE // 8), interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), VIEW_SIZE / 256,
                                         borderType=cv2.BORDER_REFLECT),
                        (VIEW_SIZE, VIEW_SIZE), interpolation=cv2.INTER_LINEAR)
    grey = np.minimum(layers.background, layers.clip) * np.float32(255.0 / layers.clip)
    return np.where(layers.background < layers.clip, (relative - smooth) * grey, 0).astype(
        np.float32)


def visible_labels(drawn, scores: dict[str, float | None]) -> tuple[int, ...]:
    """1 where a class was drawn and its score reaches its threshold."""
    return tuple(int(bool(flag) and (scores[name] or 0.0) >= THRESHOLDS[name])
                 for name, flag in zip(CLASSES, drawn, strict=True))
