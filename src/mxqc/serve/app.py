"""``mxqc serve``: a FastAPI application over the scan pipeline and the watch database.

The model loads once per guarded inference worker process; requests wait on them
asynchronously, so the server keeps answering while frames are classified, and a frame
that crashes or hangs a reader costs its own request only. The routes live in routers
(``classify``, ``watched`` and the small ones here); the state they share is one typed
``Service`` (``service.py``) reached through dependencies (``deps.py``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mxqc.classes import CLASSES
from mxqc.scan.analyse import ScanOptions, model_for
from mxqc.serve import classify, watched
from mxqc.serve.deps import State, require_key
from mxqc.serve.schemas import Health, ModelInfo
from mxqc.serve.service import Inference, ServeSettings, Service, warm

basics = APIRouter()


@basics.get("/healthz", response_model=Health)
def healthz(state: State):
    return {"status": "ok", "model": state.model.get("name")}


@basics.get("/metrics")
def prometheus(state: State):
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@basics.get("/", response_class=HTMLResponse)
def page():
    return (Path(__file__).with_name("index.html")).read_text()


@basics.get("/v1/model", response_model=ModelInfo, dependencies=[Depends(require_key)])
def model_info(state: State):
    return state.model | {"classes": list(CLASSES)}


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Start the inference workers (model loaded in each), the upload folder and the watch
    database; stop and clean up at shutdown."""
    state: Service = app.state.service
    settings = state.settings
    state.data_dir = Path(settings.data_dir or tempfile.mkdtemp(prefix="mxqc-serve-"))
    state.data_dir.mkdir(parents=True, exist_ok=True)
    state.pool = Inference(settings.workers, settings.timeout_s)
    # one uploaded frame: its heatmaps are the point, never sampled away
    state.options = ScanOptions(model_path=settings.model_path, heatmap_every=1)
    model = model_for(state.options)  # metadata for the API; the workers load their own
    await asyncio.gather(*(asyncio.to_thread(state.pool.run,
                                             partial(warm, options=state.options), None)
                           for _ in range(settings.workers)))
    if settings.db_url:
        from mxqc.watch.db import connect

        state.engine = connect(settings.db_url)
    state.model = {"name": model.name, "version": model.metadata["mxqc_version"],
                   "representation": model.representation,
                   "thresholds": model.thresholds.tolist()}
    yield
    state.pool.close()
    if not settings.data_dir:
        shutil.rmtree(state.data_dir, ignore_errors=True)


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The application: its routers, its typed state and errors as JSON."""
    from mxqc import __version__

    settings = settings or ServeSettings()
    app = FastAPI(title="mxqc", version=__version__, lifespan=lifespan,
                  description="Anomalies in macromolecular X-ray diffraction frames.")
    app.state.service = Service(settings)
    for routes in (basics, classify.router(settings.max_upload_bytes), watched.router):
        app.include_router(routes)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _http_error(request: Request, exc: HTTPException):
    request.app.state.service.metrics.errors.labels(status=str(exc.status_code)).inc()
    return _error(exc.status_code, str(exc.detail))


async def _internal_error(request: Request, exc: Exception):
    request.app.state.service.metrics.errors.labels(status="500").inc()
    return _error(500, f"internal error: {type(exc).__name__}")


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")
