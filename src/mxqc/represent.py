"""The paper's three representations: radial feature vectors, polar images, Cartesian image.

All take the 8-bit RefleX-polarity image and a centre (x, y) in its coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from mxqc.errors import CentreError

STATISTICS = ("min", "max", "mean", "median", "var", "p05", "p95")
N_LAYERS = 240
N_SHADOW_RAYS = 1024
POLAR_MODES = ("min", "max")


@dataclass(frozen=True, eq=False)
class RadialFeatures:
    """Per-layer statistics around the beam centre.

    Attributes
    ----------
    values : (7, n_layers) float64 ndarray
        Rows in ``STATISTICS`` order; column r is the layer at radius r (in 512-image pixels).
    centre : (float, float)
        (x, y) used, in image pixels.
    shadow_rays : (k,) int ndarray
        Indices (of ``N_SHADOW_RAYS``, 0 = east, clockwise on screen) of rays excluded as
        beam-stop shadow.
    """

    values: np.ndarray
    centre: tuple[float, float]
    shadow_rays: np.ndarray

    @property
    def vector(self) -> np.ndarray:
        """(7 · n_layers,) feature vector, statistic-major."""
        return self.values.ravel()


@lru_cache(maxsize=16)
def _layer_map(shape: tuple[int, int], cx: float, cy: float, n_layers: int):
    """Layer index and ray index of every pixel, computed once per (shape, centre).

    Layer r holds the pixels whose distance to the centre rounds to r (in units of a 512-px
    image): the non-overlapping, gap-free rings the paper describes, without the duplicate
    pixels of the original midpoint-circle lists. Pixels beyond the last layer get −1.
    """
    h, w = shape
    unit = min(h, w) / 512.0
    yy, xx = np.mgrid[0:h, 0:w]
    dx, dy = xx - cx, yy - cy
    layer = np.rint(np.hypot(dx, dy) / unit).astype(np.int32)
    layer[layer >= n_layers] = -1
    ray = (np.rint(np.arctan2(dy, dx) / (2 * np.pi) * N_SHADOW_RAYS).astype(np.int32)
           % N_SHADOW_RAYS)
    layer.flags.writeable = ray.flags.writeable = False
    return layer.ravel(), ray.ravel()


def shadow_rays(image: np.ndarray, centre, *, valid=None, sigmas: float = 4.0) -> np.ndarray:
    """Rays (of 1024) whose mean is more than ``sigmas`` σ above the mean of all rays.

    In the negative the beam-stop shadow and its arm are white, so they stand out as bright
    rays. Means use the valid pixels of the inscribed disc. Unlike the original, every
    outlier ray is returned (no merging into one sector), so several shadows are handled.
    """
    layer, ray = _layer_map(image.shape, float(centre[0]), float(centre[1]), N_LAYERS)
    use = layer >= 0
    if valid is not None:
        use &= valid.ravel()
    sums = np.bincount(ray[use], weights=image.ravel()[use], minlength=N_SHADOW_RAYS)
    counts = np.bincount(ray[use], minlength=N_SHADOW_RAYS)
    seen = counts > 0
    means = sums[seen] / counts[seen]
    if means.size < 2:
        return np.empty(0, int)
    outlier = means - means.mean() > sigmas * means.std()
    return np.flatnonzero(seen)[outlier]


def radial_features(image: np.ndarray, centre, *, valid=None, n_layers: int = N_LAYERS,
                    exclude_shadow: bool = True) -> RadialFeatures:
    """The radial feature vector (paper §2.5): 7 statistics of each of ``n_layers`` layers.

    Statistics are float (not quantised to 8 bit as the original stored them); percentiles
    interpolate linearly; variance is the population variance. Empty layers copy the
    previous layer (layer 0 empty → 0), as the original did.

    Examples
    --------
    >>> img = np.full((512, 512), 100, np.uint8)
    >>> radial_features(img, (255.5, 255.5)).values[:, 10].tolist()
    [100.0, 100.0, 100.0, 100.0, 0.0, 100.0, 100.0]
    """
    cx, cy = float(centre[0]), float(centre[1])
    layer, ray = _layer_map(image.shape, cx, cy, n_layers)
    keep = layer >= 0
    if valid is not None:
        keep &= valid.ravel()
    rays = shadow_rays(image, (cx, cy), valid=valid) if exclude_shadow else np.empty(0, int)
    if rays.size:
        keep &= ~np.isin(ray, rays)
    layers, values = layer[keep], image.ravel()[keep].astype(np.float64)
    order = np.lexsort((values, layers))
    layers, values = layers[order], values[order]
    counts = np.bincount(layers, minlength=n_layers)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    filled = counts > 0
    out = np.full((len(STATISTICS), n_layers), np.nan)

    def quantile(q):
        pos = starts[filled] + q * (counts[filled] - 1)
        lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)

    sums = np.bincount(layers, weights=values, minlength=n_layers)[filled]
    squares = np.bincount(layers, weights=values**2, minlength=n_layers)[filled]
    mean = sums / counts[filled]
    stats = {"min": quantile(0.0), "max": quantile(1.0), "mean": mean,
             "median": quantile(0.5), "var": np.maximum(squares / counts[filled] - mean**2, 0.0),
             "p05": quantile(0.05), "p95": quantile(0.95)}
    for row, stat in enumerate(STATISTICS):
        out[row, filled] = stats[stat]
    if not filled[0]:
        out[:, 0] = 0.0
    for r in np.flatnonzero(~filled[1:]) + 1:  # forward fill, in order
        out[:, r] = out[:, r - 1]
    return RadialFeatures(out, (cx, cy), rays)


@dataclass(frozen=True, eq=False)
class PolarImage:
    """Linear-polar image: rows are angle (row j ↔ 360·j/H degrees, from east, clockwise on
    screen), columns are radius (column k ↔ k·max_radius/W pixels)."""

    image: np.ndarray
    centre: tuple[float, float]
    max_radius: float
    mode: str


def polar_radius(shape, centre, mode: str) -> float:
    """'min': distance to the nearest image edge; 'max': to the nearest image corner."""
    h, w = shape
    cx, cy = centre
    near_x, near_y = min(cx, w - 1 - cx), min(cy, h - 1 - cy)
    if mode == "min":
        return float(min(near_x, near_y))
    if mode == "max":
        return float(np.hypot(near_x, near_y))
    raise ValueError(f"mode must be one of {POLAR_MODES}, got {mode!r}")


def polar(image: np.ndarray, centre, *, mode: str = "min", size: int | None = None,
          fill: int = 0) -> PolarImage:
    """OpenCV linear-polar transform around ``centre`` (paper §2.5), nearest-neighbour.

    Points beyond the image get ``fill``: 0 as OpenCV's LinearPolar gave the paper's models
    (black, i.e. 'strong' in a negative).
    """
    h, w = image.shape
    size = w if size is None else int(size)
    radius = polar_radius(image.shape, centre, mode)
    if radius <= 0:
        raise CentreError(f"centre {centre} lies on the image border; no polar image")
    padded = cv2.copyMakeBorder(image, 0, 1, 0, 1, cv2.BORDER_CONSTANT, value=fill)
    out = cv2.warpPolar(padded, (size, size), (float(centre[0]), float(centre[1])), radius,
                        cv2.WARP_POLAR_LINEAR | cv2.INTER_NEAREST | cv2.WARP_FILL_OUTLIERS)
    outside = cv2.warpPolar(np.pad(np.zeros((h, w), np.uint8), ((0, 1), (0, 1)),
                                   constant_values=1), (size, size),
                            (float(centre[0]), float(centre[1])), radius,
                            cv2.WARP_POLAR_LINEAR | cv2.INTER_NEAREST | cv2.WARP_FILL_OUTLIERS)
    out[outside > 0] = fill
    return PolarImage(out, (float(centre[0]), float(centre[1])), radius, mode)
