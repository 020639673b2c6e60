"""``POST /v1/classify`` (one uploaded frame through the scan pipeline) and
``GET /v1/images/{id}/{name}`` (its image and heatmaps). Uploads are checked by content
(the readers' magic bytes), never by name; clients never name server-side paths."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse

from mxqc.errors import FrameReadError
from mxqc.guard import Failure
from mxqc.io import detect_reader
from mxqc.result import FrameResult, frame_view
from mxqc.scan.analyse import analyse_units
from mxqc.serve.deps import State, require_key
from mxqc.serve.schemas import Classification
from mxqc.serve.service import Service

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
Upload = Annotated[UploadFile, File(description="One raw detector frame")]
FrameIndex = Annotated[int, Query(ge=0, le=100_000)]


def router(max_upload_bytes: int) -> APIRouter:
    """The routes, with the upload limit the server was started with."""
    routes = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])
    routes.add_api_route("/classify", classify, methods=["POST"],
                         response_model=Classification, max_body_size=max_upload_bytes)
    routes.add_api_route("/images/{upload_id}/{name}", image, methods=["GET"])
    return routes


async def classify(file: Upload, state: State, frame: FrameIndex = 0) -> dict:
    """Classify one uploaded frame: probabilities, labels, centre, rings, heatmaps."""
    started = time.perf_counter()
    upload_id = uuid.uuid4().hex
    folder = state.data_dir / upload_id
    folder.mkdir()
    try:
        row = await _classify_upload(state, file, frame, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a failed upload leaves nothing
        raise
    finally:
        for leftover in folder.glob("upload.*"):  # keep only the images
            leftover.unlink(missing_ok=True)
    state.metrics.frames.inc()
    state.metrics.latency.observe(time.perf_counter() - started)
    return frame_json(row, upload_id)


async def _classify_upload(state: Service, file: UploadFile, frame: int, folder: Path
                           ) -> FrameResult:
    path = await _receive(file, folder / "upload.bin", state.settings.max_upload_bytes)
    try:
        detect_reader(str(path))
    except FrameReadError as exc:
        raise HTTPException(415, f"not a detector frame: {exc.reason}") from None
    options = replace(state.options, images_dir=str(folder / "images"))
    event = await asyncio.to_thread(state.pool.run, partial(analyse_units, options=options),
                                    (str(path), frame))
    if isinstance(event, Failure):
        raise HTTPException(504 if event.timed_out else 422,
                            f"{event.reason} while reading or analysing this frame")
    row = event.result[0]
    if not row.ok:
        raise HTTPException(422, row.error)
    return row


async def _receive(file: UploadFile, path: Path, limit: int) -> Path:
    """Write the upload to ``path`` (the client's file name is never used), named by its
    compression so that the readers decompress it."""
    size = 0
    with open(path, "wb") as out:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"upload larger than {limit} bytes")
            out.write(chunk)
    if size == 0:
        raise HTTPException(400, "empty upload")
    return _name_by_compression(path)


def _name_by_compression(path: Path) -> Path:
    """The readers decompress by suffix: give a gzip or bzip2 upload the matching one, found
    from its magic bytes; everything else is recognised by content alone."""
    with open(path, "rb") as f:
        head = f.read(3)
    suffix = ".gz" if head[:2] == b"\x1f\x8b" else ".bz2" if head == b"BZh" else None
    return path.rename(path.with_suffix(path.suffix + suffix)) if suffix else path


def image(upload_id: str, name: str, state: State):
    if not (_SAFE_NAME.match(upload_id) and _SAFE_NAME.match(name)):
        raise HTTPException(404, "no such image")
    path = state.data_dir / upload_id / "images" / name
    if not path.is_file():
        raise HTTPException(404, "no such image")
    return FileResponse(path, media_type="image/jpeg" if name.endswith(".jpg") else "image/png")


def frame_json(row: FrameResult, upload_id: str) -> dict:
    """A frame's result as the classify answer (``schemas.Classification``)."""
    def url(relative):
        return f"/v1/images/{upload_id}/{Path(relative).name}" if relative else None

    return frame_view(row) | {
        "id": upload_id, "image_url": url(row.thumbnail),
        "heatmap_urls": {h.class_name: url(h.image) for h in row.heatmaps}}
