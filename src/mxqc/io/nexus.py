"""Eiger / NeXus (NXmx) HDF5 master files, read lazily one frame at a time."""

from __future__ import annotations

import h5py
import hdf5plugin  # noqa: F401  (registers bitshuffle/LZ4 filters used by Eiger data)
import numpy as np

from mxqc.errors import FrameReadError
from mxqc.frame import Frame, FrameSource, Geometry
from mxqc.io.reader import Reader

_DET = "/entry/instrument/detector"


def _scalar(h5, path, scale=1.0):
    try:
        return float(np.asarray(h5[path][()]).ravel()[0]) * scale
    except (KeyError, OSError, ValueError, IndexError):
        return None


def _geometry(h5) -> Geometry:
    found = {
        "beam_x": _scalar(h5, f"{_DET}/beam_center_x"),
        "beam_y": _scalar(h5, f"{_DET}/beam_center_y"),
        "pixel_size_mm": _scalar(h5, f"{_DET}/x_pixel_size", 1e3),
        "distance_mm": _scalar(h5, f"{_DET}/detector_distance", 1e3),
        "wavelength_a": _scalar(h5, "/entry/instrument/beam/incident_wavelength"),
    }
    labels = {"beam_x": f"{_DET}/beam_center_x (pixels)",
              "beam_y": f"{_DET}/beam_center_y (pixels)",
              "pixel_size_mm": f"{_DET}/x_pixel_size (m)",
              "distance_mm": f"{_DET}/detector_distance (m)",
              "wavelength_a": "/entry/instrument/beam/incident_wavelength (Å)"}
    found = {k: v for k, v in found.items() if v is not None}
    return Geometry(**found, fields=tuple((k, labels[k]) for k in found))


def _stacks(path, h5):
    """The 3-D data blocks in frame order: Eiger's data_000001.. links, or NXmx /entry/data/data."""
    group = h5.get("/entry/data")
    if group is None:
        raise FrameReadError(path, "HDF5 file has no /entry/data group (not NeXus/Eiger)")
    names = sorted(n for n in group if n.startswith("data"))
    stacks = []
    for name in names:
        try:
            ds = group[name]
        except KeyError:  # an external link whose data file is missing
            raise FrameReadError(path, f"/entry/data/{name} links to a missing data file") \
                from None
        if isinstance(ds, h5py.Dataset) and ds.ndim in (2, 3):
            stacks.append(ds)
    if not stacks:
        raise FrameReadError(path, "no 2-D or 3-D image dataset under /entry/data")
    return stacks


def _read_nexus(path: str, frames: slice | None):
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise FrameReadError(path, f"corrupt or truncated HDF5 file: {exc}") from exc
    with h5:
        stacks = _stacks(path, h5)
        counts = [1 if s.ndim == 2 else s.shape[0] for s in stacks]
        geom = _geometry(h5)
        mask = h5.get(f"{_DET}/detectorSpecific/pixel_mask")
        mask = np.asarray(mask[()]) != 0 if mask is not None else None
        starts = np.cumsum([0, *counts])
        wanted = range(int(starts[-1]))[frames] if frames is not None else range(int(starts[-1]))
        for index in wanted:
            block = int(np.searchsorted(starts, index, side="right") - 1)
            ds = stacks[block]
            data = ds[()] if ds.ndim == 2 else ds[index - starts[block]]
            pixels = data.astype(np.float32)
            if np.issubdtype(data.dtype, np.unsignedinteger):
                # Eiger marks gaps and defective pixels with the counter's maximum value.
                pixels[data == np.iinfo(data.dtype).max] = np.nan
            else:
                pixels[pixels < 0] = np.nan
            if mask is not None and mask.shape == pixels.shape:
                pixels[mask] = np.nan
            yield Frame(pixels, geom, FrameSource(path, index, "nexus"), {})


def _count_nexus(path: str) -> int:
    with h5py.File(path, "r") as h5:
        return sum(1 if s.ndim == 2 else s.shape[0] for s in _stacks(path, h5))


NEXUS = Reader("nexus", lambda head, name: head.startswith(b"\x89HDF\r\n\x1a\n"), _read_nexus,
               _count_nexus)
