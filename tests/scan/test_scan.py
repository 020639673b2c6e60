"""mxqc scan over real files written by our writers, with bad files among them."""

import csv
import html as html_lib
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mxqc.classes import CLASSES
from mxqc.cli import app
from mxqc.scan import COLUMNS, ScanOptions, plan_units, scan
from mxqc.scan.results import JOURNAL

runner = CliRunner(env={"COLUMNS": "200"})
GOOD = 3 + 2 + 4 + 1  # cbf + smv + h5 frames + the copied CBF


def _rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_scan_gives_rows_for_good_frames_and_errors_for_bad_files(beamline_dir, tmp_path,
                                                                  smoke_model_path):
    out = tmp_path / "scan"
    summary = scan([beamline_dir], out, options=ScanOptions(model_path=str(smoke_model_path)))
    rows = _rows(out)
    assert list(rows[0]) == list(COLUMNS)
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] == "error"]
    assert len(ok) == GOOD
    assert {os.path.basename(r["file"]) for r in bad} == {"truncated_000001.cbf",
                                                          "garbage_000001.img"}
    assert all(r["error"] for r in bad)
    assert summary.failures == 2 and summary.frames == GOOD + 2
    h5 = sorted(int(r["frame"]) for r in ok if r["file"].endswith(".h5"))
    assert h5 == [0, 1, 2, 3]
    truth = {}
    for sub in ("cbf", "smv", "h5"):
        with open(beamline_dir / sub / "truth.csv", newline="") as f:
            for t in csv.DictReader(f):
                truth[(t["file"], int(t["frame"]))] = (float(t["beam_x"]), float(t["beam_y"]))
    for r in ok:
        key = (os.path.basename(r["file"]), int(r["frame"]))
        if key in truth:  # header geometry round-trips; the auto centre is near it
            assert float(r["header_beam_x"]) == pytest.approx(truth[key][0], abs=0.01)
            assert float(r["header_beam_y"]) == pytest.approx(truth[key][1], abs=0.01)
            assert abs(float(r["centre_x"]) - truth[key][0]) < 40
            assert abs(float(r["centre_y"]) - truth[key][1]) < 40
        probs = [float(r[f"p_{c}"]) for c in CLASSES]
        assert all(0 <= p <= 1 for p in probs)
        assert r["model"] == "smoke"
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == GOOD + 2
    assert json.loads(table.schema.metadata[b"mxqc"])["model"] == "smoke"
    with open(out / "errors.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_frame_ranges_and_every(beamline_dir):
    units, errors = plan_units([beamline_dir / "h5"], frames=slice(1, 4), every=2)
    assert [i for _, i in units] == [1, 3]
    assert not errors


def test_resume_after_a_kill_gives_every_frame_exactly_once(beamline_dir, tmp_path,
                                                             smoke_model_path):
    out = tmp_path / "scan"
    command = [sys.executable, "-m", "mxqc.cli", "scan", str(beamline_dir), "--out",
               str(out), "--model", str(smoke_model_path), "--batch-size", "1", "--no-report"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.is_file() or
                                      len(journal.read_text().splitlines()) < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(journal.read_text().splitlines())
    assert 4 <= partial < GOOD + 2, "the scan should have been killed mid-way"
    result = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr  # 1: the two bad files
    rows = _rows(out)
    keys = [(r["file"], r["frame"]) for r in rows]
    assert len(keys) == len(set(keys)) == GOOD + 2
    assert "already done" in result.stdout


def test_dask_local_cluster_gives_the_same_results(beamline_dir, tmp_path, smoke_model_path):
    options = ScanOptions(model_path=str(smoke_model_path), heatmaps=False)
    local = scan([beamline_dir / "cbf"], tmp_path / "local", options=options)
    dask = scan([beamline_dir / "cbf"], tmp_path / "dask", options=options, dask="local[1]")
    assert dask.frames == local.frames
    strip = ("t_", "thumbnail")
    a = [{k: v for k, v in r.items() if not k.startswith(strip)} for r in _rows(tmp_path / "local")]
    b = [{k: v for k, v in r.items() if not k.startswith(strip)} for r in _rows(tmp_path / "dask")]
    assert a == b


def test_report_renders_with_the_frames(beamline_dir, tmp_path, smoke_model_path):
    out = tmp_path / "scan"
    result = runner.invoke(app, ["scan", str(beamline_dir / "cbf"), "--out", str(out),
                                 "--model", str(smoke_model_path)])
    assert result.exit_code == 1, result.output  # the truncated CBF
    html = (out / "report.html").read_text()
    for name in ("sim_1_000000.cbf", "sim_1_000002.cbf", "truncated_000001.cbf", "smoke"):
        assert name in html
    assert html.count("data:image/jpeg;base64,") >= 3  # thumbnails embedded: opens from disk
    assert "src=\"images/" not in html
    # each simulated frame has its own geometry: a sweep of its own, said first
    assert html.index("<h2>Sweeps</h2>") < html.index("<h2>Summary</h2>")
    assert "sim_1_000000.cbf (1 frame): " in result.output
    assert (out / "sweeps.csv").read_text().count("\n") == 1 + 3
    sweeps = pq.read_table(out / "sweeps.parquet").to_pylist()
    assert len(sweeps) == 3 and {s["frames"] for s in sweeps} == {1}


def test_test_time_views_are_checked_and_recorded(beamline_dir, tmp_path, smoke_model_path):
    out = tmp_path / "scan"
    args = ["scan", str(beamline_dir / "cbf"), "--out", str(out), "--model",
            str(smoke_model_path), "--no-heatmaps"]
    result = runner.invoke(app, [*args, "--tta", "3"])
    assert result.exit_code == 2 and "one of (1, 4, 8)" in result.output
    assert not out.exists()  # refused before any work
    result = runner.invoke(app, [*args, "--tta", "4"])
    assert result.exit_code == 1, result.output  # the truncated CBF
    meta = json.loads(pq.read_schema(out / "results.parquet").metadata[b"mxqc"])
    assert meta["tta"] == 4
    html = " ".join((out / "report.html").read_text().split())
    assert "averaged over 4 test-time views" in html


def test_a_mistyped_path_or_model_is_said_on_the_terminal(tmp_path, smoke_model_path):
    missing = tmp_path / "no-such-run"
    result = runner.invoke(app, ["scan", str(missing), "--out", str(tmp_path / "a"),
                                 "--model", str(smoke_model_path)])
    assert result.exit_code == 1
    assert f"{missing}: no such file" in result.output and not (tmp_path / "a").exists()
    result = runner.invoke(app, ["scan", str(missing), "--out", str(tmp_path / "b"),
                                 "--model", "defualt"])
    assert result.exit_code == 1 and "defualt: no such model file" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "b").exists()


def test_nothing_to_scan_is_an_error(tmp_path, smoke_model_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["scan", str(tmp_path / "empty"), "--out", str(tmp_path / "a"),
                                 "--model", str(smoke_model_path)])
    assert result.exit_code == 1 and "no frames found in" in result.output


@pytest.mark.parametrize("text, expected", [("1:3600:10", slice(1, 3600, 10)),
                                            ("5", slice(5, 6)), ("100:", slice(100, None))])
def test_frame_range_syntax(text, expected):
    from mxqc.cli.common import parse_frames

    assert parse_frames(text) == expected


def test_heatmaps_go_to_the_sampled_flagged_frames_and_name_only_their_classes(
        beamline_dir, tmp_path, smoke_model_path):
    from mxqc.scan import analyse_units
    from mxqc.scan.analyse import in_sample

    units = [(str(p), 0) for p in sorted((beamline_dir / "cbf").glob("sim_*.cbf"))]

    def analyse(every):
        options = ScanOptions(model_path=str(smoke_model_path), rings=False,
                              heatmap_every=every, images_dir=str(tmp_path / f"images{every}"))
        return analyse_units(units, options)

    all_rows = analyse(1)
    flagged = [r for r in all_rows if r["n_anomalies"]]
    assert len(flagged) >= 2, "the smoke model flags too little here: the test would prove nothing"
    # the sample hashes the (temporary) path: pick a rate that splits the flagged frames
    every = next(k for k in range(2, 64)
                 if 0 < sum(in_sample(r, k) for r in flagged) < len(flagged))
    for rows, rate in ((all_rows, 1), (analyse(every), every)):
        for row in rows:
            named = {h.class_name for h in row.heatmaps}
            explained = row["n_anomalies"] and in_sample(row, rate)
            assert named == ({c for c in CLASSES if row[c]} if explained else set())


def test_a_gpu_asked_for_where_there_is_none_is_one_line_and_exit_1(tmp_path):
    import torch

    from mxqc.cli import app

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    frame = tmp_path / "f.npy"
    np.save(frame, np.ones((64, 64), np.float32))
    for device, said in (("cuda", "torch sees no GPU here"),
                         ("gpu", "not a device torch knows")):
        result = CliRunner().invoke(app, ["scan", str(frame), "--out", str(tmp_path / device),
                                          "--device", device])
        assert result.exit_code == 1 and said in result.output
        assert "Traceback" not in result.output


def test_the_report_draws_each_sweep_against_the_thresholds_it_used(beamline_dir, tmp_path,
                                                                      smoke_model_path):
    from mxqc.learn import load_model

    out = tmp_path / "scan"
    result = runner.invoke(app, ["scan", str(beamline_dir / "h5"), "--out", str(out),
                                 "--model", str(smoke_model_path), "--no-heatmaps"])
    assert result.exit_code == 0, result.output
    meta = json.loads(pq.read_schema(out / "results.parquet").metadata[b"mxqc"])
    model = load_model(str(smoke_model_path))
    used = dict(zip(CLASSES, model.thresholds.tolist(), strict=True))
    assert meta["thresholds"] == pytest.approx(used)
    html = (out / "report.html").read_text()
    strips = html.split("<h2>Sweeps</h2>")[1].split("<h2>Summary</h2>")[0]  # under verdicts
    assert strips.count("data:image/png;base64,") == 1  # the 4-frame sweep's strip
    assert all(r["thumbnail"] for r in _rows(out))  # a small scan: every frame has one
    # a click on a frame of the strip opens that frame's row: the strip knows both
    click = json.loads(html_lib.unescape(re.search(r'data-click="([^"]+)"', strips)[1]))
    assert (click["first"], click["last"]) == (0, 3)
    assert 0 < click["x0"] < click["x1"] < 1 and 0 < click["y0"] < click["y1"] < 1
    assert sorted(click["rows"]) == ["0", "1", "2", "3"]
    assert all(f'id="{row}"' in html for row in click["rows"].values())


def test_classify_from_python_gives_the_scan_rows(beamline_dir, smoke_model_path):
    import mxqc

    rows = mxqc.classify([beamline_dir / "cbf", beamline_dir / "garbage_000001.img"],
                         model=str(smoke_model_path))
    by_name = {os.path.basename(r["file"]): r for r in rows}
    row = by_name["sim_1_000000.cbf"]
    assert row["status"] == "ok" and 0 < row["centre_x"] < 1024
    assert {"n_spots", "rings", "centre_method", *(f"evidence_{c}" for c in CLASSES),
            *(f"p_{c}" for c in CLASSES), *CLASSES} <= set(row.record())  # the results.csv columns
    assert by_name["truncated_000001.cbf"]["status"] == "error"
    assert "unsupported format" in by_name["garbage_000001.img"]["error"]
