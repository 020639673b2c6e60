"""fabio-backed readers: CBF (mini and full), SMV/ADSC, and anything else fabio reads."""

from __future__ import annotations

import contextlib
import io
import os
import re
import zlib

import fabio
import numpy as np
from fabio import openimage

from mxqc.errors import FrameReadError, describe_exception
from mxqc.frame import Frame, FrameSource
from mxqc.io import geometry, integrity
from mxqc.io.reader import Reader, open_maybe_compressed, read_head

_NOT_BY_NAME = {"binary"}  # raw bytes whose shape a caller must give; any .bin file is "one"
_FABIO_EXTENSIONS = (".tif", ".tiff", ".edf", ".mccd", ".mar2300", ".mar3450", ".sfrm",
                     ".gfrm", ".kcd", ".pnm", ".mar", ".xsd", ".raw", ".spe", ".esperanto")


def _read_bytes(path: str) -> bytes:
    try:
        with open_maybe_compressed(path) as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise FrameReadError(path, f"cannot decompress or read: {exc}") from exc


def _strip_name(name: str) -> str:
    return re.sub(r"\.(gz|bz2)$", "", name)


def _to_float_pixels(data: np.ndarray, overload: float | None) -> np.ndarray:
    """float32 counts, NaN for flagged pixels: negative values (Pilatus/Eiger gaps −1, bad
    pixels −2) and values above the detector's declared overload."""
    pixels = np.array(data, np.float32, order="C")  # OpenCV needs C order
    bad = pixels < 0
    if overload is not None:
        bad |= pixels > overload
    pixels[bad] = np.nan
    return pixels


def _read_cbf(path: str, frames: slice | None):
    raw = _read_bytes(path)
    integrity.check_cbf(path, raw)
    image = fabio.cbfimage.CbfImage()
    with _quiet():  # the checksum was verified above (fabio would only log a mismatch)
        image.read(io.BytesIO(raw), check_MD5=False)
    if image.data is None or image.data.ndim != 2 or image.data.size == 0:
        raise FrameReadError(path, "CBF holds no 2-D image")
    contents = str(image.header.get("_array_data.header_contents", ""))
    geom = geometry.from_pilatus(contents)
    pixels = _to_float_pixels(image.data, geometry.pilatus_count_cutoff(contents))
    if _selected(0, 1, frames):
        yield Frame(pixels, geom, FrameSource(path, 0, "cbf"), dict(image.header))


def _read_smv(path: str, frames: slice | None):
    raw = _read_bytes(path)
    m = re.search(rb"HEADER_BYTES\s*=\s*(\d+)", raw[:1024])
    header_bytes = int(m[1]) if m else 512
    text = raw[:header_bytes].decode("ascii", "replace")
    keys = {k: v.strip() for k, v in re.findall(r"(\w+)\s*=\s*([^;]*);", text)}
    integrity.check_smv(path, raw, keys, header_bytes)
    image = fabio.dtrekimage.DtrekImage()
    with _quiet():
        image.read(io.BytesIO(raw))
    header = {k: str(v) for k, v in image.header.items()}
    overload = geometry._num(header, "CCD_IMAGE_SATURATION")
    geom = geometry.from_smv(header, image.data.shape)
    if _selected(0, 1, frames):
        yield Frame(_to_float_pixels(image.data, overload), geom, FrameSource(path, 0, "smv"),
                    header)


_PRECHECKS = {"edf": integrity.check_edf, "tif": integrity.check_tiff}


def _open_with_fabio(path: str):
    """fabio's image for ``path``, after the checks fabio's reader of that format lacks."""
    kind = fabio_format(read_head(path, 18), _strip_name(os.path.basename(path)))
    if kind in _PRECHECKS:
        _PRECHECKS[kind](path, _read_bytes(path))
    try:
        with _quiet():
            return fabio.open(path)
    except Exception as exc:
        raise FrameReadError(path, f"fabio cannot read it {describe_exception(exc)}") from exc


def _read_with_fabio(path: str, frames: slice | None):
    with _open_with_fabio(path) as image:
        fmt = type(image).__name__.removesuffix("Image").lower() or "fabio"
        indices = range(image.nframes)[frames] if frames is not None else range(image.nframes)
        for i in indices:
            with _quiet():
                current = image if image.nframes == 1 else image.get_frame(i)
            data = current.data
            if data is None or data.ndim != 2 or data.size == 0:
                raise FrameReadError(path, f"frame {i} holds no 2-D image")
            integrity.check_shape(path, *data.shape, "the image")
            header = {str(k): str(v) for k, v in current.header.items()}
            yield Frame(_to_float_pixels(data, None), geometry.from_keys(header),
                        FrameSource(path, i, fmt), header)


def fabio_format(head: bytes, name: str) -> str | None:
    """fabio's own identification of a file: by its magic bytes, else by a file name that
    names one format only (``name.0026`` is Bruker); None when fabio does not know it."""
    try:
        return str(openimage._do_magic(head[:18], name))
    except Exception:  # fabio raises a bare Exception for magic it does not know
        pass
    try:
        formats = openimage.FilenameObject(filename=name).format
    except Exception:
        return None
    if not isinstance(formats, list) or len(formats) != 1 or formats[0] in _NOT_BY_NAME:
        return None
    return formats[0]


def _quiet():
    """fabio prints to stdout in places; machine output (``--json``) must stay clean."""
    return contextlib.redirect_stdout(io.StringIO())


def _selected(index: int, n: int, frames: slice | None) -> bool:
    return frames is None or index in range(n)[frames]


CBF = Reader("cbf", lambda head, name: head.startswith(b"###CBF")
             or _strip_name(name).endswith(".cbf"), _read_cbf)
SMV = Reader("smv", lambda head, name: head.startswith((b"{\nHEADER_BYTES",
                                                       b"{\r\nHEADER_BYTES")), _read_smv)


def _count_with_fabio(path: str) -> int:
    with _open_with_fabio(path) as image:
        return image.nframes


FABIO = Reader("fabio", lambda head, name: _strip_name(name).endswith(_FABIO_EXTENSIONS)
               or head[:4] in (b"II*\x00", b"MM\x00*"), _read_with_fabio, _count_with_fabio)
# Tried after every other reader (last in the registry's table): whatever fabio itself
# recognises by magic bytes or by a name under .gz/.bz2 (Bruker ``name.0026.bz2``, OXD).
SNIFFED = Reader("fabio-sniffed",
                 lambda head, name: fabio_format(head, _strip_name(name)) is not None,
                 _read_with_fabio, _count_with_fabio)
