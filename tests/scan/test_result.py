"""One frame's result, the same in the journal, the tables, the database and the API."""

import csv
import json

import pytest
from pydantic import ValidationError

from mxqc.classes import CLASSES
from mxqc.result import COLUMNS, FrameResult, frame_view
from mxqc.scan.results import Journal, read_results, write_tables


def _result(**changes) -> FrameResult:
    values = {"file": "/d/xtal_0001.cbf", "frame": 3, "status": "ok", "n_anomalies": 1,
              "centre_x": 1231.5, "centre_y": 1263.25, "centre_method": "auto/header",
              "rings_ice_d_a": "3.90;3.67", "n_spots": 412, "resolution_a": 2.1,
              "heatmaps": [{"class": "ice_ring", "image": "images/x_ice_ring.jpg"}],
              "t_read_ms": float("nan")}
    for c in CLASSES:
        values |= {f"p_{c}": 0.9 if c == "ice_ring" else 0.1, c: int(c == "ice_ring"),
                   f"evidence_{c}": "ice rings at 3.90, 3.67 Å" if c == "ice_ring" else ""}
    return FrameResult(**values | changes)


def test_a_misspelt_or_mistyped_column_is_refused():
    with pytest.raises(ValidationError, match="p_ice"):
        _result(p_ice=0.5)
    with pytest.raises(ValidationError, match="n_spots"):
        _result(n_spots="many")
    with pytest.raises(ValidationError, match="status"):
        _result(status="fine")


def test_the_journal_and_the_tables_give_back_the_same_result(tmp_path):
    result = _result()
    journal = Journal(tmp_path)
    journal.append([result])
    (back,) = journal.rows()
    assert back.t_read_ms is None  # NaN is stored as null, never as invalid JSON
    assert back == result.replace(t_read_ms=None)
    write_tables(tmp_path, [back], metadata={"model": "m"})
    (from_parquet,), meta = read_results(tmp_path)
    assert from_parquet == back and meta == {"model": "m"}
    with open(tmp_path / "results.csv", newline="") as f:
        reader = csv.DictReader(f)
        (cells,) = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert json.loads(cells["heatmaps"]) == [{"class": "ice_ring",
                                              "image": "images/x_ice_ring.jpg"}]
    assert cells["rings_ice_d_a"] == "3.90;3.67" and cells["n_spots"] == "412"


def test_a_record_from_an_older_version_reads_with_new_columns_empty():
    old = {"file": "/d/a.cbf", "frame": 0, "status": "error", "error": None,
           "retired_column": 7, "heatmaps": "ice_ring=images/a.png"}
    result = FrameResult.from_record(old)
    assert result.error == "" and result.centre_frames is None
    assert [(h.class_name, h.image) for h in result.heatmaps] == [("ice_ring", "images/a.png")]


def test_the_api_view_groups_the_same_values():
    result = _result()
    view = frame_view(result)
    assert view["labels"] == ["ice_ring"] == result.labels
    assert view["probabilities"]["ice_ring"] == result["p_ice_ring"] == 0.9
    assert view["evidence"] == {"ice_ring": "ice rings at 3.90, 3.67 Å"}
    assert (view["centre"].x, view["spots"].n) == (1231.5, 412)
    assert view["ring_d_spacings_a"]["ice"] == "3.90;3.67"


def test_the_api_schema_is_generated_from_the_result_type():
    from mxqc.serve.schemas import Classification, WatchedFrameDetail

    detail = WatchedFrameDetail.model_json_schema()
    assert tuple(detail["$defs"]["FrameResult"]["properties"]) == COLUMNS
    assert set(Classification.model_fields) >= set(frame_view(_result()))
