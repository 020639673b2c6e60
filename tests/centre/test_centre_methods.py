"""Every centre method on synthetic frames whose beam centre is known."""

import numpy as np
import pytest

from mxqc.centre import CENTRE_METHODS, centre_method, find_centre, locate_beam
from mxqc.errors import CentreError
from mxqc.frame import Frame, Geometry
from mxqc.normalise import normalise
from mxqc.simulate import RingPattern, ring_pattern

# (centre in a 1024² raw frame, beam-stop arm angle): on-centre, 30 px, and ≥ 100 px off
CASES = [((511.5, 511.5), 40.0), ((540.0, 497.0), 200.0), ((640.0, 420.0), 300.0),
         ((400.0, 650.0), 120.0)]


def image_of(centre, arm, size=512, **kw):
    counts = ring_pattern(RingPattern(centre=centre, arm_angle_deg=arm, **kw))
    norm = normalise(counts, size=size, resize="area")
    return norm, norm.mapping.to_image(*centre)


def error(found, truth):
    return float(np.hypot(found.x - truth[0], found.y - truth[1]))


def test_registry_has_the_methods():
    assert {"naive", "reflex", "header", "symmetry", "auto"} <= set(CENTRE_METHODS)


def test_naive_is_the_image_centre():
    found = find_centre(np.zeros((512, 300), np.uint8), method="naive")
    assert (found.x, found.y) == (149.5, 255.5)


@pytest.mark.parametrize("centre,arm", [*CASES, ((760.0, 330.0), 100.0)])  # last: 152 px off
def test_symmetry_recovers_known_centre(centre, arm):
    norm, truth = image_of(centre, arm)
    found = find_centre(norm.image, method="symmetry", valid=norm.valid)
    assert found.method == "symmetry"
    assert error(found, truth) < 0.5
    assert 0 < found.uncertainty < 2


@pytest.mark.parametrize("centre,arm", CASES)
def test_reflex_finds_the_beam_stop_end(centre, arm):
    norm, truth = image_of(centre, arm)
    found = find_centre(norm.image, method="reflex")
    assert error(found, truth) < 8, found  # 16 px at 1024²; naive is up to 170 px off here


def test_reflex_code_variant_runs_and_is_close():
    norm, truth = image_of((640.0, 420.0), 300.0)
    found = centre_method("reflex")(norm.image, variant="code")
    assert error(found, truth) < 10


def test_gap_rows_near_the_beam_do_not_trap_reflex():
    # Pilatus-like gap rows 40 px (raw) from the beam: as white lines they captured the
    # original fitness; filled from neighbours they must not.
    centre = (530.0, 470.0)
    counts = ring_pattern(RingPattern(centre=centre, arm_angle_deg=250.0, gap_period=256,
                                      gap_width=17))
    counts[500:517, :] = np.nan
    norm = normalise(counts, size=512)
    truth = norm.mapping.to_image(*centre)
    assert error(find_centre(norm.image, method="reflex"), truth) < 8
    assert error(find_centre(norm.image, method="symmetry", valid=norm.valid), truth) < 1


def test_weak_frame_centres():
    centre = (600.0, 450.0)
    counts = ring_pattern(RingPattern(centre=centre, arm_angle_deg=30.0, background_counts=1.0,
                                      ring_counts=2.0))
    counts -= 1  # remove the flat floor: most pixels now hold 0 or 1 counts
    np.clip(counts, 0, None, out=counts)
    norm = normalise(counts, size=512, resize="area")
    truth = norm.mapping.to_image(*centre)
    assert error(find_centre(norm.image, method="symmetry", valid=norm.valid), truth) < 2


@pytest.mark.parametrize("image", [np.full((256, 256), 255, np.uint8),
                                   np.random.default_rng(0).integers(200, 256, (256, 256),
                                                                     dtype=np.uint8)])
def test_frames_without_structure_fall_back_to_image_centre(image):
    found = find_centre(image, method="symmetry")
    assert found.method == "symmetry/naive-fallback" and "image centre" in found.detail
    assert (found.x, found.y) == (127.5, 127.5)


def test_header_method():
    image = np.zeros((64, 64), np.uint8)
    assert find_centre(image, method="header", header=(10.0, 20.0)).x == 10.0
    with pytest.raises(CentreError):
        find_centre(image, method="header")


def test_auto_confirms_a_good_header_and_rejects_a_wrong_one():
    norm, truth = image_of((640.0, 420.0), 300.0)
    good = find_centre(norm.image, method="auto", valid=norm.valid, header=truth)
    assert good.method == "auto/header" and "agrees" in good.detail
    wrong = (truth[0] + 25, truth[1] - 10)
    chosen = find_centre(norm.image, method="auto", valid=norm.valid, header=wrong)
    assert chosen.method == "auto/symmetry" and error(chosen, truth) < 0.5


def test_locate_beam_answers_in_raw_pixels():
    centre = (1300.0, 900.0)
    counts = ring_pattern(RingPattern(shape=(2000, 1800), centre=centre,
                                      ring_radii=(300.0, 520.0, 700.0), ring_width=8.0,
                                      beamstop_radius=30.0, arm_width=20.0))
    frame = Frame(counts, Geometry(beam_x=1250.0, beam_y=950.0))  # a header 70 px off
    found = locate_beam(frame, method="auto")
    assert found.method == "auto/symmetry"
    assert error(found, centre) < 3  # raw pixels; one 512-image pixel is ~3.7 raw px
    header = locate_beam(frame, method="header")
    assert (header.x, header.y) == pytest.approx((1250.0, 950.0))


def test_unknown_method_and_bad_image():
    with pytest.raises(ValueError, match="method"):
        find_centre(np.zeros((8, 8), np.uint8), method="magic")
    with pytest.raises(ValueError, match="uint8"):
        find_centre(np.zeros((8, 8)), method="naive")
