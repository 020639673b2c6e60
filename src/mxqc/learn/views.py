"""The representations a model sees (paper §2.5): Cartesian, polar and radial, from 512² images.

Every model takes the normalised RefleX-style image (uint8 negative, ``DEFAULT_SIZE``²) and,
for the polar and radial views, the beam centre in that image's pixels. Training, scanning
and the HTTP service all go through ``view_batch``, so a model sees at inference exactly
what it saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mxqc.represent import polar, radial_features

IMAGE_REPRESENTATIONS = ("cartesian", "polar-min", "polar-max")
REPRESENTATIONS = (*IMAGE_REPRESENTATIONS, "radial")
# "area": the paper's one channel, the mean of each block. "area+peak" adds a second
# channel, each block's strongest pixel (darkest: images are negatives), so that a 1-px
# readout streak or hot pixel is not averaged away when 512² shrinks to 128².
# "area+symmetry" adds the image minus its point reflection about the beam centre: background,
# rings and haloes are centrosymmetric, so what is left is what breaks the symmetry, gain
# ramps, steps and dead modules among it (a smooth ramp has no edge for a kernel to find).
POOLINGS = ("area", "area+peak", "area+symmetry")


def channels(pooling: str) -> int:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return len(pooling.split("+"))


def check_representation(name: str) -> str:
    if name not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {name!r}")
    return name


def needs_centre(representation: str, pooling: str = "area") -> bool:
    return check_representation(representation) != "cartesian" or pooling == "area+symmetry"


def check_view(representation: str, pooling: str) -> None:
    channels(pooling)
    if pooling == "area+symmetry" and check_representation(representation) != "cartesian":
        raise ValueError("area+symmetry pooling needs the Cartesian view (a polar view "
                         "already has the beam centre on its edge)")


@dataclass(frozen=True)
class View:
    """What a network sees of a normalised image: its representation, its edge in pixels
    and the pooling of its channels; checked when made."""

    representation: str = "cartesian"
    size: int = 224
    pooling: str = "area"

    def __post_init__(self):
        check_view(self.representation, self.pooling)

    @property
    def needs_centre(self) -> bool:
        return needs_centre(self.representation, self.pooling)

    @property
    def channels(self) -> int:
        return channels(self.pooling)

    def batch(self, images, centres=None) -> np.ndarray:
        """This view of a batch of normalised images (``view_batch``)."""
        return view_batch(images, self.representation, self.size, centres, self.pooling)


def peak_pool(image: np.ndarray, size: int) -> np.ndarray:
    """``size``² uint8: the darkest (strongest) pixel of each block of a negative image."""
    h, w = image.shape
    if h % size == 0 and w % size == 0:
        return image.reshape(size, h // size, size, w // size).min(axis=(1, 3))
    kernel = np.ones((-(-h // size), -(-w // size)), np.uint8)
    return cv2.resize(cv2.erode(image, kernel), (size, size), interpolation=cv2.INTER_NEAREST)


def symmetry_residual(image: np.ndarray, centre, smooth_px: float = 2.0) -> np.ndarray:
    """128 + (image − its point reflection through ``centre``) / 2, as uint8 (128 where the
    reflection falls outside the image). Both are smoothed first (Gaussian σ ``smooth_px``):
    Poisson noise never cancels, and what this channel is for (gain ramps, steps, dead
    modules) is broad."""
    h, w = image.shape
    cx, cy = float(centre[0]), float(centre[1])
    smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), smooth_px)
    reflect = np.float32([[-1, 0, 2 * cx], [0, -1, 2 * cy]])  # its own inverse
    mirrored = cv2.warpAffine(smooth, reflect, (w, h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones((h, w), np.uint8), reflect, (w, h),
                            flags=cv2.INTER_NEAREST).astype(bool)
    signed = np.where(inside, (smooth - mirrored) / 2, 0) + 128
    return np.clip(np.rint(signed), 0, 255).astype(np.uint8)


def image_view(image: np.ndarray, representation: str, size: int, centre=None,
               pooling: str = "area") -> np.ndarray:
    """One uint8 view of a normalised image: ``size``² for "area" pooling (area resampling,
    so thin rings stay), (2, size, size) for "area+peak" and "area+symmetry"."""
    check_view(representation, pooling)
    if needs_centre(representation, pooling) and centre is None:
        raise ValueError(f"the {representation} view with {pooling} pooling needs a beam "
                         "centre")
    if representation != "cartesian":
        h, w = image.shape
        # a centre on (or beyond) the border leaves no polar image; clamp it just inside
        cx = min(max(float(centre[0]), 1.0), w - 2.0)
        cy = min(max(float(centre[1]), 1.0), h - 2.0)
        image = polar(image, (cx, cy), mode=representation.split("-")[1]).image
    area = image if image.shape == (size, size) else cv2.resize(
        image, (size, size), interpolation=cv2.INTER_AREA)
    if pooling == "area":
        return area
    if pooling == "area+peak":
        return np.stack([area, peak_pool(image, size)])
    return np.stack([area, cv2.resize(symmetry_residual(image, centre), (size, size),
                                      interpolation=cv2.INTER_AREA)])


def view_batch(images, representation: str, size: int, centres=None,
               pooling: str = "area") -> np.ndarray:
    """(n, size, size) uint8 views of a batch of normalised images; (n, 2, size, size) for
    two-channel poolings."""
    check_view(representation, pooling)
    if representation == "radial":
        raise ValueError("the radial representation is a feature vector; use radial_vectors")
    centres = [None] * len(images) if centres is None else centres
    return np.stack([image_view(im, representation, size, c, pooling)
                     for im, c in zip(images, centres, strict=True)])


def radial_vectors(images, centres) -> np.ndarray:
    """(n, 7·240) radial feature vectors (float32) of normalised images around their centres."""
    return np.stack([radial_features(np.ascontiguousarray(im), (float(c[0]), float(c[1])))
                     .vector for im, c in zip(images, centres, strict=True)]).astype(np.float32)
