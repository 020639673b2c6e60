"""RefleX-layout data sets: building from simulated frames, and loading the real label files."""

import shutil

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.cli import app
from mxqc.dataset import DatasetError, load_dataset, read_labels, stratified_split
from mxqc.simulate.export import write_simulated

runner = CliRunner(env={"COLUMNS": "200"})


def test_build_from_simulated_frames_with_a_corrupt_one(tmp_path):
    src, out = tmp_path / "raw", tmp_path / "set"
    names = write_simulated(src, 40, seed=4, detector="square256", fmt="cbf")
    (src / f"{names[3]}.cbf").write_bytes(b"###CBF: truncated")
    result = runner.invoke(app, ["dataset", "build", str(src), "--out", str(out), "--size", "64"])
    assert result.exit_code == 1 and names[3] in result.output  # reported, others kept
    dataset = load_dataset(out)
    splits = {k: v.names for k, v in dataset.splits.items()}
    assert len(splits["all"]) == 39
    sizes = np.array([len(splits["train"]), len(splits["val"]), len(splits["test"])])
    assert np.all(np.abs(sizes - [31, 3, 5]) <= 2) and sizes.min() > 0  # small set: ± 2
    assert set(splits["train"]) | set(splits["val"]) | set(splits["test"]) == set(splits["all"])
    assert not set(splits["train"]) & set(splits["test"])
    image = cv2.imread(str(dataset.image_path(splits["all"][0])), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64) and image.dtype == np.uint8
    # labels follow the simulation truth
    source = dict(zip(read_labels(src / "labels.csv").names,
                      read_labels(src / "labels.csv").labels.tolist(), strict=True))
    built = dataset.splits["all"]
    assert all(source[n] == row.tolist() for n, row in zip(built.names, built.labels,
                                                           strict=True))


def test_stratified_split_keeps_rare_classes_in_every_split():
    rng = np.random.default_rng(0)
    labels = (rng.random((1000, 7)) < [0.46, 0.6, 0.47, 0.07, 0.16, 0.07, 0.34]).astype(int)
    parts = stratified_split(labels, seed=3)
    assert [len(parts[s]) for s in ("train", "val", "test")] == [800, 100, 100]
    for idx in parts.values():
        assert np.all(np.abs(labels[idx].mean(0) - labels.mean(0)) < 0.03)
    assert np.array_equal(stratified_split(labels, seed=3)["val"], parts["val"])


def test_loader_reads_the_real_refleX_label_files(tmp_path, real_frames):
    reference = real_frames.parent / "reference" / "refleX-labels"
    root = tmp_path / "reflex"
    (root / "images").mkdir(parents=True)
    for name in ("labels.csv", "labels_train.csv", "labels_val.csv", "labels_test.csv"):
        shutil.copy(reference / name, root / name)
    stand_in = np.full((8, 8), 255, np.uint8)
    all_names = read_labels(root / "labels.csv").names
    for name in all_names:  # stand-in images: the archive's pixels are not available here
        cv2.imwrite(str(root / "images" / f"{name}.png"), stand_in)
    dataset = load_dataset(root)
    sizes = {k: len(v.names) for k, v in dataset.splits.items()}
    assert sizes == {"all": 6311, "train": 5048, "val": 631, "test": 632}
    assert dataset.splits["all"].labels.sum(axis=0).tolist() == [2886, 3823, 2961, 447, 1008,
                                                                 467, 2155]
    assert dataset.image_path(all_names[0]).is_file()


def test_loader_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"no labels\.csv"):
        load_dataset(tmp_path)
    (tmp_path / "labels.csv").write_text("image,a,b\nx,1,0\n")
    with pytest.raises(DatasetError, match="header"):
        load_dataset(tmp_path)
    (tmp_path / "labels.csv").write_text("image," + ",".join(CLASSES) + "\nx" + ",0" * 7 + "\n")
    with pytest.raises(DatasetError, match="missing"):
        load_dataset(tmp_path)


def test_merge_keeps_partial_labels_and_refuses_mixed_normalisation(tmp_path, tiny_dataset):
    from mxqc.dataset import merge_datasets, write_dataset_info, write_labels

    other = tmp_path / "canvases"
    other.mkdir()
    cv2.imwrite(str(other / "canvas_a.png"), np.zeros((64, 64), np.uint8))
    write_labels(other / "labels.csv", ["canvas_a"], np.array([[UNKNOWN, 1, 0, 0, 0, 0, 0]]))
    write_dataset_info(other, size=64, resize="area")
    merged = merge_datasets(tmp_path / "merged", [tiny_dataset.root, other])
    table = merged.splits["all"]
    assert table.names[-1] == "canvas_a" and table.labels[-1, 0] == UNKNOWN
    assert (tmp_path / "merged" / "canvas_a.png").is_symlink()
    assert sum(len(merged.splits[s].names) for s in ("train", "val", "test")) == len(table.names)
    write_dataset_info(other, size=64, resize="nearest")
    with pytest.raises(DatasetError, match="normalised differently"):
        merge_datasets(tmp_path / "again", [tiny_dataset.root, other])
