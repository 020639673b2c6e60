"""Frames written by our writers read back with the same pixels, gaps and geometry."""

import numpy as np
import pytest

from mxqc.frame import Geometry
from mxqc.io import (
    count_frames,
    read_frame,
    read_frames,
    write_cbf,
    write_edf,
    write_nexus,
    write_smv,
    write_tiff,
)

GEOMETRY = Geometry(beam_x=40.25, beam_y=30.5, pixel_size_mm=0.172, distance_mm=250.0,
                    wavelength_a=0.9795)


@pytest.fixture
def counts():
    rng = np.random.default_rng(7)
    pixels = rng.poisson(20, size=(60, 80)).astype(np.float32)
    pixels[25:28, :] = np.nan  # a module gap
    return pixels


def assert_same(read, written):
    assert np.array_equal(np.isnan(read), np.isnan(written))
    assert np.array_equal(read[~np.isnan(read)], written[~np.isnan(written)])


@pytest.mark.parametrize("suffix", [".cbf", ".cbf.gz", ".cbf.bz2"])
def test_cbf_roundtrip(tmp_path, counts, suffix):
    path = tmp_path / f"frame_0001{suffix}"
    write_cbf(path, counts, GEOMETRY)
    frame = read_frame(path)
    assert frame.source.format == "cbf"
    assert_same(frame.pixels, counts)
    g = frame.geometry
    assert (g.beam_x, g.beam_y) == (40.25, 30.5)
    assert g.wavelength_a == pytest.approx(0.9795)
    assert g.distance_mm == pytest.approx(250.0)
    assert g.pixel_size_mm == pytest.approx(0.172)


def test_cbf_overload_and_bad_pixels_become_nan(tmp_path, counts):
    counts = counts.copy()
    counts[5, 5] = 5000  # above the cutoff written below
    raw = np.nan_to_num(counts, nan=-1)
    raw[6, 6] = -2  # Pilatus bad-pixel flag
    write_cbf(tmp_path / "x.cbf", raw, GEOMETRY, count_cutoff=1000)
    pixels = read_frame(tmp_path / "x.cbf").pixels
    assert np.isnan(pixels[5, 5]) and np.isnan(pixels[6, 6]) and np.isnan(pixels[26, 3])
    assert pixels[7, 7] == counts[7, 7]


@pytest.mark.parametrize("suffix", [".img", ".img.bz2"])
def test_smv_roundtrip_with_adsc_beam_convention(tmp_path, counts, suffix):
    path = tmp_path / f"frame{suffix}"
    write_smv(path, np.nan_to_num(counts), GEOMETRY)
    frame = read_frame(path)
    assert frame.source.format == "smv"
    assert np.array_equal(frame.pixels, np.nan_to_num(counts))
    assert frame.geometry.beam_x == pytest.approx(40.25, abs=1e-3)
    assert frame.geometry.beam_y == pytest.approx(30.5, abs=1e-3)


def test_tiff_roundtrip(tmp_path, counts):
    write_tiff(tmp_path / "frame.tif", counts)
    frame = read_frame(tmp_path / "frame.tif")
    assert_same(frame.pixels, counts)
    assert not frame.geometry.has_beam


def test_edf_roundtrip_keeps_geometry(tmp_path, counts):
    write_edf(tmp_path / "frame.edf", counts, GEOMETRY)
    frame = read_frame(tmp_path / "frame.edf")
    assert_same(frame.pixels, counts)
    assert frame.geometry.beam_x == 40.25 and frame.geometry.wavelength_a == pytest.approx(0.9795)


def test_nexus_multi_file_lazy_ranges(tmp_path, counts):
    stack = np.stack([counts + i for i in range(7)])
    write_nexus(tmp_path / "run_master.h5", stack, GEOMETRY, frames_per_file=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run_data_000001.h5", "run_data_000002.h5", "run_data_000003.h5", "run_master.h5"]
    master = tmp_path / "run_master.h5"
    assert count_frames(master) == 7
    frames = list(read_frames(master, frames=slice(1, 7, 2)))
    assert [f.source.index for f in frames] == [1, 3, 5]
    for f in frames:
        assert_same(f.pixels, stack[f.source.index])
        assert f.source.format == "nexus"
    g = frames[0].geometry
    assert (g.beam_x, g.beam_y) == (40.25, 30.5)
    assert g.pixel_size_mm == pytest.approx(0.172) and g.distance_mm == pytest.approx(250.0)


def test_nexus_pixel_mask_applies(tmp_path, counts):
    import h5py

    master = tmp_path / "m_master.h5"
    write_nexus(master, [np.nan_to_num(counts)], GEOMETRY)
    mask = np.zeros(counts.shape, np.uint32)
    mask[0, :4] = 1
    with h5py.File(master, "a") as f:
        f["entry/instrument/detector/detectorSpecific/pixel_mask"] = mask
    pixels = read_frame(master).pixels
    assert np.isnan(pixels[0, :4]).all() and not np.isnan(pixels[1, :4]).any()
