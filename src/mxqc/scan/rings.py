"""Training-free ring analysis on the raw frame: azimuthal regrouping (as pyFAI's
``integrate2d`` without pixel splitting) with gaps masked, peaks of the Bragg-spot-free
radial profile, their d-spacings matched against ice and water, and how much of the
azimuth each ring covers.

The profile is the 75th percentile over azimuthal sectors of a (q, χ) regrouping, so Bragg
spots, which fill few sectors, do not make rings while arcs over a quarter of the azimuth
do; a ring's coverage is the fraction of sectors in which it stands above the background.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter, percentile_filter
from scipy.signal import find_peaks

from mxqc.frame import Frame
from mxqc.normalise import mask_digest
from mxqc.scatterers import ICE_IC, ICE_IH, LOW_RESOLUTION_A, NYLON_A, WATER_BAND_A
from mxqc.witness.background import Binned

N_RADIAL = 400
N_AZIMUTHAL = 90
# relative d-spacing tolerance for an ice match: 95 % of the ice lines measured on simulated
# frames lie within 1 %, and at 2 % the triplet's windows cover all of 3.37–3.97 Å
ICE_TOLERANCE = 0.01
# An absence must hold where the header's distance is off: 1–2 % is common, and moves every
# ring's d-spacing by about as much, so no ring within 3 % of an ice line is asked for.
ABSENCE_TOLERANCE = 0.03
# 1/Å: wider than this is liquid-like (water), not crystalline (ice). Measured on simulated
# frames (tilt, binning and centre error included): 95 % of ice lines are narrower than
# 0.095, 98 % of water rings wider than 0.13.
BROAD_FWHM_Q = 0.1
PROFILE_PERCENTILE = 75  # a ring or arc over ≥ 25 % of the azimuth shows; spots do not
MIN_COVERAGE = 0.1
MIN_SIGNIFICANCE = 8.0  # peak height over the profile's noise
MAX_D_A = 30.0  # lower resolution is the beam-stop shadow's edge, not a ring
# Paired arcs are looked for from 20 Å down to the water ring's far side, on the profile's
# q bins taken 3 at a time, in windows of 5 sectors (20°, a drawn fibre's narrowest arcs)
# by 3 such bins (narrower than its lines, wider than a spot); the window's 25th
# percentile passes a continuous arc and not a lune of spots.
ARC_RANGE_A = (20.0, 3.3)
ARC_Q_BINS = 3
ARC_WINDOW = (5, 3)
ARC_PERCENTILE = 25
ARC_MIN_WIDTH_DEG = 12.0  # narrower is a pair of spots or a module's edge, not an arc
# over this many bins of 3 a sector's own radial trend (its module's gain, a shadow) is
# taken out: three times a nylon line's width
ARC_TREND_BINS = 21
ARC_FLOOR = 0.02  # the noise never counts as below 2 % of the ring's level
NYLON_TOLERANCE = 0.03  # relative: an arc this near a nylon line is named as one
ICE_DS = np.array(sorted({d for d, _ in (*ICE_IH, *ICE_IC)}))
ICE_TRIPLET_A = (3.897, 3.669, 3.441)  # hexagonal ice's three strongest lines
ICE_IC_STRONG_A = (3.67, 2.25)  # cubic ice's two strongest
# the lines whose absence says "no ice" where they lie on the detector
ICE_STRONG_A = tuple(sorted({round(d, 2) for d, rel in (*ICE_IH, *ICE_IC) if rel >= 0.25},
                            reverse=True))
# the class each ring kind is evidence for (the ring classes of the CNN)
RING_EVIDENCE = {"ice_ring": "ice", "background_ring": "water",
                 "loop_scattering": "low-resolution"}


@dataclass(frozen=True)
class Ring:
    """One ring in the radial profile.

    Attributes
    ----------
    d_a : float
        d-spacing of its maximum (Å).
    fwhm_q : float
        Full width at half maximum (1/Å).
    significance : float
        Height above the background in units of the profile's robust noise.
    coverage : float
        Fraction of azimuthal sectors (with data) in which the ring shows.
    kind : str
        'ice', 'water', 'low-resolution' (loop, mount, kapton) or 'other'.
    shape : str
        'full', 'arc' (one or two contiguous pieces) or 'spotty' (many short pieces).
    """

    d_a: float
    fwhm_q: float
    significance: float
    coverage: float
    kind: str
    shape: str


@dataclass(frozen=True)
class Arcs:
    """The strongest pair of opposite arcs: intensity at one d-spacing raised in two
    directions 180° apart and not round the ring, as a drawn fibre (a nylon loop) scatters.

    Attributes
    ----------
    d_a : float
        d-spacing of the pair's maximum (Å).
    chi_deg : float
        Azimuth of one arc's centre in [0°, 180°), from the fast axis towards the slow one
        (the other lies 180° on).
    width_deg : float
        Azimuthal extent of each arc where it stands above half its maximum.
    significance : float
        The weaker arc's excess over the ring's level, in units of the sectors' spread.
    nylon_a : float or None
        The nylon line (Å) within ``NYLON_TOLERANCE`` of ``d_a``, if any.
    """

    d_a: float
    chi_deg: float
    width_deg: float
    significance: float
    nylon_a: float | None = None


@dataclass(frozen=True, eq=False)
class RingAnalysis:
    rings: tuple[Ring, ...]
    q: np.ndarray  # 1/Å, bin centres
    profile: np.ndarray  # PROFILE_PERCENTILE over sectors
    measured_q: tuple[float, float] | None = None  # 1/Å, the range of bins judged
    arcs: Arcs | None = None

    def of_kind(self, kind: str) -> tuple[Ring, ...]:
        return tuple(r for r in self.rings if r.kind == kind)

    def measures(self, d_a: float) -> bool:
        """Whether a ring at ``d_a`` would lie in the judged part of the profile."""
        return _within(d_a, self.measured_q)

    def absent_ice_lines(self) -> tuple[float, ...]:
        """Ice's strong lines (Å) in the judged range where no sharp ring of any kind lies
        within ``ABSENCE_TOLERANCE`` of one of them (ice looked for and not there); else ()."""
        seen = tuple(d for d in ICE_STRONG_A if self.measures(d))
        if any(r.fwhm_q < BROAD_FWHM_Q and _nearest(r.d_a, seen, ABSENCE_TOLERANCE)
               for r in self.rings):
            return ()
        return seen

    def summary(self) -> str:
        return "; ".join(f"{r.kind} {r.d_a:.2f} Å ({r.shape}, {r.coverage:.0%})"
                         for r in self.rings)


@dataclass(frozen=True, eq=False)
class _Grid:
    """Each pixel's (q, χ) bin as one flat index into the N_AZIMUTHAL × N_RADIAL cake, its
    solid angle, and the bins' q centres, for one detector geometry."""

    index: np.ndarray  # intp (as bincount wants it), χ bin × N_RADIAL + q bin
    solid_angle: np.ndarray  # float32, relative to the beam's (pyFAI's correction)
    q: np.ndarray  # 1/Å, the radial bins' centres
    masked: dict = field(default_factory=dict, repr=False)  # mask digest → mask_sums()

    def mask_sums(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solid angle and number of the valid pixels in each bin, cached by ``mask``: a
        detector's gaps repeat frame after frame."""
        key = mask_digest(mask)
        if key not in self.masked:
            if len(self.masked) >= 8:
                self.masked.clear()
            keep = ~mask.ravel()
            index, size = self.index[keep], N_AZIMUTHAL * N_RADIAL
            self.masked[key] = (np.bincount(index, self.solid_angle[keep], size),
                                np.bincount(index, minlength=size))
        return self.masked[key]


@lru_cache(maxsize=8)
def _grid(shape, beam_x, beam_y, pixel_mm, distance_mm, wavelength_a) -> _Grid:
    """Each pixel centre's q and χ and its solid angle, binned as pyFAI's ``integrate2d``
    does without pixel splitting (bins spanning the frame's q and χ, intensities over the
    solid angle), for one bincount per frame.

    The geometry is pyFAI's for a flat detector normal to the beam, evaluated directly:
    2θ = atan(r / distance), χ = atan2(y, x) along the array's (slow, fast) axes, solid
    angle cos³ 2θ relative to the beam's (tests hold it equal to pyFAI's arrays). Building
    a pyFAI integrator cost ~130 ms for every geometry not seen before, and importing
    pyFAI ~1 s in every worker; this takes ~25 ms for a 3×3-binned Pilatus 6M."""
    px, distance = pixel_mm * 1e-3, distance_mm * 1e-3
    y = (np.arange(shape[0]) - beam_y)[:, None] * px
    x = (np.arange(shape[1]) - beam_x)[None, :] * px
    cos_2theta = distance / np.sqrt(distance**2 + (y * y + x * x))
    # q = 4π sin θ / λ, with sin θ = sqrt((1 - cos 2θ) / 2)
    q = (4 * np.pi / wavelength_a) * np.sqrt(0.5 * (1.0 - cos_2theta))
    radial = _bin_index(q, N_RADIAL)
    azimuthal = _bin_index(np.arctan2(y, x), N_AZIMUTHAL)
    width = (q.max() - q.min()) / N_RADIAL
    centres = q.min() + (np.arange(N_RADIAL) + 0.5) * width
    return _Grid((azimuthal * N_RADIAL + radial).astype(np.intp).ravel(),
                 (cos_2theta**3).astype(np.float32).ravel(), centres)


def _bin_index(values: np.ndarray, n: int) -> np.ndarray:
    """Equal bins over [min, max] of ``values``; the maximum falls in the last."""
    lo, span = values.min(), values.max() - values.min()
    return np.minimum((values - lo) / max(span, 1e-12) * n, n - 1).astype(np.int32)


def _cake(pixels: np.ndarray, mask: np.ndarray, grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """(N_AZIMUTHAL, N_RADIAL) mean intensity per unit solid angle (NaN where no valid pixel
    falls) and the number of valid pixels in each bin."""
    # masked bins are 0 (``analyse_rings``): summing them changes nothing
    signal = np.bincount(grid.index, pixels.ravel(), N_AZIMUTHAL * N_RADIAL)
    norm, count = grid.mask_sums(mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        cake = np.where(count > 0, signal / norm, np.nan)
    shape = (N_AZIMUTHAL, N_RADIAL)
    return cake.reshape(shape), count.reshape(shape)


def column_quantile(values: np.ndarray, fraction: float) -> np.ndarray:
    """``np.nanquantile(values, fraction, axis=0)`` (linear interpolation) in one sort:
    numpy's NaN-aware version loops over the columns in Python (~20 ms for a cake)."""
    ordered = np.sort(values, axis=0)  # NaN sort last
    count = np.isfinite(values).sum(axis=0)
    position = np.maximum(count - 1, 0) * fraction
    lo = np.floor(position).astype(int)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    cols = np.arange(values.shape[1])
    low = ordered[lo, cols]
    with np.errstate(invalid="ignore"):
        out = low + (ordered[hi, cols] - low) * (position - lo)
    return np.where(count > 0, out, np.nan)


def _ring_kind(d: float, fwhm_q: float, shape: str) -> str:
    """Water is a broad full ring (liquid scatters alike in every direction); a broad arc
    or spotty ring at an ice line is ice (its pattern is judged in ``_confirm_ice``)."""
    broad = fwhm_q >= BROAD_FWHM_Q
    if broad and shape == "full" and WATER_BAND_A[0] - 0.3 <= d <= WATER_BAND_A[1] + 0.3:
        return "water"
    if d > LOW_RESOLUTION_A:
        return "low-resolution"
    if np.min(np.abs(ICE_DS - d) / ICE_DS) <= ICE_TOLERANCE and (not broad or shape != "full"):
        return "ice"
    return "other"


def _shape(above: np.ndarray) -> str:
    if above.mean() >= 0.75:
        return "full"
    pieces = np.count_nonzero(above & ~np.roll(above, 1))  # sector runs, cyclically
    return "spotty" if pieces > 4 else "arc"


def analyse_rings(frame: Frame, centre=None, *, binned: Binned | None = None,
                  min_significance: float = MIN_SIGNIFICANCE) -> RingAnalysis:
    """Rings of a raw frame. ``centre`` (raw x, y) overrides the header's beam position.

    The frame is integrated in the witnesses' bins (``witness.background.Binned``: 3×3 on
    a Pilatus 6M), ``binned`` where the caller has them; a bin that touches a gap or a
    masked pixel is left out. Raises ValueError when the geometry does not allow
    d-spacings.
    """
    g = frame.geometry
    if not g.can_resolve:
        raise ValueError("ring analysis needs pixel size, distance and wavelength")
    bx, by = centre if centre is not None else (g.beam_x, g.beam_y)
    if bx is None or by is None:
        raise ValueError("ring analysis needs a beam centre")
    binned = binned or Binned.of(frame.pixels)
    k = binned.k
    mask = ~np.isfinite(binned.counts)
    pixels = binned.counts / np.float32(k * k)  # a copy: the NaN fill may not touch binned
    pixels[mask] = 0
    (bx, by), pixel_mm = binned.to_bins((bx, by)), g.pixel_size_mm * k
    # Centres on a whole-pixel grid let a sweep reuse one grid (the located centre wobbles
    # by a pixel from frame to frame). A centre off by half a pixel moves a ring's radius by
    # ±0.5 px around the azimuth and not at all on average: well inside one q bin.
    grid = _grid(pixels.shape, float(round(bx)), float(round(by)), pixel_mm,
                 g.distance_mm, g.wavelength_a)
    cake, count = _cake(pixels, mask, grid)
    q = grid.q
    profile = column_quantile(cake, PROFILE_PERCENTILE / 100)
    sectors = np.isfinite(cake).sum(axis=0)
    # bins seen by under a quarter of the sectors (detector corners) are not judged
    valid = np.isfinite(profile) & (q > 0) & (sectors >= N_AZIMUTHAL // 4)
    with np.errstate(all="ignore"), _quiet():
        spread = 1.4826 * column_quantile(np.abs(cake - column_quantile(cake, 0.5)), 0.5)
        per_bin = np.nanmean(np.where(count > 0, count, np.nan), axis=0)
    # counting noise is the floor: on a weak frame most pixels read 0 and the spread is 0
    poisson = np.sqrt(np.maximum(profile, 1.0 / np.maximum(per_bin, 1)) /
                      np.maximum(per_bin * sectors, 1))
    sigma = np.fmax(spread / np.sqrt(np.maximum(sectors, 1)), poisson)
    sigma = median_filter(np.nan_to_num(sigma, nan=np.inf), size=5, mode="nearest")
    found = _find_rings(q, profile, cake, valid, sigma, min_significance)
    return replace(found, arcs=_paired_arcs(q, cake))


def _paired_arcs(q, cake) -> Arcs | None:
    """The strongest pair of opposite arcs between ``ARC_RANGE_A``: each sector's excess
    over the ring's level (its median over the sectors), relative, so that a module's gain
    scales it out; on bins of ``ARC_Q_BINS`` q bins, spots thinned by a low percentile
    over a window of sectors and bins; the sector's own radial trend removed; in units of
    the sectors' robust spread; the weaker of two opposite sectors. Arcs that cover half
    the azimuth or more raise the median and the spread with them, and are left to the
    ring search. None where the range is not on the detector."""
    band = np.flatnonzero((q >= 2 * np.pi / ARC_RANGE_A[0]) & (q <= 2 * np.pi / ARC_RANGE_A[1]))
    n = len(band) // ARC_Q_BINS * ARC_Q_BINS
    if n < ARC_Q_BINS * ARC_WINDOW[1]:
        return None
    band = band[:n]
    with np.errstate(all="ignore"), _quiet():
        ring = column_quantile(cake[:, band], 0.5)
        relative = np.where(ring > 0, cake[:, band] / ring - 1, np.nan)
        relative = np.nanmean(relative.reshape(len(cake), -1, ARC_Q_BINS), axis=2)
    relative = np.nan_to_num(relative, nan=0.0)
    z = _arc_scores(relative)
    half = N_AZIMUTHAL // 2
    paired = np.minimum(z[:half], z[half:2 * half])
    sector, k = np.unravel_index(int(np.argmax(paired)), paired.shape)
    best = float(paired[sector, k])
    if not best > 0:
        return None
    # the width from the unthinned excess at the pair's d (the percentile erodes the ends)
    opposite = np.minimum(relative[:half, k], relative[half:2 * half, k])
    above = opposite > opposite[sector] / 2
    width = 1 + _run(above, sector, 1) + _run(above, sector, -1)
    step = 360.0 / N_AZIMUTHAL
    if width * step < ARC_MIN_WIDTH_DEG:
        return None
    chi = (sector + 0.5) * step % 180.0  # the pair's first arc, in [0°, 180°)
    d = float(2 * np.pi / q[band].reshape(-1, ARC_Q_BINS).mean(axis=1)[k])
    return Arcs(round(d, 2), round(chi), width * step, round(best, 1),
                _nearest(d, NYLON_A, NYLON_TOLERANCE))


def _arc_scores(relative: np.ndarray) -> np.ndarray:
    """(sectors, bins) excess of ``relative`` in units of the sectors' robust spread: spots
    thinned by ``ARC_PERCENTILE`` over ``ARC_WINDOW`` (the azimuth wraps round), each
    sector's radial trend taken out."""
    pad = ARC_WINDOW[0] // 2
    wrapped = np.concatenate([relative[-pad:], relative, relative[:pad]])
    smooth = percentile_filter(wrapped, ARC_PERCENTILE, size=ARC_WINDOW, mode="nearest")
    smooth = smooth[pad:-pad]
    # the trend's running median on every 3rd bin: a tenth of the cost, and as smooth
    trend = median_filter(smooth[:, ::3], size=(1, ARC_TREND_BINS // 3), mode="nearest")
    position = np.arange(smooth.shape[1]) / 3
    lo = np.minimum(position.astype(int), trend.shape[1] - 1)
    hi = np.minimum(lo + 1, trend.shape[1] - 1)
    smooth -= trend[:, lo] + (trend[:, hi] - trend[:, lo]) * (position - lo)
    return smooth / np.maximum(1.4826 * np.median(np.abs(smooth), axis=0), ARC_FLOOR)


def _run(above: np.ndarray, start: int, direction: int) -> int:
    """How many sectors after ``start`` (cyclically, ``direction`` ±1) are above."""
    n = 0
    while n + 1 < len(above) and above[(start + direction * (n + 1)) % len(above)]:
        n += 1
    return n


def _find_rings(q, profile, cake, valid, sigma, min_significance) -> RingAnalysis:
    """Peaks of the profile over a running-median background, in units of ``sigma``: the
    noise of the profile per bin, from the spread over sectors (so that bins with few
    pixels near the beam or at the edges need a larger excess)."""
    filled = np.interp(q, q[valid], profile[valid]) if valid.any() else np.zeros_like(q)
    background = median_filter(filled, size=61, mode="nearest")
    residual = np.where(valid, filled - background, 0.0)
    floor = 1e-3 * max(float(np.nanmax(np.abs(filled))), 1e-9)
    significance = residual / np.maximum(sigma, floor)
    peaks, props = find_peaks(significance, height=min_significance,
                              prominence=min_significance, width=1)
    dq = q[1] - q[0]
    rings = []
    for k, p in enumerate(peaks):
        fwhm = float(props["widths"][k] * dq)
        d = float(2 * np.pi / q[p])
        half = max(1, round(float(props["widths"][k]) / 2))
        lo, hi = max(p - half, 0), min(p + half + 1, len(q))
        with _quiet():
            sectors = np.nanmean(cake[:, lo:hi], axis=1)
        has_data = np.isfinite(sectors)
        if not has_data.any():
            continue
        above = np.zeros(len(sectors), bool)
        above[has_data] = sectors[has_data] - background[p] > 0.5 * residual[p]
        coverage = float(above[has_data].mean())
        if coverage < MIN_COVERAGE:  # beam-stop edges, single strong spots
            continue
        if d > MAX_D_A:
            continue
        rings.append(Ring(round(d, 3), round(fwhm, 4), round(float(significance[p]), 1),
                          round(coverage, 3), _ring_kind(d, fwhm, _shape(above)), _shape(above)))
    sharp = np.zeros(len(q), bool)
    for k, p in enumerate(peaks):
        half = int(props["widths"][k]) + 2
        sharp[max(p - half, 0):p + half + 1] = True
    bridged = np.interp(q, q[~sharp], filled[~sharp]) if (~sharp).any() else filled
    water = _water_ring(q, bridged, valid, sigma, min_significance)
    if water is not None and not any(r.kind == "water" for r in rings):
        rings.append(water)
    measured = (float(q[valid].min()), float(q[valid].max())) if valid.any() else None
    rings = _confirm_ice(sorted(rings, key=lambda r: -r.d_a), measured)
    return RingAnalysis(rings, q, profile, measured)


def _water_ring(q, filled, valid, sigma, min_significance) -> Ring | None:
    """A broad hump with its maximum in the water band: the smoothed profile (sharp peaks
    bridged over) above a wide running median (the sharp-peak search's background swallows
    part of so broad a ring)."""
    band = valid & (q >= 2 * np.pi / WATER_BAND_A[1]) & (q <= 2 * np.pi / WATER_BAND_A[0])
    if not band.any():
        return None
    smooth = gaussian_filter1d(filled, 4)
    excess = smooth - median_filter(filled, size=201, mode="nearest")
    # smoothing over ~10 bins lowers the noise by ~3
    significance = excess / np.maximum(sigma / 3, 1e-9)
    p = int(np.flatnonzero(band)[np.argmax(excess[band])])
    if significance[p] < min_significance or excess[p] <= 0:
        return None
    above = np.flatnonzero(excess > excess[p] / 2)
    run = above[(above >= p - 200) & (above <= p + 200)]
    lo, hi = p, p
    while lo - 1 in run:
        lo -= 1
    while hi + 1 in run:
        hi += 1
    fwhm = float((hi - lo + 1) * (q[1] - q[0]))
    if fwhm < BROAD_FWHM_Q:
        return None
    return Ring(round(float(2 * np.pi / q[p]), 3), round(fwhm, 4),
                round(float(significance[p]), 1), 1.0, "water", "full")


def _confirm_ice(rings: list[Ring], measured: tuple[float, float] | None
                 ) -> tuple[Ring, ...]:
    """Ice is a pattern, not a line: hexagonal ice shows at least two of its strong
    3.90/3.67/3.44 Å triplet, cubic ice both 3.67 and 2.25 Å, as far as the judged q range
    (``measured``) reaches: one triplet line is enough where the other two lie beyond the
    detector, a sharp 3.67 Å ring round the azimuth where 2.25 Å does. Ice-like lines
    without the pattern (a calibrant's or a small cell's lines that fall near ice lines;
    symmetry-equivalent spots of one reflection; a broad, patchy hump on the water ring)
    are called 'other'."""
    ice = [r for r in rings if r.kind == "ice"]
    hexagonal = {_nearest(r.d_a, ICE_TRIPLET_A) for r in ice} - {None}
    cubic = {_nearest(r.d_a, ICE_IC_STRONG_A) for r in ice} - {None}
    strong, weak = ICE_IC_STRONG_A
    lone_cubic = cubic == {strong} and not _within(weak, measured) and any(
        _nearest(r.d_a, (strong,)) and r.coverage >= 0.75 for r in ice)
    on_detector = sum(_within(d, measured) for d in ICE_TRIPLET_A)
    lone_hexagonal = len(hexagonal) == 1 and on_detector <= 1
    if len(hexagonal) >= 2 or len(cubic) == 2 or lone_cubic or lone_hexagonal:
        return tuple(rings)
    return tuple(replace(r, kind="other") if r.kind == "ice" else r for r in rings)


def _within(d_a: float, measured: tuple[float, float] | None) -> bool:
    return measured is not None and measured[0] <= 2 * np.pi / d_a <= measured[1]


def _nearest(d: float, lines, tolerance: float = ICE_TOLERANCE) -> float | None:
    """The line of ``lines`` within ``tolerance`` (relative) of ``d``, if any."""
    for line in lines:
        if abs(d - line) / line <= tolerance:
            return line
    return None


class _quiet:
    """Silence numpy's all-NaN-slice warnings for sectors beyond the detector."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
