"""Writers for the formats mxqc reads, so tests and the simulator produce real detector files.

Every writer takes counts with NaN for gaps (written as the format's gap flag) and a
Geometry, and writes the header fields that the matching reader parses.
"""

from __future__ import annotations

import bz2
import gzip
import os

import fabio.adscimage
import fabio.cbfimage
import fabio.edfimage
import fabio.tifimage
import h5py
import hdf5plugin
import numpy as np

from mxqc.frame import Geometry


def _as_counts(pixels: np.ndarray, dtype, gap_value) -> np.ndarray:
    pixels = np.asarray(pixels)
    info = np.iinfo(dtype)
    out = np.clip(np.nan_to_num(pixels, nan=0.0), info.min, info.max).astype(dtype)
    out[np.isnan(pixels)] = gap_value
    return out


def _compress_in_place(path: str) -> None:
    """Compress ``path`` minus its .gz/.bz2 suffix into ``path`` (CBF/SMV are often shipped so)."""
    plain = path.removesuffix(".gz").removesuffix(".bz2")
    with open(plain, "rb") as f:
        data = f.read()
    opener = gzip.open if path.endswith(".gz") else bz2.open
    with opener(path, "wb") as f:
        f.write(data)
    os.remove(plain)


def _write_maybe_compressed(path, write):
    path = os.fspath(path)
    write(path.removesuffix(".gz").removesuffix(".bz2"))
    if path.endswith((".gz", ".bz2")):
        _compress_in_place(path)


def write_cbf(path, pixels, geometry: Geometry | None = None, *, count_cutoff: int = 1_048_500):
    """Pilatus-style miniCBF (byte-offset, int32); NaN → −1; ``.gz``/``.bz2`` compress."""
    geometry = Geometry() if geometry is None else geometry
    lines = [f"# Count_cutoff {count_cutoff} counts"]
    if geometry.pixel_size_mm:
        s = geometry.pixel_size_mm * 1e-3
        lines.append(f"# Pixel_size {s:.6g} m x {s:.6g} m")
    if geometry.wavelength_a:
        lines.append(f"# Wavelength {geometry.wavelength_a:.5f} A")
    if geometry.distance_mm:
        lines.append(f"# Detector_distance {geometry.distance_mm * 1e-3:.6f} m")
    if geometry.has_beam:
        lines.append(f"# Beam_xy ({geometry.beam_x:.2f}, {geometry.beam_y:.2f}) pixels")
    header = {"_array_data.header_convention": "PILATUS_1.2",
              "_array_data.header_contents": "\n".join(lines)}
    image = fabio.cbfimage.CbfImage(data=_as_counts(pixels, np.int32, -1), header=header)
    _write_maybe_compressed(path, image.write)


def write_smv(path, pixels, geometry: Geometry | None = None):
    """ADSC SMV (uint16). Beam centre in the ADSC convention (see ``geometry.from_smv``)."""
    geometry = Geometry() if geometry is None else geometry
    counts = _as_counts(pixels, np.uint16, 0)
    header = {"CCD_IMAGE_SATURATION": "65535"}
    px = geometry.pixel_size_mm
    if px:
        header["PIXEL_SIZE"] = f"{px:.6f}"
    if geometry.distance_mm:
        header["DISTANCE"] = f"{geometry.distance_mm:.3f}"
    if geometry.wavelength_a:
        header["WAVELENGTH"] = f"{geometry.wavelength_a:.5f}"
    if geometry.has_beam and px:
        header["BEAM_CENTER_X"] = f"{geometry.beam_x * px:.4f}"
        header["BEAM_CENTER_Y"] = f"{(counts.shape[0] - geometry.beam_y) * px:.4f}"
    image = fabio.adscimage.AdscImage(data=counts, header=header)
    _write_maybe_compressed(path, image.write)


def _key_header(geometry: Geometry) -> dict[str, str]:
    keys = ("beam_x", "beam_y", "pixel_size_mm", "distance_mm", "wavelength_a")
    return {k: repr(getattr(geometry, k)) for k in keys if getattr(geometry, k) is not None}


def write_tiff(path, pixels):
    """Dectris-style 32-bit TIFF; NaN → −1 (TIFF carries no geometry)."""
    fabio.tifimage.TifImage(data=_as_counts(pixels, np.int32, -1)).write(os.fspath(path))


def write_edf(path, pixels, geometry: Geometry | None = None):
    """ESRF EDF, float32 with NaN kept; geometry as ``beam_x`` style header keys."""
    header = _key_header(Geometry() if geometry is None else geometry)
    fabio.edfimage.EdfImage(data=np.asarray(pixels, np.float32), header=header).write(
        os.fspath(path))


def write_nexus(path, frames, geometry: Geometry | None = None, *, frames_per_file: int = 100,
                dtype=np.uint32):
    """Eiger-style NeXus master file with external-link data files, bitshuffle-LZ4 compressed.

    Parameters
    ----------
    path : str
        The master file, e.g. ``run_master.h5``; data files are written beside it as
        ``run_data_000001.h5`` ...
    frames : (N, H, W) array or iterable of (H, W) arrays
        Counts with NaN for gaps (written as the dtype's maximum, Eiger's gap flag).
    """
    geometry = Geometry() if geometry is None else geometry
    path = os.fspath(path)
    stem = path.removesuffix(".h5").removesuffix("_master")
    gap = np.iinfo(dtype).max
    block, n_files = [], 0

    def flush():
        nonlocal block, n_files
        n_files += 1
        name = f"{stem}_data_{n_files:06d}.h5"
        with h5py.File(name, "w") as f:
            f.create_dataset("entry/data/data", data=np.stack(block), chunks=(1, *block[0].shape),
                             **hdf5plugin.Bitshuffle(cname="lz4"))
        block = []
        return name

    data_files = []
    for frame in frames:
        block.append(_as_counts(frame, dtype, gap))
        if len(block) == frames_per_file:
            data_files.append(flush())
    if block:
        data_files.append(flush())
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        for i, name in enumerate(data_files, start=1):
            data[f"data_{i:06d}"] = h5py.ExternalLink(os.path.basename(name), "/entry/data/data")
        det = f.create_group("entry/instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        values = {"beam_center_x": geometry.beam_x, "beam_center_y": geometry.beam_y,
                  "x_pixel_size": geometry.pixel_size_mm and geometry.pixel_size_mm * 1e-3,
                  "y_pixel_size": geometry.pixel_size_mm and geometry.pixel_size_mm * 1e-3,
                  "detector_distance": geometry.distance_mm and geometry.distance_mm * 1e-3}
        for key, value in values.items():
            if value is not None:
                det[key] = value
        if geometry.wavelength_a is not None:
            f["entry/instrument/beam/incident_wavelength"] = geometry.wavelength_a
