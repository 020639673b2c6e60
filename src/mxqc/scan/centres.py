"""The beam centre from the sweep: after a scan's frames are analysed one by one, each sweep
whose frames lack a header centre that their own image confirmed gets its centre from the
sum of its frames (``mxqc.centre.locate_sweep_beam``), used for every frame of the sweep.

A frame whose own centre lies within one working-image pixel of the sweep's keeps its
analysis and takes the sweep's centre in its row; a frame further off is analysed again
with the sweep's centre (rings, witnesses and the network all depend on it). A frame alone
keeps its own centre.

While a batch is analysed, a header centre that a frame's own image confirmed is taken for
the next frames of the batch with the same header geometry (``HeaderChecks``): frames of one
sweep share their beam, and the check costs as much as any stage of the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from mxqc.centre import Centre, locate_beam, locate_sweep_beam
from mxqc.guard import GuardedPool, map_each
from mxqc.io import read_frame
from mxqc.result import FrameResult
from mxqc.scan.sweeps import sweep_members

SAMPLE = 16  # frames summed per sweep, spread evenly over it: 4× the single frame's S/N
TOLERANCE = 1 / 512  # of the detector's edge: one pixel of the 512² working image
SWEEP = "sweep/"  # the centre_method prefix of a centre found on the sweep's sum
RECHECK = 8  # a confirmed header serves this many frames of its geometry, then is checked


@dataclass
class HeaderChecks:
    """The beam centres of one batch's frames (``locate_beam``), with the image's check of
    a header centre done once per ``RECHECK`` frames of the same header geometry: after a
    frame's image confirms its header, the next frames with that header take it as
    confirmed, with that frame's σ (the centre's ``detail`` names the frame), and every
    ``RECHECK``-th looks again, so a beam that moves under an unchanged header is caught
    within a few frames. A header the image contradicts is checked on every frame. Batches
    are cut from the scan's list of frames to analyse, so which frames check does not
    depend on the workers."""

    method: str = "auto"
    confirmed: dict = field(default_factory=dict)  # geometry → (Centre, frames it served)

    def centre(self, frame, normalised) -> Centre:
        g = frame.geometry
        key = ((frame.shape, g.beam_x, g.beam_y, g.distance_mm, g.wavelength_a,
                g.pixel_size_mm) if self.method == "auto" and g.has_beam else None)
        held, served = self.confirmed.get(key, (None, RECHECK))
        if served < RECHECK:
            self.confirmed[key] = (held, served + 1)
            return held
        found = locate_beam(frame, method=self.method, normalised=normalised)
        if key is not None and confirmed_by_image(found):
            source = frame.source
            self.confirmed[key] = (replace(
                found, image_x=None, image_y=None,
                detail=f"header confirmed by the image of {source.path} frame "
                       f"{source.index} (same header geometry); {found.detail}"), 1)
        else:
            self.confirmed.pop(key, None)
        return found


def confirmed_by_image(centre: Centre) -> bool:
    """``auto`` kept the header because the frame's own image agreed with it."""
    return centre.method == "auto/header" and centre.uncertainty is not None


def confirmed(row: FrameResult) -> bool:
    """The frame's header centre was confirmed by its own image (``auto``), or the frame
    already has its sweep's centre."""
    method = row.centre_method or ""
    return method.startswith(SWEEP) or (
        method == "auto/header" and row.centre_uncertainty_px is not None)


def sample(units, k: int = SAMPLE) -> list:
    """Up to ``k`` of ``units``, evenly spread."""
    if len(units) <= k:
        return list(units)
    return [units[i] for i in np.linspace(0, len(units) - 1, k).round().astype(int)]


def sweep_centre(units, method: str = "auto") -> tuple[Centre, int]:
    """The centre of the sum of the frames ``units`` ((file, frame) pairs), and the
    detector's longer edge in pixels. Frames are read one at a time."""
    shapes = []

    def frames():
        for path, index in units:
            frame = read_frame(path, index)
            shapes.append(frame.shape)
            yield frame

    centre = locate_sweep_beam(frames(), method=method)
    return centre, max(shapes[0])


def sweeps_to_centre(rows) -> list[list[FrameResult]]:
    """The ok results of each sweep of two or more frames that some frame leaves
    unconfirmed."""
    members = sweep_members(r for r in rows if r.ok)
    return [[row for _, row in run] for _, _, run in members
            if len(run) > 1 and not all(confirmed(row) for _, row in run)]


def centre_columns(centre: Centre) -> dict:
    """A result row's centre columns; a centre found on a sum of frames is named so."""
    return {"centre_x": round(centre.x, 2), "centre_y": round(centre.y, 2),
            "centre_method": (SWEEP if centre.frames > 1 else "") + centre.method,
            "centre_uncertainty_px": None if centre.uncertainty is None
            else round(centre.uncertainty, 2), "centre_frames": centre.frames}


def refine_centres(pool: GuardedPool, rows, method: str = "auto"
                   ) -> tuple[list[FrameResult], dict[tuple[str, int], Centre]]:
    """Sweep centres for the sweeps of ``rows`` (``FrameResult``) that need one.

    Returns the results that only take the sweep's centre (already updated), and the centre
    of each (file, frame) to analyse again with it. The sums are made in ``pool``'s guarded
    workers; a sweep whose sum cannot be read or centred keeps its frames' own centres.
    """
    sweeps = sweeps_to_centre(rows)
    samples = [tuple(sample([r.key for r in sweep])) for sweep in sweeps]
    found = {item: value for item, value, error in
             map_each(pool, partial(sweep_centre, method=method), samples, batch_size=1)
             if error is None}
    updated, again = [], {}
    for sweep, units in zip(sweeps, samples, strict=True):
        if units not in found:
            continue
        centre, edge = found[units]
        for row in sweep:
            off = np.hypot(row.centre_x - centre.x, row.centre_y - centre.y)
            if off <= TOLERANCE * edge:
                updated.append(row.replace(**centre_columns(centre)))
            else:
                again[row.key] = centre
    return updated, again
