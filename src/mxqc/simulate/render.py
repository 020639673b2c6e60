"""Scene → raw counts. Everything is drawn in reciprocal space (s = 1/d) so that rings and
spots follow the geometry; no Python loop runs over pixels or spots."""

from __future__ import annotations

import cv2
import numpy as np

from mxqc.scatterers import ICE_IC, ICE_IH
from mxqc.simulate.scene import Scene

SHADOW_TRANSMISSION = 0.01
POLARISATION = 0.99  # fraction of horizontal (x) polarisation at a synchrotron


def pixel_geometry(scene: Scene):
    """Per-pixel (s = 1/d in Å⁻¹, azimuth φ, polarisation × solid-angle factor), float32.

    The detector is tilted by ``tilt_deg`` about the x (fast) axis. A pixel at raw (x, y)
    sits at lab (X, Y cos t, D + Y sin t) with X, Y its offset from the beam in mm.
    """
    model = scene.model
    h, w = model.shape
    p = model.pixel_size_mm
    t = np.deg2rad(scene.tilt_deg)
    xs = ((np.arange(w, dtype=np.float32) - scene.beam_x) * p)[None, :]
    ys = ((np.arange(h, dtype=np.float32) - scene.beam_y) * p)[:, None]
    lab_y = ys * np.float32(np.cos(t))
    lab_z = np.float32(scene.distance_mm) + ys * np.float32(np.sin(t))
    perp2 = xs**2 + lab_y**2
    dist = np.sqrt(perp2 + lab_z**2)
    cos2t = lab_z / dist
    sin_theta = np.sqrt(np.clip((1 - cos2t) / 2, 0, None))
    s = 2 * sin_theta / np.float32(scene.wavelength_a)
    phi = np.arctan2(lab_y, xs)
    sin2t2 = 1 - cos2t**2
    polarisation = 0.5 * (1 + cos2t**2) - 0.5 * POLARISATION * np.cos(2 * phi) * sin2t2
    solid_angle = (np.float32(scene.distance_mm) / dist) ** 3
    return s.astype(np.float32), phi.astype(np.float32), (polarisation * solid_angle).astype(
        np.float32)


def _ring(s, d, width, strength):
    return strength * np.exp(-0.5 * ((s - 1.0 / d) / width) ** 2)


def _azimuth_texture(phi, rng, n_bins: int, spottiness: float):
    """Multiplicative texture along the azimuth: 1 for a smooth ring, spiky for few
    crystallites (spottiness → 1)."""
    if spottiness <= 0:
        return 1.0
    profile = rng.gamma(1.0 / (spottiness + 1e-3) ** 2, (spottiness + 1e-3) ** 2, n_bins)
    index = ((phi + np.pi) / (2 * np.pi) * n_bins).astype(np.int32) % n_bins
    return profile.astype(np.float32)[index]


def _arc_window(phi, start_deg, extent_deg):
    if extent_deg >= 360:
        return 1.0
    rel = (np.rad2deg(phi) - start_deg) % 360.0
    edge = 10.0  # degrees of smooth fall-off at each end
    inside = np.clip(np.minimum(rel, extent_deg - rel) / edge + 0.5, 0, 1)
    return np.where(rel <= extent_deg + edge, inside, 0).astype(np.float32)


def background(scene: Scene, s, phi, rng):
    """Air and solvent scatter, water ring, ice rings, loop rings, diffuse cloud."""
    air_falloff = 0.04  # Å⁻¹: air scatter falls off over ~0.04 Å⁻¹ (a few degrees of 2θ)
    out = scene.air_scatter * np.exp(-s / air_falloff) + scene.flat_background
    out = out + 0.4 * scene.air_scatter * np.exp(-s / 0.25)  # broad solvent/mount halo
    strength, d, width = scene.water
    if strength:
        out = out + _ring(s, d, width, strength)
    strength, width, spottiness, cubic = scene.ice
    if strength:
        rings = ICE_IC if cubic else ICE_IH
        n_shown = len(rings) if rng.random() < 0.6 else int(rng.integers(1, 4))
        for d_ice, rel in rings[:n_shown]:
            texture = _azimuth_texture(phi, rng, int(rng.integers(90, 720)), spottiness)
            out = out + _ring(s, d_ice, width, strength * rel) * texture
    for strength, d, width, start, extent in scene.loop_rings:
        out = out + _ring(s, d, width, strength) * _arc_window(phi, start, extent)
    cloud = scene.diffuse[4]
    if cloud:  # cloudy diffuse texture: a gentle modulation of the local background
        field = cv2.resize(rng.normal(size=(40, 40)).astype(np.float32), (s.shape[1], s.shape[0]),
                           interpolation=cv2.INTER_CUBIC)
        out = out * (1.0 + cloud * 0.3 * np.clip(field, -1, 2) * np.exp(-((s / 0.4) ** 2)))
    return out.astype(np.float32)


