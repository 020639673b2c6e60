"""Digital artefacts measured on the binned frame: dead and hot lines (rows or columns
reading nothing, or far above the lines beside them, over a length), bands of rows or
columns whose whole width reads above or below the background (a shutter or readout fault,
the enlarged pixels between a Timepix quad's chips), and the hot pixels and zingers the
spot finder set apart.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mxqc.witness.detector import longest_run, module_bands, nan_median, runs_of

BLOCK = 16  # bins along a line pooled per comparison
NEIGHBOURS = 3  # lines each side a line is compared with
HOT_LINE = 2.2  # a raw line this many times its neighbours' makes a hot bin line ...
LINE_SIGMA = 5.0  # and this far beyond counting noise
MIN_LINE_BLOCKS = 3  # a dead line runs over at least this many blocks
MIN_HOT_BLOCKS = 6  # a hot one over this many (spots can line up along a lattice row)
MIN_EXPECTED = 10.0  # counts a block must expect for its line to be judged
RAW_DEAD = 0.2  # a raw line reading under this share of the lines beside it is dead (and
# makes a dead bin line); a bin line of k raw lines with one at r reads (k - 1 + r) / k
RAW_HOT = 2.0  # over this many times them, hot
RAW_BLOCK = 32  # raw pixels along a line per piece when its span is followed
MIN_RAW_COUNTS = 3.0  # counts a piece must expect to tell a dead line (P(0) = 5 %)
MAX_LINES = 32  # more faulty lines than this are a pattern, not lines: kept as a count
BAND_DEVIATION = 0.25  # rows reading this far from the background (and LINE_SIGMA
# beyond counting noise) make a band
BAND_PARTS = 4  # a band darkens or brightens every quarter of its rows' width alike
MIN_HOT_PIXELS = 5  # fewer hot pixels than this are normal for any detector
ARM_WIDTH = 12  # raw lines: a cross's arm is at most this wide (wider: a band) ...
ARM_BESIDE = (8, 20)  # ... and compared with the lines this many raw lines away


@dataclass(frozen=True)
class Line:
    """A faulty row or column, in raw pixels."""

    axis: str  # 'column' or 'row'
    first: int  # first raw line
    width: int  # raw lines
    start: int  # span along the line
    end: int
    ratio: float  # its counts over its neighbours'

    @property
    def kind(self) -> str:
        return "dead" if self.ratio < 1 else "hot"

    def sentence(self) -> str:
        which = (f"{self.axis} {self.first}" if self.width == 1 else
                 f"{self.axis}s {self.first}–{self.first + self.width - 1}")
        along = "rows" if self.axis == "column" else "columns"
        reads = ("dead" if self.ratio < 0.05 else
                 f"at {self.ratio:,.0f} times the {self.axis}s beside it" if self.ratio >= 10
                 else f"at {self.ratio:.0%} of the {self.axis}s beside it")
        return f"{which} {reads} over {along} {self.start}–{self.end}"


@dataclass(frozen=True)
class Band:
    """Rows (or columns) whose whole width reads off the background: raw lines
    ``start``–``end``; a shutter fault, or the enlarged pixels between a Timepix quad's
    chips."""

    axis: str  # 'row' or 'column'
    start: int
    end: int
    ratio: float

    def sentence(self) -> str:
        return f"{self.axis}s {self.start}–{self.end} read {self.ratio - 1:+.0%} across the frame"


@dataclass(frozen=True)
class ArtefactFinding:
    lines: tuple[Line, ...]
    n_lines: int  # faulty lines found (lines holds at most MAX_LINES)
    span: float  # the longest faulty line's span, as a share of the frame along it
    bands: tuple[Band, ...]  # at most one of rows and one of columns
    hot_pixels: int
    arms: tuple[Band, ...] = ()  # (rows, columns) of a bright cross, or none

    @property
    def cross(self) -> float:
        """The smaller excess of a bright cross's two arms (the enlarged pixels between a
        Timepix quad's chips); 0 without one."""
        return min(arm.ratio - 1 for arm in self.arms) if self.arms else 0.0

    def _in_arm(self, axis: str, first: int, last: int) -> bool:
        return any(arm.axis == axis and arm.start <= last and first <= arm.end
                   for arm in self.arms)

    def sentence(self) -> str:
        """The faults in units; a line or band that is part of a cross is said as the
        cross."""
        lines = [line for line in self.lines
                 if not self._in_arm(line.axis, line.first, line.first + line.width - 1)]
        parts = [line.sentence() for line in lines[:3]]
        n_lines = self.n_lines - (len(self.lines) - len(lines))
        if n_lines > 3:
            parts.append(f"{n_lines} faulty lines in all")
        if self.arms:
            rows, columns = self.arms
            parts.append(f"rows {rows.start}–{rows.end} and columns {columns.start}–"
                         f"{columns.end} read {rows.ratio - 1:+.0%} and {columns.ratio - 1:+.0%}"
                         " across the frame (a cross)")
        parts += [band.sentence() for band in self.bands
                  if not self._in_arm(band.axis, band.start, band.end)]
        if self.hot_pixels >= MIN_HOT_PIXELS:
            parts.append(f"{self.hot_pixels} hot pixels or zingers")
        return "; ".join(parts)


