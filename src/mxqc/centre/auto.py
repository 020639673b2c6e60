"""``auto``: the header centre when the image confirms it, the image's own answer otherwise."""

from __future__ import annotations

import numpy as np

from mxqc.centre import Centre
from mxqc.centre.symmetry import symmetry_centre

AGREEMENT_FRACTION = 0.01  # header and image agree within 1% of the image edge ...
AGREEMENT_SIGMAS = 3.0  # ... or within 3σ of the image estimate
INFORMATIVE_FRACTION = 0.05  # an image estimate less certain than 5% of the edge says nothing


def auto_centre(image, *, valid=None, header=None) -> Centre:
    """Header if the symmetry centre agrees with it; else the more trustworthy of the two.

    A confident symmetry centre (uncertainty under 1% of the edge) that disagrees with the
    header wins: headers are often stale or in another convention. A weak image estimate
    defers to the header. Without a header the symmetry method (with its fallback) decides.
    When the header is returned, ``uncertainty`` is the σ of the image estimate that
    confirmed it (None when the image could not check it).
    """
    edge = min(image.shape)
    # where the header holds, the image's half-resolution estimates already show it
    found = symmetry_centre(image, valid=valid, confirm=header,
                            within=AGREEMENT_FRACTION * edge)
    if header is None:
        return Centre(found.x, found.y, f"auto/{found.method}", found.uncertainty,
                      f"no header centre; {found.detail}")
    distance = float(np.hypot(found.x - header[0], found.y - header[1]))
    sigma = found.uncertainty
    own = {"image_x": found.x, "image_y": found.y}
    px = f"px of the {edge}-px working image"
    if sigma is None or sigma > INFORMATIVE_FRACTION * edge:
        return Centre(header[0], header[1], "auto/header", None,
                      f"image estimate ({found.method}) too uncertain to check the header", **own)
    if distance <= max(AGREEMENT_FRACTION * edge, AGREEMENT_SIGMAS * sigma):
        return Centre(header[0], header[1], "auto/header", found.uncertainty,
                      f"image ({found.method}) agrees within {distance:.1f} {px}", **own)
    if sigma < AGREEMENT_FRACTION * edge:
        return Centre(found.x, found.y, f"auto/{found.method}", sigma,
                      f"header disagrees by {distance:.1f} {px}; image estimate is confident",
                      **own)
    return Centre(header[0], header[1], "auto/header", None,
                  f"image estimate ({found.method}) uncertain; header {distance:.1f} {px} "
                  "away", **own)
