"""Diffuse scattering: structured intensity between the spots. Once the spots are masked
and the isotropic background (with a smooth surface for what it misses) divided out, what
is left of the background on 32-pixel cells should be counting noise; clouds, haloes and
streaks leave more. The witness is that excess, as a relative r.m.s. spread."""

from __future__ import annotations

import numpy as np

from mxqc.witness.detector import MIN_MODULE_EXPECTED, Cells, detrended_log_ratio

CLIP = 1.0  # a cell's |log ratio| is clipped here (shadows and gaps are not texture)


def texture(cells: Cells, gain: float = 1.0) -> float:
    """The r.m.s. relative spread of the spot-free background over the frame's ``cells``
    beyond what counting noise explains (0 when it explains it all)."""
    counts, model = cells.counts, cells.model
    residual = detrended_log_ratio(counts, model)
    ok = np.isfinite(residual) & (model >= MIN_MODULE_EXPECTED)
    if ok.sum() < 12:
        return 0.0
    spread = np.mean(np.minimum(residual[ok], CLIP) ** 2 * (residual[ok] > -CLIP))
    noise = np.mean(gain / counts[ok])
    return float(np.sqrt(max(spread - noise, 0.0)))