def measure_artefacts(binned, spot_bins: np.ndarray, expected: np.ndarray, pixels: np.ndarray,
                      hot_pixels: int, gain: float = 1.0, layout=None) -> ArtefactFinding:
    """Faulty lines and bands of ``binned`` (witness.background.Binned) without its
    ``spot_bins`` (spots lined up along a lattice row are not a hot row), with its
    ``expected`` isotropic background; raw ``pixels`` name the faulty raw lines;
    ``layout``: ``module_bands`` of the binned counts, where the caller has it."""
    counts = np.where(spot_bins, np.float32(np.nan), binned.counts)
    valid = np.isfinite(counts)
    zeroed = np.where(valid, counts, np.float32(0))
    rows, cols = layout or module_bands(binned.counts)
    found = [*_lines(*_block_sums(zeroed, valid, 0), _layout_lines(cols), gain, "column",
                     binned.k, pixels),
             *_lines(*_block_sums(zeroed, valid, 1), _layout_lines(rows), gain, "row",
                     binned.k, pixels.T)]
    found.sort(key=lambda line: -(line.end - line.start) * abs(np.log(max(line.ratio, 1e-3))))
    span = max(((line.end - line.start + 1) / pixels.shape[line.axis == "row"]
                for line in found), default=0.0)
    # spots clipped at 4× the background; the bands leave their bins out, the arms keep
    # them (taken out, they would take an arm's brightest bins with them)
    clipped = np.minimum(binned.counts, 4 * expected)
    valid_all = np.isfinite(clipped)
    valid = valid_all & ~spot_bins & (expected > 0)
    seen, seen_all = (np.where(v, clipped, np.float32(0)) for v in (valid, valid_all))
    background = np.where(valid, expected, np.float32(0))
    bands, arms = [], []
    for axis, layout in (("row", rows), ("column", cols)):
        layout_lines = _layout_lines(layout)
        bands.append(_band(_quarters(seen, axis), _quarters(background, axis), gain,
                           binned.k, layout_lines, axis))
        arms.append(_arm(_quarters(seen_all, axis), _quarters(valid_all, axis), gain,
                         binned.k, layout_lines, axis))
    if all(arms):
        arms = tuple(_raw_arm(pixels if arm.axis == "row" else pixels.T, arm, binned.k)
                     for arm in arms)
    return ArtefactFinding(tuple(found[:MAX_LINES]), len(found), round(span, 3),
                           tuple(band for band in bands if band is not None), hot_pixels,
                           arms if all(arms) else ())


