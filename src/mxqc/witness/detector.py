"""The detector's module layout, found from the frame itself: gap lines (rows and columns
that are almost all invalid), or on a gap-free CCD the zero-count seams between its tiles.
"""

from __future__ import annotations

import numpy as np

GAP_LINE = 0.9  # share of a row or column that must be invalid (or 0) to be a module gap


def module_bands(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The module (or CCD tile) row of each pixel row and column of each pixel column,
    −1 on the gap lines between them.

    Gaps are rows and columns that are at least ``GAP_LINE`` invalid (NaN), or, on a frame
    without such lines, 0 where a CCD writes zeros between its tiles (unless so many lines
    are 0 that the frame is merely weak). A frame without gap lines is one module."""
    gap_rows, gap_cols = _gap_lines(~np.isfinite(counts))
    if not (gap_rows.any() or gap_cols.any()):
        gap_rows, gap_cols = _gap_lines(counts == 0)
        if gap_rows.mean() > 0.1 or gap_cols.mean() > 0.1:
            gap_rows[:], gap_cols[:] = False, False
    return _bands(gap_rows), _bands(gap_cols)


def module_layout(counts: np.ndarray) -> np.ndarray:
    """Each pixel's module index (row-major over the module grid), −1 in gaps
    (``module_bands``)."""
    rows, cols = module_bands(counts)
    n_cols = int(cols.max()) + 1
    return np.where((rows[:, None] >= 0) & (cols[None, :] >= 0),
                    rows[:, None] * n_cols + cols[None, :], -1).astype(np.int32)


def _gap_lines(empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return empty.mean(axis=1) >= GAP_LINE, empty.mean(axis=0) >= GAP_LINE


def _bands(gap: np.ndarray) -> np.ndarray:
    """Index of the run of non-gap positions each position lies in (−1 on gaps)."""
    starts = ~gap & np.r_[True, gap[:-1]]
    return np.where(gap, -1, np.cumsum(starts) - 1).astype(np.int32)
