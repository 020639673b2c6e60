"""Scan results on disk: an append-only JSON-lines journal while scanning (one line per
frame, flushed and fsynced per batch, so an interrupted scan keeps every finished frame),
and the tables made from it: ``results.csv``, ``results.parquet`` and ``errors.csv``,
each written to a temporary file and renamed into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mxqc.classes import CLASSES
from mxqc.scan.sweeps import sweep_records, write_sweeps
from mxqc.witness import SPOT_COLUMNS, feature_columns

JOURNAL = "results.jsonl"
_TIMINGS = ("t_read_ms", "t_normalise_ms", "t_centre_ms", "t_rings_ms", "t_witness_ms",
            "t_inference_ms", "t_heatmap_ms")
# the table's columns, in order; stable across versions (add, never rename)
COLUMNS = ("file", "frame", "status", "error", *(f"p_{c}" for c in CLASSES), *CLASSES,
           "n_anomalies", "centre_x", "centre_y", "centre_method", "centre_uncertainty_px",
           "header_beam_x", "header_beam_y", "distance_mm", "wavelength_a",
           "rings_ice_d_a", "rings_water_d_a", "rings_low_resolution_d_a", "rings",
           *(f"evidence_{c}" for c in CLASSES), *_TIMINGS, "thumbnail", "heatmaps",
           "model", "model_version", *(f"p_cnn_{c}" for c in CLASSES), *SPOT_COLUMNS,
           *feature_columns(), "warnings", "centre_frames")
_INTEGER = {"frame", "n_anomalies", *CLASSES, "n_spots", "hot_pixels", "centre_frames"}
_FLOAT = {*(f"p_{c}" for c in CLASSES), *(f"p_cnn_{c}" for c in CLASSES), "centre_x",
          "centre_y", "centre_uncertainty_px", "header_beam_x", "header_beam_y", "distance_mm",
          "wavelength_a", *_TIMINGS, "resolution_a", "spot_i_sigma", "background_counts",
          *feature_columns()}


def heatmap_list(value) -> list[dict]:
    """A row's heatmaps as [{"class": …, "image": …}, …] (relative image paths); rows
    journalled before they were a list held "class=image;…"."""
    if not value:
        return []
    if isinstance(value, str):
        return [{"class": k, "image": v} for k, v in
                (item.split("=", 1) for item in value.split(";") if "=" in item)]
    return list(value)


class Journal:
    """The append-only record of finished frames in a scan directory."""

    def __init__(self, out_dir):
        self.path = Path(out_dir) / JOURNAL
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def rows(self) -> list[dict]:
        """Every complete line (a line cut by a kill is ignored: that frame is redone);
        for a frame recorded twice, the last record."""
        if not self.path.is_file():
            return []
        latest = {}
        with open(self.path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                latest[(row["file"], row["frame"])] = row
        return list(latest.values())

    def done(self) -> set[tuple[str, int]]:
        return {(r["file"], r["frame"]) for r in self.rows()}

    def append(self, rows) -> None:
        with open(self.path, "a") as f:
            f.write("".join(json.dumps(_jsonable(r)) + "\n" for r in rows))
            f.flush()
            os.fsync(f.fileno())

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


def _jsonable(row: dict) -> dict:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}


def _atomic(path: Path, write) -> Path:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)
    return path


def table(rows):
    """A pandas-free column table: dict of column → list, in ``COLUMNS`` order, sorted by
    file then frame."""
    rows = sorted(rows, key=lambda r: (r["file"], r["frame"]))
    return {c: [r.get(c) for r in rows] for c in COLUMNS}


def write_tables(out_dir, rows, *, metadata: dict) -> dict[str, Path]:
    """``results.csv``, ``results.parquet`` (model metadata in the schema), ``errors.csv``
    and ``sweeps.csv``/``sweeps.parquet`` (what each sweep shows per class)."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    rows = [r | {"heatmaps": heatmap_list(r.get("heatmaps"))} for r in rows]
    columns = table(rows)
    heatmap_type = pa.list_(pa.struct([("class", pa.string()), ("image", pa.string())]))

    def write_csv(path, names, data):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows(zip(*(["" if v is None else v for v in data[n]] for n in names),
                                 strict=True))

    fields = [pa.field(c, heatmap_type if c == "heatmaps" else pa.int64() if c in _INTEGER
                       else pa.float64() if c in _FLOAT else pa.string()) for c in COLUMNS]
    schema = pa.schema(fields, metadata={"mxqc": json.dumps(metadata)})
    arrays = {c: [None if v == "" and c in (_INTEGER | _FLOAT) else v for v in columns[c]]
              for c in COLUMNS}
    written = {
        "csv": _atomic(out / "results.csv", lambda p: write_csv(
            p, COLUMNS, columns | {"heatmaps": [json.dumps(h) if h else ""
                                                for h in columns["heatmaps"]]})),
        "parquet": _atomic(out / "results.parquet", lambda p: pq.write_table(
            pa.Table.from_pydict(arrays, schema=schema), p)),
    }
    errors = [r for r in rows if r["status"] == "error"]
    error_columns = {"file": [r["file"] for r in errors], "frame": [r["frame"] for r in errors],
                     "error": [r["error"] for r in errors]}
    written["errors"] = _atomic(out / "errors.csv", lambda p: write_csv(
        p, ("file", "frame", "error"), error_columns))
    sweeps = sweep_records(rows)
    written["sweeps"] = _atomic(out / "sweeps.csv", lambda p: write_sweeps(p, sweeps))
    written["sweeps parquet"] = _atomic(out / "sweeps.parquet", lambda p: pq.write_table(
        pa.Table.from_pylist(sweeps), p))
    return written
