"""Beam-centre methods. Every method has one signature and returns a ``Centre``::

    method(image, *, valid=None, header=None) -> Centre

``image`` is an (H, W) uint8 RefleX-polarity image; ``valid`` marks pixels that came from the
detector; ``header`` is the header's (x, y) centre already in ``image`` coordinates (or None).
Centres are (x = column, y = row) in the coordinates of the array given. ``locate_beam`` runs
a method on a raw Frame and converts the answer back to raw-frame pixels;
``locate_sweep_beam`` runs it on the sum of a sweep's frames.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mxqc.errors import InvalidFrameError
from mxqc.frame import Frame
from mxqc.normalise import NormalisedImage, normalise_frame


@dataclass(frozen=True)
class Centre:
    """A beam centre.

    Attributes
    ----------
    x, y : float
        Column and row, in pixels of the array the method was given.
    method : str
        The method that produced it (for ``auto``: ``auto/<method used>``).
    uncertainty : float or None
        Estimated 1σ error in pixels of the same array, where the method can estimate one.
    detail : str
        A short human-readable note (candidates tried, agreement, fallbacks).
    image_x, image_y : float or None
        The image's own estimate, in the same pixels, where the method weighed it against
        the header (``auto``); None otherwise.
    frames : int
        How many frames the image summed (``locate_sweep_beam``); 1 for a single frame.
    """

    x: float
    y: float
    method: str
    uncertainty: float | None = None
    detail: str = ""
    image_x: float | None = None
    image_y: float | None = None
    frames: int = 1


CentreMethod = Callable[..., Centre]
# name → (module, function); a method's module is imported the first time it is used
_METHODS: dict[str, tuple[str, str]] = {
    "auto": ("mxqc.centre.auto", "auto_centre"),
    "symmetry": ("mxqc.centre.symmetry", "symmetry_centre"),
    "reflex": ("mxqc.centre.reflex", "reflex_centre"),
    "naive": ("mxqc.centre.simple", "naive"),
    "header": ("mxqc.centre.simple", "header_centre"),
}
CENTRE_METHODS: tuple[str, ...] = tuple(_METHODS)


def centre_method(name: str) -> CentreMethod:
    """The centre method called ``name`` (one of ``CENTRE_METHODS``)."""
    if name not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {name!r}")
    module, function = _METHODS[name]
    return getattr(importlib.import_module(module), function)


def find_centre(image: np.ndarray, *, method: str = "auto", valid: np.ndarray | None = None,
                header: tuple[float, float] | None = None) -> Centre:
    """Run the centre method ``method`` on an 8-bit RefleX-polarity image."""
    run = centre_method(method)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image must be a 2-D uint8 array, got {image.dtype} {image.shape}")
    return run(image, valid=valid, header=header)


def locate_beam(frame: Frame, *, method: str = "auto", size: int = 512,
                resize: str = "area", normalised: NormalisedImage | None = None) -> Centre:
    """Beam centre of a raw frame, in raw-frame pixels.

    The frame is normalised to ``size``² (area averaging by default: it keeps weak rings and
    spots that nearest-neighbour drops), the method runs there, and the answer is converted
    back through the image's ``ImageMapping``. Pass ``normalised`` to reuse an image already
    made from this frame.
    """
    norm = normalised or normalise_frame(frame, size=size, resize=resize)
    header = None
    if frame.geometry.has_beam:
        header = norm.mapping.to_image(frame.geometry.beam_x, frame.geometry.beam_y)
        header = (float(header[0]), float(header[1]))
    centre = find_centre(norm.image, method=method, valid=norm.valid, header=header)
    x, y = norm.mapping.to_raw(centre.x, centre.y)
    unc = None if centre.uncertainty is None else centre.uncertainty / norm.mapping.scale
    if centre.image_x is not None:
        image = norm.mapping.to_raw(centre.image_x, centre.image_y)
        centre = replace(centre, image_x=float(image[0]), image_y=float(image[1]))
    return replace(centre, x=float(x), y=float(y), uncertainty=unc)


def sum_frames(frames) -> tuple[Frame, int]:
    """The sum of a sweep's frames (with the first frame's geometry and source), and how
    many frames it holds.

    Counts add: a weak ring or a faint background halo rises above the noise by √n, and
    Bragg spots of a rotating crystal (Friedel pairs) stay point-symmetric about the beam.
    A pixel invalid (NaN) in any frame is invalid in the sum. The frames must share a shape.
    """
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise InvalidFrameError("a sweep's sum needs at least one frame")
    total, n = first.pixels.astype(np.float64), 1
    for frame in frames:
        if frame.shape != first.shape:
            raise InvalidFrameError(f"frames of one sweep must share a shape: "
                                    f"{frame.source.path} is {frame.shape}, "
                                    f"{first.source.path} {first.shape}")
        total += frame.pixels
        n += 1
    return replace(first, pixels=total.astype(np.float32), header={}, warnings=()), n


def locate_sweep_beam(frames, *, method: str = "auto", size: int = 512,
                      resize: str = "area") -> Centre:
    """Beam centre of a sweep, found on the sum of its frames (``sum_frames``), in raw-frame
    pixels; ``frames`` on the answer says how many were summed. Frames of one sweep share
    their beam, so the sum's centre holds for each of them, and a sweep of weak frames is
    not weak."""
    total, n = sum_frames(frames)
    found = locate_beam(total, method=method, size=size, resize=resize)
    return replace(found, frames=n, detail=f"sum of {n} frames; {found.detail}")