def bragg_spots(scene: Scene, rng):
    """(x, y, intensity) of reflections on the Ewald sphere during the oscillation."""
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
    basis = (u @ reciprocal.T).T
    d_min = scene.d_min_a
    volume = abs(np.linalg.det(np.stack([ax, bx, cxyz])))
    while 4.19 * volume / d_min**3 > 6e5:  # keep the hkl grid a few hundred thousand points
        d_min *= 1.1
    hmax = [int(np.ceil(n / d_min)) for n in (a, b, c)]
    h, k, ell = np.meshgrid(*(np.arange(-m, m + 1, dtype=np.float32) for m in hmax),
                            indexing="ij", copy=False)
    hkl = np.stack([h.ravel(), k.ravel(), ell.ravel()], axis=1)
    s_vec = hkl @ basis.astype(np.float32)
    s_len = np.linalg.norm(s_vec, axis=1)
    keep = (s_len > 0) & (s_len < 1.0 / d_min)
    s_vec, s_len = s_vec[keep], s_len[keep]
    k_len = 1.0 / scene.wavelength_a
    k_out = s_vec + np.array([0, 0, k_len], np.float32)
    excitation = np.linalg.norm(k_out, axis=1) - k_len
    sweep = (0.5 * np.deg2rad(scene.oscillation_deg) * np.hypot(s_vec[:, 1], s_vec[:, 2])
             + np.deg2rad(scene.mosaicity_deg) * s_len)
    on = (np.abs(excitation) < sweep) & (k_out[:, 2] > 0)
    k_out, s_len = k_out[on], s_len[on]
    t = np.deg2rad(scene.tilt_deg)
    mu = scene.distance_mm / (k_out[:, 2] - k_out[:, 1] * np.tan(t))
    p = scene.model.pixel_size_mm
    x = scene.beam_x + mu * k_out[:, 0] / p
    y = scene.beam_y + mu * k_out[:, 1] / np.cos(t) / p
    intensity = (scene.crystal_scale * np.exp(-scene.wilson_b * s_len**2 / 2)
                 * rng.exponential(1.0, size=s_len.size))  # Wilson statistics
    hh, ww = scene.model.shape
    inside = (mu > 0) & (x > -5) & (x < ww + 5) & (y > -5) & (y < hh + 5)
    return x[inside], y[inside], intensity[inside]


def splat(shape, x, y, weight, sigma_x, sigma_y=None, angle_deg=0.0):
    """Sum of (anisotropic) Gaussians of unit integral × weight at (x, y), via bincount."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    h, w = shape
    out = np.zeros(h * w, np.float64)
    if len(x) == 0:
        return out.reshape(shape).astype(np.float32)
    radius = int(np.ceil(3 * max(sigma_x, sigma_y)))
    offsets = np.arange(-radius, radius + 1)
    oy, ox = np.meshgrid(offsets, offsets, indexing="ij")
    ox, oy = ox.ravel(), oy.ravel()
    cx, cy = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
    px = cx[:, None] + ox[None, :]
    py = cy[:, None] + oy[None, :]
    a = np.deg2rad(angle_deg)
    du, dv = px - x[:, None], py - y[:, None]
    along = du * np.cos(a) + dv * np.sin(a)
    across = -du * np.sin(a) + dv * np.cos(a)
    kernel = np.exp(-0.5 * ((along / sigma_x) ** 2 + (across / sigma_y) ** 2))
    kernel /= 2 * np.pi * sigma_x * sigma_y
    ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    flat = (py * w + px)[ok]
    values = (kernel * weight[:, None])[ok]
    out += np.bincount(flat, weights=values, minlength=h * w)
    return out.reshape(shape).astype(np.float32)


def shadows(scene: Scene):
    """Transmission map: beam stop, its arm to the edge, and optionally a nozzle shadow."""
    h, w = scene.model.shape
    yy = np.arange(h, dtype=np.float32)[:, None] - scene.beam_y
    xx = np.arange(w, dtype=np.float32)[None, :] - scene.beam_x
    blocked = xx**2 + yy**2 < scene.beamstop_radius_px**2
    a = np.deg2rad(scene.arm_angle_deg)
    along = xx * np.cos(a) + yy * np.sin(a)
    across = np.abs(-xx * np.sin(a) + yy * np.cos(a))
    blocked |= (along > 0) & (across < scene.arm_width_px / 2)
    if scene.nozzle_angle_deg is not None:  # a broad wedge from the edge, not reaching the beam
        n = np.deg2rad(scene.nozzle_angle_deg)
        along_n = xx * np.cos(n) + yy * np.sin(n)
        across_n = np.abs(-xx * np.sin(n) + yy * np.cos(n))
        blocked |= (along_n > 0.3 * min(h, w)) & (across_n < 0.12 * min(h, w))
    return np.where(blocked, np.float32(SHADOW_TRANSMISSION), np.float32(1.0))
