"""Reader registry: detection by magic bytes first, file name second (as fabio does)."""

from __future__ import annotations

import bz2
import gzip
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from mxqc.errors import FrameReadError, describe_exception
from mxqc.frame import Frame
from mxqc.io.geometry import plausible


@dataclass(frozen=True)
class Reader:
    """A registered reader.

    ``matches(head, name)`` looks at the first decompressed bytes and the lower-case file
    name; ``read(path, frames)`` yields Frames for the selected frame indices (a ``slice``
    or None for all); ``count(path)`` says how many frames the file holds.
    """

    name: str
    matches: Callable[[bytes, str], bool]
    read: Callable[[str, slice | None], Iterator[Frame]]
    count: Callable[[str], int] = lambda path: 1


READERS: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    if not isinstance(reader, Reader):
        raise TypeError(f"expected a Reader, got {type(reader).__name__}")
    READERS[reader.name] = reader
    return reader


def open_maybe_compressed(path: str):
    """Binary file object, transparently decompressing .gz and .bz2."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def read_head(path: str, n: int = 1024) -> bytes:
    try:
        with open_maybe_compressed(path) as f:
            return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip/bz2 stream
        raise FrameReadError(path, f"cannot decompress or read: {exc}") from exc


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
    for reader in READERS.values():
        if reader.matches(head, name):
            return reader
    raise FrameReadError(path, "unsupported format (tried: " + ", ".join(READERS) + ")")


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


# Registration order is detection order: specific magic bytes before generic fallbacks.
from mxqc.io import fabio_reader, nexus, reflex  # noqa: E402,F401

register(fabio_reader.SNIFFED)
