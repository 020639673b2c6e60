"""``mxqc watch`` and ``mxqc serve``: drivers over ``mxqc.watch`` and ``mxqc.serve``."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from mxqc.cli.common import add
from mxqc.console import console, err_console
from mxqc.threads import available_cores

Database = Annotated[str | None, typer.Option(
    help="SQLite file or SQLAlchemy URL (postgresql+psycopg://user@host/db; pip install "
         "'mxqc[postgres]'). Default: watch.sqlite in the user's data folder "
         "($XDG_DATA_HOME/mxqc or ~/.local/share/mxqc).")]
Model = Annotated[str | None, typer.Option(help="Model file (default: the shipped model).")]
Workers = Annotated[int | None, typer.Option(
    help="Worker processes [default: the cores this process may use].", min=1)]
ApiKey = Annotated[str | None, typer.Option(
    envvar="MXQC_API_KEY", help="Require this X-API-Key on /v1 (env MXQC_API_KEY).")]


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mxqc").setLevel(logging.INFO)


def watch(dirs: Annotated[list[str], typer.Argument(help="Directories to follow.")],
          db: Database = None, model: Model = None,
          settle: Annotated[float, typer.Option(
              help="Seconds a file must stay unchanged before it is read.")] = 1.0,
          rescan: Annotated[float, typer.Option(help="Rescan period in seconds.")] = 5.0,
          until_idle: Annotated[bool, typer.Option(
              help="Process the backlog and stop when nothing new arrives.")] = False,
          workers: Workers = None,
          verbose: Annotated[bool, typer.Option(help="Log every file.")] = True):
    """Classify each new frame written into DIRS once, into a database (restart-safe)."""
    from mxqc.learn import load_model
    from mxqc.scan.options import ScanOptions
    from mxqc.watch import Watcher, WatchOptions, connect
    from mxqc.watch.db import default_database

    _logging(verbose)
    load_model(model)  # a bad model is one line before anything starts
    engine = connect(db or default_database())
    watcher = Watcher(dirs, engine, scan_options=ScanOptions(model_path=model, heatmaps=False),
                      options=WatchOptions(settle_s=settle, rescan_s=rescan),
                      workers=workers or available_cores())
    where = engine.url.render_as_string(hide_password=True)
    console.print(f"watching {', '.join(dirs)} → {where} (Ctrl-C to stop)")
    try:
        watcher.run(until_idle=until_idle)
    except KeyboardInterrupt:
        watcher.stop()
    console.print(f"{watcher.processed} frame(s) classified, {watcher.errors} error(s)")


def serve(host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000,
          model: Model = None,
          watch_dirs: Annotated[list[str] | None, typer.Option(
              "--watch", help="Also follow this directory (repeatable).")] = None,
          db: Annotated[str | None, typer.Option(
              help="Watch database (default with --watch: as for mxqc watch).")] = None,
          api_key: ApiKey = None,
          max_upload_mb: Annotated[float, typer.Option(help="Largest upload in MiB.")] = 128,
          timeout: Annotated[float, typer.Option(help="Seconds per classification.")] = 120,
          workers: Workers = None,
          insecure: Annotated[bool, typer.Option(
              help="Allow a non-loopback host without an API key.")] = False):
    """The REST API (OpenAPI at /docs), the upload page and the dashboard at /."""
    import uvicorn

    from mxqc.learn import load_model
    from mxqc.serve import ServeSettings, create_app
    from mxqc.serve.app import loopback
    from mxqc.watch.db import default_database

    if not loopback(host) and not api_key and not insecure:
        raise typer.BadParameter("listening beyond loopback needs --api-key (or MXQC_API_KEY);"
                                 " --insecure to override", param_hint="--host")
    db = db or (default_database() if watch_dirs else None)
    load_model(model)  # a bad model is one line, not a traceback from the server's start-up
    settings = ServeSettings(model_path=model, db_url=db, api_key=api_key,
                             max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                             timeout_s=timeout, workers=workers or available_cores())
    _logging(True)
    watcher = _watch_beside(watch_dirs, db, model) if watch_dirs else None
    err_console.print(f"mxqc serving on http://{host}:{port}/ (API docs at /docs)")
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    finally:
        if watcher:
            watcher.stop()


def _watch_beside(dirs, db: str, model: str | None):
    """A watcher on its own thread, writing into the database the service reads."""
    from mxqc.scan.options import ScanOptions
    from mxqc.watch import Watcher, connect

    watcher = Watcher(dirs, connect(db), scan_options=ScanOptions(model_path=model,
                                                                  heatmaps=False))
    threading.Thread(target=watcher.run, name="mxqc-watch", daemon=True).start()
    return watcher


def register(app: typer.Typer) -> None:
    add(app, watch)
    add(app, serve)
