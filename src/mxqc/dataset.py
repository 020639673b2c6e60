"""Data sets in the RefleX layout: ``<name>.png`` images (8-bit negatives), ``labels.csv``
and ``labels_{train,val,test}.csv`` (``image,<seven classes>``, names without extension).

``build_dataset`` makes one from raw frames and labels; ``load_dataset`` reads ours and the
real RefleX archive alike.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.errors import MxqcError
from mxqc.io import read_frame
from mxqc.normalise import normalise_frame

SPLITS = ("train", "val", "test")


class DatasetError(MxqcError):
    """A data set directory or label file is malformed."""


@dataclass(frozen=True, eq=False)
class LabelTable:
    """Image names and their (n, 7) labels in canonical class order: 1 present, 0 absent,
    ``UNKNOWN`` (−1) where nobody knows (partial labels, as on real frames)."""

    names: tuple[str, ...]
    labels: np.ndarray

    @property
    def known(self) -> np.ndarray:
        """(n, 7) bool: where the label is 0 or 1."""
        return self.labels != UNKNOWN


def _label(value: str) -> int:
    value = value.strip()
    if value in ("?", ""):
        return UNKNOWN
    if value in ("0", "1"):
        return int(value)
    raise ValueError(f"{value!r} is not 0, 1 or ? (unknown)")


def read_labels(path) -> LabelTable:
    """Read a RefleX label CSV; the columns must be ``image`` and the classes in order (more
    columns after them, such as a ``note``, are left out). A label may be ``?`` or empty:
    unknown (``UNKNOWN``)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    width = 1 + len(CLASSES)
    if not rows or tuple(rows[0][:width]) != ("image", *CLASSES):
        raise DatasetError(f"{path}: header must be image,{','.join(CLASSES)}; "
                           f"got {','.join(rows[0]) if rows else 'an empty file'}")
    try:
        short = next((r[0] if r else "(empty)" for r in rows[1:] if len(r) < width), None)
        if short is not None:
            raise ValueError(f"row {short} has fewer than {width} columns")
        labels = np.array([[_label(v) for v in r[1:width]] for r in rows[1:]], np.int8)
    except ValueError as exc:
        raise DatasetError(f"{path}: labels must be 0, 1 or ? ({exc})") from None
    return LabelTable(tuple(r[0] for r in rows[1:]), labels.reshape(-1, len(CLASSES)))


