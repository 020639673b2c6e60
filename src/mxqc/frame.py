"""Frame and Geometry: the data every stage after reading works on.

Coordinates follow the project convention: ``x`` is the column (fast axis), ``y`` the row
(slow axis), both in pixels of the raw frame with pixel centres at integer positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mxqc.errors import GeometryError


@dataclass(frozen=True)
class Geometry:
    """Experimental geometry as far as the file header gives it (``None`` where it does not).

    Attributes
    ----------
    beam_x, beam_y : float or None
        Direct-beam position in raw-frame pixels (x = column, y = row).
    pixel_size_mm : float or None
        Square pixel edge in millimetres.
    distance_mm : float or None
        Sample-to-detector distance in millimetres (flat detector normal to the beam).
    wavelength_a : float or None
        X-ray wavelength in Ångström.
    fields : tuple of (str, str)
        Which header fields each value came from, e.g. ``("beam_x", "Beam_xy[0] (pixels)")``.
    """

    beam_x: float | None = None
    beam_y: float | None = None
    pixel_size_mm: float | None = None
    distance_mm: float | None = None
    wavelength_a: float | None = None
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def has_beam(self) -> bool:
        return self.beam_x is not None and self.beam_y is not None

    @property
    def can_resolve(self) -> bool:
        """True when radius (px) and d-spacing (Å) can be converted."""
        return None not in (self.pixel_size_mm, self.distance_mm, self.wavelength_a)

    def _require_resolution(self):
        if not self.can_resolve:
            raise GeometryError(
                "geometry lacks pixel size, distance or wavelength: "
                f"pixel_size_mm={self.pixel_size_mm}, distance_mm={self.distance_mm}, "
                f"wavelength_a={self.wavelength_a}"
            )

    def d_spacing(self, radius_px):
        """d-spacing (Å) of a ring of ``radius_px`` raw pixels: r = D tan 2θ, λ = 2 d sin θ."""
        self._require_resolution()
        two_theta = np.arctan(np.asarray(radius_px, float) * self.pixel_size_mm / self.distance_mm)
        with np.errstate(divide="ignore"):
            return self.wavelength_a / (2.0 * np.sin(two_theta / 2.0))

    def radius_px(self, d_spacing_a):
        """Ring radius in raw pixels for a d-spacing in Å (NaN where 2θ would exceed 90°)."""
        self._require_resolution()
        s = self.wavelength_a / (2.0 * np.asarray(d_spacing_a, float))
        with np.errstate(invalid="ignore"):
            two_theta = 2.0 * np.arcsin(s)
            r = self.distance_mm * np.tan(two_theta) / self.pixel_size_mm
        return np.where(two_theta < np.pi / 2, r, np.nan)


@dataclass(frozen=True)
class FrameSource:
    """Where a frame came from: the file, the frame index within it, and the reader used."""

    path: str
    index: int = 0
    format: str = ""


@dataclass(frozen=True, eq=False)
class Frame:
    """One detector frame.

    Attributes
    ----------
    pixels : (H, W) float32 ndarray
        Counts; NaN where there is no valid pixel (module gaps, masked, saturated, flagged).
    geometry : Geometry
    source : FrameSource
    header : dict
        The raw header as the reader found it (strings), for provenance.
    normalised : bool
        True for frames that are already 8-bit RefleX images (PNG); normalisation then only
        resizes.
    warnings : tuple of str
        What the reader set aside (e.g. an unphysical header value treated as missing).
    """

    pixels: np.ndarray
    geometry: Geometry = field(default_factory=Geometry)
    source: FrameSource = field(default_factory=lambda: FrameSource(path=""))
    header: dict = field(default_factory=dict)
    normalised: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape

    @property
    def gap_fraction(self) -> float:
        """Fraction of pixels that are NaN (gaps, masked or flagged)."""
        return float(np.isnan(self.pixels).mean())
