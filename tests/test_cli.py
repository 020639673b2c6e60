"""The CLI in-process: real files written by our writers, one of them corrupt."""

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mxqc.cli import app
from mxqc.frame import Geometry
from mxqc.io import write_cbf, write_nexus
from mxqc.simulate import RingPattern, ring_pattern

runner = CliRunner(env={"COLUMNS": "200"})  # a terminal wide enough for whole cells
CENTRE = (300.0, 270.0)
GEOMETRY = Geometry(beam_x=CENTRE[0], beam_y=CENTRE[1], pixel_size_mm=0.172,
                    distance_mm=200.0, wavelength_a=1.0)


@pytest.fixture
def run_dir(tmp_path):
    counts = ring_pattern(RingPattern(shape=(600, 560), centre=CENTRE,
                                      ring_radii=(100.0, 180.0, 240.0)))
    write_cbf(tmp_path / "a_0001.cbf", counts, GEOMETRY)
    write_cbf(tmp_path / "a_0002.cbf.gz", counts, GEOMETRY)
    write_nexus(tmp_path / "b_master.h5", [counts, counts], GEOMETRY)
    (tmp_path / "broken_0003.cbf").write_bytes((tmp_path / "a_0001.cbf").read_bytes()[:900])
    return tmp_path


def parse(output):
    return json.loads(output[output.index("{"):])


def test_info_reports_every_file_and_fails_on_the_bad_one(run_dir):
    result = runner.invoke(app, ["info", str(run_dir), "--json"])
    assert result.exit_code == 1
    report = parse(result.stdout)
    by_name = {r["path"].split("/")[-1]: r for r in report["files"]}
    assert set(by_name) == {"a_0001.cbf", "a_0002.cbf.gz", "b_master.h5"}
    assert by_name["b_master.h5"]["frames"] == 2
    assert by_name["a_0001.cbf"]["shape"] == [600, 560]
    assert by_name["a_0001.cbf"]["beam_x"] == 300.0
    assert by_name["a_0001.cbf"]["header_fields"]["beam_x"].startswith("Beam_xy")
    assert by_name["a_0001.cbf"]["sweep"] == by_name["a_0002.cbf.gz"]["sweep"] == "a_#"
    assert by_name["b_master.h5"]["sweep"] == "b_master.h5"  # a multi-frame file alone
    assert [f["path"].split("/")[-1] for f in report["failures"]] == ["broken_0003.cbf"]
    assert "truncated" in report["failures"][0]["error"]


def test_center_json_compares_with_header(run_dir):
    result = runner.invoke(app, ["centre", str(run_dir / "a_0001.cbf"), "--method", "symmetry",
                                 "--json"])
    assert result.exit_code == 0, result.output
    row = parse(result.stdout)["centres"][0]
    assert row["method"] == "symmetry"
    assert abs(row["x"] - CENTRE[0]) < 1.5 and abs(row["y"] - CENTRE[1]) < 1.5
    assert row["header_x"] == 300.0 and row["offset_from_header"] < 1.5


def test_center_table_and_glob(run_dir):
    result = runner.invoke(app, ["centre", str(run_dir / "a_*.cbf*")])
    assert result.exit_code == 0, result.output
    assert "a_0001.cbf" in result.stdout and "a_0002.cbf.gz" in result.stdout
    assert "auto/header" in result.stdout


def test_center_rejects_unknown_method(run_dir):
    result = runner.invoke(app, ["centre", str(run_dir), "--method", "magic"])
    assert result.exit_code == 2


def test_convert_writes_pngs_and_carries_on(run_dir, tmp_path):
    out = tmp_path / "png"
    result = runner.invoke(app, ["convert", str(run_dir), "--out", str(out), "--size", "128"])
    assert result.exit_code == 1  # the broken file
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a_0001.png", "a_0002.png", "b_master_000000.png", "b_master_000001.png"]
    image = cv2.imread(str(out / "a_0001.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (128, 128) and image.dtype == np.uint8
    assert image[0, 0] > image[64, 68]  # edges weak (white), near the beam strong (darker)


def test_convert_reflex_code_variant(run_dir, tmp_path):
    out = tmp_path / "code"
    result = runner.invoke(app, ["convert", str(run_dir / "a_0001.cbf"), "--out", str(out),
                                 "--variant", "reflex-code"])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(out / "a_0001.png"), cv2.IMREAD_UNCHANGED).shape == (512, 512)


def test_center_says_how_far_the_image_puts_a_header_it_accepts(tmp_path):
    counts = ring_pattern(RingPattern(shape=(600, 560), centre=CENTRE,
                                      ring_radii=(100.0, 180.0, 240.0)))
    shifted = Geometry(beam_x=CENTRE[0] + 3, beam_y=CENTRE[1], pixel_size_mm=0.172,
                       distance_mm=200, wavelength_a=1.0)
    write_cbf(tmp_path / "off.cbf", counts, shifted)
    result = runner.invoke(app, ["center", str(tmp_path / "off.cbf"), "--json"])
    row = parse(result.stdout)["centres"][0]
    assert row["method"] == "auto/header" and row["x"] == pytest.approx(303, abs=0.01)
    assert 1.5 < row["offset_from_header"] < 4.5  # the image's own centre, 3 px away


def test_train_settings_merge_a_preset_with_what_is_given_zeros_included():
    from mxqc.learn.train import PRESETS, train_config

    config = train_config("smoke", lr=0.0, batch_size=None, dropout=0.0)
    assert config.lr == 0.0 and config.dropout == 0.0  # a zero is a value, not "not given"
    assert config.batch_size == PRESETS["smoke"]["batch_size"]  # None leaves the preset's
    assert train_config(None, sizes=(64, 128)).epochs == (12, 12)
    with pytest.raises(ValueError, match="preset must be one of"):
        train_config("fast")


@pytest.mark.parametrize("command,said", [
    ("model {tmp}/missing.safetensors", "or 'default' for the shipped model"),
    ("scan {tmp}/x.cbf --out {tmp}/o --model resnet18", "resnet18 is an architecture"),
    ("scan {tmp}/mistyped.cbf --out {tmp}/o", "no such file or folder"),
    ("train {tmp}/no-such-dir --out {tmp}/m.safetensors", "no-such-dir"),
])
def test_an_mxqc_error_from_any_command_is_one_line_and_exit_1(command, said, tmp_path):
    result = runner.invoke(app, command.format(tmp=tmp_path).split())
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.output.count("\n") <= 2
    assert said in result.output  # what was wrong, or what would be right


def test_workers_default_to_the_cores_this_process_may_use():
    import os

    import typer

    from mxqc.threads import available_cores

    assert available_cores() == len(os.sched_getaffinity(0)) >= 1
    commands = typer.main.get_command(app).commands
    for name in ("scan", "watch", "serve"):
        (workers,) = [p for p in commands[name].params if p.name == "workers"]
        assert workers.default is None and "the cores this process may use" in workers.help
