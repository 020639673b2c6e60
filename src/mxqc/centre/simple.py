"""The baseline (image centre) and the header centre."""

from __future__ import annotations

from mxqc.centre import Centre
from mxqc.errors import CentreError


def naive(image, *, valid=None, header=None) -> Centre:
    """The image centre: the paper's baseline."""
    h, w = image.shape
    return Centre((w - 1) / 2.0, (h - 1) / 2.0, "naive")


def header_centre(image, *, valid=None, header=None) -> Centre:
    """The centre recorded in the file header, already scaled to ``image``."""
    if header is None:
        raise CentreError("the file header gives no beam centre")
    return Centre(float(header[0]), float(header[1]), "header")
