"""The representations a model sees (paper §2.5): Cartesian, polar and radial, from 512² images.

Every model takes the normalised RefleX-style image (uint8 negative, ``DEFAULT_SIZE``²) and,
for the polar and radial views, the beam centre in that image's pixels. Training, scanning
and the HTTP service all go through ``view_batch``, so a model sees at inference exactly
what it saw in training.
"""

from __future__ import annotations

import cv2
import numpy as np

from mxqc.represent import polar, radial_features

IMAGE_REPRESENTATIONS = ("cartesian", "polar-min", "polar-max")
REPRESENTATIONS = (*IMAGE_REPRESENTATIONS, "radial")


def check_representation(name: str) -> str:
    if name not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {name!r}")
    return name


def needs_centre(representation: str) -> bool:
    return check_representation(representation) != "cartesian"


def image_view(image: np.ndarray, representation: str, size: int, centre=None) -> np.ndarray:
    """One ``size``² uint8 view of a normalised image (area resampling, so thin rings stay)."""
    if representation != "cartesian":
        if centre is None:
            raise ValueError(f"the {representation} view needs a beam centre")
        h, w = image.shape
        # a centre on (or beyond) the border leaves no polar image; clamp it just inside
        cx = min(max(float(centre[0]), 1.0), w - 2.0)
        cy = min(max(float(centre[1]), 1.0), h - 2.0)
        image = polar(image, (cx, cy), mode=representation.split("-")[1]).image
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def view_batch(images, representation: str, size: int, centres=None) -> np.ndarray:
    """(n, size, size) uint8 views of a batch of normalised images."""
    check_representation(representation)
    if representation == "radial":
        raise ValueError("the radial representation is a feature vector; use radial_vectors")
    centres = [None] * len(images) if centres is None else centres
    return np.stack([image_view(im, representation, size, c)
                     for im, c in zip(images, centres, strict=True)])


def radial_vectors(images, centres) -> np.ndarray:
    """(n, 7·240) radial feature vectors (float32) of normalised images around their centres."""
    return np.stack([radial_features(np.ascontiguousarray(im), (float(c[0]), float(c[1])))
                     .vector for im, c in zip(images, centres, strict=True)]).astype(np.float32)
