"""Scan results on disk: an append-only JSON-lines journal while scanning (one line per
frame, flushed and fsynced per batch, so an interrupted scan keeps every finished frame),
and the tables made from it: ``results.csv``, ``results.parquet`` and ``errors.csv``,
each written to a temporary file and renamed into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mxqc.result import COLUMNS, FrameResult, Heatmap, column_kinds, heatmap_list
from mxqc.scan.sweeps import sweep_records, write_sweeps

JOURNAL = "results.jsonl"
__all__ = ["COLUMNS", "JOURNAL", "Journal", "heatmap_list", "is_scan", "read_results",
           "write_tables"]


def as_result(row) -> FrameResult:
    """``row`` as a ``FrameResult`` (a record, e.g. a dict from a table, is validated)."""
    return row if isinstance(row, FrameResult) else FrameResult.from_record(row)


def is_scan(path) -> bool:
    """Whether ``path`` is a scan's output directory (it holds a journal)."""
    return (Path(path) / JOURNAL).is_file()


class Journal:
    """The append-only record of finished frames in a scan directory."""

    def __init__(self, out_dir):
        self.path = Path(out_dir) / JOURNAL
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def rows(self) -> list[FrameResult]:
        """Every complete line (a line cut by a kill is ignored: that frame is redone);
        for a frame recorded twice, the last record."""
        if not self.path.is_file():
            return []
        latest = {}
        with open(self.path) as f:
            for line in f:
                try:
                    row = FrameResult.from_record(json.loads(line))
                except ValueError:  # a JSON or validation error
                    continue
                latest[row.key] = row
        return list(latest.values())

    def done(self) -> set[tuple[str, int]]:
        return {r.key for r in self.rows()}

    def append(self, rows) -> None:
        with open(self.path, "a") as f:
            f.write("".join(r.to_json() + "\n" for r in rows))
            f.flush()
            os.fsync(f.fileno())

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


def _atomic(path: Path, write) -> Path:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)
    return path


def arrow_schema(metadata: dict | None = None):
    """The tables' schema, from ``FrameResult``: heatmaps a list of {class, image}."""
    import pyarrow as pa

    arrow = {int: pa.int64(), float: pa.float64(), str: pa.string(),
             Heatmap: pa.list_(pa.struct([("class", pa.string()), ("image", pa.string())]))}
    return pa.schema([pa.field(c, arrow[kind]) for c, kind in column_kinds().items()],
                     metadata={"mxqc": json.dumps(metadata or {})})


def table(rows) -> dict[str, list]:
    """A pandas-free column table: dict of column → list, in ``COLUMNS`` order, sorted by
    file then frame."""
    records = [r.record() for r in sorted(map(as_result, rows), key=lambda r: r.key)]
    return {c: [r[c] for r in records] for c in COLUMNS}


def read_results(out_dir) -> tuple[list[FrameResult], dict]:
    """The results of ``out_dir/results.parquet`` and the metadata the scan wrote with them."""
    import pyarrow.parquet as pq

    found = pq.read_table(Path(out_dir) / "results.parquet")
    meta = json.loads((found.schema.metadata or {}).get(b"mxqc", b"{}"))
    return [FrameResult.from_record(r) for r in found.to_pylist()], meta


def write_tables(out_dir, rows, *, metadata: dict) -> dict[str, Path]:
    """``results.csv``, ``results.parquet`` (model metadata in the schema), ``errors.csv``
    and ``sweeps.csv``/``sweeps.parquet`` (what each sweep shows per class), one row per
    result of ``rows`` (``FrameResult``s or their records)."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    rows = [as_result(r) for r in rows]
    columns = table(rows)

    def write_csv(path, names, data):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows(zip(*(["" if v is None else v for v in data[n]] for n in names),
                                 strict=True))

    csv_columns = columns | {"heatmaps": [json.dumps(h) if h else "" for h in
                                          columns["heatmaps"]]}
    written = {
        "csv": _atomic(out / "results.csv", lambda p: write_csv(p, COLUMNS, csv_columns)),
        "parquet": _atomic(out / "results.parquet", lambda p: pq.write_table(
            pa.Table.from_pydict(columns, schema=arrow_schema(metadata)), p)),
    }
    errors = [r for r in rows if not r.ok]
    error_columns = {"file": [r.file for r in errors], "frame": [r.frame for r in errors],
                     "error": [r.error for r in errors]}
    written["errors"] = _atomic(out / "errors.csv", lambda p: write_csv(
        p, ("file", "frame", "error"), error_columns))
    sweeps = sweep_records(rows)
    written["sweeps"] = _atomic(out / "sweeps.csv", lambda p: write_sweeps(p, sweeps))
    written["sweeps parquet"] = _atomic(out / "sweeps.parquet", lambda p: pq.write_table(
        pa.Table.from_pylist(sweeps), p))
    return written
