"""The paper's preprocessing (§2.3): raw counts → square 8-bit RefleX-polarity image.

RefleX images are negatives: high counts dark, the beam-stop shadow white. Detector gaps
are filled from their valid neighbours so that they never look like a beam-stop shadow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from mxqc.coords import ImageMapping
from mxqc.errors import InvalidFrameError
from mxqc.frame import Frame

RESIZE_METHODS = ("nearest", "area", "max")
DEFAULT_SIZE = 512
DEFAULT_RESIZE = "nearest"  # the paper's choice
VARIANTS = ("paper", "reflex-code")


@dataclass(frozen=True, eq=False)
class NormalisedImage:
    """An 8-bit image made from a frame, and how it was made.

    Attributes
    ----------
    image : (N, N) uint8 ndarray
        RefleX polarity: 255 − scaled counts.
    valid : (N, N) bool ndarray
        False where the image pixel had no valid detector pixel and was filled.
    mapping : ImageMapping
        Converts coordinates between the raw frame and ``image``.
    clip_value : float
        The count mapped to black (0).
    clip_quantile : float or None
        Quantile of valid pixels ``clip_value`` came from (None for the reflex-code variant).
    variant, resize : str
    """

    image: np.ndarray
    valid: np.ndarray
    mapping: ImageMapping
    clip_value: float
    clip_quantile: float | None
    variant: str
    resize: str


QUANTILE_SAMPLE = 1_000_000  # pixels a frame's quantiles are read from, about


def valid_quantiles(pixels: np.ndarray, qs) -> np.ndarray:
    """Quantiles ``qs`` of the finite pixels, fast for integer counts.

    Frames above 2 Mpixel are sampled on a k×k stride, k ≥ 2 and large enough to keep about
    a million pixels (2 on a 6M, 4 on a 16M; the rank error of a 95th percentile is then
    ~2·10⁻⁴ or less). Integer-valued counts (every detector we read) use one bincount
    histogram for all quantiles; other data fall back to sorting.

    Examples
    --------
    >>> valid_quantiles(np.array([[0, 1, 2, np.nan], [3, 4, 5, 6]], np.float32), [0.5, 1.0])
    array([3., 6.])
    """
    qs = np.atleast_1d(np.asarray(qs, float))
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"quantiles must lie in [0, 1], got {qs}")
    stride = 1
    if pixels.size > 2 * QUANTILE_SAMPLE:
        stride = max(2, int(np.sqrt(pixels.size / QUANTILE_SAMPLE)))
    sample = pixels[::stride, ::stride]
    values = sample[np.isfinite(sample)]
    if values.size == 0:
        raise InvalidFrameError("frame has no valid (finite) pixel")
    ranks = np.floor(qs * (values.size - 1)).astype(np.int64)
    probe = values[:: max(1, values.size // 4096)]
    if probe.min() >= 0 and np.all(probe == np.round(probe)) and values.max() < 2**24:
        cumulative = np.cumsum(np.bincount(values.astype(np.int32)))
        return np.searchsorted(cumulative, ranks + 1).astype(float)
    return np.sort(values)[ranks].astype(float)


def clip_value_of(pixels: np.ndarray, quantile: float = 0.95, min_clip: float = 4.0
                  ) -> tuple[float, float]:
    """The clip value, raised on weak frames so the image does not turn binary.

    On a very weak frame the 95th percentile is 0 or 1 counts; clipping there leaves two grey
    levels and misleads every later stage. The quantile is raised step by step (0.95 → 0.995
    → 0.9995 …) until the clip reaches ``min_clip`` counts, or the frame's maximum.
    """
    ladder = [quantile] + [1.0 - (1.0 - quantile) / 10.0**k for k in range(1, 6)] + [1.0]
    clips = valid_quantiles(pixels, ladder)
    step = int(np.argmax(clips >= min_clip)) if np.any(clips >= min_clip) else len(ladder) - 1
    clip = float(clips[step])
    return (clip if clip > 0 else 1.0), ladder[step]  # a blank frame: any positive clip


def _block_max(values: np.ndarray, size: int) -> np.ndarray:
    """Maximum over the raw pixels falling in each output pixel, NaN-aware."""
    rows = (np.arange(size) * values.shape[0]) // size
    cols = (np.arange(size) * values.shape[1]) // size
    out = np.fmax.reduceat(values, rows, axis=0)
    return np.fmax.reduceat(out, cols, axis=1)


# An area-resized pixel is valid when at least this share of its raw pixels is: one that
# straddles a module gap averages a few pixels, and on a weak frame its noise (√ of a few
# counts) drew dashed lines along every gap after the fill, which the network read as a
# faulty detector.
MIN_AREA_COVER = 0.5


_AREA_WEIGHTS: dict = {}  # (shape, size, valid-mask digest) → the mask's area resize


def mask_digest(mask: np.ndarray) -> bytes:
    """A short key for a boolean mask: the caches of what depends only on a detector's gaps
    are keyed by it."""
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()


def _area_weight(valid: np.ndarray, size: int) -> np.ndarray:
    """Share of valid raw pixels under each of size × size output pixels (the mask's area
    resize; read-only), cached by the mask: the frames of one detector share their gaps,
    and resizing the mask cost as much as resizing the counts."""
    key = (valid.shape, size, mask_digest(valid))
    if key not in _AREA_WEIGHTS:
        if len(_AREA_WEIGHTS) >= 8:
            _AREA_WEIGHTS.clear()
        weight = cv2.resize(valid.astype(np.float32), (size, size),
                            interpolation=cv2.INTER_AREA)
        weight.flags.writeable = False
        _AREA_WEIGHTS[key] = weight
    return _AREA_WEIGHTS[key]


def _resize(values: np.ndarray, size: int, method: str, *, scratch: bool = False
            ) -> np.ndarray:
    """Resize float32 values with NaN gaps; NaN where an output pixel saw no valid pixel
    (for 'area', too few: ``MIN_AREA_COVER``). With ``scratch``, 'area' may overwrite
    ``values`` (a copy the caller made anyway)."""
    if method == "nearest":
        # NEAREST_EXACT samples pixel centres, which ImageMapping assumes.
        return cv2.resize(values, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
    if method == "area":
        weight = _area_weight(np.isfinite(values), size)
        # NaN → 0 in place is one fast pass (np.where is several)
        filled = values if scratch else np.array(values, np.float32)
        cv2.patchNaNs(filled, 0)
        total = cv2.resize(filled, (size, size), interpolation=cv2.INTER_AREA)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight >= MIN_AREA_COVER, total / weight, np.nan).astype(np.float32)
    if method == "max":
        return _block_max(values, size)
    raise ValueError(f"resize must be one of {RESIZE_METHODS}, got {method!r}")


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Replace NaN by the value of the nearest valid pixel.

    OpenCV's distance transform labels every valid pixel and gives each hole the label of
    its nearest one (5×5-mask Euclidean approximation); 5× faster than scipy's exact EDT
    with indices, and a hole between two equidistant pixels may take either.
    """
    holes = np.isnan(values)
    if holes.any() and not holes.all():
        _, labels = cv2.distanceTransformWithLabels(holes.astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        lookup = np.zeros(int(labels.max()) + 1, values.dtype)
        lookup[labels[~holes]] = values[~holes]
        values = lookup[labels]
    return values


def _to_negative(values: np.ndarray, clip: float) -> np.ndarray:
    scaled = np.clip(values, 0.0, clip) * np.float32(255.0 / clip)
    return (255 - np.rint(scaled)).astype(np.uint8)


def normalise(pixels: np.ndarray, *, size: int | None = None, resize: str | None = None,
              quantile: float | None = None, min_clip: float | None = None,
              variant: str = "paper") -> NormalisedImage:
    """Raw counts → ``size``×``size`` uint8 image in RefleX polarity.

    Parameters
    ----------
    pixels : (H, W) float ndarray
        Counts, NaN for gaps and flagged pixels (as the readers return them).
    size : int, optional
        Output edge in pixels. Default 512.
    resize : {'nearest', 'area', 'max'}, optional
        'nearest' as in the paper (keeps ~1 pixel in 23² of a 6M frame and drops most Bragg
        spots); 'area' averages valid pixels; 'max' keeps each block's brightest pixel.
        Default 'nearest'. Ignored by the reflex-code variant (always nearest).
    quantile : float, optional
        Clip at this quantile of valid pixels (paper: 0.95). Default 0.95.
    min_clip : float, optional
        Weak-frame guard: the clip quantile is raised until the clip value reaches this many
        counts. Default 4.
    variant : {'paper', 'reflex-code'}
        'reflex-code' reproduces what the original code did to make the RefleX PNGs: 25-px
        border crop, clip at 5× the mean of two horizontal bands, deletion of all-empty rows and
        columns, nearest resize, truncating cast (implementation notes §1).

    Returns
    -------
    NormalisedImage

    Examples
    --------
    >>> counts = np.zeros((100, 100), np.float32); counts[40:60, 40:60] = 100
    >>> out = normalise(counts, size=50)
    >>> out.image.shape, int(out.image[25, 25]), int(out.image[0, 0])
    ((50, 50), 0, 255)
    """
    size = DEFAULT_SIZE if size is None else int(size)
    resize = DEFAULT_RESIZE if resize is None else resize
    quantile = 0.95 if quantile is None else float(quantile)
    min_clip = 4.0 if min_clip is None else float(min_clip)
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if pixels.ndim != 2:
        raise ValueError(f"pixels must be 2-D, got shape {pixels.shape}")
    if variant == "reflex-code":
        return _normalise_reflex_code(pixels, size)
    if variant != "paper":
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if resize not in RESIZE_METHODS:
        raise ValueError(f"resize must be one of {RESIZE_METHODS}, got {resize!r}")
    pixels = np.asarray(pixels, np.float32)
    clip, used_q = clip_value_of(pixels, quantile, min_clip)
    # Clipping commutes with nearest and block-max, so clip the small image there (cheaper).
    big = np.minimum(pixels, np.float32(clip)) if resize == "area" else pixels
    small = _resize(big, size, resize, scratch=resize == "area")
    valid = np.isfinite(small)
    image = _to_negative(fill_gaps(small), clip)
    return NormalisedImage(image, valid, ImageMapping.resize(pixels.shape, (size, size)), clip,
                           used_q, "paper", resize)


def _normalise_reflex_code(pixels: np.ndarray, size: int, crop: int = 25) -> NormalisedImage:
    h, w = pixels.shape
    if min(h, w) <= 2 * crop + 12:
        raise InvalidFrameError(f"frame {pixels.shape} too small for the {crop}-px crop")
    data = np.asarray(pixels[crop:-crop, crop:-crop], np.float32)
    n = data.shape[0] // 12
    bands = np.concatenate([data[2 * n:3 * n], data[9 * n:10 * n]])
    clip = 5.0 * float(np.nansum(bands)) / bands.size  # NaNs count as 0 but stay in the count
    empty = np.isnan(data) | (data == 0)
    rows = np.flatnonzero(~empty.all(axis=1))
    cols = np.flatnonzero(~empty.all(axis=0))
    if rows.size == 0 or cols.size == 0 or clip <= 0:
        raise InvalidFrameError("frame is empty after the reflex-code crop and gap deletion")
    data = data[np.ix_(rows, cols)]
    valid = cv2.resize((~np.isnan(data)).astype(np.uint8), (size, size),
                       interpolation=cv2.INTER_NEAREST).astype(bool)
    data = np.clip(np.nan_to_num(data, nan=0.0), 0.0, clip) * np.float32(255.0 / clip)
    data = cv2.resize(data, (size, size), interpolation=cv2.INTER_NEAREST)
    image = (255 - data.astype(np.uint8)).astype(np.uint8)  # truncating cast, as the original
    mapping = ImageMapping((h, w), rows + crop, cols + crop, (size, size))
    return NormalisedImage(image, valid, mapping, clip, None, "reflex-code", "nearest")


def normalise_frame(frame: Frame, **options) -> NormalisedImage:
    """``normalise`` for a Frame; frames that are already RefleX PNGs are only resized."""
    if not frame.normalised:
        return normalise(frame.pixels, **options)
    size = options.get("size") or DEFAULT_SIZE
    resize = options.get("resize") or DEFAULT_RESIZE
    values = _resize(frame.pixels, size, resize)
    return NormalisedImage(_to_negative(fill_gaps(values), 255.0), np.isfinite(values),
                           ImageMapping.resize(frame.shape, (size, size)), 255.0, None,
                           "png", resize)
