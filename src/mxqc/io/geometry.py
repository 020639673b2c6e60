"""Header → Geometry, one function per header convention. Each records the fields it used."""

from __future__ import annotations

import math
import re
from dataclasses import replace

from mxqc.frame import Geometry

_FLOAT = r"([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)"


def from_pilatus(contents: str) -> Geometry:
    """Pilatus/Eiger mini-header (``_array_data.header_contents`` of CBF files)."""
    found, fields = {}, []

    def grab(key, pattern, convert, label):
        m = re.search(pattern, contents)
        if m:
            found[key] = convert(m)
            fields.append((key, label))

    grab("pixel_size_mm", r"Pixel_size\s+" + _FLOAT + r"\s*m", lambda m: float(m[1]) * 1e3,
         "Pixel_size (m)")
    grab("distance_mm", r"Detector_distance\s+" + _FLOAT + r"\s*m", lambda m: float(m[1]) * 1e3,
         "Detector_distance (m)")
    grab("wavelength_a", r"Wavelength\s+" + _FLOAT + r"\s*A", lambda m: float(m[1]),
         "Wavelength (Å)")
    m = re.search(r"Beam_xy\s*\(\s*" + _FLOAT + r"\s*,\s*" + _FLOAT + r"\s*\)\s*pixels", contents)
    if m:
        found["beam_x"], found["beam_y"] = float(m[1]), float(m[2])
        fields += [("beam_x", "Beam_xy[0] (pixels, fast)"), ("beam_y", "Beam_xy[1] (pixels, slow)")]
    return Geometry(**found, fields=tuple(fields))


def pilatus_count_cutoff(contents: str) -> float | None:
    m = re.search(r"Count_cutoff\s+(\d+)", contents)
    return float(m[1]) if m else None


def _num(header, key):
    try:
        return float(header[key])
    except (KeyError, ValueError, TypeError):
        return None


def from_smv(header: dict, shape: tuple[int, int]) -> Geometry:
    """SMV (ADSC, d*TREK, Rigaku, Timepix) header.

    Beam centre, in order of preference:

    1. ``DENZO_XBEAM``/``DENZO_YBEAM`` (or ``DENZO_X_BEAM``/``DENZO_Y_BEAM``), mm, where DENZO's
       x is the *slow* axis: fast = DENZO_Y / pixel, slow = DENZO_X / pixel. DENZO values are
       what processing programs wrote after indexing, so they are the most trustworthy.
    2. ``BEAM_CENTER_X``/``BEAM_CENTER_Y``: if both exceed the detector size in mm they cannot
       be millimetres and are taken as pixels (Timepix files do this). Otherwise the ADSC
       convention: fast = X / pixel, slow = (SIZE2·pixel − Y) / pixel (Y is measured from the
       opposite edge). On the shared ADSC frame this equals the DENZO centre to 0.1 px, whereas
       reading Y literally is 17 px off.
    """
    px = _num(header, "PIXEL_SIZE")
    found = {"pixel_size_mm": px, "distance_mm": _num(header, "DISTANCE"),
             "wavelength_a": _num(header, "WAVELENGTH")}
    fields = [(k, f) for k, f in (("pixel_size_mm", "PIXEL_SIZE (mm)"),
                                  ("distance_mm", "DISTANCE (mm)"),
                                  ("wavelength_a", "WAVELENGTH (Å)")) if found[k] is not None]
    n_slow, n_fast = shape
    dx = _num(header, "DENZO_XBEAM") or _num(header, "DENZO_X_BEAM")
    dy = _num(header, "DENZO_YBEAM") or _num(header, "DENZO_Y_BEAM")
    bx, by = _num(header, "BEAM_CENTER_X"), _num(header, "BEAM_CENTER_Y")
    if px and dx is not None and dy is not None:
        found["beam_x"], found["beam_y"] = dy / px, dx / px
        fields += [("beam_x", "DENZO_YBEAM / PIXEL_SIZE"), ("beam_y", "DENZO_XBEAM / PIXEL_SIZE")]
    elif bx is not None and by is not None:
        if px is None or (bx > n_fast * px and by > n_slow * px):
            found["beam_x"], found["beam_y"] = bx, by
            fields += [("beam_x", "BEAM_CENTER_X (pixels)"), ("beam_y", "BEAM_CENTER_Y (pixels)")]
        else:
            found["beam_x"], found["beam_y"] = bx / px, (n_slow * px - by) / px
            fields += [("beam_x", "BEAM_CENTER_X / PIXEL_SIZE"),
                       ("beam_y", "(SIZE2*PIXEL_SIZE - BEAM_CENTER_Y) / PIXEL_SIZE (ADSC)")]
    return Geometry(**found, fields=tuple(fields))


def from_keys(header: dict) -> Geometry:
    """Generic headers (EDF, MarCCD via fabio, our writers): lower-case ``beam_x`` style keys."""
    names = {"beam_x": "beam_x", "beam_y": "beam_y", "pixel_size_mm": "pixel_size_mm",
             "distance_mm": "distance_mm", "wavelength_a": "wavelength_a"}
    found, fields = {}, []
    lower = {str(k).lower(): v for k, v in header.items()}
    for attr, key in names.items():
        value = _num(lower, key)
        if value is not None:
            found[attr] = value
            fields.append((attr, key))
    return Geometry(**found, fields=tuple(fields))


# What a header may say and still describe an MX experiment; outside, the value is missing.
_PLAUSIBLE = {"pixel_size_mm": (1e-3, 10.0, "pixel size", "mm"),
              "distance_mm": (1.0, 1e5, "detector distance", "mm"),
              "wavelength_a": (0.005, 20.0, "wavelength", "Å")}  # 0.02 Å: electrons


def plausible(geometry: Geometry, shape: tuple[int, int]) -> tuple[Geometry, tuple[str, ...]]:
    """``geometry`` with unphysical values set to None, and a warning for each.

    A pixel size of 0, a NaN wavelength or a beam centre far off the detector come from
    damaged or placeholder headers; used, they crash the ring analysis or mislead it.
    """
    changes, warnings = {}, []
    for key, (low, high, what, unit) in _PLAUSIBLE.items():
        value = getattr(geometry, key)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            changes[key] = None
            warnings.append(f"the header's {what} ({value:g} {unit}) is not physical; "
                            "treated as missing")
    if geometry.has_beam:
        rows, cols = shape
        x, y = geometry.beam_x, geometry.beam_y
        if not (math.isfinite(x) and math.isfinite(y)
                and -cols <= x <= 2 * cols and -rows <= y <= 2 * rows):
            changes.update(beam_x=None, beam_y=None)
            warnings.append(f"the header's beam centre ({x:g}, {y:g}) px lies far off the "
                            f"{rows}×{cols} detector; treated as missing")
    if not changes:
        return geometry, ()
    fields = tuple(f for f in geometry.fields if f[0] not in changes)
    return replace(geometry, **changes, fields=fields), tuple(warnings)
