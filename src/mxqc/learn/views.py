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
# "area": the paper's one channel, the mean of each block. "area+peak" adds a second
# channel, each block's strongest pixel (darkest: images are negatives), so that a 1-px
# readout streak or hot pixel is not averaged away when 512² shrinks to 128².
POOLINGS = ("area", "area+peak")


def channels(pooling: str) -> int:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return len(pooling.split("+"))


def check_representation(name: str) -> str:
    if name not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {name!r}")
    return name


def needs_centre(representation: str) -> bool:
    return check_representation(representation) != "cartesian"


def peak_pool(image: np.ndarray, size: int) -> np.ndarray:
    """``size``² uint8: the darkest (strongest) pixel of each block of a negative image."""
    h, w = image.shape
    if h % size == 0 and w % size == 0:
        return image.reshape(size, h // size, size, w // size).min(axis=(1, 3))
    kernel = np.ones((-(-h // size), -(-w // size)), np.uint8)
    return cv2.resize(cv2.erode(image, kernel), (size, size), interpolation=cv2.INTER_NEAREST)


def image_view(image: np.ndarray, representation: str, size: int, centre=None,
               pooling: str = "area") -> np.ndarray:
    """One uint8 view of a normalised image: ``size``² for "area" pooling (area resampling,
    so thin rings stay), (2, size, size) for "area+peak"."""
    if representation != "cartesian":
        if centre is None:
            raise ValueError(f"the {representation} view needs a beam centre")
        h, w = image.shape
        # a centre on (or beyond) the border leaves no polar image; clamp it just inside
        cx = min(max(float(centre[0]), 1.0), w - 2.0)
        cy = min(max(float(centre[1]), 1.0), h - 2.0)
        image = polar(image, (cx, cy), mode=representation.split("-")[1]).image
    area = image if image.shape == (size, size) else cv2.resize(
        image, (size, size), interpolation=cv2.INTER_AREA)
    if channels(pooling) == 1:
        return area
    return np.stack([area, peak_pool(image, size)])


def view_batch(images, representation: str, size: int, centres=None,
               pooling: str = "area") -> np.ndarray:
    """(n, size, size) uint8 views of a batch of normalised images; (n, 2, size, size) for
    "area+peak" pooling."""
    check_representation(representation)
    channels(pooling)
    if representation == "radial":
        raise ValueError("the radial representation is a feature vector; use radial_vectors")
    centres = [None] * len(images) if centres is None else centres
    return np.stack([image_view(im, representation, size, c, pooling)
                     for im, c in zip(images, centres, strict=True)])


def radial_vectors(images, centres) -> np.ndarray:
    """(n, 7·240) radial feature vectors (float32) of normalised images around their centres."""
    return np.stack([radial_features(np.ascontiguousarray(im), (float(c[0]), float(c[1])))
                     .vector for im, c in zip(images, centres, strict=True)]).astype(np.float32)
