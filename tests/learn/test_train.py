"""CNN training end to end on a tiny simulated data set, and its bundles."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torchvision import models

from mxqc.classes import CLASSES
from mxqc.learn import (
    ModelFileError,
    TrainConfig,
    load_model,
    save_model,
    store,
    train_classical,
    train_cnn,
)
from mxqc.learn.cnn import PretrainedWeightsError, build_network, load_pretrained
from mxqc.learn.model import CnnModel, native_bf16
from mxqc.learn.train import PRESETS, StartingModelError, lr_range_test, start_from_model

SMOKE = dict(sizes=(32,), epochs=(1,), frozen_epochs=0, batch_size=8, lr=1e-3, threads=1)


@pytest.mark.parametrize("representation", ["cartesian", "polar-min", "polar-max"])
def test_cnn_trains_saves_and_loads_identically(tiny_dataset, tmp_path, representation):
    model = train_cnn(tiny_dataset, TrainConfig(representation=representation, **SMOKE))
    images = store.images(tiny_dataset, "test")
    centres = store.centres(tiny_dataset, "test")
    before = model.predict_proba(images, centres)
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(images, centres), before)
    assert loaded.metadata["representation"] == representation
    assert loaded.metadata["classes"] == list(CLASSES)
    assert loaded.metadata["input_size"] == 32
    assert loaded.metadata["normalisation"] == {"size": 64, "resize": "area", "variant": "paper"}
    np.testing.assert_array_equal(loaded.thresholds, model.thresholds)


def test_area_peak_pooling_feeds_two_channels_and_round_trips(tiny_dataset, tmp_path):
    model = train_cnn(tiny_dataset, TrainConfig(pooling="area+peak", **SMOKE))
    assert model.net.conv1.in_channels == 2
    images = store.images(tiny_dataset, "test")
    assert model.inputs(images).shape == (len(images), 2, 32, 32)
    loaded = load_model(save_model(model, tmp_path / "p.safetensors"))
    assert loaded.metadata["pooling"] == "area+peak"
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))


def test_area_symmetry_pooling_takes_centres_and_round_trips(tiny_dataset, tmp_path):
    model = train_cnn(tiny_dataset, TrainConfig(pooling="area+symmetry", **SMOKE))
    assert model.needs_centre and model.net.conv1.in_channels == 2
    images, centres = store.images(tiny_dataset, "test"), store.centres(tiny_dataset, "test")
    with pytest.raises(ValueError, match="centre"):
        model.predict_proba(images)
    loaded = load_model(save_model(model, tmp_path / "s.safetensors"))
    assert loaded.needs_centre
    np.testing.assert_array_equal(loaded.predict_proba(images, centres),
                                  model.predict_proba(images, centres))


def test_inference_runs_in_the_precision_the_network_was_trained_in(tiny_dataset):
    model = train_cnn(tiny_dataset, TrainConfig(**SMOKE, bf16=False))
    assert not model.bf16 and model.metadata["training_precision"] == "float32"
    images = store.images(tiny_dataset, "test")
    fp32 = model.predict_proba(images)
    model.metadata["config"]["bf16"] = True
    assert model.bf16 == native_bf16(model.device)
    if model.bf16:  # bf16 rounds the activations: close, not equal
        bf16 = model.predict_proba(images)
        assert not np.array_equal(bf16, fp32)
        np.testing.assert_allclose(bf16, fp32, atol=0.1)


def test_half_precision_bundle_is_half_the_size_and_close(tiny_dataset, tmp_path):
    model = train_cnn(tiny_dataset, TrainConfig(**SMOKE))
    full = save_model(model, tmp_path / "full.safetensors")
    half = save_model(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    images = store.images(tiny_dataset, "test")
    np.testing.assert_allclose(load_model(half).predict_proba(images),
                               model.predict_proba(images), atol=0.02)


def test_thresholds_from_the_bundle_decide_the_labels(tiny_dataset, tmp_path):
    model = train_cnn(tiny_dataset, TrainConfig(**SMOKE))
    images = store.images(tiny_dataset, "test")
    scores = model.predict_proba(images)
    thresholds = np.median(scores, axis=0)
    model.set_thresholds(thresholds)
    loaded = load_model(save_model(model, tmp_path / "t.safetensors"))
    np.testing.assert_array_equal(loaded.thresholds, thresholds)
    np.testing.assert_array_equal(loaded.predict(images), (scores > thresholds).astype(int))


def test_test_time_views_make_scores_invariant_under_their_transforms(tiny_dataset):
    model = train_cnn(tiny_dataset, TrainConfig(**SMOKE, bf16=False))
    images = store.images(tiny_dataset, "test")[:6]
    turned, mirrored = np.rot90(images, 1, axes=(1, 2)).copy(), images[:, :, ::-1].copy()
    single = model.predict_proba(images)
    assert np.abs(model.predict_proba(turned) - single).max() > 1e-4  # not invariant alone
    four = model.predict_proba(images, views=4)
    np.testing.assert_allclose(model.predict_proba(turned, views=4), four, atol=1e-5)
    assert np.abs(model.predict_proba(mirrored, views=4) - four).max() > 1e-4
    np.testing.assert_allclose(model.predict_proba(mirrored, views=8),
                               model.predict_proba(images, views=8), atol=1e-5)
    np.testing.assert_array_equal(model.predict_proba(images), single)  # nothing changed
    with pytest.raises(ValueError, match="one of"):
        model.check_views(3)


def test_thresholds_are_tuned_and_stored_for_each_number_of_views(tiny_dataset, tmp_path):
    model = train_cnn(tiny_dataset, TrainConfig(**SMOKE))
    assert set(model.metadata["tta_thresholds"]) == {"4", "8"}
    assert model.metadata["thresholds_tuning"]["split"] == "val"
    loaded = load_model(save_model(model, tmp_path / "v.safetensors"))
    for views in (1, 4, 8):
        assert loaded.thresholds_tuned(views)
        stored = (loaded.metadata["thresholds"] if views == 1
                  else loaded.metadata["tta_thresholds"][str(views)])
        np.testing.assert_array_equal(loaded.thresholds_for(views), stored)
    older = CnnModel(loaded.net, {k: v for k, v in loaded.metadata.items()
                                  if k not in ("tta_thresholds", "schema_version")})
    assert not older.thresholds_tuned(8)  # an older bundle: single-view thresholds serve
    np.testing.assert_array_equal(older.thresholds_for(8), loaded.metadata["thresholds"])
    polar = train_cnn(tiny_dataset, TrainConfig(representation="polar-min", **SMOKE))
    assert polar.metadata["tta_thresholds"] == {}  # a polar view has no test-time views
    with pytest.raises(ValueError, match="Cartesian"):
        polar.check_views(4)


def test_progressive_sizes_frozen_phases_and_early_stopping_are_logged(tiny_dataset):
    config = TrainConfig(sizes=(32, 48), epochs=(3, 2), frozen_epochs=1, batch_size=16,
                         lr=None, patience=1, threads=1)
    model = train_cnn(tiny_dataset, config)
    log = model.metadata["log"]
    stages = [e["stage"] for e in log if e["event"] == "epoch"]
    assert stages[0] == "32px frozen" and "48px frozen" in stages and stages[-1] == "48px"
    lr_event = next(e for e in log if e["event"] == "lr_range_test")
    assert 1e-7 < lr_event["lr"] < 1.0
    unfrozen = next(e for e in log if e["event"] == "epoch" and e["stage"] == "32px")
    early, late, head = unfrozen["lr"]  # each group half the next (at the cycle start)
    assert early == pytest.approx(late / 2) and late == pytest.approx(head / 2)
    assert model.metadata["input_size"] == 48
    assert all(w >= 1 for w in model.metadata["pos_weight"])


def test_time_budget_stops_training(tiny_dataset):
    model = train_cnn(tiny_dataset, TrainConfig(sizes=(32,), epochs=(50,), frozen_epochs=0,
                                                batch_size=8, lr=1e-3, time_budget_s=1.0,
                                                threads=1))
    epochs = [e for e in model.metadata["log"] if e["event"] == "epoch"]
    assert len(epochs) < 50
    assert any(e["event"] == "time_budget" for e in model.metadata["log"])


def test_lr_range_test_restores_the_network(tiny_dataset):
    net = build_network("resnet18")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = store.views(tiny_dataset, "train", "cartesian", 32)
    y = torch.as_tensor(store.split_table(tiny_dataset, "train").labels, dtype=torch.float32)
    lr = lr_range_test(net, x, y, torch.nn.BCEWithLogitsLoss(), TrainConfig(**SMOKE), steps=10)
    assert 0 < lr < 1
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])


@pytest.mark.parametrize("kind", ["svm", "nb", "knn", "rf"])
def test_classical_models_grid_search_and_round_trip(tiny_dataset, tmp_path, kind):
    model = train_classical(tiny_dataset, kind)
    assert len(model.metadata["grid_search"]) >= 3
    images = store.images(tiny_dataset, "test")
    centres = store.centres(tiny_dataset, "test")
    scores = model.predict_proba(images, centres)
    assert scores.shape == (len(images), len(CLASSES))
    assert ((scores >= 0) & (scores <= 1)).all()
    loaded = load_model(save_model(model, tmp_path / f"{kind}.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(images, centres), scores)


def test_a_pickle_is_refused_whatever_its_name(tmp_path):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(ModelFileError, match="not a model file"):
        load_model(path)
    torch.save(build_network("resnet18").state_dict(), tmp_path / "net.pt")
    with pytest.raises(ModelFileError, match="pickled models such as"):
        load_model(tmp_path / "net.pt")


def test_safetensors_without_mxqc_metadata_is_refused(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, path)
    with pytest.raises(ModelFileError, match="not an mxqc CNN bundle"):
        load_model(path)


class NotAModel:
    pass


def test_skops_with_foreign_types_is_refused(tmp_path):
    import skops.io as sio

    path = tmp_path / "foreign.skops"
    sio.dump({"pipeline": NotAModel(), "metadata": json.dumps({})}, path)
    with pytest.raises(ModelFileError, match="refusing to load types"):
        load_model(path)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.safetensors")


def test_pretrained_weights_load_from_a_local_safetensors_file(tmp_path):
    torchvision_net = models.resnet18(weights=None)
    path = tmp_path / "resnet18-imagenet.safetensors"
    save_file(torchvision_net.state_dict(), path)
    net = build_network("resnet18")
    load_pretrained(net, path)
    torch.testing.assert_close(net.conv1.weight,
                               torchvision_net.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(net.layer4[1].conv2.weight, torchvision_net.layer4[1].conv2.weight)
    two = build_network("resnet18", in_channels=2)
    load_pretrained(two, path)  # a grey input gives the summed filter's response
    torch.testing.assert_close(two.conv1.weight.sum(dim=1, keepdim=True), net.conv1.weight)
    with pytest.raises(PretrainedWeightsError, match="not found"):
        load_pretrained(net, tmp_path / "absent.safetensors")
    with pytest.raises(PretrainedWeightsError, match="does not match"):
        load_pretrained(build_network("resnet50"), path)


def test_training_can_start_from_a_saved_model(tiny_dataset, tmp_path):
    first = train_cnn(tiny_dataset, TrainConfig(**SMOKE))
    path = save_model(first, tmp_path / "first.safetensors")
    net = build_network("resnet18")
    start_from_model(net, TrainConfig(**SMOKE, init=str(path)))
    for name, value in first.net.state_dict().items():
        torch.testing.assert_close(net.state_dict()[name], value)
    second = train_cnn(tiny_dataset, TrainConfig(**SMOKE, init=str(path)))
    assert second.metadata["init"]["name"] == first.name
    assert second.metadata["init"]["training_data"] == first.metadata["training_data"]
    with pytest.raises(StartingModelError, match=r"its pooling is area, this run.s area\+peak"):
        start_from_model(build_network("resnet18", in_channels=2),
                         TrainConfig(**SMOKE, pooling="area+peak", init=str(path)))
    with pytest.raises(ModelFileError, match="no such model file"):
        start_from_model(net, TrainConfig(**SMOKE, init=str(tmp_path / "absent.safetensors")))
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(**SMOKE, init=str(path), pretrained=str(path))


def test_the_default_model_ships_and_loads_without_a_path():
    import mxqc

    model = mxqc.load_model()
    assert model.metadata["classes"] == list(CLASSES)
    assert mxqc.load_model("default").metadata == model.metadata  # the name reports show
    preset = PRESETS["default"]  # the shipped model: the preset's, fine-tuned
    assert model.metadata["model"] == preset["arch"]
    assert model.input_size == preset["sizes"][-1]
    base = model.metadata["init"]  # scripts/train_default.sh: 120 min of training at most
    assert base["training_data"]["train"]["frames"] == 8000
    assert base["training_time_s"] + model.metadata["log"][-1]["elapsed_s"] <= 120 * 60
    assert model.normalisation == {"size": 512, "resize": "area", "variant": "paper"}
    assert len(model.thresholds) == len(CLASSES)
    assert model.metadata["test_metrics"]["frames"] >= 400


def test_a_model_card_fills_its_defaults_in_one_place_and_refuses_a_newer_schema():
    from mxqc.learn.card import SCHEMA_VERSION, SchemaError, model_card

    old = {"kind": "cnn", "model": "resnet18", "representation": "cartesian"}  # schema 1
    card = model_card(old)
    assert card["schema_version"] == SCHEMA_VERSION and card["name"] == "resnet18"
    assert card["pooling"] == "area" and card["tta_thresholds"] == {}
    assert card["normalisation"] == {"size": 512, "resize": "nearest"}  # as it was made
    assert "schema_version" not in old  # the metadata given is left alone
    card["tta_thresholds"]["4"] = [0.5] * 7
    assert model_card(old)["tta_thresholds"] == {}  # defaults are not shared
    with pytest.raises(SchemaError, match="newer"):
        model_card(old | {"schema_version": SCHEMA_VERSION + 1})
