"""The detector's response, measured on the frame itself: its module layout (gap lines,
rows and columns that are almost all invalid, or on a gap-free CCD the zero-count seams
between its tiles), each module's gain from the steps across the gaps, dead modules, one
half against the other, gradients, and gain steps on a frame without a layout.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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


CELL_PX = 32  # raw pixels per cell edge: the grid gains are measured on
EDGE_CELLS = 2  # cells each side of a module gap compared for the step across it
EDGE_TOLERANCE = 0.05  # log-ratio misfit a gap may have and still count toward the gains
STEP_CELLS = 3  # cells each side of a line that a step compares
STEP_GROUP = 4  # cells along the line pooled per comparison (128 raw px)
MIN_STEP = 0.08  # relative steps smaller than this are not measured
STEP_SIGMA = 5.0  # a step must stand this far above its counting noise
MIN_STEP_GROUPS = 3  # and run along the line for this many groups (384 raw px)
MIN_MODULE_EXPECTED = 20.0  # counts a cell must expect to say anything of its module
MODULE_OFF = 0.15  # gain differences said in the sentence (normal real frames: up to ±12 %)
SHADOW = 0.6  # cells reading below this share of the background are shadowed (beam stop,
# its arm, the goniometer), not a gain: left out of the steps
DEAD = 0.05  # cells reading below this share of the background read nothing
DEAD_SHARE = 0.9  # share of a module's cells that must read nothing for it to be dead
BEAM_CLEAR = 300  # raw pixels about the beam whose cells say nothing of gains


@dataclass(frozen=True)
class ResponseFinding:
    """The detector's response measured against the frame's isotropic background.

    Attributes
    ----------
    module : (row, col) or None
        Module (or CCD tile) grid position furthest from its neighbours.
    module_deviation : float
        Its gain over the median of its neighbours', minus 1 (0 without modules).
    modules_off : int
        Modules further than ``MODULE_OFF`` from their neighbours.
    halves : float
        Gain of the right (``halves_axis`` 'x') or lower ('y') half of the module grid
        over the other half, minus 1.
    halves_axis : str
    step : float
        The largest gain step across a row or column line (right or lower side over the
        other, minus 1; 0 when none stands out).
    step_axis : str
        'column' (a vertical line) or 'row'.
    step_at, step_from, step_to : int
        The line (raw pixel index) and the span along it (raw pixels).
    gradient : float
        Largest linear gain change across the frame along x or y (relative).
    gradient_axis : str
        'x' or 'y'.
    """

    module: tuple[int, int] | None
    module_deviation: float
    modules_off: int
    halves: float
    halves_axis: str
    step: float
    step_axis: str
    step_at: int
    step_from: int
    step_to: int
    gradient: float
    gradient_axis: str

    def sentence(self) -> str:
        """The gain differences of at least MODULE_OFF, each as a phrase."""
        return "; ".join(said for size, said in self._parts() if abs(size) >= MODULE_OFF)

    def measured(self) -> str:
        """The largest gain difference, however small ('' under 1 %), and how it compares
        with what normal frames show: the support a flag has where nothing is said."""
        parts = [(size, said) for size, said in self._parts() if round(abs(size), 2) > 0]
        if not parts:
            return ""
        size, said = max(parts, key=lambda part: abs(part[0]))
        return said if abs(size) >= MODULE_OFF else (
            f"{said} (under {MODULE_OFF:.0%}: within what normal frames show)")

    def _parts(self) -> list[tuple[float, str]]:
        parts = []
        if self.module is not None and self.module_deviation:
            side = "above" if self.module_deviation > 0 else "below"
            more = f" ({self.modules_off} modules off)" if self.modules_off > 1 else ""
            parts.append((self.module_deviation,
                          f"module {self.module} reads {abs(self.module_deviation):.0%} "
                          f"{side} its neighbours{more}"))
        if self.halves:
            first, second = ("left", "right") if self.halves_axis == "x" else ("upper", "lower")
            parts.append((self.halves,
                          f"the {second} half reads {self.halves:+.0%} against the {first}"))
        if self.step:
            line = "column" if self.step_axis == "column" else "row"
            along = "rows" if line == "column" else "columns"
            parts.append((self.step, f"gain step of {self.step:+.0%} across {line} "
                                     f"{self.step_at} ({along} {self.step_from}–{self.step_to})"))
        if self.gradient:
            parts.append((self.gradient, f"gain changes {self.gradient:+.0%} across the frame "
                                         f"along {self.gradient_axis}"))
        return parts


@dataclass(frozen=True, eq=False)
class Cells:
    """A frame's spot-free counts and its isotropic model's counts, summed over cells of
    ``CELL_PX`` raw pixels (``size`` bins): what gains and texture are measured on."""

    counts: np.ndarray
    model: np.ndarray
    size: int

    @classmethod
    def of(cls, binned, quiet: np.ndarray, expected: np.ndarray) -> Cells:
        """Cells of ``binned`` (witness.background.Binned) over its spot-free ``quiet``
        bins, whose ``expected`` counts the isotropic background gives."""
        size = max(1, CELL_PX // binned.k)
        use = quiet & np.isfinite(expected)
        return cls(cell_sums(np.where(use, binned.counts, 0), size),
                   cell_sums(np.where(use, expected, 0), size), size)


def measure_response(binned, cells: Cells, centre, gain: float = 1.0,
                     layout=None) -> ResponseFinding:
    """Module gains, gain steps and gradients of a frame: ``binned`` (witness.background
    .Binned), its ``cells``, the beam ``centre`` (raw x, y); ``gain`` counts per photon
    scales the counting noise; ``layout``: ``module_bands`` of the binned counts, where
    the caller has it.

    Cells near the beam (the beam stop and its halo) and shadowed cells say nothing of
    gains. With a module layout, gains are measured across the gaps; without one (a
    single chip, a gap-free simulated square), steps are looked for along every line."""
    counts, model, size = cells.counts, cells.model, cells.size
    cell = size * binned.k
    yy, xx = np.mgrid[:counts.shape[0], :counts.shape[1]]
    clear = np.hypot((xx + 0.5) * cell - centre[0], (yy + 0.5) * cell - centre[1]) > BEAM_CLEAR
    dead = clear & (model >= MIN_MODULE_EXPECTED) & (counts < DEAD * model)
    lit = clear & (counts >= SHADOW * model)
    counts, model = np.where(lit, counts, 0), np.where(lit, model, 0)
    found = _modules(layout or module_bands(binned.counts), counts, model, dead, size)
    step = (0.0, 1, 0, 0, 0) if found.layout else max(
        (_steps(counts, model, gain, axis) for axis in (1, 0)), key=lambda s: abs(s[0]))
    grad, grad_axis = _gradient(counts, model)
    return ResponseFinding(
        module=found.worst, module_deviation=round(found.deviation, 3),
        modules_off=found.off, halves=round(found.halves, 3), halves_axis=found.halves_axis,
        step=round(step[0], 3), step_axis="column" if step[1] == 1 else "row",
        step_at=int(step[2] * cell), step_from=int(step[3] * cell),
        step_to=int(step[4] * cell), gradient=round(grad, 3), gradient_axis=grad_axis)


def cell_sums(a: np.ndarray, size: int) -> np.ndarray:
    """Sums over size×size cells (the frame's last partial cells dropped), in float64."""
    h, w = a.shape[0] // size * size, a.shape[1] // size * size
    return a[:h, :w].reshape(h // size, size, w // size, size).sum(axis=(1, 3),
                                                                     dtype=np.float64)


@dataclass(frozen=True)
class _Modules:
    layout: bool  # the frame has a module (or tile) layout
    worst: tuple[int, int] | None = None
    deviation: float = 0.0
    off: int = 0
    halves: float = 0.0
    halves_axis: str = "x"


def _modules(layout, counts, model, dead, size) -> _Modules:
    """The module furthest from its neighbours, from the steps across the gaps between
    modules: the cells on either side of a gap see the same background (a halo or a
    gradient crosses the gap alike), so only a gain changes between them. A module with
    a dead cell in every lit-expected place is dead (gain 0)."""
    rows, cols = layout
    n_rows, n_cols = int(rows.max()) + 1, int(cols.max()) + 1
    if n_rows * n_cols < 2:
        return _Modules(False)
    cell_rows, cell_cols = _cell_bands(rows, size, counts.shape[0]), _cell_bands(
        cols, size, counts.shape[1])
    log_ratio = detrended_log_ratio(counts, model)
    pairs, logs = [], []
    for a, b, value in (*_edges(log_ratio, cell_rows, cell_cols, n_cols, 1),
                        *_edges(log_ratio.T, cell_cols, cell_rows, n_rows, n_cols)):
        pairs.append((a, b))
        logs.append(value)
    gains = _solve_gains(pairs, logs, n_rows * n_cols).reshape(n_rows, n_cols)
    for i in range(n_rows):
        for j in range(n_cols):
            inside = np.ix_(cell_rows == i, cell_cols == j)
            if dead[inside].sum() >= DEAD_SHARE * dead[inside].size > 0:
                gains[i, j] = 0.0
    beside = _neighbour_median(gains)
    with np.errstate(divide="ignore", invalid="ignore"):  # beside dead modules: unmeasurable
        deviation = np.where(beside > 0, gains / beside - 1, np.nan)
    if not np.isfinite(deviation).any():
        return _Modules(True)
    worst = np.unravel_index(np.nanargmax(np.abs(deviation)), deviation.shape)
    halves, axis = _halves(gains)
    return _Modules(True, (int(worst[0]), int(worst[1])), float(deviation[worst]),
                    int(np.sum(np.abs(np.nan_to_num(deviation)) >= MODULE_OFF)), halves, axis)


def _halves(gains: np.ndarray) -> tuple[float, str]:
    """The larger of (right half over left half − 1) and (lower half over upper − 1): the
    median over module rows (columns) of the ratio of their halves' median gains, so that
    a shadow over a few modules does not make a half."""
    best = (0.0, "x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for grid, name in ((gains, "x"), (gains.T, "y")):
            n = grid.shape[1]
            if n < 2:
                continue
            per_line = (np.nanmedian(grid[:, n - n // 2:], axis=1)
                        / np.nanmedian(grid[:, :n // 2], axis=1))
            value = float(np.nanmedian(per_line) - 1)
            if np.isfinite(value) and abs(value) > abs(best[0]):
                best = (value, name)
    return best


def _cell_bands(bands: np.ndarray, size: int, n_cells: int) -> np.ndarray:
    """The band of each cell line, −1 for cells not wholly inside one band."""
    per_cell = bands[:n_cells * size].reshape(n_cells, size)
    return np.where((per_cell == per_cell[:, :1]).all(axis=1), per_cell[:, 0], -1)


def detrended_log_ratio(counts, model) -> np.ndarray:
    """Log of each cell's counts over the isotropic model, less a quadratic surface fitted
    to it (NaN where the cell expects too little): a smooth background the model misses
    (air scatter, a halo, a goniometer's shade) changes across a module gap as it does
    within a module, and would otherwise be read as a step at every gap it crosses."""
    use = (model >= MIN_MODULE_EXPECTED) & (counts > 0)
    log_ratio = np.full(counts.shape, np.nan)
    log_ratio[use] = np.log(counts[use] / model[use])
    if use.sum() < 12:
        return log_ratio
    yy, xx = np.mgrid[:counts.shape[0], :counts.shape[1]]
    u, v = xx / counts.shape[1] - 0.5, yy / counts.shape[0] - 0.5
    terms = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v])
    weight = np.sqrt(counts[use])
    coef, *_ = np.linalg.lstsq(terms[:, use].T * weight[:, None], log_ratio[use] * weight,
                               rcond=None)
    return log_ratio - np.tensordot(coef, terms, axes=1)


def _edges(log_ratio, cell_rows, cell_cols, n_cols, stride):
    """(module a, module b, log gain b/a) across each gap between horizontally adjacent
    modules (``stride``: module index step between them; 1 here, n_cols transposed): the
    median over the gap's length of the mean detrended log ratio of the ``EDGE_CELLS``
    cells on its right less that of those on its left."""
    out = []
    for i in np.unique(cell_rows[cell_rows >= 0]):
        band = log_ratio[cell_rows == i]
        for j in np.unique(cell_cols[cell_cols >= 0])[:-1]:
            left = np.flatnonzero(cell_cols == j)[-EDGE_CELLS:]
            right = np.flatnonzero(cell_cols == j + 1)[:EDGE_CELLS]
            if not len(left) or not len(right):
                continue
            jump = band[:, right].mean(axis=1) - band[:, left].mean(axis=1)
            jump = jump[np.isfinite(jump)]
            if len(jump) < 2:
                continue
            a, b = (int(i) * n_cols + int(j), int(i) * n_cols + int(j) + 1) if stride == 1 \
                else (int(j) * stride + int(i), (int(j) + 1) * stride + int(i))
            out.append((a, b, float(np.median(jump))))
    return out


def _solve_gains(pairs, logs, n) -> np.ndarray:
    """Module gains (median 1) from the log gain ratios across their gaps: least squares,
    then again without the gaps that disagree with the solution (a shadow's edge or a
    halo along one gap; a gain shows alike across all of a module's gaps). NaN for a
    module no gap links."""
    gains = np.full(n, np.nan)
    if not pairs:
        return gains
    design = np.zeros((len(pairs), n))
    for k, (a, b) in enumerate(pairs):
        design[k, a], design[k, b] = -1.0, 1.0
    logs = np.asarray(logs)
    keep = np.ones(len(pairs), bool)
    for _ in range(3):
        solution, linked = _least_squares(design[keep], logs[keep], n)
        residual = np.abs(design @ solution - logs)
        limit = max(EDGE_TOLERANCE, 3 * 1.4826 * float(np.median(residual[keep])))
        if (keep == (residual <= limit)).all():
            break
        keep = residual <= limit
    gains[linked] = np.exp(solution[linked])
    return gains / np.nanmedian(gains)


def _least_squares(design, logs, n):
    linked = np.flatnonzero(np.abs(design).sum(axis=0) > 0)
    anchored = np.vstack([design, np.isin(np.arange(n), linked)[None].astype(float)])
    solution, *_ = np.linalg.lstsq(anchored, np.r_[logs, 0.0], rcond=None)
    return solution, linked


def _neighbour_median(grid: np.ndarray) -> np.ndarray:
    """Median of each grid cell's (up to 8) neighbours, NaN ignored."""
    padded = np.pad(grid, 1, constant_values=np.nan)
    return nan_median(np.stack([padded[1 + dy:1 + dy + grid.shape[0],
                                       1 + dx:1 + dx + grid.shape[1]]
                                for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]))


def nan_median(values: np.ndarray) -> np.ndarray:
    """Median over axis 0 without NaN (NaN where all are), as ``np.nanmedian`` gives it
    but 3–7× faster on the small stacks of neighbours the witnesses compare with."""
    ordered = np.sort(values, axis=0)  # NaN last
    count = np.isfinite(values).sum(axis=0)
    lower = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[None], 0)[0]
    upper = np.take_along_axis(ordered, (count // 2)[None], 0)[0]
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, (lower + upper) / 2, np.nan)


def _steps(counts, model, gain, axis):
    """(step, axis, line, span start, span end) in cells: the strongest gain step across
    lines of cells perpendicular to ``axis`` (1: steps along x, across column lines)."""
    c, m = (counts, model) if axis == 1 else (counts.T, model.T)
    n_groups = c.shape[0] // STEP_GROUP
    if n_groups < MIN_STEP_GROUPS or c.shape[1] < 2 * STEP_CELLS + 1:
        return 0.0, axis, 0, 0, 0
    gc = c[:n_groups * STEP_GROUP].reshape(n_groups, STEP_GROUP, -1).sum(axis=1)
    gm = m[:n_groups * STEP_GROUP].reshape(n_groups, STEP_GROUP, -1).sum(axis=1)
    cc, cm = np.cumsum(gc, axis=1), np.cumsum(gm, axis=1)
    w = STEP_CELLS

    def window(cum, start):  # sums over cells [start, start + w) for each line
        return cum[:, start + w - 1] - np.where(start > 0, cum[:, np.maximum(start - 1, 0)], 0)

    lines = np.arange(w, c.shape[1] - w + 1)
    left_c, left_m = window(cc, lines - w), window(cm, lines - w)
    right_c, right_m = window(cc, lines), window(cm, lines)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = (right_c / right_m) / (left_c / left_m) - 1
        noise = np.sqrt(gain * (1 / right_c + 1 / left_c)) * (1 + step)
    real = np.isfinite(step) & (np.abs(step) >= MIN_STEP) & (np.abs(step) >= STEP_SIGMA * noise)
    best = (0.0, axis, 0, 0, 0)
    for j in np.flatnonzero(real.any(axis=0)):
        start, length = longest_run(real[:, j] & (np.sign(step[:, j]) == np.sign(
            np.median(step[real[:, j], j]))))
        if length >= MIN_STEP_GROUPS:
            value = float(np.median(step[start:start + length, j]))
            if abs(value) * length > abs(best[0]) * (best[4] - best[3]) / STEP_GROUP:
                best = (value, axis, int(lines[j]), start * STEP_GROUP,
                        (start + length) * STEP_GROUP)
    return best


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of every run of True."""
    edges = np.flatnonzero(np.diff(np.r_[False, flags, False].astype(np.int8)))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True (the first of equals)."""
    return max(runs_of(flags), key=lambda run: run[1], default=(0, 0))


def _gradient(counts, model) -> tuple[float, str]:
    """Largest gain change across the frame from a weighted plane fit to the log ratio."""
    use = (model >= MIN_MODULE_EXPECTED) & (counts > 0)
    if use.sum() < 10:
        return 0.0, "x"
    yy, xx = np.nonzero(use)
    design = np.column_stack([np.ones(len(xx)), xx / counts.shape[1] - 0.5,
                              yy / counts.shape[0] - 0.5])
    weight = np.sqrt(counts[use])
    target = np.log(counts[use] / model[use])
    coef, *_ = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)
    k = int(np.argmax(np.abs(coef[1:])))
    return float(np.expm1(coef[1 + k])), "xy"[k]
