"""simulate_frame: labels → Scene → counts, with ground truth and visible labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mxqc.classes import CLASSES
from mxqc.frame import Geometry
from mxqc.normalise import clip_value_of
from mxqc.simulate import render, response
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, sample_scene
from mxqc.simulate.visibility import Layers, visibility, visible_labels

FRAME_STREAM = 1
ATTEMPTS = 4  # scenes drawn for one label vector before an invisible class is let go


@dataclass(frozen=True, eq=False)
class SimulatedFrame:
    """Counts (float32, NaN in gaps) with the scene that made them.

    ``scene.labels`` are the classes drawn; ``visibility`` scores each drawn class
    (``simulate.visibility``) and ``labels`` are the visible ones, what a person would mark.
    """

    counts: np.ndarray
    scene: Scene
    visibility: dict[str, float | None] | None = None

    @property
    def labels(self) -> tuple[int, ...]:
        if self.visibility is None:
            return self.scene.labels
        return visible_labels(self.scene.labels, self.visibility)

    @property
    def geometry(self) -> Geometry:
        s = self.scene
        return Geometry(beam_x=s.beam_x, beam_y=s.beam_y, pixel_size_mm=s.model.pixel_size_mm,
                        distance_mm=s.distance_mm, wavelength_a=s.wavelength_a,
                        fields=(("all", "simulation truth"),))


def render_scene(scene: Scene) -> np.ndarray:
    """Deterministic counts for ``scene`` (its seeds drive all noise and textures)."""
    return _render(scene, judge=False)[0].counts


def judge_scene(scene: Scene) -> SimulatedFrame:
    """Render ``scene`` and score the visibility of every class it draws."""
    frame, layers = _render(scene, judge=True)
    return SimulatedFrame(frame.counts, scene, visibility(layers, scene.labels))


def scene_layers(scene: Scene) -> Layers:
    """What ``judge_scene`` judges: the frame's noise-free counts and each class's part."""
    return _render(scene, judge=True)[1]


def _render(scene: Scene, *, judge: bool) -> tuple[SimulatedFrame, Layers | None]:
    geometry = render.pixel_geometry(scene)
    parts = render.background_parts(scene, geometry)
    expected = parts.total()
    x, y, intensity = render.bragg_spots(scene)
    shape = scene.model.shape
    diffuse = None
    if len(x):
        expected += render.splat(shape, x, y, intensity, scene.spot_sigma_px)
        strength, halo, streak, angle, _ = scene.diffuse
        if strength:
            brightest = np.argsort(intensity)[-1500:]
            diffuse = render.splat(shape, x[brightest], y[brightest],
                                   strength * intensity[brightest], halo)
            if streak:
                diffuse += render.splat_streaks(shape, x[brightest], y[brightest],
                                                strength * intensity[brightest], streak / 2,
                                                scene.spot_sigma_px, angle)
            expected += diffuse
    scale = geometry.factor * render.shadows(scene) * np.float32(scene.exposure)
    expected *= scale
    baseline, gains = response.gain_maps(scene, render.sample_rng(scene, render.GAIN_STREAM))
    frame_rng = np.random.default_rng([scene.seed, FRAME_STREAM])
    counts, artifact_change = response.record(scene, expected, gains, frame_rng)
    if not judge:
        return SimulatedFrame(counts, scene), None
    return SimulatedFrame(counts, scene), _layers(scene, parts, diffuse, scale, expected,
                                                  baseline, gains, counts, artifact_change)


def _layers(scene, parts, diffuse, scale, expected, baseline, gains, counts,
            artifact_change) -> Layers:
    """The noise-free recorded counts of the frame and of each drawn class."""
    model = scene.model
    recorded = scale * gains
    total = expected * gains
    if model.ccd:
        adu = np.float32(model.adu_per_photon)
        recorded *= adu
        total *= adu
        total += np.float32(response.ccd_pedestal(scene))
    drawn = dict(zip(CLASSES, scene.labels, strict=True))
    contributions = {"strong_background": parts.strong_background,
                     "background_ring": parts.background_ring, "ice_ring": parts.ice_ring,
                     "loop_scattering": parts.loop_scattering}
    if drawn["diffuse_scattering"]:
        cloud = None
        if parts.cloud is not None:
            cloud = np.sum(parts.additive(), axis=0, dtype=np.float32) * parts.cloud
        contributions["diffuse_scattering"] = sum(p for p in (diffuse, cloud) if p is not None)
    faulty = gains is not baseline and drawn["non_uniform_detector"]
    return Layers(
        total=total, counts=counts, artifact_change=artifact_change,
        parts={k: v * recorded for k, v in contributions.items()
               if drawn[k] and v is not None and not isinstance(v, int)},
        background=parts.total() * scale * baseline if faulty else None,
        gain_change=(gains / baseline - np.float32(1.0)) if faulty else None,
        adu_per_photon=model.adu_per_photon, readout_noise=model.readout_noise,
        # a quarter of the pixels give the same 95th percentile to ~10⁻⁴ in rank
        clip=clip_value_of(counts[::2, ::2])[0])


def draw_visible(rng: np.random.Generator, detector: str, labels, *, seed: int
                 ) -> SimulatedFrame:
    """A frame whose drawn classes are all visible: scenes are drawn for ``labels`` until
    they are (at most ``ATTEMPTS``; then the last, its invisible classes labelled 0)."""
    frame = None
    for attempt in range(ATTEMPTS):
        scene_seed = seed if attempt == 0 else int(rng.integers(2**31))
        scene = sample_scene(rng, detector, labels, seed=scene_seed)
        frame = judge_scene(scene)
        if frame.labels == scene.labels:
            break
    return frame


def simulate_frame(seed: int, *, detector: str = "square1k", labels=None,
                   rates: dict[str, float] | None = None) -> SimulatedFrame:
    """One frame whose ``labels`` (7 ints, canonical order; drawn like the RefleX labels if
    not given) are visible where possible (``draw_visible``)."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = sample_labels(1, rng, rates)[0]
    return draw_visible(rng, detector, labels, seed=seed)
