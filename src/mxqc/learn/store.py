"""Decode a data set once: image stacks, beam centres and radial vectors, cached on disk.

The cache lives in ``<dataset>/.mxqc-cache/`` and each file's name carries a key made from the
split's image names, the label file's size and modification time, and the parameters, so
a changed data set or a different parameter never reads a stale array.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from mxqc.centre import find_centre
from mxqc.dataset import Dataset, DatasetError
from mxqc.learn.views import needs_centre, radial_vectors, view_batch

CACHE_DIR = ".mxqc-cache"
FILE_CENTRES = "file"  # centres.csv beside the labels (the simulator writes the true ones)


def _key(dataset: Dataset, split: str, **params) -> str:
    label_file = dataset.root / ("labels.csv" if split == "all" else f"labels_{split}.csv")
    stat = label_file.stat()
    blob = json.dumps([split, dataset.splits[split].names, stat.st_size, stat.st_mtime_ns,
                       params], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _cached(dataset: Dataset, name: str, compute):
    """Load ``name`` from the cache, or compute it and write it atomically."""
    path = dataset.root / CACHE_DIR / f"{name}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    array = compute()
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, array, allow_pickle=False)
    os.replace(tmp, path)
    return array


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2:
        raise DatasetError(f"{path}: not a single-channel PNG")
    return image


def split_table(dataset: Dataset, split: str):
    if split not in dataset.splits:
        raise DatasetError(f"{dataset.root}: no {split!r} split "
                           f"(have {', '.join(sorted(dataset.splits))})")
    return dataset.splits[split]


def images(dataset: Dataset, split: str) -> np.ndarray:
    """(n, H, W) uint8 stack of the split's normalised images, decoded once."""
    table = split_table(dataset, split)

    def decode():
        with ThreadPoolExecutor(4) as pool:  # cv2 releases the GIL while decoding
            return np.stack(list(pool.map(_read_png, map(dataset.image_path, table.names))))

    return _cached(dataset, f"images-{split}-{_key(dataset, split)}", decode)


def centre_method(dataset: Dataset, method: str | None = None) -> str:
    """``method``, or by default the data set's centres.csv when it has one, else 'reflex'
    (the paper's method: a PNG carries no header)."""
    if method is not None:
        return method
    return FILE_CENTRES if (dataset.root / "centres.csv").is_file() else "reflex"


def _file_centres(dataset: Dataset, names) -> np.ndarray:
    with open(dataset.root / "centres.csv", newline="") as f:
        table = {r["image"]: (float(r["x"]), float(r["y"])) for r in csv.DictReader(f)}
    missing = [n for n in names if n not in table]
    if missing:
        raise DatasetError(f"{dataset.root}/centres.csv: no centre for {missing[0]}")
    return np.array([table[n] for n in names])


def centres(dataset: Dataset, split: str, method: str | None = None) -> np.ndarray:
    """(n, 2) beam centres (x, y) in image pixels: from centres.csv, or found by ``method``."""
    method = centre_method(dataset, method)
    if method == FILE_CENTRES:
        return _file_centres(dataset, split_table(dataset, split).names)
    stack = images(dataset, split)
    def compute():
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            return np.array(list(pool.map(_centre_xy, stack, [method] * len(stack),
                                          chunksize=64)))

    return _cached(dataset, f"centres-{split}-{_key(dataset, split, method=method)}", compute)


def _centre_xy(image: np.ndarray, method: str) -> tuple[float, float]:
    centre = find_centre(image, method=method)
    return centre.x, centre.y


def views(dataset: Dataset, split: str, representation: str, size: int,
          method: str | None = None, pooling: str = "area") -> np.ndarray:
    """(n, size, size) uint8 views for a CNN ((n, 2, size, size) for two-channel poolings),
    cached per representation, size and pooling."""
    stack = images(dataset, split)
    where = centres(dataset, split, method) if needs_centre(representation, pooling) else None
    # (area pooling keeps the key it always had, so existing caches stay valid)
    extra = {} if pooling == "area" else {"pooling": pooling}
    key = _key(dataset, split, representation=representation, size=size,
               centre=None if where is None else centre_method(dataset, method), **extra)

    return _cached(dataset, f"view-{split}-{representation}-{size}-{key}",
                   lambda: view_batch(stack, representation, size, where, pooling))


def radial(dataset: Dataset, split: str, method: str | None = None) -> np.ndarray:
    """(n, 1680) radial feature vectors, cached."""
    stack = images(dataset, split)
    where = centres(dataset, split, method)
    key = _key(dataset, split, centre=centre_method(dataset, method))
    return _cached(dataset, f"radial-{split}-{key}", lambda: radial_vectors(stack, where))
