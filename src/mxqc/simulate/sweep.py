"""Sweeps: consecutive frames of one sample on one detector, rotating, as at a beamline.

What belongs to the sample and the detector persists through a sweep: its geometry, beam
stop, ice, water ring, loop and mount scatter, diffuse scattering, background level and the
detector's response, and the textures and gains drawn for them (the sample's seed). From
frame to frame the crystal turns by the oscillation about the spindle (the horizontal x
axis), so other reflections light up; loop and fibre arcs turn with it; the counting noise
is new. Digital artefacts come and go: on a sweep drawn with artefacts each frame has its
own with probability ``ARTIFACT_FRAME_RATE``. Ice may form part-way: on a sweep drawn with
ice, with probability ``ICE_ONSET_RATE`` it appears from a random frame on.

The label vector of a sweep is drawn like the RefleX labels; each frame's labels are the
classes it draws that are visible in it (``simulate.visibility``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mxqc.classes import CLASSES
from mxqc.simulate.generate import DRAWS, SimulatedFrame, draw_visible, judge_scene
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.scene import Scene, artifact_kinds

ARTIFACT_FRAME_RATE = 0.3
ICE_ONSET_RATE = 0.25
ARC_TURN = 1.0  # degrees a loop or fibre arc turns per degree of rotation
ARTIFACT = CLASSES.index("artifact")
ICE = CLASSES.index("ice_ring")


def simulate_sweep(n: int, *, seed: int, detector: str, rates=None, labels=None,
                   draws: int = DRAWS, exposure: float | None = None) -> list[SimulatedFrame]:
    """``n`` frames of one sweep (``n`` = 1: a single frame), judged for visibility; the
    sweep draws ``labels`` (7 ints, canonical order), or labels drawn like RefleX's, and its
    first frame is drawn up to ``draws`` times until they are visible (``draw_visible``).
    ``exposure`` (photons per unit of the intensity model; drawn from 0.3–30 if None) sets
    how strong every frame is: 0.3 makes a sweep of frames too weak to centre alone."""
    rng = np.random.default_rng(seed)
    drawn = sample_labels(1, rng, rates)[0] if labels is None else labels
    first = draw_visible(rng, detector, drawn, seed=int(rng.integers(2**31)), draws=draws)
    if exposure is not None:
        first = judge_scene(replace(first.scene, exposure=exposure))
    if n == 1:
        return [first]
    base = first.scene
    onset = int(rng.integers(1, n)) if base.ice[0] and rng.random() < ICE_ONSET_RATE else 0
    frames = [first if onset == 0 else judge_scene(_without_ice(base))]
    for i in range(1, n):
        frames.append(judge_scene(sweep_frame(base, i, rng, ice_from=onset)))
    return frames


def sweep_frame(base: Scene, i: int, rng: np.random.Generator, *, ice_from: int = 0
                ) -> Scene:
    """Frame ``i`` of the sweep that ``base`` starts (frame 0)."""
    turn = i * base.oscillation_deg
    labels = list(base.labels)
    has_artifacts = bool(base.labels[ARTIFACT]) and rng.random() < ARTIFACT_FRAME_RATE
    labels[ARTIFACT] = int(has_artifacts)
    scene = replace(
        base, seed=int(rng.integers(2**31)), sample_seed=base.sample_key,
        orientation=_rotate_about_x(base.orientation, turn),
        loop_rings=tuple((*r[:3], (r[3] + ARC_TURN * turn) % 360.0, *r[4:])
                         for r in base.loop_rings),
        artifacts=artifact_kinds(rng) if has_artifacts else (), labels=tuple(labels))
    return _without_ice(scene) if i < ice_from else scene


def _without_ice(scene: Scene) -> Scene:
    labels = list(scene.labels)
    labels[ICE] = 0
    return replace(scene, ice=(0.0, *scene.ice[1:]), labels=tuple(labels),
                   sample_seed=scene.sample_key)


def _rotate_about_x(orientation, degrees: float) -> tuple[float, ...]:
    a = np.deg2rad(degrees)
    spindle = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    return tuple(float(v) for v in (spindle @ np.reshape(orientation, (3, 3))).ravel())
