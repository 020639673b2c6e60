"""Centres on the shared real frames against their header centres (raw pixels)."""

import numpy as np
import pytest

from mxqc.centre import find_centre, locate_beam
from mxqc.io import read_frame
from mxqc.normalise import normalise

# Frames with visible symmetric scattering; the two extremely weak frames cannot be centred
# from the image and auto must keep the header.
WITH_SIGNAL = [("thau_3_2_0016.cbf.bz2", 25.0), ("adsc.img.bz2", 25.0),
               ("TIMEPIX_SU_516-stdgoni_0001.img", 3.0)]


@pytest.mark.parametrize("name,tolerance", WITH_SIGNAL)
def test_symmetry_agrees_with_header(real_frames, name, tolerance):
    frame = read_frame(real_frames / name)
    found = locate_beam(frame, method="symmetry")
    g = frame.geometry
    assert np.hypot(found.x - g.beam_x, found.y - g.beam_y) < tolerance


@pytest.mark.parametrize("name", ["DLS_I03_smargon_0001.cbf.gz", "dlsnxs2cbf_therm_0001.cbf.gz",
                                  "thau_3_2_0016.cbf.bz2", "adsc.img.bz2"])
def test_auto_keeps_header_on_real_frames(real_frames, name):
    frame = read_frame(real_frames / name)
    found = locate_beam(frame, method="auto")
    assert found.method == "auto/header"
    assert (found.x, found.y) == pytest.approx((frame.geometry.beam_x, frame.geometry.beam_y))


def reflex_error(frame, pixels, **options):
    norm = normalise(pixels, size=512, **options)
    found = find_centre(norm.image, method="reflex")
    x, y = norm.mapping.to_raw(found.x, found.y)
    return np.hypot(x - frame.geometry.beam_x, y - frame.geometry.beam_y)


def test_gap_rows_trap_reflex_unless_filled(real_frames):
    frame = read_frame(real_frames / "thau_3_2_0016.cbf.bz2")
    white_gaps = np.nan_to_num(frame.pixels, nan=0.0)  # gaps as 0 counts: white in a negative
    assert reflex_error(frame, white_gaps) > 40  # locks onto a gap row ~50 px from the beam
    assert reflex_error(frame, frame.pixels) < 10


def test_weak_frame_clip_keeps_reflex_near_the_beam(real_frames):
    frame = read_frame(real_frames / "DLS_I03_smargon_0001.cbf.gz")
    binary = reflex_error(frame, frame.pixels, min_clip=0)  # 95th percentile is 1 count
    ours = reflex_error(frame, frame.pixels)
    assert ours < 0.6 * binary


def test_near_empty_frame_falls_back(real_frames):
    frame = read_frame(real_frames / "dlsnxs2cbf_therm_0001.cbf.gz")
    found = locate_beam(frame, method="symmetry")
    assert found.method == "symmetry/naive-fallback"
