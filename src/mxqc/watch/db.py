"""The watch database (SQLAlchemy Core): files seen, frames classified, alerts.

SQLite in WAL mode by default; any SQLAlchemy URL (e.g. PostgreSQL) works. Each frame's
row is unique on (file, frame) and is inserted in the same transaction that marks its file
done, so a watcher killed at any moment and restarted records every frame exactly once.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine

from mxqc.classes import CLASSES
from mxqc.result import FrameResult

metadata = MetaData()
datasets = Table(
    "datasets", metadata,
    Column("id", Integer, primary_key=True),
    Column("path", String(4096), unique=True, nullable=False),
    Column("first_seen", Float, nullable=False))
files = Table(
    "files", metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id"), nullable=False),
    Column("path", String(4096), unique=True, nullable=False),
    Column("size", Integer), Column("mtime", Float),
    Column("status", String(16), nullable=False),  # pending | done | error
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text), Column("updated", Float))
frames = Table(
    "frames", metadata,
    Column("id", Integer, primary_key=True),
    Column("file_id", ForeignKey("files.id"), nullable=False),
    Column("dataset_id", ForeignKey("datasets.id"), nullable=False),
    Column("frame", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    *(Column(f"p_{c}", Float) for c in CLASSES),
    *(Column(c, Integer) for c in CLASSES),
    Column("centre_x", Float), Column("centre_y", Float), Column("centre_method", String(64)),
    Column("rings", Text), Column("model", String(256)), Column("created", Float),
    Column("row", Text),  # the scan row as JSON (every column, for the API)
    UniqueConstraint("file_id", "frame"))
alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id"), nullable=False),
    Column("class_name", String(64), nullable=False),
    Column("rate", Float), Column("window", Integer), Column("message", Text),
    Column("created", Float),
    Column("sweep", String(4096)))  # the sweep a sweep alert is about; None: a rate alert


def default_database() -> str:
    """The watch database when none is named: ``watch.sqlite`` in the user's data folder
    (XDG), never the directory a command happens to run in."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = base / "mxqc"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "watch.sqlite")


def connect(url: str) -> Engine:
    """An engine for ``url`` (a path means SQLite there), tables created if missing."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table since a database was made (``create_all`` makes only
    missing tables): added as nullable columns, so an older database keeps working."""
    found = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in found.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(engine.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" '
                                      f"{kind}"))


def dataset_id(conn, path: str) -> int:
    found = conn.execute(select(datasets.c.id).where(datasets.c.path == path)).scalar()
    if found is not None:
        return found
    return conn.execute(datasets.insert().values(path=path, first_seen=time.time())
                        ).inserted_primary_key[0]


def frame_values(row: FrameResult, file_id: int, dataset: int) -> dict:
    """The database row of a frame's result: the columns queries filter and count on, and
    the whole result as JSON."""
    values = {"file_id": file_id, "dataset_id": dataset, "frame": max(row.frame, 0),
              "status": row.status, "error": row.error or None,
              "centre_x": row.centre_x, "centre_y": row.centre_y,
              "centre_method": row.centre_method, "rings": row.rings,
              "model": row.model, "created": time.time(), "row": row.to_json()}
    for c in CLASSES:
        values[f"p_{c}"] = row[f"p_{c}"]
        values[c] = row[c]
    return values


def stored_result(value: str) -> FrameResult:
    """A frame's result from its ``row`` column (JSON, possibly from an older version)."""
    return FrameResult.from_record(json.loads(value))


def insert_frames_ignoring_duplicates(conn, values: list[dict]) -> None:
    """Insert frame rows; a (file, frame) already present is left as it is."""
    if not values:
        return
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # other databases: check first (the unique constraint still guards)
        for v in values:
            exists = conn.execute(select(frames.c.id).where(
                (frames.c.file_id == v["file_id"]) & (frames.c.frame == v["frame"]))).scalar()
            if exists is None:
                conn.execute(frames.insert().values(**v))
        return
    conn.execute(insert(frames).on_conflict_do_nothing(
        index_elements=["file_id", "frame"]), values)


def class_rates(conn, dataset: int, window: int | None = None) -> dict:
    """Per-class rate among the dataset's last ``window`` analysed frames (all if None)."""
    query = (select(*(frames.c[c] for c in CLASSES))
             .where((frames.c.dataset_id == dataset) & (frames.c.status == "ok"))
             .order_by(frames.c.id.desc()))
    if window:
        query = query.limit(window)
    rows = conn.execute(query).all()
    n = len(rows)
    return {"frames": n, **{c: (sum(r[i] or 0 for r in rows) / n if n else 0.0)
                            for i, c in enumerate(CLASSES)}}


def latest_rows(conn, dataset: int, limit: int) -> list[FrameResult]:
    """The results of the dataset's last ``limit`` frames recorded."""
    query = (select(frames.c.row).where(frames.c.dataset_id == dataset)
             .order_by(frames.c.id.desc()).limit(limit))
    return [stored_result(row) for row in conn.execute(query).scalars()]


def count(conn, table, *where) -> int:
    query = select(func.count()).select_from(table)
    for w in where:
        query = query.where(w)
    return conn.execute(query).scalar()
