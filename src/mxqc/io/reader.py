"""What a format reader is, and the byte-level helpers the readers share."""

from __future__ import annotations

import bz2
import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mxqc.errors import FrameReadError
from mxqc.frame import Frame


@dataclass(frozen=True)
class Reader:
    """A format reader.

    ``matches(head, name)`` looks at the first decompressed bytes and the lower-case file
    name; ``read(path, frames)`` yields Frames for the selected frame indices (a ``slice``
    or None for all); ``count(path)`` says how many frames the file holds.
    """

    name: str
    matches: Callable[[bytes, str], bool]
    read: Callable[[str, slice | None], Iterator[Frame]]
    count: Callable[[str], int] = lambda path: 1


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
