"""simulate_frame: labels → Scene → counts, with ground truth and visible labels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from mxqc.classes import CLASSES
from mxqc.frame import Geometry
from mxqc.normalise import clip_value_of
from mxqc.simulate import render, response
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, sample_scene
from mxqc.simulate.visibility import (
    RENDERED_APART,
    VIEW_SIZE,
    Layers,
    visibility,
    visible_labels,
)

FRAME_STREAM = 1
DRAWS = 4  # scenes drawn for one label vector before an invisible class is let go


@dataclass(frozen=True, eq=False)
class SimulatedFrame:
    """Counts (float32, NaN in gaps) with the scene that made them.

    ``scene.labels`` are the classes drawn; ``visibility`` scores each drawn class
    (``simulate.visibility``) and ``labels`` are the visible ones, what a person would mark.
    """

    counts: np.ndarray
    scene: Scene
    visibility: dict[str, float | None] | None = None
    rejected: tuple[tuple[str, ...], ...] = ()  # invisible classes of draws thrown away

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
    found = render.profiles(scene, geometry.s_index[1])
    smooth = render.class_background(geometry, found, "all")  # the background, no cloud
    modulation = render.cloud(scene, geometry)
    expected = (smooth * (1.0 + modulation) if modulation is not None
                else smooth.copy() if judge else smooth)
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
    frame = SimulatedFrame(counts, scene)
    if not judge:
        return frame, None
    return frame, _layers(scene, geometry, found, smooth, modulation, expected, diffuse,
                          scale, baseline, gains, counts, artifact_change)


def to_view(values: np.ndarray) -> np.ndarray:
    return cv2.resize(values, (VIEW_SIZE, VIEW_SIZE), interpolation=cv2.INTER_AREA)


def grey_view(counts: np.ndarray, clip: float, *, scratch: bool = False) -> np.ndarray:
    """Grey levels (0–255) of raw ``counts`` in the view, clipped per raw pixel (NaN gaps
    left out as 0); with ``scratch``, ``counts`` is clipped in place."""
    clipped = np.minimum(counts, np.float32(clip), out=counts if scratch else None)
    cv2.patchNaNs(clipped, 0)
    return to_view(clipped) * np.float32(255.0 / clip)


def _layers(scene, geometry, found, smooth, modulation, expected, diffuse, scale, baseline,
            gains, counts, artifact_change) -> Layers:
    """The frame in the 512² view a person looks at, and the grey-level change each drawn
    class makes there: the noise-free frame with the class less the noise-free frame
    without it, both clipped per raw pixel at the recorded frame's own clip. ``smooth``
    (the background without the cloud) and ``modulation`` (the cloud) are the render's."""
    model = scene.model
    h, w = model.shape
    clip = np.float32(clip_value_of(counts[::2, ::2])[0])  # a quarter of the pixels: same p95
    recorded = scale * gains
    total = expected * gains
    if model.ccd:
        recorded *= np.float32(model.adu_per_photon)
        total *= np.float32(model.adu_per_photon)
        total += np.float32(response.ccd_pedestal(scene))
    drawn = {c for c, flag in zip(CLASSES, scene.labels, strict=True) if flag}
    grey = np.float32(255.0) / clip
    shown = {name: change * grey for name, change in _part_changes(
        scene, geometry, found, sorted(drawn & RENDERED_APART), recorded, total, clip).items()}
    if "diffuse_scattering" in drawn:
        part = np.zeros_like(total) if diffuse is None else diffuse * recorded
        if modulation is not None:
            part += smooth * modulation * recorded
        shown["diffuse_scattering"] = grey_view(total, clip) - grey_view(
            np.subtract(total, part, out=part), clip, scratch=True)
    if "artifact" in drawn and artifact_change is not None:
        shown["artifact"] = grey_view(counts, clip) - grey_view(counts - artifact_change, clip,
                                                         scratch=True)
    faulty = "non_uniform_detector" in drawn and gains is not baseline
    background = None
    if faulty:
        background = smooth * scale * baseline
        background *= np.float32(model.adu_per_photon)
    return Layers(
        level=to_view(total), shown=shown,
        gain_change=to_view(gains / baseline - np.float32(1.0)) if faulty else None,
        background=None if background is None else to_view(background),
        adu_per_photon=model.adu_per_photon, readout_noise=model.readout_noise, clip=clip,
        raw_per_view=h * w / VIEW_SIZE**2)


def _part_changes(scene, geometry, found, names, recorded, total, clip) -> dict:
    """The view's change (recorded counts per raw pixel) of each named class's part P of
    the background: min(T, c) − min(T − P, c) per raw pixel, averaged over the view
    pixels. That is P where the frame T is under the clip c, and P − min(P, T − c) above
    it: the view mean of P (``render.ViewLookup``; P is smooth on the scale of a view
    pixel) less that of min(P, T − c) over the clipped raw pixels, computed on those."""
    if not names:
        return {}
    view = render.view_lookup(scene, found, VIEW_SIZE)
    counted = to_view(recorded)
    over = np.flatnonzero(total > clip)
    h, w = total.shape
    rows, cols = np.divmod(over, w)
    # the view pixel each clipped raw pixel falls in (exactly INTER_AREA's when the view's
    # size divides the frame's), and how many raw pixels a view pixel averages
    in_view = rows * VIEW_SIZE // h * VIEW_SIZE + cols * VIEW_SIZE // w
    per_view = np.float32(VIEW_SIZE**2 / (h * w))
    changes = {}
    for name in names:
        part = view.part(found, name)
        if part is None:
            continue
        lost = np.minimum(render.class_at(geometry, found, name, over) * recorded.flat[over],
                          total.flat[over] - clip)
        changes[name] = part * counted - np.bincount(
            in_view, lost, VIEW_SIZE**2).reshape(VIEW_SIZE, VIEW_SIZE).astype(
            np.float32) * per_view
    return changes


def draw_visible(rng: np.random.Generator, detector: str, labels, *, seed: int,
                 draws: int = DRAWS) -> SimulatedFrame:
    """A frame whose drawn classes are all visible: scenes are drawn for ``labels`` until
    they are (at most ``draws``; then the last, its invisible classes labelled 0). The
    frame records the invisible classes of the draws it threw away."""
    rejected = []
    for attempt in range(draws):
        scene_seed = seed if attempt == 0 else int(rng.integers(2**31))
        scene = sample_scene(rng, detector, labels, seed=scene_seed)
        frame = judge_scene(scene)
        invisible = tuple(c for c, d, v in zip(CLASSES, scene.labels, frame.labels,
                                               strict=True) if d and not v)
        if not invisible or attempt == draws - 1:
            return replace(frame, rejected=tuple(rejected))
        rejected.append(invisible)
    raise ValueError(f"draws must be at least 1, got {draws}")


def simulate_frame(seed: int, *, detector: str = "square1k", labels=None,
                   rates: dict[str, float] | None = None, draws: int = DRAWS
                   ) -> SimulatedFrame:
    """One frame whose ``labels`` (7 ints, canonical order; drawn like the RefleX labels if
    not given) are visible where possible (``draw_visible``)."""
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = sample_labels(1, rng, rates)[0]
    return draw_visible(rng, detector, labels, seed=seed, draws=draws)
