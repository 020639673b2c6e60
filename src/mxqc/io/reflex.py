"""The RefleX legacy formats: 8-bit PNG negatives, ``.npy.bz2`` with ``.info`` sidecar, ``.npy``."""

from __future__ import annotations

import io
import os
import zlib

import numpy as np
from PIL import Image

from mxqc.errors import FrameReadError
from mxqc.frame import Frame, FrameSource, Geometry
from mxqc.io import integrity
from mxqc.io.reader import Reader, open_maybe_compressed


def _read_png(path: str, frames: slice | None):
    try:
        with Image.open(path) as img:
            img.load()
            array = np.asarray(img.convert("L"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise FrameReadError(path, f"corrupt or truncated PNG: {exc}") from exc
    # RefleX PNGs are negatives; store counts-like values (high = strong) so every stage sees
    # one polarity, and mark the frame as already normalised.
    pixels = (255 - array).astype(np.float32)
    if frames is None or 0 in range(1)[frames]:
        yield Frame(pixels, Geometry(), FrameSource(path, 0, "reflex-png"), {}, normalised=True)


def read_info(path: str) -> dict[str, str]:
    """Parse a RefleX ``.info`` sidecar: lines ``key value...``."""
    info = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if parts:
                info[parts[0]] = " ".join(parts[1:])
    return info


def _info_geometry(info: dict[str, str]) -> Geometry:
    """``beam_x``/``beam_y`` are millimetres; they become pixels only with ``pixel_size``."""
    def num(key):
        try:
            return float(info[key])
        except (KeyError, ValueError):
            return None

    found = {"distance_mm": num("distance"), "wavelength_a": num("wavelength"),
             "pixel_size_mm": num("pixel_size")}
    fields = [(k, src) for k, src in (("distance_mm", ".info distance"),
                                      ("wavelength_a", ".info wavelength"),
                                      ("pixel_size_mm", ".info pixel_size")) if found[k]]
    bx, by, px = num("beam_x"), num("beam_y"), found["pixel_size_mm"]
    if bx is not None and by is not None and px:
        found["beam_x"], found["beam_y"] = bx / px, by / px
        fields += [("beam_x", ".info beam_x / pixel_size"), ("beam_y", ".info beam_y / pixel_size")]
    found = {k: v for k, v in found.items() if v is not None}
    return Geometry(**found, fields=tuple(fields))


def _load_npy(path: str) -> np.ndarray:
    """The array, after checking its header against the data (never unpickling)."""
    try:
        with open_maybe_compressed(path) as f:
            raw = f.read()
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(stream)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise FrameReadError(path, f"corrupt or truncated NumPy array: {exc}") from exc
    if dtype.hasobject:
        raise FrameReadError(path, "not supported: a NumPy array of Python objects (loading "
                                   "it would unpickle code)")
    if dtype.kind not in "biuf":
        raise FrameReadError(path, f"not supported: NumPy {dtype} data (counts must be "
                                   "integers or reals)")
    if len(shape) == 2:
        integrity.check_shape(path, *shape, "the NumPy header")
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - stream.tell() < need:
        raise FrameReadError(path, f"truncated NumPy array: {len(raw) - stream.tell()} of "
                                   f"{need} data bytes")
    return np.load(io.BytesIO(raw), allow_pickle=False)


def _read_npy(path: str, frames: slice | None):
    array = _load_npy(path)
    if array.ndim != 2 or array.size == 0:
        raise FrameReadError(path, f"expected a 2-D array, got shape {array.shape}")
    pixels = np.array(array, np.float32, order="C")  # OpenCV needs C order
    pixels[pixels < 0] = np.nan
    stem = path.removesuffix(".bz2").removesuffix(".gz").removesuffix(".npy")
    info = read_info(stem + ".info") if os.path.isfile(stem + ".info") else {}
    if frames is None or 0 in range(1)[frames]:
        yield Frame(pixels, _info_geometry(info), FrameSource(path, 0, "npy"), info)


PNG = Reader("reflex-png", lambda head, name: head.startswith(b"\x89PNG"), _read_png)
NPY = Reader("npy", lambda head, name: head.startswith(b"\x93NUMPY"), _read_npy)
