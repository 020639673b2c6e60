"""Scene → raw counts. Everything is drawn in reciprocal space (s = 1/d) so that rings and
spots follow the geometry; no Python loop runs over pixels or spots.

Isotropic scatter is evaluated once on a fine 1-D grid of s and looked up per pixel;
anisotropic rings (textured ice, loop arcs) multiply a radial lookup by an azimuthal one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from mxqc.scatterers import ICE_IC, ICE_IH
from mxqc.simulate.scene import Scene

SHADOW_TRANSMISSION = 0.01
POLARISATION = 0.99  # fraction of horizontal (x) polarisation at a synchrotron
S_GRID = 16384  # radial lookup resolution: ≥ 20 points per σ of the sharpest ice ring
AZIMUTH_BINS = 720


@dataclass(frozen=True, eq=False)
class PixelGeometry:
    """Per-pixel s = 1/d (Å⁻¹) and polarisation × solid-angle factor; azimuth on demand."""

    s: np.ndarray
    factor: np.ndarray
    x_mm: np.ndarray  # (1, W) offsets from the beam along x
    lab_y_mm: np.ndarray  # (H, 1) offsets along y after the tilt

    @cached_property
    def phi(self) -> np.ndarray:
        """Azimuth in radians, (−π, π]; only frames with textured or partial rings need it."""
        return np.arctan2(self.lab_y_mm, self.x_mm).astype(np.float32)

    @cached_property
    def s_index(self) -> tuple[np.ndarray, float]:
        """Index of each pixel on the radial lookup grid (as take() wants it: intp, not
        converted again for every profile), and the grid's top s."""
        top = float(self.s.max()) * 1.0001 + 1e-6
        index = (self.s * np.float32((S_GRID - 1) / top) + np.float32(0.5)).astype(np.intp)
        return index, top

    @cached_property
    def azimuth_bin(self) -> np.ndarray:
        """Bin of each pixel's azimuth on the azimuthal profiles' grid."""
        return _azimuth_bin(self.lab_y_mm, self.x_mm)