def _quarters(a: np.ndarray, axis: str) -> np.ndarray:
    """(BAND_PARTS, lines) sums of each quarter of every row (``axis`` 'row') or column."""
    along = 1 if axis == "row" else 0
    return np.stack([part.sum(axis=along, dtype=np.float64)
                     for part in np.array_split(a, BAND_PARTS, axis=along)])


def _arm(own, n, gain, k, layout, axis) -> Band | None:
    """The brightest arm of a cross along ``axis``: a run of at most ARM_WIDTH raw lines
    whose every quarter (``own`` counts over ``n`` bins, ``_quarters``) reads
    BAND_DEVIATION above the lines ARM_BESIDE raw lines away on both sides, beyond
    counting noise. Compared with its neighbours, not with the isotropic background, so a
    background that is not isotropic (a shadow, a gradient) does not hide it; one quarter
    with nothing to compare (a dead module) may be left out; the lines beside a wide
    shutter band read as it does."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, own / n, np.nan)
    near, far = -(-ARM_BESIDE[0] // k), -(-ARM_BESIDE[1] // k)
    padded = np.pad(mean, ((0, 0), (far, far)), constant_values=np.nan)
    lines = mean.shape[1]
    beside = np.stack([padded[:, far + d:far + d + lines]
                       for d in range(near, far + 1) for d in (d, -d)])
    level = nan_median(beside)
    expect = level * n
    judged = expect >= MIN_EXPECTED  # a dead module's quarter cannot tell
    with np.errstate(invalid="ignore"):
        bright = ((mean > (1 + BAND_DEVIATION) * level)
                  & (own - expect > LINE_SIGMA * np.sqrt(gain * expect)))
    bright = (bright | ~judged).all(axis=0) & (judged.sum(axis=0) >= BAND_PARTS - 1)
    best = None
    for start, length in runs_of(bright & ~layout):
        if length * k > ARM_WIDTH:
            continue
        rows = slice(start, start + length)
        ratio = float(own[:, rows][judged[:, rows]].sum() / expect[:, rows][judged[:, rows]].sum())
        if best is None or ratio > best.ratio:
            best = Band(axis, start * k, (start + length) * k - 1, round(ratio, 3))
    return best


def _raw_arm(lines: np.ndarray, arm: Band, k: int) -> Band:
    """``arm`` (found in bins) in raw ``lines`` (rows of the array): those that read
    BAND_DEVIATION above the raw lines ARM_BESIDE away, and their ratio to them, each the
    median over RAW_BLOCK-long pieces (a spot moves one piece, not the median)."""
    near, far = ARM_BESIDE
    lo, hi = max(arm.start - k, 0), min(arm.end + k + 1, lines.shape[0])
    index = np.arange(max(lo - far, 0), min(hi + far, lines.shape[0]))
    n = lines.shape[1] // RAW_BLOCK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pieces in a gap
        pieces = np.nanmean(lines[index, :n * RAW_BLOCK].reshape(len(index), n, RAW_BLOCK),
                            axis=2)
        ratios = []
        for line in range(lo, hi):
            distance = np.abs(index - line)
            level = np.nanmedian(pieces[(distance >= near) & (distance <= far)], axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios.append(np.nanmedian(np.where(level > 0, pieces[line - index[0]] / level,
                                                    np.nan)))
    bright = np.flatnonzero(np.array(ratios) > 1 + BAND_DEVIATION)
    if not len(bright):
        return arm
    return Band(arm.axis, lo + int(bright[0]), lo + int(bright[-1]),
                round(float(np.median(ratios[bright[0]:bright[-1] + 1])), 3))


def _block_sums(zeroed, valid, axis) -> tuple[np.ndarray, np.ndarray]:
    """(counts, valid bins) of each BLOCK-long piece of every column (``axis`` 0) or row
    (1), as (pieces, lines) arrays; sums of whole counts, so exact in any order."""
    n_blocks = zeroed.shape[axis] // BLOCK
    if axis == 0:
        def pieces(a):
            return a[:n_blocks * BLOCK].reshape(n_blocks, BLOCK, a.shape[1]).sum(
                axis=1, dtype=np.float64)
    else:
        def pieces(a):
            return a[:, :n_blocks * BLOCK].reshape(a.shape[0], n_blocks, BLOCK).sum(
                axis=2, dtype=np.float64).T
    return pieces(zeroed), pieces(valid)


def _lines(total, n, layout, gain, axis, k, pixels) -> list[Line]:
    """Faulty lines from the BLOCK-long pieces' ``total`` counts and ``n`` valid bins
    (pieces × lines), other than the ``layout`` lines; ``pixels`` raw, lines as columns."""
    if total.shape[0] < MIN_LINE_BLOCKS or total.shape[1] < 2 * NEIGHBOURS + 1:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n >= BLOCK // 2, total / n, np.nan)
    expected = _beside(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean / expected
        z = (total - expected * n) / np.sqrt(gain * expected * n)
    judged = (expected * n >= MIN_EXPECTED) & ~layout[None, :]
    dead_ratio, hot_ratio = line_ratios(k)
    dead = judged & (ratio < dead_ratio) & (z < -LINE_SIGMA)
    hot = judged & (ratio > hot_ratio) & (z > LINE_SIGMA)
    out = []
    for flags, min_blocks in ((dead, MIN_LINE_BLOCKS), (hot, MIN_HOT_BLOCKS)):
        for col in np.flatnonzero(flags.sum(axis=0) >= min_blocks):
            seen = np.flatnonzero(judged[:, col])  # a gap or a spot does not cut the run
            start, length = longest_run(flags[seen, col])
            if length >= min_blocks:
                line = _raw_line(axis, col, seen[start], seen[start + length - 1] + 1,
                                 k, pixels, flags is hot)
                if line is not None:
                    out.append(line)
    return out


def line_ratios(k: int) -> tuple[float, float]:
    """(dead, hot): how far below or above its neighbours a line of k×k bins reads when one
    of its k raw lines reads RAW_DEAD or HOT_LINE (bins of 1 px are judged as those of 2:
    0.6 and 1.6); the raw lines then say which it is (``_raw_line``)."""
    k = max(k, 2)
    return (k - 1 + RAW_DEAD) / k, (k - 1 + HOT_LINE) / k


def _layout_lines(bands: np.ndarray) -> np.ndarray:
    """Lines that are module gaps or CCD tile seams (``bands`` −1), or next to one (their
    bins are part gap), and the frame's outermost lines: the detector's layout, not a
    fault."""
    gaps = bands < 0
    gaps[[0, -1]] = True
    return gaps | np.r_[gaps[1:], False] | np.r_[False, gaps[:-1]]


# An optimal sorting network for six values (Knuth, TAOCP 5.3.4): 12 comparators, each an
# elementwise min/max over whole arrays, instead of a sort per block of six
SORT6 = ((0, 5), (1, 3), (2, 4), (1, 2), (3, 4), (0, 3), (2, 5), (0, 1), (2, 3), (4, 5),
         (1, 2), (3, 4))
assert NEIGHBOURS == 3  # SORT6 sorts the 2 × 3 neighbours


def _beside(mean: np.ndarray) -> np.ndarray:
    """Median of each block's neighbouring lines (NEIGHBOURS each side, not itself; NaN
    and the frame's edge left out)."""
    padded = np.pad(np.where(np.isnan(mean), np.inf, mean), ((0, 0), (NEIGHBOURS, NEIGHBOURS)),
                    constant_values=np.inf)  # missing values sort last
    w = mean.shape[1]
    values = [padded[:, NEIGHBOURS + d:NEIGHBOURS + d + w]
              for d in range(-NEIGHBOURS, NEIGHBOURS + 1) if d]
    for i, j in SORT6:
        values[i], values[j] = np.minimum(values[i], values[j]), np.maximum(values[i], values[j])
    count = sum(np.isfinite(v).astype(np.int8) for v in values)
    # the middle one or two of the count finite values (NaN where there are none)
    lower = np.where(count >= 5, values[2], np.where(count >= 3, values[1], values[0]))
    upper = np.where(count >= 6, values[3], np.where(count >= 4, values[2],
                                                     np.where(count >= 2, values[1], values[0])))
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, (lower + upper) / 2, np.nan)


