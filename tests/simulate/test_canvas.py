"""Anomalies injected into real frames: on the real geometry, labelled as seen."""

from __future__ import annotations

import numpy as np
import pytest

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.dataset import read_labels
from mxqc.scatterers import ICE_IC, ICE_IH
from mxqc.simulate.canvas import inject, read_canvas, write_canvases
from mxqc.witness.detector import module_layout

ICE = CLASSES.index("ice_ring")
WATER = CLASSES.index("background_ring")


def _only(name):
    return tuple(int(c == name) for c in CLASSES)


@pytest.fixture(scope="module")
def canvas(real_frames):
    return read_canvas(real_frames / "thaumatin-grid" / "thau_3_2_0018.cbf.bz2")


def test_canvas_reads_its_known_labels_and_module_layout(canvas):
    assert canvas.labels[CLASSES.index("loop_scattering")] == 0
    assert canvas.labels[WATER] == UNKNOWN
    assert canvas.labels[ICE] == 0
    assert int(canvas.modules.max()) + 1 == 60  # PILATUS 6M: 12 × 5 modules
    gap_rows = np.isnan(canvas.counts).all(axis=1)
    assert gap_rows.sum() == 11 * 17 and np.all(canvas.modules[gap_rows] == -1)


def test_injected_ice_lies_at_ice_d_spacings_on_the_real_geometry(canvas):
    frame = inject(canvas, _only("ice_ring"), seed=3)
    assert frame.labels[ICE] == 1 and frame.injected[ICE] == 1
    added = np.nan_to_num(frame.counts - canvas.counts)
    g = canvas.geometry
    h, w = added.shape
    radius = np.hypot(np.arange(w)[None, :] - g.beam_x, np.arange(h)[:, None] - g.beam_y)
    valid = np.isfinite(canvas.counts) & (radius > 50)
    r = np.rint(radius[valid]).astype(int)
    profile = np.bincount(r, added[valid]) / np.maximum(np.bincount(r), 1)
    peak_d = float(g.d_spacing(np.argmax(profile)))
    lines = [d for d, _ in ICE_IH + ICE_IC]
    assert min(abs(peak_d - d) / d for d in lines) < 0.01, peak_d
    # nothing else was drawn: the canvas's counts are unchanged off the rings
    assert np.median(np.abs(added[valid])) == 0


def test_label_is_canvas_label_plus_visible_injection(canvas):
    frame = inject(canvas, _only("background_ring"), seed=5)
    expected = list(canvas.labels)
    expected[WATER] = frame.injected[WATER] or UNKNOWN
    assert frame.labels == tuple(expected)
    assert frame.scene.wavelength_a == canvas.geometry.wavelength_a


def test_module_layout_of_gaps_and_ccd_seams():
    counts = np.ones((40, 30), np.float32)
    counts[18:21] = np.nan  # a row gap
    assert int(module_layout(counts).max()) + 1 == 2
    ccd = np.full((40, 40), 30.0, np.float32)
    ccd[:, 19:21] = 0  # a CCD's zero seam
    assert int(module_layout(ccd).max()) + 1 == 2
    weak = np.zeros((40, 40), np.float32)
    weak[::7, ::5] = 1  # a weak frame's zero lines are no seams
    assert int(module_layout(weak).max()) + 1 == 1


def test_write_canvases_writes_partial_labels(tmp_path, real_frames):
    path = real_frames / "thaumatin-grid" / "thau_3_2_0017.cbf.bz2"
    names = write_canvases(tmp_path, [path], 3, seed=1, size=128)
    table = read_labels(tmp_path / "labels.csv")
    assert table.names == tuple(names) and len(names) == 3
    assert (table.labels == UNKNOWN).any()
    assert all((tmp_path / f"{n}.png").is_file() for n in names)
