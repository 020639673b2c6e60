"""Detector models: pixel grids with module gaps (pixel arrays) or tiles (CCDs)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class DetectorModel:
    """A flat detector.

    Attributes
    ----------
    name : str
    shape : (rows, cols)
    pixel_size_mm : float
    modules : (n_rows, n_cols)
        Module (pixel array) or tile (CCD) grid.
    gap : (rows, cols)
        Gap between modules in pixels (0 for tiled CCDs).
    overload : int
        Highest count the detector records.
    readout_noise : float
        Gaussian readout noise in counts (CCDs; 0 for photon counters).
    ccd : bool
        True for integrating CCDs (a pedestal, readout noise, ADU per photon; no gaps).
    adu_per_photon : float
        Counts an integrating CCD records per X-ray photon (1 for photon counters).
    seam : int
        Width in pixels of the zero-count lines a tiled CCD writes between its tiles.
    writer : {'cbf', 'smv', 'h5'}
        The format the detector's frames are usually written in.
    """

    name: str
    shape: tuple[int, int]
    pixel_size_mm: float
    modules: tuple[int, int] = (1, 1)
    gap: tuple[int, int] = (0, 0)
    overload: int = 1_048_500
    readout_noise: float = 0.0
    ccd: bool = False
    writer: str = "cbf"
    seam: int = 0
    adu_per_photon: float = 1.0

    def seam_mask(self) -> np.ndarray | None:
        """(rows, cols) bool: the seams between CCD tiles, or None without seams."""
        return _seam_mask(self.shape, self.modules, self.seam) if self.seam else None

    def module_map(self) -> np.ndarray:
        """(rows, cols) int array: module index of each pixel, −1 in gaps."""
        return _module_map(self.shape, self.modules, self.gap)

    def per_pixel(self, per_module: np.ndarray, in_gaps: float = 1.0) -> np.ndarray:
        """Each pixel's value of ``per_module`` (row-major over the module grid; ``in_gaps``
        in the gaps): two small takes, a row's band then each column's, where a gather over
        every pixel's module index read eight bytes of index per pixel."""
        rows, cols = _module_axes(self.shape, self.modules, self.gap)
        table = np.full((self.modules[0] + 1, self.modules[1] + 1), in_gaps, per_module.dtype)
        table[1:, 1:] = per_module.reshape(self.modules)
        return table.take(rows + 1, axis=0).take(cols + 1, axis=1)


@lru_cache(maxsize=8)
def _module_axes(shape, modules, gap) -> tuple[np.ndarray, np.ndarray]:
    """The module row of each pixel row and module column of each pixel column (−1 in
    gaps)."""
    def axis(n, parts, gap_px):
        size = (n - (parts - 1) * gap_px) // parts
        index = np.full(n, -1, np.intp)
        for k in range(parts):
            start = k * (size + gap_px)
            end = n if (k == parts - 1 and gap_px == 0) else start + size
            index[start:end] = k
        index.flags.writeable = False
        return index

    return axis(shape[0], modules[0], gap[0]), axis(shape[1], modules[1], gap[1])


@lru_cache(maxsize=8)
def _module_map(shape, modules, gap) -> np.ndarray:
    rows, cols = _module_axes(shape, modules, gap)
    out = np.where((rows[:, None] >= 0) & (cols[None, :] >= 0),
                   rows[:, None] * modules[1] + cols[None, :], -1).astype(np.int32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=8)
def _seam_mask(shape, modules, seam) -> np.ndarray:
    def axis(n, parts):
        on = np.zeros(n, bool)
        for k in range(1, parts):
            start = k * n // parts - seam // 2
            on[start:start + seam] = True
        return on

    out = axis(shape[0], modules[0])[:, None] | axis(shape[1], modules[1])[None, :]
    out.flags.writeable = False
    return out


DETECTORS: dict[str, DetectorModel] = {d.name: d for d in (
    # PILATUS 6M: 5 × 12 modules of 487 × 195 px, gaps of 7 (columns) and 17 (rows) px.
    DetectorModel("pilatus6m", (2527, 2463), 0.172, (12, 5), (17, 7), 1_048_500),
    # EIGER 4M / 16M: modules of 1030 × 514 px, gaps of 10 (columns) and 37 (rows) px.
    DetectorModel("eiger4m", (2167, 2070), 0.075, (4, 2), (37, 10), 65_535, writer="h5"),
    DetectorModel("eiger16m", (4371, 4150), 0.075, (8, 4), (37, 10), 65_535, writer="h5"),
    # ADSC Q315: 3 × 3 CCD tiles, 102.6 µm; a 2 × 2 tile CCD like the ADSC Q210 binned
    # (the shared real adsc.img: 2304², zero-count seams 5 px wide between the tiles).
    DetectorModel("adsc_q315", (3072, 3072), 0.1026, (3, 3), (0, 0), 65_535, 12.0, True, "smv",
                  seam=6, adu_per_photon=1.8),
    DetectorModel("ccd_2x2", (2304, 2304), 0.0816, (2, 2), (0, 0), 65_535, 10.0, True, "smv",
                  seam=5, adu_per_photon=1.8),
    # A small gap-free square of 2 × 2 sensor tiles, for tests and fast training sets.
    DetectorModel("square1k", (1024, 1024), 0.172, (2, 2), (0, 0), 1_048_500),
    DetectorModel("square256", (256, 256), 0.172, (2, 2), (0, 0), 1_048_500),
)}


CANVAS_PREFIX = "canvas:"


def canvas_name(shape: tuple[int, int], pixel_size_mm: float) -> str:
    """The model name of a real frame used as a canvas (``simulate.canvas``)."""
    return f"{CANVAS_PREFIX}{shape[0]}x{shape[1]}:{pixel_size_mm:g}"


def detector_model(name: str) -> DetectorModel:
    """A model by name: one of ``DETECTORS``, or a canvas's grid from ``canvas_name`` (a
    photon counter whose module layout the canvas itself gives)."""
    if name in DETECTORS:
        return DETECTORS[name]
    if name.startswith(CANVAS_PREFIX):
        shape, pixel = name[len(CANVAS_PREFIX):].split(":")
        rows, cols = (int(v) for v in shape.split("x"))
        return DetectorModel(name, (rows, cols), float(pixel))
    raise KeyError(f"unknown detector model {name!r}; known: {sorted(DETECTORS)}")
