"""The fused verdict: sign-bounded models, fitted from a scan of labelled raw frames, that
scans then use (``p_<class>`` fused, ``p_cnn_<class>`` the network's)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from mxqc.classes import CLASSES
from mxqc.cli import app
from mxqc.learn import load_model
from mxqc.learn.fusion import (
    apply_fusion,
    fit_fusion,
    fit_logistic,
    fused_probabilities,
    labelled_rows,
    predict_logistic,
)
from mxqc.scan import ScanOptions, scan
from mxqc.scan.results import JOURNAL, Journal
from mxqc.simulate.export import write_simulated

runner = CliRunner(env={"COLUMNS": "200"})


def test_a_feature_physics_says_can_only_raise_the_evidence_never_lowers_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(0, 0.5, 400) > 0).astype(int)
    free = fit_logistic(x, y, np.array([1, 0]))
    bounded = fit_logistic(x, y, np.array([1, 1]))
    assert free["coef"][1] < -0.5  # the data alone would use it against the class
    assert bounded["coef"][1] == pytest.approx(0.0, abs=1e-6) and bounded["coef"][0] > 0.5
    assert np.all(np.diff(predict_logistic(bounded, np.c_[np.linspace(-2, 2, 9),
                                                          np.zeros(9)])) > 0)


def test_a_model_without_fusion_keeps_the_cnn_verdict(smoke_model_path):
    model = load_model(smoke_model_path)
    cnn = np.full((2, len(CLASSES)), 0.3)
    probs, thresholds = fused_probabilities(model, cnn, [{"w_spots": 1.0}] * 2)
    assert probs is cnn and np.array_equal(thresholds, np.tile(model.thresholds, (2, 1)))


def test_a_fusion_applies_the_features_it_was_fitted_on():
    """A model fitted before a witness feature existed keeps its meaning: the new
    feature's column is not fed to it."""
    cnn = np.full((2, len(CLASSES)), 0.5)
    rows = [{"w_faulty_lines": 0.0, "w_cross": 0.0}, {"w_faulty_lines": 0.0, "w_cross": 9.0}]
    older = {"features": ["faulty_lines"], "mean": [0.0, 0.0], "scale": [1.0, 1.0],
             "coef": [0.0, 1.0], "intercept": 0.0}
    probs = apply_fusion({"classes": {"artifact": older}}, cnn, rows)
    assert probs[0, CLASSES.index("artifact")] == probs[1, CLASSES.index("artifact")] == 0.5


@pytest.fixture(scope="module")
def labelled_scan(smoke_model_path, tmp_path_factory):
    frames = tmp_path_factory.mktemp("raw")
    write_simulated(frames, 40, seed=9, detector="square256", fmt="cbf",
                    rates={"ice_ring": 0.5, "artifact": 0.5, "background_ring": 0.5})
    out = tmp_path_factory.mktemp("scan")
    scan([str(frames)], out, options=ScanOptions(model_path=str(smoke_model_path),
                                                 heatmaps=False))
    return frames, out


def test_fuse_fits_scores_and_writes_a_model_that_scans_use(labelled_scan, smoke_model_path,
                                                            tmp_path):
    frames, scanned = labelled_scan
    fused_path = tmp_path / "fused.safetensors"
    result = runner.invoke(app, ["fuse", str(smoke_model_path), str(scanned), "--out",
                                 str(fused_path), "--test", str(scanned),
                                 "--tables", str(tmp_path / "tables")])
    assert result.exit_code == 0, result.output
    for source in ("cnn", "witness (out of fold)", "fusion (out of fold)", "fusion (test)"):
        assert source in result.output
    fusion = load_model(fused_path).metadata["fusion"]
    assert fusion["fitted_on"]["frames"] == 40 and len(fusion["thresholds"]) == len(CLASSES)
    assert set(fusion["classes"]) >= {"ice_ring", "artifact", "background_ring"}
    out = tmp_path / "rescan"
    scan([str(frames)], out, options=ScanOptions(model_path=str(fused_path), heatmaps=False))
    rows = Journal(out).rows()
    assert any(r["p_ice_ring"] != r["p_cnn_ice_ring"] for r in rows)
    assert all(r["ice_ring"] == int(r["p_ice_ring"] > fusion["thresholds"][5]) for r in rows)


