"""What the watcher recorded: ``/v1/datasets`` (per-class rates), ``/v1/datasets/{id}``
(rates, sweeps' verdicts and alerts) and ``/v1/frames`` (frames, filtered)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from mxqc.classes import CLASSES
from mxqc.result import frame_view
from mxqc.scan.sweeps import group_sweeps
from mxqc.serve.deps import WatchDatabase, require_key
from mxqc.serve.schemas import DatasetRow, DatasetSummary, WatchedFrame, WatchedFrameDetail
from mxqc.watch import db

SWEEP_FRAMES = 20_000  # a dataset's sweeps are read from its latest frames, at most these

router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])


@router.get("/datasets", response_model=list[DatasetRow])
def datasets(engine: WatchDatabase):
    with engine.connect() as conn:
        return [{"id": r.id, "path": r.path, **db.class_rates(conn, r.id),
                 "files": db.count(conn, db.files, db.files.c.dataset_id == r.id),
                 "errors": db.count(conn, db.frames, db.frames.c.dataset_id == r.id,
                                    db.frames.c.status == "error")}
                for r in conn.execute(select(db.datasets)).all()]


@router.get("/datasets/{dataset_id}", response_model=DatasetSummary)
def dataset(dataset_id: int, engine: WatchDatabase,
            window: Annotated[int, Query(ge=1, le=100_000)] = 100):
    with engine.connect() as conn:
        found = conn.execute(select(db.datasets).where(db.datasets.c.id == dataset_id)).first()
        if found is None:
            raise HTTPException(404, f"no dataset {dataset_id}")
        alerts = conn.execute(select(db.alerts).where(db.alerts.c.dataset_id == dataset_id)
                              .order_by(db.alerts.c.id.desc()).limit(20)).all()
        latest = db.latest_rows(conn, dataset_id, SWEEP_FRAMES)
        return {"id": found.id, "path": found.path,
                "all": db.class_rates(conn, dataset_id),
                "recent": db.class_rates(conn, dataset_id, window),
                "sweeps": [sweep_json(s) for s in group_sweeps(latest)],
                "alerts": [{"class": a.class_name, "rate": a.rate, "message": a.message,
                            "sweep": a.sweep, "created": a.created} for a in alerts]}


@router.get("/frames", response_model=list[WatchedFrame])
def frames(engine: WatchDatabase, dataset_id: int | None = None,
           flagged: Annotated[str | None, Query(description="only frames with this class")
                              ] = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 100,
           offset: Annotated[int, Query(ge=0)] = 0):
    if flagged is not None and flagged not in CLASSES:
        raise HTTPException(400, f"flagged must be one of {list(CLASSES)}")
    query = select(db.frames).order_by(db.frames.c.id.desc()).limit(limit).offset(offset)
    if dataset_id is not None:
        query = query.where(db.frames.c.dataset_id == dataset_id)
    if flagged:
        query = query.where(db.frames.c[flagged] == 1)
    with engine.connect() as conn:
        return [db_frame(r) for r in conn.execute(query)]


@router.get("/frames/{frame_id}", response_model=WatchedFrameDetail)
def frame_by_id(frame_id: int, engine: WatchDatabase):
    with engine.connect() as conn:
        found = conn.execute(select(db.frames).where(db.frames.c.id == frame_id)).first()
    if found is None:
        raise HTTPException(404, f"no frame {frame_id}")
    return db_frame(found) | {"row": db.stored_result(found._mapping["row"])}


def db_frame(record) -> dict:
    """A frame of the watch database as the API gives it (``schemas.WatchedFrame``)."""
    r = record._mapping
    return frame_view(db.stored_result(r["row"])) | {
        "id": r["id"], "dataset_id": r["dataset_id"], "file_id": r["file_id"],
        "created": r["created"]}


def sweep_json(sweep) -> dict:
    """A sweep's verdict (``mxqc.scan.sweeps``) as the API gives it (``schemas.Sweep``)."""
    return {"sweep": sweep.label, "frames": sweep.frames, "first": sweep.first,
            "last": sweep.last,
            "classes": {c: {"shows": k.call, "p_sweep": round(k.p_sweep, 4),
                            "held": k.held, "flagged": k.flagged, "frames": k.ranges,
                            "evidence": k.evidence}
                        for c, k in sweep.classes.items() if k.call or k.flagged}}
