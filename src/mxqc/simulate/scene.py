"""Scene: every parameter of one simulated frame, drawn from realistic ranges.

A Scene is plain data (JSON-able through ``dataclasses.asdict``); ``render`` turns it into
counts deterministically, so a frame can be regenerated from its recorded parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mxqc.classes import CLASSES
from mxqc.scatterers import KAPTON, NYLON_A, WATER_BAND_A
from mxqc.simulate.detector import DETECTORS, DetectorModel, detector_model

# Exposures are drawn log-uniformly from 0.3 to this (photons per unit of the intensity
# model). At 6, clean simulated PILATUS 6M frames had a median background of 0.4
# counts/px against 2.9 on the real PILATUS frames we hold (0.07–4; bench_realism.py): the
# normalised view of a simulated frame was mostly white, of a real one mid-grey.
EXPOSURE_MAX = 30.0


@dataclass(frozen=True)
class Scene:
    """Parameters of one frame. Lengths in mm or pixels as named; d-spacings in Å."""

    detector: str
    seed: int
    labels: tuple[int, ...]
    wavelength_a: float
    distance_mm: float
    beam_x: float
    beam_y: float
    tilt_deg: float
    exposure: float  # photons per unit of the expected-intensity model
    air_scatter: float
    flat_background: float
    # beam stop and other shadows
    beamstop_radius_px: float
    arm_angle_deg: float
    arm_width_px: float
    nozzle_angle_deg: float | None
    # crystal
    cell: tuple[float, float, float, float, float, float]
    orientation: tuple[float, ...]  # 3×3 rotation, row-major
    oscillation_deg: float
    mosaicity_deg: float
    spot_sigma_px: float
    wilson_b: float
    d_min_a: float
    crystal_scale: float
    # anomalies: a strength of 0 means absent
    water: tuple[float, float, float] = (0.0, 3.2, 0.03)  # strength, d, width in 1/Å
    ice: tuple[float, float, float, int] = (0.0, 0.002, 0.0, 0)
    # strength, width in 1/Å, spottiness, cubic (1) or hexagonal (0)
    loop_rings: tuple[tuple[float, ...], ...] = ()
    # (strength, d, width in 1/Å, arc centre deg, arc spread deg (360: full ring), paired 0/1)
    diffuse: tuple[float, float, float, float, float] = (0.0, 6.0, 0.0, 0.0, 0.0)
    # strength, halo sigma px, streak length px, streak angle deg, cloud strength
    nonuniform: tuple[str, ...] = ()  # kinds: module_gains, half_step, gradient, dead_module
    nonuniform_strength: float = 0.0
    artifacts: tuple[str, ...] = ()  # kinds: hot_pixels, dead_columns, zingers, streak,
    #                                  shutter_band, gap_cross
    sample_seed: int | None = None  # the sample's and detector's draws (textures, gains,
    #                                 intensities), shared by a sweep; None: ``seed``

    @property
    def sample_key(self) -> int:
        return self.seed if self.sample_seed is None else self.sample_seed

    @property
    def model(self) -> DetectorModel:
        return detector_model(self.detector)


def sample_beam_offset(rng, edge_px: int) -> tuple[float, float]:
    """Offset of the beam from the detector centre, like RefleX's (notes §7.5, at 512²:
    median ~2 px, p95 ~17 px, a tail past 100 px), scaled to ``edge_px``."""
    u = rng.random()
    if u < 0.55:
        r = abs(rng.normal(0.0, 2.5))
    elif u < 0.95:
        r = rng.uniform(3.0, 20.0)
    else:
        r = rng.uniform(40.0, 140.0)
    angle = rng.uniform(0, 2 * np.pi)
    scale = edge_px / 512.0
    return r * scale * np.cos(angle), r * scale * np.sin(angle)


def _cell(rng):
    a, b, c = rng.uniform(35, 140, 3)
    family = rng.random()
    if family < 0.55:
        return (a, b, c, 90.0, 90.0, 90.0)
    if family < 0.8:
        return (a, b, c, 90.0, float(rng.uniform(95, 120)), 90.0)
    return (a, a, c, 90.0, 90.0, 120.0)


def _rotation(rng) -> tuple[float, ...]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return tuple(float(v) for v in q.ravel())


def _loop_rings(rng) -> tuple[tuple[float, ...], ...]:
    """What a loop or mount in the beam adds: a kapton mount's rings, a nylon fibre loop's
    paired arcs, or broad partial rings of other plastics at low resolution."""
    kind = rng.random()
    strength = float(np.exp(rng.uniform(np.log(1.0), np.log(8.0))))
    if kind < 0.25:  # kapton (polyimide) mount: full rings
        return tuple((strength * rel, d, float(width * rng.uniform(0.8, 1.5)), 0.0, 360.0, 0)
                     for d, rel, width in KAPTON)
    if kind < 0.5:  # nylon fibre: arcs about the fibre axis, in Friedel pairs
        axis, spread = float(rng.uniform(0, 180)), float(rng.uniform(20, 90))
        return tuple((strength * rel, d, float(rng.uniform(0.008, 0.02)), axis, spread, 1)
                     for d, rel in zip(NYLON_A, (1.0, 0.7), strict=True))
    rings = []
    for _ in range(rng.integers(1, 4)):
        spread = 360.0 if rng.random() < 0.35 else float(rng.uniform(40, 300))
        rings.append((float(rng.uniform(1, 6)), float(rng.uniform(5.0, 20.0)),
                      float(rng.uniform(0.004, 0.02)), float(rng.uniform(0, 360)), spread, 0))
    return tuple(rings)


def artifact_kinds(rng) -> tuple[str, ...]:
    """One kind a person can see at 512² always, plus others (pixel-level ones) sometimes."""
    large = ("dead_columns", "streak", "shutter_band", "gap_cross")
    small = ("hot_pixels", "zingers")
    picks = {large[rng.integers(len(large))]}
    picks |= {k for k in (*large, *small) if rng.random() < 0.2}
    return tuple(sorted(picks))


def sample_scene(rng: np.random.Generator, detector: str, labels, *, seed: int) -> Scene:
    """Draw every parameter of a frame with the given labels (canonical order)."""
    model = DETECTORS[detector]
    labels = tuple(int(v) for v in labels)
    lab = dict(zip(CLASSES, labels, strict=True))
    h, w = model.shape
    dx, dy = sample_beam_offset(rng, min(h, w))
    edge_mm = min(h, w) * model.pixel_size_mm
    strong_bg = lab["strong_background"]
    crystal = rng.uniform(0.05, 0.3) if strong_bg else rng.uniform(0.5, 3.0)
    if rng.random() < 0.08:  # some frames are nearly blank (no crystal in the beam)
        crystal = 0.0
    scene = dict(
        detector=detector, seed=seed, labels=labels,
        wavelength_a=float(rng.uniform(0.7, 1.6)),
        distance_mm=float(rng.uniform(0.45, 1.6) * edge_mm),
        beam_x=float((w - 1) / 2 + dx), beam_y=float((h - 1) / 2 + dy),
        tilt_deg=float(rng.normal(0, 0.5)),
        exposure=float(np.exp(rng.uniform(np.log(0.3), np.log(EXPOSURE_MAX)))),
        air_scatter=float(rng.uniform(8, 25) if strong_bg else rng.uniform(0.5, 4)),
        flat_background=float(rng.uniform(0.3, 3.0) if strong_bg else rng.uniform(0.0, 0.6)),
        beamstop_radius_px=float(rng.uniform(0.008, 0.025) * min(h, w)),
        arm_angle_deg=float(rng.uniform(0, 360)),
        arm_width_px=float(rng.uniform(0.006, 0.02) * min(h, w)),
        nozzle_angle_deg=float(rng.uniform(0, 360)) if rng.random() < 0.25 else None,
        cell=tuple(float(v) for v in _cell(rng)), orientation=_rotation(rng),
        oscillation_deg=float(rng.uniform(0.1, 1.0)),
        mosaicity_deg=float(rng.uniform(0.05, 0.6)),
        spot_sigma_px=float(rng.uniform(0.7, 1.8) * (0.172 / model.pixel_size_mm) ** 0.5),
        wilson_b=float(rng.uniform(10, 60)), d_min_a=float(rng.uniform(1.6, 4.0)),
        crystal_scale=float(crystal * 400),
    )
    if lab["background_ring"]:
        scene["water"] = (float(rng.uniform(2, 15)), float(rng.uniform(*WATER_BAND_A)),
                          float(rng.uniform(0.02, 0.06)))
    if lab["ice_ring"]:
        scene["ice"] = (float(np.exp(rng.uniform(np.log(2), np.log(40)))),
                        float(rng.uniform(0.001, 0.003)),
                        float(rng.choice([0.0, rng.uniform(0.3, 1.0)])),
                        int(rng.random() < 0.2))
    if lab["loop_scattering"]:
        scene["loop_rings"] = _loop_rings(rng)
    if lab["diffuse_scattering"]:
        scene["diffuse"] = (float(rng.uniform(0.2, 1.0)), float(rng.uniform(3, 10)),
                            float(rng.choice([0.0, rng.uniform(6, 25)])),
                            float(rng.uniform(0, 180)), float(rng.uniform(0, 1)))
    if lab["non_uniform_detector"]:
        kinds = ("module_gains", "half_step", "gradient", "dead_module")
        picks = rng.choice(len(kinds), size=rng.integers(1, 3), replace=False)
        scene["nonuniform"] = tuple(kinds[i] for i in sorted(picks))
        scene["nonuniform_strength"] = float(rng.uniform(0.15, 0.5))
    if lab["artifact"]:
        scene["artifacts"] = artifact_kinds(rng)
    if model.ccd:  # integrating CCDs were exposed for seconds, not milliseconds
        scene["exposure"] *= float(rng.uniform(3, 10))
    if lab["non_uniform_detector"] or lab["artifact"]:
        # detector faults only show on a frame with some background to reveal them
        scene["exposure"] = max(scene["exposure"], 1.5)
        scene["flat_background"] = max(scene["flat_background"], 0.5)
    return Scene(**scene)