def pixel_geometry(scene: Scene) -> PixelGeometry:
    """The detector is tilted by ``tilt_deg`` about the x (fast) axis. A pixel at raw (x, y)
    sits at lab (X, Y cos t, D + Y sin t) with X, Y its offset from the beam in mm.

    s and the polarisation × solid-angle factor are smooth away from the beam: they are
    evaluated on coarser lattices and interpolated bilinearly: s to within 5e-5 Å⁻¹ beyond
    10 pixels from the beam (a twentieth of the sharpest ice ring's width), the factor to
    1e-4 of itself."""
    h, w = scene.model.shape
    xs, lab_y, _ = _lab(scene, np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return PixelGeometry(_on_lattice(scene, S_STEP, _s), _on_lattice(scene, FACTOR_STEP, _factor),
                         xs, lab_y)


S_STEP, FACTOR_STEP = 2, 4  # px between the points where s and the factor are evaluated


def _lab(scene: Scene, columns: np.ndarray, rows: np.ndarray):
    """Lab coordinates (mm) of raw ``columns`` and ``rows``: X (1, W), Y cos t and
    D + Y sin t (H, 1)."""
    p = np.float32(scene.model.pixel_size_mm)
    t = np.deg2rad(scene.tilt_deg)
    xs = ((columns - np.float32(scene.beam_x)) * p)[None, :]
    ys = ((rows - np.float32(scene.beam_y)) * p)[:, None]
    return xs, ys * np.float32(np.cos(t)), np.float32(scene.distance_mm) + ys * np.float32(
        np.sin(t))


def _on_lattice(scene: Scene, k: int, value) -> np.ndarray:
    """``value(scene, X, Y, Z)`` per pixel from its values at the centres of k × k blocks
    (one block beyond each edge, so that every pixel lies between centres), interpolated
    bilinearly: ``cv2.resize`` maps the centres onto the pixels exactly."""
    h, w = scene.model.shape
    rows, cols = -(-h // k) + 2, -(-w // k) + 2
    centre = (k - 1) / 2 - k
    coarse = value(scene, *_lab(scene, np.arange(cols, dtype=np.float32) * k + centre,
                                np.arange(rows, dtype=np.float32) * k + centre))
    fine = cv2.resize(coarse.astype(np.float32), (cols * k, rows * k),
                      interpolation=cv2.INTER_LINEAR)
    return fine[k:k + h, k:k + w]


def _s(scene: Scene, xs, lab_y, lab_z) -> np.ndarray:
    """s = 1/d (Å⁻¹)."""
    perp2 = xs**2 + lab_y**2
    inv = np.sqrt(np.reciprocal(perp2 + lab_z**2))  # 1 / distance
    # 1 − cos 2θ = perp² / (distance (distance + z)): no cancellation near the beam
    one_minus = perp2 * inv / (np.reciprocal(inv) + lab_z)
    return np.sqrt(one_minus * np.float32(2 / scene.wavelength_a**2))


def _factor(scene: Scene, xs, lab_y, lab_z) -> np.ndarray:
    """Polarisation × solid angle: ½(1 + cos² 2θ) − ½P cos 2φ sin² 2θ, where
    cos 2φ sin² 2θ = (X² − Y²) / distance², times cos³ 2θ (a flat detector's solid angle)."""
    x2, y2 = xs**2, lab_y**2
    inv2 = np.reciprocal(x2 + y2 + lab_z**2)
    cos2t = np.sqrt(inv2) * lab_z
    half_p = np.float32(0.5 * POLARISATION)
    return (0.5 + 0.5 * cos2t**2 - (half_p * x2 - half_p * y2) * inv2) * cos2t**3


def _ring(s, d, width, strength):
    return strength * np.exp(-0.5 * ((s - 1.0 / d) / width) ** 2)


def _texture_profile(rng, spottiness: float) -> np.ndarray:
    """Multiplicative texture over the azimuth bins: spiky for few crystallites
    (spottiness → 1), from 90–720 independent crystallite directions."""
    n = int(rng.integers(90, 720))
    profile = rng.gamma(1.0 / (spottiness + 1e-3) ** 2, (spottiness + 1e-3) ** 2, n)
    return profile.astype(np.float32)[np.arange(AZIMUTH_BINS) * n // AZIMUTH_BINS]


def _arc_profile(centre_deg: float, spread_deg: float, paired: bool) -> np.ndarray:
    """1 inside an arc of ``spread_deg`` around ``centre_deg`` (and its Friedel mate 180°
    away for a fibre texture), falling off over 10° at each end."""
    edge = 10.0
    angles = -180.0 + (np.arange(AZIMUTH_BINS) + 0.5) * 360.0 / AZIMUTH_BINS
    profile = np.zeros(AZIMUTH_BINS, np.float32)
    for centre in (centre_deg, centre_deg + 180.0) if paired else (centre_deg,):
        offset = np.abs((angles - centre + 180.0) % 360.0 - 180.0)
        profile = np.maximum(profile, np.clip((spread_deg / 2 - offset) / edge + 0.5, 0, 1))
    return profile


# The most air scatter and flat background a frame without strong background draws
# (scene.py): what a strong background adds is measured above these.
NORMAL_AIR_SCATTER = 4.0
NORMAL_FLAT_BACKGROUND = 0.6


def _isotropic_base(s, air_scatter, flat_background):
    air_falloff = 0.04  # Å⁻¹: air scatter falls off over ~0.04 Å⁻¹ (a few degrees of 2θ)
    return (air_scatter * np.exp(-s / air_falloff) + flat_background
            + 0.4 * air_scatter * np.exp(-s / 0.25))  # broad solvent/mount halo


@dataclass(frozen=True, eq=False)
class Profiles:
    """The background as radial profiles on the lookup grid ``linspace(0, top, S_GRID)``
    of s, by what draws them: ``isotropic[name]`` (a profile) and ``anisotropic[name]``
    ((radial, azimuthal) pairs), under 'base' for what every frame has and the class names
    otherwise."""

    isotropic: dict[str, np.ndarray]
    anisotropic: dict[str, list[tuple[np.ndarray, np.ndarray]]]
    top: float


def sample_rng(scene: Scene, stream: int) -> np.random.Generator:
    """A random stream of the sample and detector (shared by the frames of a sweep); each
    kind of draw has its own, so that adding ice does not change the detector's gains."""
    return np.random.default_rng([scene.sample_key, stream])


ICE_STREAM, CLOUD_STREAM, GAIN_STREAM = 1, 2, 3


def profiles(scene: Scene, top: float) -> Profiles:
    """Air and solvent scatter, water ring, ice rings, loop and mount rings, on the grid
    ``linspace(0, top, S_GRID)``. Ice textures are the sample's own draws."""
    s = np.linspace(0.0, top, S_GRID, dtype=np.float32)
    air = min(scene.air_scatter, NORMAL_AIR_SCATTER)
    flat = min(scene.flat_background, NORMAL_FLAT_BACKGROUND)
    isotropic = {"base": _isotropic_base(s, air, flat)}
    anisotropic: dict[str, list] = {}
    if (air, flat) != (scene.air_scatter, scene.flat_background):
        isotropic["strong_background"] = (
            _isotropic_base(s, scene.air_scatter, scene.flat_background) - isotropic["base"])
    strength, d, width = scene.water
    if strength:
        isotropic["background_ring"] = _ring(s, d, width, strength)
    strength, width, spottiness, cubic = scene.ice
    if strength:
        rng = sample_rng(scene, ICE_STREAM)
        rings = ICE_IC if cubic else ICE_IH
        n_shown = len(rings) if rng.random() < 0.6 else int(rng.integers(1, 4))
        for d_ice, rel in rings[:n_shown]:
            radial = _ring(s, d_ice, width, strength * rel)
            if spottiness > 0:
                anisotropic.setdefault("ice_ring", []).append(
                    (radial, _texture_profile(rng, spottiness)))
            else:
                isotropic["ice_ring"] = isotropic.get("ice_ring", 0) + radial
    for strength, d, width, centre, spread, paired in scene.loop_rings:
        radial = _ring(s, d, width, strength)
        if spread >= 360:
            isotropic["loop_scattering"] = isotropic.get("loop_scattering", 0) + radial
        else:
            anisotropic.setdefault("loop_scattering", []).append(
                (radial, _arc_profile(centre, spread, bool(paired))))
    return Profiles(isotropic, anisotropic, top)


def cloud(scene: Scene, geometry: PixelGeometry) -> np.ndarray | None:
    """Cloudy diffuse texture: a gentle modulation of the local background (None without)."""
    if not scene.diffuse[4]:
        return None
    h, w = geometry.s.shape
    rng = sample_rng(scene, CLOUD_STREAM)
    field = cv2.resize(rng.normal(size=(40, 40)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    fade = np.exp(-((geometry.s / np.float32(0.4)) ** 2))
    return np.float32(scene.diffuse[4] * 0.3) * np.clip(field, -1, 2) * fade


def background(scene: Scene, geometry: PixelGeometry, found: Profiles | None = None
               ) -> np.ndarray:
    """Expected background photons per pixel, everything drawn together (from the scene's
    ``profiles`` on this geometry, ``found`` where they are already at hand)."""
    found = found or profiles(scene, geometry.s_index[1])
    out = class_background(geometry, found, "all")
    modulation = cloud(scene, geometry)
    if modulation is not None:
        out *= 1.0 + modulation
    return out


def _drawing(found: Profiles, name: str):
    """(isotropic profile or None, anisotropic pairs) of class ``name``; 'all': everything."""
    if name == "all":
        iso = list(found.isotropic.values())
        aniso = [pair for pairs in found.anisotropic.values() for pair in pairs]
    else:
        iso = [found.isotropic[name]] if name in found.isotropic else []
        aniso = found.anisotropic.get(name, [])
    return (sum(iso) if iso else None), aniso


def class_background(geometry: PixelGeometry, found: Profiles, name: str
                     ) -> np.ndarray | None:
    """Expected photons per pixel of one class's part of the background ``found`` by
    ``profiles`` on ``geometry`` (None if it has none); 'all' is the whole background
    (without the cloud)."""
    index = geometry.s_index[0]
    return _profile_values(*_drawing(found, name), lambda profile: profile.take(index),
                           lambda: geometry.azimuth_bin, index.shape)


def class_at(geometry: PixelGeometry, found: Profiles, name: str, pixels: np.ndarray
             ) -> np.ndarray | None:
    """``class_background`` at the raw ``pixels`` only (flat indices)."""
    index = geometry.s_index[0].take(pixels)
    rows, cols = np.divmod(pixels, geometry.s.shape[1])
    return _profile_values(*_drawing(found, name), lambda profile: profile.take(index),
                           lambda: _azimuth_bin(geometry.lab_y_mm[rows, 0],
                                                geometry.x_mm[0, cols]), index.shape)


@dataclass(frozen=True, eq=False)
class ViewLookup:
    """Where each pixel of a ``size``² view of the frame (``cv2.resize`` with
    ``INTER_AREA``) reads the radial profiles: the grid points ``lo`` … ``hi`` − 1 of the
    s it spans (a box as wide as the pixel along the gradient of s, the pixel's second
    moment: a ring a few raw pixels wide keeps its view-pixel mean), its centre's grid
    point, and its lab offsets for the azimuth."""

    lo: np.ndarray
    hi: np.ndarray
    centre: np.ndarray
    x_mm: np.ndarray
    lab_y_mm: np.ndarray

    @cached_property
    def inverse_width(self) -> np.ndarray:
        return np.reciprocal((self.hi - self.lo).astype(np.float64))

    @cached_property
    def azimuth_bin(self) -> np.ndarray:
        return _azimuth_bin(self.lab_y_mm, self.x_mm)

    def part(self, found: Profiles, name: str) -> np.ndarray | None:
        """One class's part of the background (expected photons per raw pixel, as
        ``class_background``) averaged over each view pixel; None if it has none.
        Azimuthal profiles are taken at the view pixel's centre."""
        def box_mean(profile):  # mean of the profile over grid points lo … hi − 1
            cumulative = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
            total = cumulative.take(self.hi)
            total -= cumulative.take(self.lo)
            total *= self.inverse_width
            return total.astype(np.float32)

        return _profile_values(*_drawing(found, name), box_mean, lambda: self.azimuth_bin,
                               self.lo.shape, self.centre)


def view_lookup(scene: Scene, found: Profiles, size: int) -> ViewLookup:
    """The ``ViewLookup`` of a ``size``² view of the frame, for ``found``'s grid."""
    h, w = scene.model.shape
    xs, lab_y, lab_z = _lab(scene, (np.arange(size, dtype=np.float32) + 0.5) * (w / size) - 0.5,
                            (np.arange(size, dtype=np.float32) + 0.5) * (h / size) - 0.5)
    s = _s(scene, xs, lab_y, lab_z)
    scale = np.float32((S_GRID - 1) / found.top)
    gy, gx = np.gradient(s)
    half = np.sqrt(gx * gx + gy * gy) * np.float32(0.5 * scale)  # half the grid points spanned
    s *= scale
    # rounded to the nearest grid point (+ 0.5, then truncated); a view pixel centre may lie
    # a little beyond the frame's last pixel (a view larger than the frame): the last point
    np.clip(s + np.float32(0.5), 0, np.float32(S_GRID - 1), out=s)
    lo = np.clip(s - half, 0, np.float32(S_GRID - 1)).astype(np.intp)
    hi = np.maximum(np.minimum(s + half, np.float32(S_GRID)).astype(np.intp), lo + 1)
    return ViewLookup(lo, hi, s.astype(np.intp), xs, lab_y)


def _azimuth_bin(lab_y, xs) -> np.ndarray:
    """Bin of the azimuth of lab offsets (``lab_y``, ``xs``) on the azimuthal profiles' grid."""
    phi = np.arctan2(lab_y, xs).astype(np.float32)
    scale = np.float32(AZIMUTH_BINS / (2 * np.pi))
    return ((phi + np.float32(np.pi)) * scale).astype(np.int32) % AZIMUTH_BINS


def _profile_values(isotropic, anisotropic, radial_value, azimuth_bin, shape, centre=None
                    ) -> np.ndarray | None:
    """Per-pixel values of radial profiles, some with azimuthal ones: ``radial_value``
    reads a profile at each pixel, ``azimuth_bin()`` gives each pixel's azimuth bin and
    ``centre`` its grid point (default: where ``radial_value`` reads, a lookup)."""
    if isotropic is None and not anisotropic:
        return None
    out = radial_value(isotropic) if isotropic is not None else np.zeros(shape, np.float32)
    if anisotropic:
        # Each grid radius takes the azimuthal profile of the ring strongest there, so the
        # cost does not grow with the number of rings (overlapping textured rings share one).
        radial = np.stack([r for r, _ in anisotropic])
        strongest = radial.argmax(axis=0)  # intp, as take() wants its indices
        owner = strongest.take(centre) if centre is not None else radial_value(strongest)
        azimuthal = np.stack([a for _, a in anisotropic]).ravel()
        out += radial_value(radial.sum(axis=0)) * azimuthal.take(
            owner * AZIMUTH_BINS + azimuth_bin())
    return out.astype(np.float32, copy=False)


def bragg_spots(scene: Scene):
    """(x, y, intensity) of reflections on the Ewald sphere during the oscillation.

    Each reflection's intensity is a function of its hkl and the sample's seed, so the
    frames of one sweep see one crystal."""
    if scene.crystal_scale <= 0:
        return np.empty(0), np.empty(0), np.empty(0)
    a, b, c, al, be, ga = scene.cell
    al, be, ga = np.deg2rad([al, be, ga])
    # real-space basis (rows), then reciprocal basis; U rotates the crystal
    ax = np.array([a, 0, 0])
    bx = np.array([b * np.cos(ga), b * np.sin(ga), 0])
    cx_ = c * np.cos(be)
    cy_ = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    cxyz = np.array([cx_, cy_, np.sqrt(max(c**2 - cx_**2 - cy_**2, 1.0))])
    reciprocal = np.linalg.inv(np.stack([ax, bx, cxyz])).T  # rows a*, b*, c*
    u = np.array(scene.orientation).reshape(3, 3)
    basis = (u @ reciprocal.T).T.astype(np.float32)
    d_min = scene.d_min_a
    volume = abs(np.linalg.det(np.stack([ax, bx, cxyz])))
    while 4.19 * volume / d_min**3 > 6e5:  # keep the hkl grid a few hundred thousand points
        d_min *= 1.1
    ms = [int(np.ceil(n / d_min)) for n in (a, b, c)]
    k_len = np.float32(1.0 / scene.wavelength_a)
    osc = np.float32(0.5 * np.deg2rad(scene.oscillation_deg))
    mosaic = np.float32(np.deg2rad(scene.mosaicity_deg))
    h, k, ell = _near_ewald(basis, ms, float(k_len), float((osc + mosaic) / d_min))
    s_vec = [h * basis[0, i] + k * basis[1, i] + ell * basis[2, i] for i in range(3)]
    s2 = s_vec[0] ** 2 + s_vec[1] ** 2 + s_vec[2] ** 2
    keep = (s2 > 0) & (s2 < np.float32(1.0 / d_min**2))
    # the reflection's index in the full (h, k, l) grid: its intensity's key
    hi, ki, li = (v.astype(np.int64) for v in (h, k, ell))
    hkl_index = (((hi + ms[0]) * (2 * ms[1] + 1) + ki + ms[1]) * (2 * ms[2] + 1)
                 + li + ms[2])[keep]
    sx, sy, sz = (v[keep] for v in s_vec)
    s_len = np.sqrt(s2[keep])
    kz = sz + k_len
    excitation = np.sqrt(sx**2 + sy**2 + kz**2) - k_len
    on = (np.abs(excitation) < osc * np.hypot(sy, sz) + mosaic * s_len) & (kz > 0)
    kx, ky, kz, s_len = sx[on], sy[on], kz[on], s_len[on]
    t = np.deg2rad(scene.tilt_deg)
    mu = scene.distance_mm / (kz - ky * np.tan(t))
    p = scene.model.pixel_size_mm
    x = scene.beam_x + mu * kx / p
    y = scene.beam_y + mu * ky / np.cos(t) / p
    intensity = (scene.crystal_scale * np.exp(-scene.wilson_b * s_len**2 / 2)
                 * _wilson_draw(hkl_index[on], scene.sample_key))  # Wilson statistics
    hh, ww = scene.model.shape
    inside = (mu > 0) & (x > -5) & (x < ww + 5) & (y > -5) & (y < hh + 5)
    return x[inside], y[inside], intensity[inside]


def _near_ewald(basis: np.ndarray, ms, k_len: float, tolerance: float):
    """(h, k, l), as float32 arrays in grid order, of the points of the reciprocal lattice
    ``basis`` (rows a*, b*, c*; |h| ≤ ms[0] …) whose distance from the Ewald sphere (radius
    ``k_len`` about −k_len ẑ) is at most ``tolerance``: for each (h, k), the l where the
    line h a* + k b* + l c* crosses the shell, from the roots of a quadratic, instead of
    testing every l."""
    hs = np.arange(-ms[0], ms[0] + 1, dtype=np.float64)[:, None]
    ks = np.arange(-ms[1], ms[1] + 1, dtype=np.float64)[None, :]
    a, b, c = basis.astype(np.float64)
    v = [hs * a[i] + ks * b[i] + (k_len if i == 2 else 0.0) for i in range(3)]
    along = v[0] * c[0] + v[1] * c[1] + v[2] * c[2]  # v·c*
    cc = float(c @ c)
    norm2 = v[0] ** 2 + v[1] ** 2 + v[2] ** 2

    def crossing(radius):  # l where |v + l c*| = radius, as (low, high); NaN if none
        with np.errstate(invalid="ignore"):
            root = np.sqrt(along**2 - cc * (norm2 - radius**2)) / cc  # NaN: missed
        return -along / cc - root, -along / cc + root

    outer_low, outer_high = crossing(k_len + tolerance)
    inner_low, inner_high = crossing(max(k_len - tolerance, 0.0))
    # the shell is [outer_low, inner_low] and [inner_high, outer_high] (all of the outer
    # interval where the inner sphere is missed)
    inner_low = np.where(np.isnan(inner_low), outer_high, inner_low)
    inner_high = np.where(np.isnan(inner_high), outer_high, inner_high)
    h_all, k_all, l_all = [], [], []
    for start, stop in ((outer_low, inner_low), (inner_high, outer_high)):
        first = np.clip(np.ceil(np.nan_to_num(start, nan=1.0)), -ms[2], ms[2] + 1)
        last = np.clip(np.floor(np.nan_to_num(stop, nan=0.0)), -ms[2] - 1, ms[2])
        count = np.maximum(last - first + 1, 0).astype(np.int64).ravel()
        rows, cols = np.divmod(np.repeat(np.arange(count.size), count), ks.size)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        h_all.append(hs[rows, 0])
        k_all.append(ks[0, cols])
        l_all.append(np.repeat(first.ravel(), count) + offsets)
    h, k, ell = (np.concatenate(x) for x in (h_all, k_all, l_all))
    order = np.lexsort((ell, k, h))  # the grid's order, as the full search gave them
    return tuple(x[order].astype(np.float32) for x in (h, k, ell))


def _wilson_draw(keys: np.ndarray, seed: int) -> np.ndarray:
    """Exponential deviates (mean 1), one per key, fixed by (key, seed): a splitmix64 hash,
    so a reflection keeps its intensity in every frame of a sweep."""
    z = keys.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    uniform = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return (-np.log1p(-uniform)).astype(np.float32)


def splat(shape, x, y, weight, sigma):
    """Sum of round Gaussians of unit integral × ``weight`` at sub-pixel (x, y): each weight
    is shared bilinearly among its four nearest pixels, then the image is blurred once."""
    h, w = shape
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    cols = np.concatenate([x0, x0 + 1, x0, x0 + 1]).astype(np.intp)
    rows = np.concatenate([y0, y0, y0 + 1, y0 + 1]).astype(np.intp)
    shares = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    ok = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    impulses = np.bincount((rows * w + cols)[ok], weights=(np.tile(weight, 4) * shares)[ok],
                           minlength=h * w).astype(np.float32).reshape(h, w)
    return cv2.GaussianBlur(impulses, (0, 0), float(sigma), borderType=cv2.BORDER_CONSTANT)


def splat_streaks(shape, x, y, weight, length_sigma, width_sigma, angle_deg):
    """Sum of elongated Gaussians (unit integral × weight, sigmas along and across
    ``angle_deg``): each spot is laid along its streak as 1-px-spaced points weighted by a
    Gaussian, then ``splat`` blurs them round by ``width_sigma``; a line Gaussian convolved
    with a round one is the elongated one, at the cost of one blur for all spots."""
    along = float(np.sqrt(max(length_sigma**2 - width_sigma**2, 0.0)))
    steps = np.arange(-np.ceil(3 * along), np.ceil(3 * along) + 1)
    taper = np.exp(-0.5 * (steps / max(along, 1e-6)) ** 2)
    taper /= taper.sum()
    a = np.deg2rad(angle_deg)
    xs = x[:, None] + steps * np.cos(a)
    ys = y[:, None] + steps * np.sin(a)
    return splat(shape, xs.ravel(), ys.ravel(), (weight[:, None] * taper).ravel(), width_sigma)


def shadows(scene: Scene) -> np.ndarray:
    """Transmission map: beam stop, its arm to the edge, and optionally a nozzle shadow."""
    h, w = scene.model.shape
    out = np.ones((h, w), np.float32)
    shift = 4  # OpenCV draws with 1/16-pixel vertex precision
    centre = np.array([scene.beam_x, scene.beam_y])
    far = 2.0 * (h + w)  # beyond every image edge

    def band(angle_deg, start, half_width):
        direction = np.array([np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))])
        normal = np.array([-direction[1], direction[0]]) * half_width
        near, end = centre + start * direction, centre + far * direction
        corners = np.stack([near - normal, near + normal, end + normal, end - normal])
        cv2.fillPoly(out, [np.rint(corners * 2**shift).astype(np.int32)],
                     SHADOW_TRANSMISSION, lineType=cv2.LINE_8, shift=shift)

    band(scene.arm_angle_deg, 0.0, scene.arm_width_px / 2)
    if scene.nozzle_angle_deg is not None:  # a broad wedge from the edge, not reaching the beam
        band(scene.nozzle_angle_deg, 0.3 * min(h, w), 0.12 * min(h, w))
    cv2.circle(out, tuple(np.rint(centre * 2**shift).astype(int).tolist()),
               round(scene.beamstop_radius_px * 2**shift), SHADOW_TRANSMISSION, -1,
               lineType=cv2.LINE_8, shift=shift)
    return out
