"""mxqc train / evaluate / compare in-process on a tiny data set."""

from typer.testing import CliRunner

from mxqc.cli import app
from mxqc.learn import load_model, save_model

runner = CliRunner(env={"COLUMNS": "200"})


def test_train_evaluate_compare(tiny_dataset, tmp_path):
    root = str(tiny_dataset.root)
    cnn = tmp_path / "cnn.safetensors"
    result = runner.invoke(app, ["train", root, "--out", str(cnn), "--preset", "smoke",
                                 "--half"])
    assert result.exit_code == 0, result.output
    assert "epoch  1/1" in result.output
    assert (tmp_path / "cnn.log.jsonl").is_file()
    metadata = load_model(cnn).metadata
    assert metadata["name"] == "cnn"
    assert metadata["test_metrics"]["frames"] == len(tiny_dataset.splits["test"].names)
    assert 0 <= metadata["test_metrics"]["multilabel"]["mxqc"]["jaccard"] <= 1
    nb = tmp_path / "nb.skops"
    result = runner.invoke(app, ["train", root, "--out", str(nb), "--arch", "nb",
                                 "--representation", "radial"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(cnn), root])
    assert result.exit_code == 0, result.output
    out = tmp_path / "cnn-eval-test"
    for name in ("tables.md", "curves.png", "multilabel_mxqc.csv", "multilabel_reflex.csv",
                 "cnn_per_class_mxqc.csv"):
        assert (out / name).is_file(), name
    assert "ice_ring" in (out / "tables.md").read_text()
    polar = tmp_path / "polar.safetensors"
    result = runner.invoke(app, ["train", root, "--out", str(polar), "--preset", "smoke",
                                 "--representation", "polar-max"])
    assert result.exit_code == 0, result.output
    # centres found on each image (as for frames without a header), not the file's truth
    for extra in ([], ["--centre", "naive"]):
        result = runner.invoke(app, ["evaluate", str(polar), root, *extra])
        assert result.exit_code == 0, result.output
    by_file, by_naive = ((tmp_path / f"polar-eval-test{suffix}" / "polar_per_class_mxqc.csv")
                         .read_text() for suffix in ("", "-naive"))
    assert by_file != by_naive  # the polar views were made about other centres
    result = runner.invoke(app, ["evaluate", str(polar), root, "--centre", "somewhere"])
    assert result.exit_code == 2 and "must be one of" in result.output
    result = runner.invoke(app, ["compare", root, str(cnn), str(nb), str(polar), "--ensemble",
                                 "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "cmp" / "multilabel_mxqc.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == ["cnn", "nb", "polar",
                                                        "ensemble(cnn+polar)"]
    result = runner.invoke(app, ["compare", root, str(cnn), str(nb), "--tta", "4",
                                 "--out", str(tmp_path / "cmp4")])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "cmp4" / "multilabel_mxqc.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == ["cnn (4 views)", "nb"]


def test_tune_rewrites_thresholds_and_evaluate_uses_the_views(tiny_dataset, tmp_path):
    root = str(tiny_dataset.root)
    cnn = tmp_path / "cnn.safetensors"
    assert runner.invoke(app, ["train", root, "--out", str(cnn), "--preset", "smoke",
                               "--half"]).exit_code == 0
    old = load_model(cnn)
    old.metadata.pop("tta_thresholds")  # as a bundle from before test-time views
    save_model(old, cnn, half=True)
    result = runner.invoke(app, ["evaluate", str(cnn), root, "--tta", "8"])
    assert result.exit_code == 0, result.output
    assert "no thresholds tuned for 8 views" in result.output
    assert (tmp_path / "cnn-eval-test-tta8" / "tables.md").is_file()
    tuned = tmp_path / "tuned.safetensors"
    result = runner.invoke(app, ["tune", str(cnn), root, "--f2", "--out", str(tuned)])
    assert result.exit_code == 0, result.output
    model = load_model(tuned)
    assert model.metadata["thresholds_tuning"]["beta"] == 2.0
    assert set(model.metadata["tta_thresholds"]) == {"4", "8"}
    assert model.metadata["weights_dtype"] == "float16"
    assert abs(tuned.stat().st_size - cnn.stat().st_size) < 10_000  # still float16
    result = runner.invoke(app, ["evaluate", str(tuned), root, "--tta", "3"])
    assert result.exit_code == 2 and "one of (1, 4, 8)" in result.output


def test_bad_inputs_give_clear_errors(tiny_dataset, tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "m.st")])
    assert result.exit_code == 1 and "no labels.csv" in result.output
    result = runner.invoke(app, ["train", str(tiny_dataset.root), "--out",
                                 str(tmp_path / "m.skops"), "--arch", "svm",
                                 "--representation", "cartesian"])
    assert result.exit_code == 2 and "radial" in result.output
    result = runner.invoke(app, ["train", str(tiny_dataset.root), "--out",
                                 str(tmp_path / "m.safetensors"), "--preset", "nope"])
    assert result.exit_code == 2 and "must be one of" in result.output
    bogus = tmp_path / "model.safetensors"
    bogus.write_text("not a model")
    result = runner.invoke(app, ["evaluate", str(bogus), str(tiny_dataset.root)])
    assert result.exit_code == 1 and "not" in result.output
    result = runner.invoke(app, ["train", str(tiny_dataset.root), "--out",
                                 str(tmp_path / "p.safetensors"), "--preset", "smoke",
                                 "--pretrained", str(tmp_path / "absent.safetensors")])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(app, ["train", str(tiny_dataset.root), "--out",
                                 str(tmp_path / "i.safetensors"), "--preset", "smoke",
                                 "--init", str(tmp_path / "absent.safetensors")])
    assert result.exit_code == 1 and "no such model file" in result.output


def test_grid_search_writes_one_row_per_combination(tiny_dataset, tmp_path):
    result = runner.invoke(app, ["grid-search", str(tiny_dataset.root), "--archs", "resnet18",
                                 "--sizes", "32", "--batch-sizes", "8,16", "--epochs", "1",
                                 "--out", str(tmp_path / "grid")])
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "grid" / "grid.csv").read_text().splitlines()
    assert rows[0].startswith("arch,size,batch_size") and len(rows) == 3
    assert "| resnet18 | 32 | 16 |" in (tmp_path / "grid" / "grid.md").read_text()
