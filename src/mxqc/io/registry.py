"""Format detection: an ordered table of readers, loaded on first use, tried by magic bytes
first and file name second (as fabio does)."""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterator
from dataclasses import replace

from mxqc.errors import FrameReadError, describe_exception
from mxqc.frame import Frame
from mxqc.io.geometry import plausible
from mxqc.io.reader import Reader, read_head

# The formats in detection order (specific magic bytes before generic fallbacks), as
# (name, module, attribute): each module is imported the first time a file is detected.
FORMATS: tuple[tuple[str, str, str], ...] = (
    ("cbf", "mxqc.io.fabio_reader", "CBF"),
    ("smv", "mxqc.io.fabio_reader", "SMV"),
    ("fabio", "mxqc.io.fabio_reader", "FABIO"),
    ("nexus", "mxqc.io.nexus", "NEXUS"),
    ("reflex-png", "mxqc.io.reflex", "PNG"),
    ("npy", "mxqc.io.reflex", "NPY"),
    ("fabio-sniffed", "mxqc.io.fabio_reader", "SNIFFED"),  # whatever fabio itself recognises
)


@functools.cache
def readers() -> dict[str, Reader]:
    """The readers of ``FORMATS``, in detection order, their modules imported once."""
    found = {}
    for name, module, attribute in FORMATS:
        reader = getattr(importlib.import_module(module), attribute)
        if not isinstance(reader, Reader) or reader.name != name:
            raise TypeError(f"{module}.{attribute} is not the Reader {name!r}")
        found[name] = reader
    return found


def detect_reader(path) -> Reader:
    """The reader for ``path``; raises FrameReadError naming the readers tried."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FrameReadError(path, "no such file")
    if os.path.getsize(path) == 0:
        raise FrameReadError(path, "empty file (0 bytes)")
    head = read_head(path)
    if not head:
        raise FrameReadError(path, "empty file after decompression")
    name = os.path.basename(path).lower()
    for reader in readers().values():
        if reader.matches(head, name):
            return reader
    raise FrameReadError(path, "unsupported format (tried: " + ", ".join(readers()) + ")")


def read_frames(path, *, frames: slice | None = None) -> Iterator[Frame]:
    """Yield the frames stored in ``path`` (lazily for multi-frame files).

    Parameters
    ----------
    path : str or os.PathLike
    frames : slice, optional
        Which frames of a multi-frame file, e.g. ``slice(0, 3600, 10)``. Default: all.

    Raises
    ------
    FrameReadError
        For a missing, empty, truncated, corrupt or unsupported file.
    """
    path = os.fspath(path)
    reader = detect_reader(path)
    try:
        for frame in reader.read(path, frames):
            geometry, warnings = plausible(frame.geometry, frame.shape)
            yield replace(frame, geometry=geometry, warnings=frame.warnings + warnings)
    except FrameReadError:
        raise
    except Exception as exc:
        raise _damaged(path, reader, exc) from exc


def _damaged(path: str, reader: Reader, exc: Exception) -> FrameReadError:
    """A library failed deep inside: the file is damaged or in a variant it cannot read."""
    if isinstance(exc, MemoryError):
        return FrameReadError(path, f"the {reader.name} data need more memory than allowed; "
                                    "the file's sizes are probably wrong")
    return FrameReadError(path, f"damaged or unreadable {reader.name} data: the reader failed "
                                f"{describe_exception(exc)}")


def count_frames(path) -> int:
    """How many frames ``path`` holds, without reading pixels where the format allows."""
    path = os.fspath(path)
    reader = detect_reader(path)
    try:
        return reader.count(path)
    except FrameReadError:
        raise
    except Exception as exc:
        raise _damaged(path, reader, exc) from exc


def read_frame(path, index: int = 0) -> Frame:
    """The single frame ``index`` of ``path``."""
    for frame in read_frames(path, frames=slice(index, index + 1)):
        return frame
    raise FrameReadError(os.fspath(path), f"has no frame {index}")



def describe_file(path) -> dict:
    """What ``mxqc info`` says of a file: format, frames, shape, type, gap fraction and the
    first frame's geometry (with the header fields it came from) and warnings."""
    path = os.fspath(path)
    frame = read_frame(path)
    g = frame.geometry

    def rounded(value, digits=2):
        return None if value is None else round(float(value), digits)

    return {"path": path, "format": frame.source.format, "frames": count_frames(path),
            "shape": list(frame.shape), "dtype": str(frame.pixels.dtype),
            "gap_fraction": round(frame.gap_fraction, 5),
            "beam_x": rounded(g.beam_x), "beam_y": rounded(g.beam_y),
            "pixel_size_mm": rounded(g.pixel_size_mm, 5), "distance_mm": rounded(g.distance_mm),
            "wavelength_a": rounded(g.wavelength_a, 5), "header_fields": dict(g.fields),
            "warnings": list(frame.warnings)}
