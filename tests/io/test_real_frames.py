"""The five shared real frames read with the geometry their README lists."""

import numpy as np
import pytest

from mxqc.io import count_frames, read_frame

# file, reader, (rows, cols), beam (x, y) px, wavelength Å, distance mm, pixel mm
EXPECTED = [
    ("DLS_I03_smargon_0001.cbf.gz", "cbf", (2527, 2463), (1229.30, 1200.48), 0.97625, 291.47,
     0.172),
    ("dlsnxs2cbf_therm_0001.cbf.gz", "cbf", (4362, 4148), (2216.06, 2300.41), 0.98027, 213.96,
     0.075),
    ("thau_3_2_0016.cbf.bz2", "cbf", (2527, 2463), (1261.61, 1306.96), 0.96859, 351.0, 0.172),
    ("adsc.img.bz2", "smv", (2304, 2304), (1216.9, 1143.4), 1.0, 250.0, 0.0816),
    ("TIMEPIX_SU_516-stdgoni_0001.img", "smv", (516, 516), (246.14, 240.35), 0.0251, 531.85, 0.055),
]


@pytest.mark.parametrize("name,fmt,shape,beam,wavelength,distance,pixel", EXPECTED)
def test_real_frame_geometry(real_frames, name, fmt, shape, beam, wavelength, distance, pixel):
    frame = read_frame(real_frames / name)
    g = frame.geometry
    assert frame.source.format == fmt
    assert frame.shape == shape and frame.pixels.dtype == np.float32
    assert g.beam_x == pytest.approx(beam[0], abs=0.1)
    assert g.beam_y == pytest.approx(beam[1], abs=0.1)
    assert g.wavelength_a == pytest.approx(wavelength)
    assert g.distance_mm == pytest.approx(distance)
    assert g.pixel_size_mm == pytest.approx(pixel)
    assert {field for field, _ in g.fields} >= {"beam_x", "beam_y", "pixel_size_mm"}
    assert count_frames(real_frames / name) == 1


def test_pilatus_gaps_are_nan(real_frames):
    frame = read_frame(real_frames / "thau_3_2_0016.cbf.bz2")
    # Pilatus 6M: 5×12 modules of 487×195 px with 7-px and 17-px gaps: ~8.5% of the area.
    assert 0.08 < frame.gap_fraction < 0.09
    assert np.isnan(frame.pixels[195:212, 1000]).all()  # first horizontal module gap
    assert np.nanmin(frame.pixels) >= 0


def test_adsc_header_fields_are_recorded(real_frames):
    g = read_frame(real_frames / "adsc.img.bz2").geometry
    assert dict(g.fields)["beam_x"] == "DENZO_YBEAM / PIXEL_SIZE"
