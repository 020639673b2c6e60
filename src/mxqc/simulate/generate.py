"""simulate_frame: labels → Scene → counts, with ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mxqc.frame import Geometry
from mxqc.simulate import render, response
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, sample_scene


@dataclass(frozen=True, eq=False)
class SimulatedFrame:
    """Counts (float32, NaN in gaps) with the scene that made them."""

    counts: np.ndarray
    scene: Scene

    @property
    def geometry(self) -> Geometry:
        s = self.scene
        return Geometry(beam_x=s.beam_x, beam_y=s.beam_y, pixel_size_mm=s.model.pixel_size_mm,
                        distance_mm=s.distance_mm, wavelength_a=s.wavelength_a,
                        fields=(("all", "simulation truth"),))


def render_scene(scene: Scene) -> np.ndarray:
    """Deterministic counts for ``scene`` (its seed drives all noise and textures)."""
    rng = np.random.default_rng(scene.seed)
    geometry = render.pixel_geometry(scene)
    expected = render.background(scene, geometry, rng)
    x, y, intensity = render.bragg_spots(scene, rng)
    shape = scene.model.shape
    if len(x):
        expected += render.splat(shape, x, y, intensity, scene.spot_sigma_px)
        strength, halo, streak, angle, _ = scene.diffuse
        if strength:
            brightest = np.argsort(intensity)[-1500:]
            expected += render.splat(shape, x[brightest], y[brightest],
                                     strength * intensity[brightest], halo)
            if streak:
                expected += render.splat_streaks(shape, x[brightest], y[brightest],
                                                 strength * intensity[brightest], streak / 2,
                                                 scene.spot_sigma_px, angle)
    expected *= geometry.factor
    expected *= render.shadows(scene)
    expected *= np.float32(scene.exposure)
    return response.record(scene, expected, rng)


def simulate_frame(seed: int, *, detector: str = "square1k", labels=None,
                   rates: dict[str, float] | None = None) -> SimulatedFrame:
    """One frame. ``labels`` (7 ints, canonical order) or drawn like the RefleX labels."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = sample_labels(1, rng, rates)[0]
    scene = sample_scene(rng, detector, labels, seed=seed)
    return SimulatedFrame(render_scene(scene), scene)
