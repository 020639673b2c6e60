"""Bad input gives one specific error naming the file, never a hang or a deep traceback."""

import bz2
import gzip

import numpy as np
import pytest

from mxqc.errors import FrameReadError
from mxqc.io import read_frame, write_cbf, write_nexus, write_smv


@pytest.fixture
def cbf_bytes(tmp_path):
    write_cbf(tmp_path / "good.cbf", np.ones((200, 150), np.float32))
    return (tmp_path / "good.cbf").read_bytes()


def check(path, *reason_words):
    with pytest.raises(FrameReadError) as info:
        read_frame(path)
    message = str(info.value)
    assert str(path) in message
    for word in reason_words:
        assert word in message.lower()


def test_missing_file(tmp_path):
    check(tmp_path / "nope.cbf", "no such file")


def test_empty_file(tmp_path):
    (tmp_path / "empty.cbf").write_bytes(b"")
    check(tmp_path / "empty.cbf", "empty")


@pytest.mark.parametrize("keep", [300, 700])  # inside the header (fabio hangs) / inside the data
def test_truncated_cbf(tmp_path, cbf_bytes, keep):
    (tmp_path / "cut.cbf").write_bytes(cbf_bytes[:keep])
    check(tmp_path / "cut.cbf", "truncated")


def test_truncated_gzip_cbf(tmp_path, cbf_bytes):
    data = gzip.compress(cbf_bytes)
    (tmp_path / "cut.cbf.gz").write_bytes(data[: len(data) // 2])
    check(tmp_path / "cut.cbf.gz", "decompress")


def test_truncated_smv(tmp_path):
    write_smv(tmp_path / "good.img", np.ones((64, 64), np.float32))
    data = (tmp_path / "good.img").read_bytes()
    (tmp_path / "cut.img").write_bytes(data[:-100])
    check(tmp_path / "cut.img", "truncated")


def test_garbage_with_known_extension(tmp_path):
    (tmp_path / "noise.img").write_bytes(np.random.default_rng(0).bytes(4000))
    check(tmp_path / "noise.img", "unsupported")


def test_unsupported_format(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not a frame")
    check(tmp_path / "notes.docx", "unsupported")


def test_corrupt_bz2(tmp_path, cbf_bytes):
    (tmp_path / "bad.cbf.bz2").write_bytes(b"BZh9" + b"\x00" * 100)
    check(tmp_path / "bad.cbf.bz2", "decompress")


def test_truncated_hdf5(tmp_path):
    write_nexus(tmp_path / "r_master.h5", [np.ones((32, 32))])
    data = (tmp_path / "r_master.h5").read_bytes()
    (tmp_path / "cut_master.h5").write_bytes(data[:1000])
    check(tmp_path / "cut_master.h5", "hdf5")


def test_nexus_with_missing_data_file(tmp_path):
    write_nexus(tmp_path / "r_master.h5", [np.ones((32, 32))])
    (tmp_path / "r_data_000001.h5").unlink()
    check(tmp_path / "r_master.h5", "missing data file")


def test_hdf5_that_is_not_nexus(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1, 2, 3]
    check(tmp_path / "other.h5", "/entry/data")


def test_truncated_png(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 64), np.uint8))
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "b.png").write_bytes(data[:40])
    check(tmp_path / "b.png", "png")


def test_npy_with_pickled_objects_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    check(tmp_path / "obj.npy", "numpy")


def test_npy_bz2_not_2d(tmp_path):
    buf = tmp_path / "v.npy"
    np.save(buf, np.arange(10))
    (tmp_path / "v.npy.bz2").write_bytes(bz2.compress(buf.read_bytes()))
    check(tmp_path / "v.npy.bz2", "2-d")


def test_gzip_whose_deflate_stream_is_invalid(tmp_path, cbf_bytes):
    data = bytearray(gzip.compress(cbf_bytes))
    data[20:30] = b"\xff" * 10  # zlib.error, which is not an OSError
    (tmp_path / "bad.cbf.gz").write_bytes(bytes(data))
    check(tmp_path / "bad.cbf.gz", "decompress")
