"""Raw-count frames with rings around a known beam centre, a beam-stop shadow and gaps.

Enough physics for testing centring and representations: a radially decaying background,
Gaussian rings, a round beam-stop shadow with an arm to the image edge, Poisson noise and
optional detector gap rows/columns (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RingPattern:
    """Parameters of a synthetic ring frame (all lengths in pixels of the frame)."""

    shape: tuple[int, int] = (1024, 1024)
    centre: tuple[float, float] = (511.5, 511.5)
    ring_radii: tuple[float, ...] = (150.0, 260.0, 380.0)
    ring_width: float = 4.0
    ring_counts: float = 40.0
    background_counts: float = 30.0
    background_scale: float = 300.0
    beamstop_radius: float = 18.0
    arm_angle_deg: float | None = 30.0
    arm_width: float = 10.0
    gap_period: int | None = None
    gap_width: int = 7
    seed: int = 0


def ring_pattern(p: RingPattern = RingPattern()) -> np.ndarray:
    """(H, W) float32 counts for the pattern ``p`` (NaN in gaps)."""
    h, w = p.shape
    cx, cy = p.centre
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    r = np.hypot(dx, dy)
    expected = p.background_counts * np.exp(-r / p.background_scale) + 1.0
    for radius in p.ring_radii:
        expected += p.ring_counts * np.exp(-0.5 * ((r - radius) / p.ring_width) ** 2)
    shadow = r < p.beamstop_radius
    if p.arm_angle_deg is not None:
        a = np.deg2rad(p.arm_angle_deg)
        along = dx * np.cos(a) + dy * np.sin(a)
        across = np.abs(-dx * np.sin(a) + dy * np.cos(a))
        shadow |= (along > 0) & (across < p.arm_width / 2)
    expected[shadow] = 0.2
    counts = np.random.default_rng(p.seed).poisson(expected).astype(np.float32)
    if p.gap_period:
        for start in range(p.gap_period, h, p.gap_period):
            counts[start:start + p.gap_width, :] = np.nan
        for start in range(p.gap_period, w, p.gap_period):
            counts[:, start:start + p.gap_width] = np.nan
    return counts