def _raw_line(axis, col, start, end, k, pixels, hot) -> Line | None:
    """The raw lines of bin line ``col`` that carry the fault seen over blocks
    ``start``–``end``: those reading under RAW_DEAD (over RAW_HOT) of the raw lines
    beside them there. None when none does (a beam-stop arm's edge or a soft shadow dims
    a line by part). The fault's span is then followed along the whole line."""
    first, side = col * k, NEIGHBOURS * k
    strip = pixels[:, max(first - side, 0):first + k + side]
    own = np.arange(strip.shape[1]) + max(first - side, 0)
    own = (own >= first) & (own < first + k)
    lo, hi = start * BLOCK * k, min(end * BLOCK * k, pixels.shape[0])
    ratio = _line_ratio(strip[lo:hi], own)
    off = np.flatnonzero(ratio > RAW_HOT if hot else ratio < RAW_DEAD)
    if not len(off):
        return None
    lines = np.flatnonzero(own)[off[0]:off[-1] + 1]
    rows, values = _span(strip, lines, ~own, hot)
    return Line(axis, first + int(off[0]), len(lines), *rows, round(values, 3))


def _line_ratio(strip: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Mean of each own line over the median mean of the lines beside it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(strip, axis=0)
        return means[own] / np.nanmedian(means[~own])


def _span(strip, lines, beside, hot) -> tuple[tuple[int, int], float]:
    """(first, last) raw pixel along the line over which ``lines`` are faulty, and their
    ratio to the lines ``beside`` there: the longest run of RAW_BLOCK-long pieces that
    read faulty, through pieces too weak (or in a gap) to tell."""
    n = strip.shape[0] // RAW_BLOCK
    pieces = strip[:n * RAW_BLOCK].reshape(n, RAW_BLOCK, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        own = np.nanmean(pieces[:, :, lines], axis=(1, 2))
        other = np.nanmedian(np.nanmean(pieces[:, :, beside], axis=1), axis=1)
    telling = np.isfinite(own) & (other * RAW_BLOCK * len(lines) >= MIN_RAW_COUNTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = own / other
    faulty = ratio > RAW_HOT if hot else ratio < RAW_DEAD
    seen = np.flatnonzero(telling)
    start, length = longest_run(faulty[seen])
    if not length:
        return (0, strip.shape[0] - 1), float("nan")
    a, b = seen[start], seen[start + length - 1]
    return (int(a * RAW_BLOCK), int((b + 1) * RAW_BLOCK - 1)), float(
        np.nanmedian(ratio[a:b + 1][telling[a:b + 1]]))


def _band(own, model, gain, k, layout, axis) -> Band | None:
    """The longest run of rows whose every quarter (``own`` counts against the ``model``
    background, ``_quarters``) reads BAND_DEVIATION off the background on the same side,
    beyond counting noise (a beam-stop arm or a shadow darkens only part of a row);
    ``layout`` rows (gaps, edges) are never part of one."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame with nothing to compare
        level = np.nanmedian(own / model)
        model *= level
        ratio = own / model
        z = (own - model) / np.sqrt(gain * model)
    best = None
    for sign in (-1, 1):
        off = ((sign * (ratio - 1) > BAND_DEVIATION) & (sign * z > LINE_SIGMA)).all(axis=0)
        start, length = longest_run(off & ~layout)
        if length and (best is None or length > best[1]):
            best = (start, length)
    if best is None:
        return None
    start, length = best
    rows = slice(start, start + length)
    value = float(own[:, rows].sum() / model[:, rows].sum())
    return Band(axis, start * k, (start + length) * k - 1, round(value, 3))
