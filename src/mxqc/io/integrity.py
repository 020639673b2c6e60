"""Checks that a file's header agrees with its data, before any library reads the pixels.

Readers obey what a header claims: fabio zero-fills a truncated EDF, accepts a CBF whose
data contradict its ``Content-MD5``, follows a TIFF directory chain that loops forever and
allocates whatever size a damaged header names. Each check here raises
:class:`~mxqc.errors.FrameReadError` saying which claim disagrees with what, so a damaged
file becomes an error row instead of a frame.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct

from mxqc.errors import FrameReadError

MAX_PIXELS = 100_000_000  # 10,000 × 10,000: above the largest MX detector (Rayonix 7680²)
CBF_BINARY_START = b"\x0c\x1a\x04\xd5"
CBF_CONVERSIONS = ("x-CBF_BYTE_OFFSET",)  # what fabio decodes


def check_shape(path: str, rows: int, cols: int, what: str = "the header") -> None:
    """Positive sizes within :data:`MAX_PIXELS`."""
    if rows <= 0 or cols <= 0:
        raise FrameReadError(path, f"{what} gives an image of {rows}×{cols} pixels")
    if rows * cols > MAX_PIXELS:
        raise FrameReadError(path, f"{what} claims {rows}×{cols} pixels, over the "
                                   f"{MAX_PIXELS:,}-pixel ceiling; the header is probably "
                                   "damaged")


def _cbf_field(text: bytes, key: str) -> int | None:
    m = re.search(rb"\n\s*" + key.encode() + rb":\s*(\d+)", text)
    return int(m[1]) if m else None


def check_cbf(path: str, raw: bytes) -> None:
    """One binary section, decodable, whole, of the declared size and checksum."""
    start = raw.find(CBF_BINARY_START)
    head = raw[: start if start > 0 else 65536]
    size = _cbf_field(head, "X-Binary-Size")
    if start < 0 or size is None:
        raise FrameReadError(path, "truncated or corrupt CBF: no binary data section")
    conversion = re.search(rb'conversions="([^"]*)"', head)
    if conversion and conversion[1].decode("ascii", "replace") not in CBF_CONVERSIONS:
        raise FrameReadError(path, f"not supported: {conversion[1].decode('ascii', 'replace')}"
                                   " compression (fabio decodes only x-CBF_BYTE_OFFSET, the "
                                   "PILATUS/EIGER encoding); convert it with cbflib first")
    begin = start + len(CBF_BINARY_START)
    data = memoryview(raw)[begin:]  # a view: slicing the bytes copied the whole section
    if len(data) < size:
        raise FrameReadError(path, f"truncated CBF: binary section has {len(data)} of {size} "
                                   "bytes")
    if raw.find(b"X-Binary-Size:", begin + size) >= 0:
        raise FrameReadError(path, "not supported: a CBF with several binary sections (a "
                                   "multi-panel detector such as a CSPAD); mxqc reads one "
                                   "image per CBF")
    fast, slow = (_cbf_field(head, f"X-Binary-Size-{k}-Dimension") for k in ("Fastest", "Second"))
    elements = _cbf_field(head, "X-Binary-Number-of-Elements")
    if fast is not None and slow is not None:
        check_shape(path, slow, fast, "the CBF header")
        if elements is not None and elements != fast * slow:
            raise FrameReadError(path, f"CBF header disagrees with itself: {elements} elements"
                                       f" but {fast}×{slow} dimensions")
    if elements is not None and size < elements:
        raise FrameReadError(path, f"CBF header claims {elements} pixels in {size} bytes "
                                   "(byte-offset data need at least one byte each)")
    md5 = re.search(rb"Content-MD5:\s*(\S+)", head)
    if md5:
        actual = base64.b64encode(hashlib.md5(data[:size]).digest())
        if actual != md5[1]:
            raise FrameReadError(path, "damaged CBF: its data do not match their Content-MD5 "
                                       "checksum")


def check_smv(path: str, raw: bytes, keys: dict[str, str], header_bytes: int) -> tuple[int, int]:
    """(columns, rows) after checking the sizes against the data."""
    try:
        n_fast, n_slow = int(keys["SIZE1"]), int(keys["SIZE2"])
    except (KeyError, ValueError):
        raise FrameReadError(path, "SMV header's SIZE1/SIZE2 are missing or not whole "
                                   "numbers") from None
    check_shape(path, n_slow, n_fast, "the SMV header")
    kind = keys.get("TYPE", "") + keys.get("Data_type", "")
    itemsize = 4 if "long" in kind or ("int" in kind and "short" not in kind) else 2
    need = header_bytes + n_fast * n_slow * itemsize
    if len(raw) < need:
        raise FrameReadError(path, f"truncated SMV: {len(raw)} of {need} bytes")
    return n_fast, n_slow


_EDF_ITEMSIZE = {"unsignedbyte": 1, "signedbyte": 1, "unsignedshort": 2, "signedshort": 2,
                 "unsignedinteger": 4, "signedinteger": 4, "unsignedlong": 4, "signedlong": 4,
                 "floatvalue": 4, "float": 4, "doublevalue": 8, "double": 8,
                 "unsigned64": 8, "signed64": 8, "unsignedint": 4, "signedint": 4}


def check_edf(path: str, raw: bytes) -> None:
    """The first block's sizes agree with each other and with the bytes that follow."""
    end = raw.find(b"}", 0, 65536)
    if not raw.startswith(b"{") or end < 0:
        raise FrameReadError(path, "corrupt EDF: no header block")
    text = raw[1:end].decode("ascii", "replace")
    keys = {k.strip().lower(): v.strip() for k, v in re.findall(r"([\w ]+?)\s*=\s*([^;]*);",
                                                                  text)}
    try:
        cols, rows = int(keys["dim_1"]), int(keys.get("dim_2", "1"))
    except (KeyError, ValueError):
        raise FrameReadError(path, "EDF header's Dim_1/Dim_2 are missing or not whole "
                                   "numbers") from None
    check_shape(path, rows, cols, "the EDF header")
    kind = keys.get("datatype", "").lower()
    if "datatype" not in keys:
        raise FrameReadError(path, "EDF header lacks its DataType")
    if kind not in _EDF_ITEMSIZE:
        raise FrameReadError(path, f"EDF data type {keys['datatype']!r} is not one EDF "
                                   "defines")
    need = rows * cols * _EDF_ITEMSIZE[kind]
    if "compression" in keys and keys["compression"].lower() not in ("", "none"):
        return  # compressed blocks carry their own sizes; fabio checks them
    for key in ("size", "edf_binarysize"):
        declared = keys.get(key, "")
        if declared.isdigit() and int(declared) != need:
            raise FrameReadError(path, f"EDF header disagrees with itself: {key} = {declared}"
                                       f" bytes but {cols}×{rows} {kind} pixels need {need}")
    data_start = raw.find(b"\n", end) + 1
    if len(raw) - data_start < need:
        raise FrameReadError(path, f"truncated EDF: {len(raw) - data_start} of {need} data "
                                   "bytes")