def write_labels(path, names, labels) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("image", *CLASSES))
        writer.writerows((n, *("?" if v == UNKNOWN else int(v) for v in row))
                         for n, row in zip(names, labels, strict=True))


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set on disk: where the images are and the label table of each split."""

    root: Path
    image_dir: Path
    splits: dict[str, LabelTable]

    def image_path(self, name: str) -> Path:
        return self.image_dir / f"{name}.png"


def load_dataset(root) -> Dataset:
    """Open a RefleX-layout data set; images may sit in ``root`` or ``root/images``.

    Raises DatasetError naming the first missing image or malformed file.
    """
    root = Path(root)
    if not (root / "labels.csv").is_file():
        raise DatasetError(f"{root}: no labels.csv")
    splits = {"all": read_labels(root / "labels.csv")}
    for split in SPLITS:
        if (root / f"labels_{split}.csv").is_file():
            splits[split] = read_labels(root / f"labels_{split}.csv")
    image_dir = root / "images" if (root / "images").is_dir() else root
    missing = [n for n in splits["all"].names if not (image_dir / f"{n}.png").is_file()]
    if missing:
        raise DatasetError(f"{image_dir}: {len(missing)} labelled image(s) missing, "
                           f"e.g. {missing[0]}.png")
    return Dataset(root, image_dir, splits)


def stratified_split(labels: np.ndarray, *, seed: int = 0,
                     fractions=(0.8, 0.1, 0.1)) -> dict[str, np.ndarray]:
    """Indices of an iterative-stratification multi-label split (Sechidis et al. 2011).

    Sizes aim at RefleX's own split: train ⌊0.8 N⌋, val ⌊0.1 N⌋, test the rest
    (5,048 / 631 / 632 for N = 6,311). Iterative stratification assigns samples by label
    demand, so on small sets a split can be a few samples off (exact at N = 1,000 in tests).
    """
    n = len(labels)
    labels = np.maximum(labels, 0)  # unknown labels stratify as absent
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    first = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n - n_train,
                                             random_state=seed)
    train, rest = next(first.split(np.zeros(n), labels))
    second = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=len(rest) - n_val,
                                              random_state=seed + 1)
    val, test = next(second.split(np.zeros(len(rest)), labels[rest]))
    return {"train": np.sort(train), "val": np.sort(rest[val]), "test": np.sort(rest[test])}


def write_dataset_info(out_dir, *, size: int, resize: str) -> None:
    """``dataset.json``: how the PNGs were normalised, so models normalise frames alike."""
    info = {"normalisation": {"size": size, "resize": resize, "variant": "paper"}}
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(info, f, indent=1)


def _frame_locations(src: Path) -> dict[str, tuple[Path, int]]:
    """Image name → (file, frame index): from truth.csv when present, else by file stem."""
    if (src / "truth.csv").is_file():
        with open(src / "truth.csv", newline="") as f:
            return {r["image"]: (src / r["file"], int(r["frame"])) for r in csv.DictReader(f)}
    return {p.name.split(".")[0]: (p, 0) for p in src.iterdir() if p.is_file()}


def build_dataset(src, out, *, size: int = 512, resize: str = "nearest", seed: int = 0,
                  progress=None) -> tuple[Dataset, list[tuple[str, str]]]:
    """Raw frames + ``labels.csv`` in ``src`` → RefleX layout in ``out``.

    Frames that cannot be read are left out and returned as (name, error) pairs; the split
    is made over the frames that were converted.
    """
    src, out = Path(src), Path(out)
    table = read_labels(src / "labels.csv")
    where = _frame_locations(src)
    os.makedirs(out, exist_ok=True)
    kept, failures = [], []
    for i, name in enumerate(table.names):
        try:
            if name not in where:
                raise DatasetError(f"no frame file for {name}")
            path, index = where[name]
            image = normalise_frame(read_frame(path, index), size=size, resize=resize).image
            cv2.imwrite(str(out / f"{name}.png"), image)
            kept.append(i)
        except MxqcError as exc:
            failures.append((name, str(exc)))
        if progress:
            progress(1)
    write_dataset_info(out, size=size, resize=resize)
    write_labels(out / "labels.csv", [table.names[i] for i in kept], table.labels[kept])
    return split_dataset(out, seed=seed), failures


def split_dataset(root, *, seed: int = 0) -> Dataset:
    """Write the seeded 80/10/10 ``labels_{train,val,test}.csv`` of a data set's labels.csv."""
    root = Path(root)
    table = read_labels(root / "labels.csv")
    for split, idx in stratified_split(table.labels, seed=seed).items():
        write_labels(root / f"labels_{split}.csv", [table.names[i] for i in idx],
                     table.labels[idx])
    return load_dataset(root)


def merge_datasets(out, sources, *, seed: int = 0) -> Dataset:
    """One data set of the images of ``sources`` (linked, not copied), e.g. simulated frames
    and real-frame canvases: their labels (partial labels kept), ``centres.csv`` where every
    source has one, and a fresh split. The sources must be normalised alike and their image
    names distinct."""
    out = Path(out)
    roots = [Path(s) for s in sources]
    opened = [load_dataset(r) for r in roots]
    infos = {json.dumps(dataset_normalisation(d), sort_keys=True) for d in opened}
    if len(infos) > 1:
        raise DatasetError(f"the sources were normalised differently: {sorted(infos)}")
    tables = [d.splits["all"] for d in opened]
    names = [n for t in tables for n in t.names]
    if len(set(names)) < len(names):
        raise DatasetError("image names repeat across the sources")
    os.makedirs(out, exist_ok=True)
    for source, table in zip(opened, tables, strict=True):
        for name in table.names:
            link = out / f"{name}.png"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to((source.image_dir / f"{name}.png").resolve())
    write_labels(out / "labels.csv", names, np.concatenate([t.labels for t in tables]))
    if all((r / "centres.csv").is_file() for r in roots):
        with open(out / "centres.csv", "w", newline="") as f:
            f.write("image,x,y\n")
            for root in roots:
                f.writelines((root / "centres.csv").read_text().splitlines(True)[1:])
    (out / "dataset.json").write_text(json.dumps({"normalisation": json.loads(infos.pop())},
                                                 indent=1))
    return split_dataset(out, seed=seed)


def dataset_normalisation(dataset: Dataset) -> dict:
    """How the data set's PNGs were normalised (``dataset.json``), else the paper's way."""
    info = dataset.root / "dataset.json"
    if info.is_file():
        return json.loads(info.read_text())["normalisation"]
    return {"size": 512, "resize": "nearest", "variant": "paper"}
