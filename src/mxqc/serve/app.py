"""``mxqc serve``: a FastAPI application over the scan pipeline and the watch database.

The model loads once per guarded inference worker process; requests wait on them
asynchronously, so the server keeps answering while frames are classified, and a frame
that crashes or hangs a reader costs its own request only. Uploads are
checked by content (the readers' magic bytes), not by file name; clients never name
server-side paths (images are addressed by generated ids).
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import secrets
import shutil
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from sqlalchemy import select

from mxqc.classes import CLASSES
from mxqc.errors import FrameReadError
from mxqc.guard import Done, Failure, GuardedPool, Limits
from mxqc.io.registry import detect_reader
from mxqc.scan.analyse import ScanOptions, analyse_units, model_for
from mxqc.scan.sweeps import group_sweeps

DEFAULT_MAX_UPLOAD = 128 * 1024 * 1024  # an Eiger 16M frame as 32-bit integers is 72 MB
SWEEP_FRAMES = 20_000  # a dataset's sweeps are read from its latest frames, at most these
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ServeSettings:
    model_path: str | None = None
    db_url: str | None = None  # the watch database; None: no /v1/frames data
    api_key: str | None = None  # required as X-API-Key on /v1 when set
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    timeout_s: float = 120.0
    workers: int = 1
    data_dir: str | None = None  # uploaded frames' images; default: a temporary folder


def _name_by_compression(path: Path) -> Path:
    """The readers decompress by suffix: give a gzip or bzip2 upload the matching one, found
    from its magic bytes; everything else is recognised by content alone."""
    with open(path, "rb") as f:
        head = f.read(3)
    suffix = ".gz" if head[:2] == b"\x1f\x8b" else ".bz2" if head == b"BZh" else None
    return path.rename(path.with_suffix(path.suffix + suffix)) if suffix else path


def _warm(batch, *, started, options: ScanOptions) -> str:
    started(0)
    return model_for(options).name


class Inference:
    """``n`` guarded inference workers (:mod:`mxqc.guard`); a request borrows one, so a
    frame that crashes or hangs its reader costs that request only."""

    def __init__(self, n: int, timeout_s: float):
        self._free: queue.Queue[GuardedPool] = queue.Queue()
        for _ in range(max(n, 1)):
            self._free.put(GuardedPool(1, Limits(seconds=timeout_s)))

    def run(self, fn, unit) -> Done | Failure:
        """``fn([unit])`` in a free worker (blocking: call it in a thread)."""
        pool = self._free.get()
        try:
            return next(iter(pool.map(fn, [[unit]])))
        finally:
            self._free.put(pool)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get().close()


class Metrics:
    """Prometheus counters and a latency histogram in the app's own registry."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.frames = Counter("mxqc_frames_classified", "Frames classified", registry=self.registry)
        self.errors = Counter("mxqc_request_errors", "Requests answered with an error",
                              ["status"], registry=self.registry)
        self.latency = Histogram("mxqc_classify_seconds", "Upload to answer",
                                 buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
                                 registry=self.registry)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    settings = settings or ServeSettings()
    state = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        data_dir = Path(settings.data_dir or tempfile.mkdtemp(prefix="mxqc-serve-"))
        data_dir.mkdir(parents=True, exist_ok=True)
        pool = Inference(settings.workers, settings.timeout_s)
        # one uploaded frame: its heatmaps are the point, never sampled away
        options = ScanOptions(model_path=settings.model_path, heatmap_every=1)
        model = model_for(options)  # metadata for the API; the workers load their own
        await asyncio.gather(*(asyncio.to_thread(pool.run, partial(_warm, options=options),
                                                 None) for _ in range(settings.workers)))
        engine = None
        if settings.db_url:
            from mxqc.watch.db import connect

            engine = connect(settings.db_url)
        state.update(pool=pool, options=options, data_dir=data_dir, engine=engine,
                     model={"name": model.name,
                            "version": model.metadata.get("mxqc_version", ""),
                            "representation": model.representation,
                            "thresholds": model.thresholds.tolist()})
        yield
        pool.close()
        if not settings.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    app = FastAPI(title="mxqc", version=_version(), lifespan=lifespan,
                  description="Anomalies in macromolecular X-ray diffraction frames.")
    metrics = Metrics()
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def require_key(key: str | None = Depends(key_header)):
        if settings.api_key and not (key and secrets.compare_digest(key, settings.api_key)):
            raise HTTPException(401, "missing or wrong X-API-Key")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        metrics.errors.labels(status=str(exc.status_code)).inc()
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        metrics.errors.labels(status="500").inc()
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "model": state.get("model", {}).get("name")}

    @app.get("/metrics")
    def prometheus():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    def page():
        return (Path(__file__).with_name("index.html")).read_text()

    @app.get("/v1/model", dependencies=[Depends(require_key)])
    def model_info():
        return state["model"] | {"classes": list(CLASSES)}

    @app.post("/v1/classify", dependencies=[Depends(require_key)],
              max_body_size=settings.max_upload_bytes)
    async def classify(file: Annotated[UploadFile, File(description="One raw detector frame")],
                       frame: Annotated[int, Query(ge=0, le=100_000)] = 0):
        """Classify one uploaded frame: probabilities, labels, centre, rings, heatmaps."""
        started = time.perf_counter()
        upload_id = uuid.uuid4().hex
        folder = state["data_dir"] / upload_id
        folder.mkdir()
        try:
            row = await _receive_and_classify(file, frame, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # a failed upload leaves nothing
            raise
        finally:
            for leftover in folder.glob("upload.*"):  # keep only the images
                leftover.unlink(missing_ok=True)
        metrics.frames.inc()
        metrics.latency.observe(time.perf_counter() - started)
        return _frame_json(row, upload_id)

    async def _receive_and_classify(file: UploadFile, frame: int, folder: Path) -> dict:
        path = folder / "upload.bin"  # the client's file name is never used
        size = 0
        with open(path, "wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise HTTPException(413, f"upload larger than {settings.max_upload_bytes} "
                                             "bytes")
                out.write(chunk)
        if size == 0:
            raise HTTPException(400, "empty upload")
        path = _name_by_compression(path)
        try:
            detect_reader(str(path))
        except FrameReadError as exc:
            raise HTTPException(415, f"not a detector frame: {exc.reason}") from None
        options = replace(state["options"], images_dir=str(folder / "images"))
        event = await asyncio.to_thread(state["pool"].run,
                                        partial(analyse_units, options=options),
                                        (str(path), frame))
        if isinstance(event, Failure):
            raise HTTPException(504 if event.timed_out else 422,
                                f"{event.reason} while reading or analysing this frame")
        row = event.result[0]
        if row["status"] != "ok":
            raise HTTPException(422, row["error"])
        return row

    @app.get("/v1/images/{upload_id}/{name}", dependencies=[Depends(require_key)])
    def image(upload_id: str, name: str):
        if not (_SAFE_NAME.match(upload_id) and _SAFE_NAME.match(name)):
            raise HTTPException(404, "no such image")
        path = state["data_dir"] / upload_id / "images" / name
        if not path.is_file():
            raise HTTPException(404, "no such image")
        return FileResponse(path, media_type="image/jpeg" if name.endswith(".jpg")
                            else "image/png")

    def engine():
        if state.get("engine") is None:
            raise HTTPException(404, "no watch database (start with --watch or --db)")
        return state["engine"]

    @app.get("/v1/datasets", dependencies=[Depends(require_key)])
    def datasets():
        from mxqc.watch import db

        with engine().connect() as conn:
            rows = conn.execute(select(db.datasets)).all()
            return [{"id": r.id, "path": r.path, **db.class_rates(conn, r.id),
                     "files": db.count(conn, db.files, db.files.c.dataset_id == r.id),
                     "errors": db.count(conn, db.frames, db.frames.c.dataset_id == r.id,
                                        db.frames.c.status == "error")} for r in rows]

    @app.get("/v1/datasets/{dataset_id}", dependencies=[Depends(require_key)])
    def dataset(dataset_id: int, window: int = Query(100, ge=1, le=100_000)):
        from mxqc.watch import db

        with engine().connect() as conn:
            found = conn.execute(select(db.datasets).where(db.datasets.c.id == dataset_id)).first()
            if found is None:
                raise HTTPException(404, f"no dataset {dataset_id}")
            alerts = conn.execute(select(db.alerts).where(db.alerts.c.dataset_id == dataset_id)
                                  .order_by(db.alerts.c.id.desc()).limit(20)).all()
            latest = db.latest_rows(conn, dataset_id, SWEEP_FRAMES)
            return {"id": found.id, "path": found.path,
                    "all": db.class_rates(conn, dataset_id),
                    "recent": db.class_rates(conn, dataset_id, window),
                    "sweeps": [_sweep_json(s) for s in group_sweeps(latest)],
                    "alerts": [{"class": a.class_name, "rate": a.rate, "message": a.message,
                                "sweep": a.sweep, "created": a.created} for a in alerts]}

    @app.get("/v1/frames", dependencies=[Depends(require_key)])
    def frames(dataset_id: int | None = None, flagged: str | None = Query(
            None, description="only frames with this class"),
            limit: int = Query(100, ge=1, le=5000), offset: int = Query(0, ge=0)):
        from mxqc.watch import db

        if flagged is not None and flagged not in CLASSES:
            raise HTTPException(400, f"flagged must be one of {list(CLASSES)}")
        query = select(db.frames).order_by(db.frames.c.id.desc()).limit(limit).offset(offset)
        if dataset_id is not None:
            query = query.where(db.frames.c.dataset_id == dataset_id)
        if flagged:
            query = query.where(db.frames.c[flagged] == 1)
        with engine().connect() as conn:
            return [_db_frame(r) for r in conn.execute(query)]

    @app.get("/v1/frames/{frame_id}", dependencies=[Depends(require_key)])
    def frame_by_id(frame_id: int):
        from mxqc.watch import db

        with engine().connect() as conn:
            found = conn.execute(select(db.frames).where(db.frames.c.id == frame_id)).first()
        if found is None:
            raise HTTPException(404, f"no frame {frame_id}")
        return _db_frame(found) | {"row": json.loads(found._mapping["row"])}

    return app


def _version() -> str:
    from mxqc import __version__

    return __version__


def _frame_json(row: dict, upload_id: str) -> dict:
    def url(relative):
        return f"/v1/images/{upload_id}/{Path(relative).name}" if relative else None

    heatmaps = {}
    for item in (row.get("heatmaps") or "").split(";"):
        if "=" in item:
            name, relative = item.split("=", 1)
            heatmaps[name] = url(relative)
    return {
        "id": upload_id, "model": row["model"], "model_version": row["model_version"],
        "probabilities": {c: row[f"p_{c}"] for c in CLASSES},
        "labels": [c for c in CLASSES if row[c]],
        "cnn_probabilities": {c: row.get(f"p_cnn_{c}", row[f"p_{c}"]) for c in CLASSES},
        "evidence": _evidence(row),
        "spots": {"n": row.get("n_spots"), "resolution_a": row.get("resolution_a"),
                  "median_i_sigma": row.get("spot_i_sigma"),
                  "background_counts_per_px": row.get("background_counts")},
        "centre": {"x": row["centre_x"], "y": row["centre_y"], "method": row["centre_method"],
                   "uncertainty_px": row["centre_uncertainty_px"]},
        "rings": row.get("rings", ""),
        "ring_d_spacings_a": {k: row.get(f"rings_{k}_d_a", "") for k in
                              ("ice", "water", "low_resolution")},
        "image_url": url(row.get("thumbnail")), "heatmap_urls": heatmaps,
        "timings_ms": {k[2:-3]: round(float(v), 1) for k, v in row.items()
                       if k.startswith("t_") and v is not None},
    }


def _db_frame(record) -> dict:
    r = record._mapping
    row = json.loads(r["row"])
    return {"id": r["id"], "dataset_id": r["dataset_id"], "file_id": r["file_id"],
            "frame": r["frame"], "status": r["status"], "error": r["error"],
            "probabilities": {c: r[f"p_{c}"] for c in CLASSES},
            "labels": [c for c in CLASSES if r[c]],
            "centre": {"x": r["centre_x"], "y": r["centre_y"], "method": r["centre_method"]},
            "rings": r["rings"], "model": r["model"], "created": r["created"],
            "file": row.get("file"), "evidence": _evidence(row)}


def _sweep_json(sweep) -> dict:
    """A sweep's verdict (``mxqc.scan.sweeps``) as the API gives it."""
    return {"sweep": sweep.label, "frames": sweep.frames, "first": sweep.first,
            "last": sweep.last,
            "classes": {c: {"shows": k.call, "p_sweep": round(k.p_sweep, 4),
                            "held": k.held, "flagged": k.flagged, "frames": k.ranges,
                            "evidence": k.evidence}
                        for c, k in sweep.classes.items() if k.call or k.flagged}}


def _evidence(row: dict) -> dict[str, str]:
    """What the witnesses measured, per class, where they measured something."""
    return {c: row[f"evidence_{c}"] for c in CLASSES if row.get(f"evidence_{c}")}


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")

