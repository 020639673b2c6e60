"""Partial labels: unknown entries (``?``) are read, left out of the loss, the thresholds and
every measure, and a model trains (and fine-tunes) on partly labelled frames."""

import shutil

import numpy as np
import pytest
import torch

from mxqc.classes import CLASSES, UNKNOWN
from mxqc.dataset import DatasetError, load_dataset, read_labels, write_labels
from mxqc.learn import TrainConfig, save_model, train_classical, train_cnn
from mxqc.learn.thresholds import tune_thresholds
from mxqc.learn.train import KnownLabelsLoss
from mxqc.metrics import multilabel_scores, per_class_scores

SMOKE = dict(sizes=(32,), epochs=(1,), frozen_epochs=0, batch_size=8, lr=1e-3, threads=1)


def test_label_files_take_question_marks_and_blanks_as_unknown(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image," + ",".join(CLASSES) + "\na,1,0,?,0,,1,0\nb,0,0,0,0,0,0,1\n")
    table = read_labels(path)
    assert table.labels[0].tolist() == [1, 0, UNKNOWN, 0, UNKNOWN, 1, 0]
    assert table.known.sum() == 12
    write_labels(tmp_path / "out.csv", table.names, table.labels)
    assert "a,1,0,?,0,?,1,0" in (tmp_path / "out.csv").read_text()
    path.write_text("image," + ",".join(CLASSES) + "\na,1,0,2,0,0,1,0\n")
    with pytest.raises(DatasetError, match=r"0, 1 or \?"):
        read_labels(path)


def test_the_shared_real_frames_label_files_read_as_partial_labels(real_frames):
    for path in (real_frames / "labels.csv", real_frames / "thaumatin-grid" / "labels.csv"):
        table = read_labels(path)  # their trailing note column is left out
        assert table.labels.shape == (len(table.names), len(CLASSES))
        assert (~table.known).any() and table.known.any()
    grid = read_labels(real_frames / "thaumatin-grid" / "labels.csv")
    ice = CLASSES.index("ice_ring")
    assert (grid.labels[:, ice] == 0).all()  # the grid scan is known to be free of ice


def test_unknown_labels_change_no_measure_whatever_is_predicted():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (60, 7))
    scores = rng.random((60, 7))
    partial = truth.copy()
    partial[rng.random((60, 7)) < 0.3] = UNKNOWN
    known = partial != UNKNOWN
    flipped = np.where(known, scores, 1 - scores)  # other predictions where unknown
    assert multilabel_scores(partial, scores) == multilabel_scores(partial, flipped)
    assert per_class_scores(partial, scores) == per_class_scores(partial, flipped)
    for j, name in enumerate(CLASSES):  # per class: the known images alone
        alone = per_class_scores(truth[known[:, j]][:, [j]], scores[known[:, j]][:, [j]],
                                 class_names=(name,))
        assert per_class_scores(partial, scores)[name] == alone[name]
    assert np.array_equal(tune_thresholds(partial, scores), tune_thresholds(partial, flipped))


def test_unknown_labels_add_nothing_to_the_loss_or_its_gradient():
    weights = torch.tensor([1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 1.5])
    logits = torch.randn(5, 7, requires_grad=True)
    target = torch.randint(0, 2, (5, 7)).float()
    full = torch.nn.BCEWithLogitsLoss(pos_weight=weights)(logits, target)
    torch.testing.assert_close(KnownLabelsLoss(weights)(logits, target), full)
    partial = target.clone()
    partial[:, 2] = UNKNOWN
    partial[0, 5] = UNKNOWN
    KnownLabelsLoss(weights)(logits, partial).backward()
    assert torch.all(logits.grad[:, 2] == 0) and logits.grad[0, 5] == 0
    assert torch.all(logits.grad[1:, 5] != 0) and torch.all(logits.grad[:, 0] != 0)


@pytest.fixture
def partly_labelled(tiny_dataset, tmp_path):
    """The tiny data set with a third of its labels (and all of diffuse scattering) unknown."""
    root = tmp_path / "partial"
    shutil.copytree(tiny_dataset.root, root)
    rng = np.random.default_rng(1)
    for name in ("labels", "labels_train", "labels_val", "labels_test"):
        table = read_labels(root / f"{name}.csv")
        labels = table.labels.copy()
        labels[rng.random(labels.shape) < 0.33] = UNKNOWN
        labels[:, CLASSES.index("diffuse_scattering")] = UNKNOWN
        write_labels(root / f"{name}.csv", table.names, labels)
    return load_dataset(root)


def test_a_cnn_trains_and_fine_tunes_on_partly_labelled_frames(partly_labelled, tmp_path):
    model = train_cnn(partly_labelled, TrainConfig(**SMOKE))
    train = model.metadata["training_data"]["train"]
    assert train["unknown"]["diffuse_scattering"] == train["frames"]
    assert train["positives"]["diffuse_scattering"] == 0
    assert all(np.isfinite(e["val_loss"]) for e in model.metadata["log"] if "val_loss" in e)
    assert model.thresholds[CLASSES.index("diffuse_scattering")] == 0.5  # nothing to tune on
    tuned = train_cnn(partly_labelled, TrainConfig(
        **SMOKE, init=str(save_model(model, tmp_path / "start.safetensors"))))
    assert tuned.metadata["init"]["training_data"] == model.metadata["training_data"]


def test_classical_models_refuse_unknown_labels_clearly(partly_labelled):
    with pytest.raises(DatasetError, match="need every label known"):
        train_classical(partly_labelled, "nb")
