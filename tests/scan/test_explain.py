"""Heatmaps of the shipped default model put their mass where the anomaly is."""

import numpy as np
import pytest

from mxqc.classes import CLASSES
from mxqc.coords import ImageMapping
from mxqc.learn import default_model_path, load_model
from mxqc.normalise import normalise
from mxqc.scan.explain import grad_cam, heatmaps
from mxqc.scatterers import ICE_IH
from mxqc.simulate.generate import simulate_frame

pytestmark = pytest.mark.skipif(not default_model_path().is_file(),
                                reason="no default model in this checkout")
ICE = CLASSES.index("ice_ring")


def _ring_mask(sim, model, half_width):
    """The normalised frame, its beam centre at the model's input size, and a mask of the
    strong ice rings (±half_width pixels at 128², scaled with the model's input size)."""
    norm = normalise(sim.counts, **model.normalisation)
    size = model.input_size
    to_input = ImageMapping.resize(norm.image.shape, (size, size))  # as the scan does
    scale = norm.mapping.scale * to_input.scale
    cx, cy = to_input.to_image(*norm.mapping.to_image(sim.scene.beam_x, sim.scene.beam_y))
    yy, xx = np.mgrid[:size, :size]
    dist = np.hypot(xx - cx, yy - cy)
    mask = np.zeros((size, size), bool)
    for d, strength in ICE_IH:
        if strength >= 0.25:
            radius = float(sim.geometry.radius_px(d)) * scale
            mask |= np.abs(dist - radius) <= half_width * size / 128
    return norm, (cx, cy), mask


def _ice_frames():
    model = load_model()
    labels = np.zeros(len(CLASSES), int)
    labels[ICE] = 1
    for seed in range(6):
        sim = simulate_frame(100 + seed, detector="pilatus6m", labels=labels)
        norm, centre, mask = _ring_mask(sim, model, half_width=3)
        beam = norm.mapping.to_image(sim.scene.beam_x, sim.scene.beam_y)  # normalised pixels
        yield model, model.inputs(norm.image[None], [beam]), centre, mask


def test_the_hottest_grad_cam_pixels_lie_on_the_ice_rings():
    ratios = []
    for model, x, _, mask in _ice_frames():
        heat = grad_cam(model, x, [ICE])[0, 0]
        hot = heat >= np.quantile(heat, 0.95)
        ratios.append((mask & hot).sum() / hot.sum() / mask.mean())
    assert np.median(ratios) > 1.5, ratios  # 1: no better than chance


def test_most_of_the_ice_heatmap_mass_lies_on_the_ice_rings():
    fractions, chance = [], []
    for model, x, centre, mask in _ice_frames():
        heat = heatmaps(model, x, [centre], [ICE])[0, 0]
        fractions.append(heat[mask].sum() / heat.sum())
        chance.append(mask.mean())
    assert np.median(fractions) > 0.5, fractions
    assert np.median(fractions) > 1.5 * np.median(chance), (fractions, chance)
