"""fabio-backed readers: CBF (mini and full), SMV/ADSC, and anything else fabio reads."""

from __future__ import annotations

import io
import re

import fabio
import numpy as np

from mxqc.errors import FrameReadError
from mxqc.frame import Frame, FrameSource
from mxqc.io import geometry
from mxqc.io.registry import Reader, open_maybe_compressed, register

_CBF_BINARY_START = b"\x0c\x1a\x04\xd5"
_FABIO_EXTENSIONS = (".tif", ".tiff", ".edf", ".mccd", ".mar2300", ".mar3450", ".sfrm",
                     ".gfrm", ".kcd", ".pnm", ".mar", ".xsd", ".raw", ".spe", ".esperanto")


def _read_bytes(path: str) -> bytes:
    try:
        with open_maybe_compressed(path) as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise FrameReadError(path, f"cannot decompress or read: {exc}") from exc


def _strip_name(name: str) -> str:
    return re.sub(r"\.(gz|bz2)$", "", name)


def _to_float_pixels(data: np.ndarray, overload: float | None) -> np.ndarray:
    """float32 counts, NaN for flagged pixels: negative values (Pilatus/Eiger gaps −1, bad
    pixels −2) and values above the detector's declared overload."""
    pixels = data.astype(np.float32)
    bad = pixels < 0
    if overload is not None:
        bad |= pixels > overload
    pixels[bad] = np.nan
    return pixels


def _check_cbf(path: str, raw: bytes) -> None:
    """fabio can hang or fail obscurely on a truncated CBF; check the binary section first."""
    start = raw.find(_CBF_BINARY_START)
    size = re.search(rb"X-Binary-Size:\s*(\d+)", raw[: start if start > 0 else None])
    if start < 0 or size is None:
        raise FrameReadError(path, "truncated or corrupt CBF: no binary data section")
    available = len(raw) - start - len(_CBF_BINARY_START)
    if available < int(size[1]):
        raise FrameReadError(path, f"truncated CBF: binary section has {available} of "
                                   f"{int(size[1])} bytes")


def _read_cbf(path: str, frames: slice | None):
    raw = _read_bytes(path)
    _check_cbf(path, raw)
    image = fabio.cbfimage.CbfImage()
    image.read(io.BytesIO(raw))
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
    keys = dict(re.findall(r"(\w+)\s*=\s*([^;]*);", text))
    try:
        n_fast, n_slow = int(keys["SIZE1"]), int(keys["SIZE2"])
    except (KeyError, ValueError):
        raise FrameReadError(path, "SMV header lacks SIZE1/SIZE2") from None
    itemsize = 4 if "long" in keys.get("TYPE", "") or "int" in keys.get("TYPE", "") else 2
    need = header_bytes + n_fast * n_slow * itemsize
    if len(raw) < need:
        raise FrameReadError(path, f"truncated SMV: {len(raw)} of {need} bytes")
    image = fabio.dtrekimage.DtrekImage()
    image.read(io.BytesIO(raw))
    header = {k: str(v) for k, v in image.header.items()}
    overload = geometry._num(header, "CCD_IMAGE_SATURATION")
    geom = geometry.from_smv(header, image.data.shape)
    if _selected(0, 1, frames):
        yield Frame(_to_float_pixels(image.data, overload), geom, FrameSource(path, 0, "smv"),
                    header)


def _read_with_fabio(path: str, frames: slice | None):
    try:
        image = fabio.open(path)
    except Exception as exc:
        raise FrameReadError(path, f"fabio cannot read it: {type(exc).__name__}: {exc}") from exc
    with image:
        fmt = type(image).__name__.removesuffix("Image").lower() or "fabio"
        indices = range(image.nframes)[frames] if frames is not None else range(image.nframes)
        for i in indices:
            current = image if image.nframes == 1 else image.get_frame(i)
            data = current.data
            if data is None or data.ndim != 2 or data.size == 0:
                raise FrameReadError(path, f"frame {i} holds no 2-D image")
            header = {str(k): str(v) for k, v in current.header.items()}
            yield Frame(_to_float_pixels(data, None), geometry.from_keys(header),
                        FrameSource(path, i, fmt), header)


def _selected(index: int, n: int, frames: slice | None) -> bool:
    return frames is None or index in range(n)[frames]


register(Reader("cbf", lambda head, name: head.startswith(b"###CBF")
                or _strip_name(name).endswith(".cbf"), _read_cbf))
register(Reader("smv", lambda head, name: head.startswith((b"{\nHEADER_BYTES",
                                                          b"{\r\nHEADER_BYTES")), _read_smv))
def _count_with_fabio(path: str) -> int:
    with fabio.open(path) as image:
        return image.nframes


register(Reader("fabio", lambda head, name: _strip_name(name).endswith(_FABIO_EXTENSIONS)
                or head[:4] in (b"II*\x00", b"MM\x00*"), _read_with_fabio, _count_with_fabio))
