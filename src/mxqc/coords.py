"""The one place that converts coordinates between a raw frame and an image made from it.

Continuous coordinates put pixel centres at integers on both sides. An ``ImageMapping``
records which raw rows and columns survived cropping or gap deletion and the output size,
so that the paper's resize and the original code's crop-and-delete variant convert alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _interp_extrapolate(u, xp, fp):
    """np.interp with linear extrapolation beyond both ends (xp increasing)."""
    u = np.asarray(u, float)
    out = np.interp(u, xp, fp)
    if len(xp) > 1:
        lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
        hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
        out = np.where(u < xp[0], fp[0] + (u - xp[0]) * lo_slope, out)
        out = np.where(u > xp[-1], fp[-1] + (u - xp[-1]) * hi_slope, out)
    return out


@dataclass(frozen=True, eq=False)
class ImageMapping:
    """Raw frame ↔ resized image coordinates.

    Attributes
    ----------
    raw_shape : (int, int)
        (rows, columns) of the raw frame.
    rows, cols : 1-D int ndarray
        Raw row / column indices kept before resizing (sorted).
    image_shape : (int, int)
        (rows, columns) of the output image.
    """

    raw_shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    image_shape: tuple[int, int]

    @classmethod
    def resize(cls, raw_shape, image_shape) -> ImageMapping:
        """Mapping of a plain resize of the whole frame."""
        return cls(tuple(raw_shape), np.arange(raw_shape[0]), np.arange(raw_shape[1]),
                   tuple(image_shape))

    @property
    def scale(self) -> float:
        """Image pixels per raw pixel (mean of both axes), for converting distances."""
        return 0.5 * (self.image_shape[0] / len(self.rows) + self.image_shape[1] / len(self.cols))

    def to_image(self, x, y):
        """Raw-frame (x, y) → image (x, y)."""
        out = []
        for v, n, idx in ((x, self.image_shape[1], self.cols), (y, self.image_shape[0], self.rows)):
            k = _interp_extrapolate(v, idx.astype(float), np.arange(len(idx), dtype=float))
            out.append((k + 0.5) * n / len(idx) - 0.5)
        return tuple(out)

    def to_raw(self, x, y):
        """Image (x, y) → raw-frame (x, y)."""
        out = []
        for v, n, idx in ((x, self.image_shape[1], self.cols), (y, self.image_shape[0], self.rows)):
            k = (np.asarray(v, float) + 0.5) * len(idx) / n - 0.5
            out.append(_interp_extrapolate(k, np.arange(len(idx), dtype=float), idx.astype(float)))
        return tuple(out)