def check_tiff(path: str, raw: bytes) -> None:
    """A directory chain that ends, inside the file, with its first image's strips whole."""
    order = {b"II": "<", b"MM": ">"}.get(raw[:2])
    if order is None or len(raw) < 8:
        raise FrameReadError(path, "truncated or corrupt TIFF header")
    if struct.unpack(order + "H", raw[2:4])[0] == 43:
        return  # BigTIFF: left to the reader
    offset, seen, first = struct.unpack(order + "I", raw[4:8])[0], set(), None
    while offset:
        if offset in seen:
            raise FrameReadError(path, f"corrupt TIFF: its directory chain loops (back to "
                                       f"offset {offset})")
        if offset + 2 > len(raw):
            raise FrameReadError(path, f"truncated or corrupt TIFF: a directory at offset "
                                       f"{offset} lies beyond the file's {len(raw)} bytes")
        seen.add(offset)
        n = struct.unpack(order + "H", raw[offset:offset + 2])[0]
        end = offset + 2 + 12 * n
        if end + 4 > len(raw):
            raise FrameReadError(path, "truncated TIFF: a directory runs past the end")
        if first is None:
            first = _tiff_entries(raw, order, offset, n)
        offset = struct.unpack(order + "I", raw[end:end + 4])[0]
    if first is None:
        raise FrameReadError(path, "TIFF holds no image directory")
    check_shape(path, first.get(257, [0])[0], first.get(256, [0])[0], "the TIFF")
    strips = list(zip(first.get(273, []), first.get(279, []), strict=False))
    if strips and max(o + c for o, c in strips) > len(raw):
        raise FrameReadError(path, f"truncated TIFF: image data end at byte "
                                   f"{max(o + c for o, c in strips)}, the file has {len(raw)}")


def _tiff_entries(raw: bytes, order: str, offset: int, n: int) -> dict[int, list[int]]:
    """Integer-valued tags of one directory (SHORT/LONG, inline or pointed to)."""
    out = {}
    for i in range(n):
        at = offset + 2 + 12 * i
        tag, kind, count = struct.unpack(order + "HHI", raw[at:at + 8])
        if kind not in (3, 4) or count > 1_000_000:
            continue
        fmt = order + ("H" if kind == 3 else "I") * count
        size = struct.calcsize(fmt)
        where = at + 8 if size <= 4 else struct.unpack(order + "I", raw[at + 8:at + 12])[0]
        if where + size <= len(raw):
            out[tag] = list(struct.unpack(fmt, raw[where:where + size]))
    return out
