"""Headers that disagree with their data are errors, not frames; fabio's formats read."""

import bz2
import gzip
import re

import numpy as np
import pytest

from mxqc.errors import FrameReadError
from mxqc.frame import Geometry
from mxqc.io import read_frame, write_cbf, write_edf, write_smv, write_tiff
from mxqc.io.integrity import MAX_PIXELS
from tests.malformed import FABIO_WRITERS, write_with_fabio

PIXELS = np.arange(120 * 90, dtype=np.float32).reshape(120, 90) % 700


def _written(tmp_path, write, name):
    write(tmp_path / name, PIXELS)
    return (tmp_path / name).read_bytes()


def _error(path) -> str:
    with pytest.raises(FrameReadError) as info:
        read_frame(path)
    assert str(path) in str(info.value)
    return info.value.reason


def test_cbf_whose_data_contradict_their_checksum_is_an_error(tmp_path):
    data = bytearray(_written(tmp_path, write_cbf, "a.cbf"))
    data[-200] ^= 0x10  # one bit in the compressed pixels
    (tmp_path / "b.cbf").write_bytes(bytes(data))
    assert "Content-MD5" in _error(tmp_path / "b.cbf")


@pytest.mark.parametrize(("edit", "words"), [
    ((rb"Fastest-Dimension: \d+", b"Fastest-Dimension: 20000",
      rb"Second-Dimension: \d+", b"Second-Dimension: 20000"), "ceiling"),
    ((rb"X-Binary-Number-of-Elements: \d+", b"X-Binary-Number-of-Elements: 17"),
     "disagrees with itself"),
    ((rb"X-Binary-Size: \d+", b"X-Binary-Size: 9"), "in 9 bytes"),
    ((rb"x-CBF_BYTE_OFFSET", b"x-CBF_PACKED"), "not supported: x-CBF_PACKED"),
])
def test_cbf_header_claims_are_checked(tmp_path, edit, words):
    data = _written(tmp_path, write_cbf, "a.cbf")
    for pattern, repl in zip(edit[::2], edit[1::2], strict=True):
        data = re.sub(pattern, repl, data, count=1)
    (tmp_path / "b.cbf").write_bytes(data)
    assert words in _error(tmp_path / "b.cbf")


def test_multi_panel_cbf_is_refused_with_the_reason(tmp_path):
    data = _written(tmp_path, write_cbf, "a.cbf")
    start = data.find(b"--CIF-BINARY-FORMAT-SECTION--")
    end = data.rfind(b"--CIF-BINARY-FORMAT-SECTION----")
    (tmp_path / "b.cbf").write_bytes(data[:end] + b"\n" + data[start:end] + data[end:])
    assert "several binary sections" in _error(tmp_path / "b.cbf")


def test_truncated_edf_is_an_error_not_zeros(tmp_path):
    data = _written(tmp_path, write_edf, "a.edf")
    (tmp_path / "b.edf").write_bytes(data[:-1000])
    assert "truncated EDF" in _error(tmp_path / "b.edf")


def test_huge_claims_never_allocate(tmp_path):
    data = _written(tmp_path, write_smv, "a.img")
    old = re.search(rb"SIZE1=\s*\d+;", data)[0]
    (tmp_path / "b.img").write_bytes(data.replace(old, b"SIZE1=900000;".ljust(len(old)), 1))
    assert f"{MAX_PIXELS:,}" in _error(tmp_path / "b.img")
    edf = _written(tmp_path, write_edf, "a.edf")
    (tmp_path / "b.edf").write_bytes(re.sub(rb"Dim_1 = \d+", b"Dim_1 = 2000000", edf, count=1))
    assert "ceiling" in _error(tmp_path / "b.edf")


def test_tiff_whose_directory_chain_loops_is_an_error_at_once(tmp_path):
    good = _written(tmp_path, write_tiff, "a.tif")
    data = bytearray(good)
    first = int.from_bytes(data[4:8], "little")
    n = int.from_bytes(data[first:first + 2], "little")
    data[first + 2 + 12 * n:first + 6 + 12 * n] = first.to_bytes(4, "little")
    (tmp_path / "b.tif").write_bytes(bytes(data))
    assert "loops" in _error(tmp_path / "b.tif")
    (tmp_path / "c.tif").write_bytes(good[:5000])
    assert "truncated" in _error(tmp_path / "c.tif")


def test_fortran_ordered_and_compressed_npy_read(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(PIXELS))
    frame = read_frame(tmp_path / "f.npy")
    assert frame.pixels.flags.c_contiguous and np.array_equal(frame.pixels, PIXELS)
    (tmp_path / "g.npy.gz").write_bytes(gzip.compress((tmp_path / "f.npy").read_bytes()))
    assert np.array_equal(read_frame(tmp_path / "g.npy.gz").pixels, PIXELS)


@pytest.mark.parametrize(("class_name", "name"), FABIO_WRITERS)
@pytest.mark.parametrize("compress", ["", ".gz", ".bz2"])
def test_every_format_fabio_writes_reads_plain_and_compressed(tmp_path, class_name, name,
                                                             compress):
    counts = PIXELS.astype(np.uint16)
    write_with_fabio(class_name, tmp_path / name, counts)
    path = tmp_path / (name + compress)
    if compress:
        opener = gzip.compress if compress == ".gz" else bz2.compress
        path.write_bytes(opener((tmp_path / name).read_bytes()))
    frame = read_frame(path)
    rows, cols = counts.shape
    assert frame.pixels[:rows, :cols].shape == counts.shape  # Esperanto pads to its size
    if class_name in ("BrukerImage", "Bruker100Image", "MarccdImage", "PnmImage"):
        assert np.array_equal(frame.pixels, counts)


@pytest.mark.parametrize(("geometry", "missing", "words"), [
    (Geometry(60, 50, 0.0, 200, 1.0), "pixel_size_mm", "pixel size (0 mm)"),
    (Geometry(60, 50, 0.172, 200, float("nan")), "wavelength_a", "wavelength"),
    (Geometry(99999, -99999, 0.172, 200, 1.0), "beam_x", "far off the 120×90 detector"),
])
def test_unphysical_geometry_is_missing_with_a_warning(tmp_path, geometry, missing, words):
    write_edf(tmp_path / "a.edf", PIXELS, geometry)
    frame = read_frame(tmp_path / "a.edf")
    assert getattr(frame.geometry, missing) is None
    assert any(words in w for w in frame.warnings)