def test_a_fit_does_not_depend_on_the_order_the_workers_finished_in(labelled_scan, tmp_path):
    """The folds that the thresholds are tuned on follow the frames, not the journal."""
    _, scanned = labelled_scan
    lines = (scanned / JOURNAL).read_text().splitlines(keepends=True)
    (tmp_path / JOURNAL).write_text("".join(lines[::-1]))
    fits = []
    for journal in (scanned, tmp_path):
        rows, truth, cnn = labelled_rows(journal)
        fits.append((rows, fit_fusion(cnn, rows, truth)[0]))
    (first, spec), (second, again) = fits
    assert [r["file"] for r in first] == sorted(r["file"] for r in first)
    assert [r["file"] for r in second] == [r["file"] for r in first]
    assert again == spec


def test_fuse_refuses_a_scan_without_witnesses(smoke_model_path, labelled_scan, tmp_path):
    frames, _ = labelled_scan
    bare = tmp_path / "bare"
    scan([str(frames)], bare, options=ScanOptions(model_path=str(smoke_model_path),
                                                  heatmaps=False, witnesses=False))
    result = runner.invoke(app, ["fuse", str(smoke_model_path), str(bare), "--out",
                                 str(tmp_path / "x.safetensors")])
    assert result.exit_code == 1 and "scanned without witnesses" in result.output


def test_a_frame_whose_witnesses_failed_keeps_the_cnn_verdict_beside_fused_ones(
        labelled_scan, smoke_model_path, tmp_path, monkeypatch):
    import mxqc.scan.analyse as analyse

    frames, scanned = labelled_scan
    fused_path = tmp_path / "fused.safetensors"
    result = runner.invoke(app, ["fuse", str(smoke_model_path), str(scanned), "--out",
                                 str(fused_path)])
    assert result.exit_code == 0, result.output
    calls = iter(range(10 ** 6))
    real = analyse.witness_frame

    def flaky(*args, **kwargs):  # every other frame's witnesses fail
        if next(calls) % 2:
            raise FloatingPointError("overflow in a measurement")
        return real(*args, **kwargs)

    monkeypatch.setattr(analyse, "witness_frame", flaky)  # in this process: no scan workers
    units = [(str(p), 0) for p in sorted(frames.glob("*.cbf"))]
    rows = analyse.analyse_units(units, ScanOptions(model_path=str(fused_path), heatmaps=False))
    failed = [r for r in rows if "witnesses failed" in r["error"]]
    assert rows and all(r["status"] == "ok" for r in rows) and 0 < len(failed) < len(rows)
    assert all(r["p_ice_ring"] == r["p_cnn_ice_ring"] for r in failed)
    assert any(r["p_ice_ring"] != r["p_cnn_ice_ring"] for r in rows if r not in failed)


def _f1_row(path) -> dict[str, float]:
    import csv

    with open(path, newline="") as f:
        return {r["class"]: float(r["f1"]) for r in csv.DictReader(f)}


def test_evaluate_and_compare_on_a_scan_score_the_network_witnesses_and_fusion_apart(
        labelled_scan, smoke_model_path, tmp_path):
    from sklearn.metrics import f1_score

    from mxqc.dataset import read_labels
    from mxqc.learn import save_model

    frames, scanned = labelled_scan
    fused = tmp_path / "fused.safetensors"
    assert runner.invoke(app, ["fuse", str(smoke_model_path), str(scanned), "--out",
                               str(fused)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(fused), str(scanned), "--out",
                                 str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "ev" / "tables.md").read_text()
    assert all(f"| {row} |" in table for row in ("cnn", "witness (out of fold)", "fusion"))
    # the network's row is the scan's own verdicts (the smoke model has no fusion) scored
    rows = Journal(scanned).rows()
    labels = read_labels(frames / "labels.csv")
    truth = np.stack([labels.labels[labels.names.index(r["file"].split("/")[-1][:-4])]
                      for r in rows])
    cnn = _f1_row(tmp_path / "ev" / "cnn_per_class_mxqc.csv")
    for j, c in enumerate(CLASSES):
        said = np.array([r[c] for r in rows])
        assert cnn[c] == pytest.approx(f1_score(truth[:, j], said, zero_division=0), abs=1e-3)

    result = runner.invoke(app, ["compare", str(scanned), str(fused), str(smoke_model_path),
                                 "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "cmp" / "tables.md").read_text()
    assert "| fusion: fused |" in table and "fusion: smoke" not in table  # it has none

    other = load_model(smoke_model_path)
    other.metadata["name"] = "another"
    result = runner.invoke(app, ["evaluate", str(save_model(other, tmp_path / "o.safetensors")),
                                 str(scanned)])
    assert result.exit_code == 1 and "scanned with smoke" in result.output
