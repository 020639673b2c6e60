import os
import threading
import time
import uuid

import h5py
import pytest
import uvicorn
from fastapi.testclient import TestClient

from mxqc.serve import ServeSettings, create_app
from mxqc.serve.local import free_port
from mxqc.simulate.export import write_simulated


@pytest.fixture(scope="session")
def frames_dir(tmp_path_factory):
    """One frame per format the API must take: CBF, SMV and a self-contained HDF5."""
    root = tmp_path_factory.mktemp("upload-frames")
    write_simulated(root / "cbf", 1, seed=21, detector="square1k", fmt="cbf")
    write_simulated(root / "smv", 1, seed=22, detector="square1k", fmt="smv")
    write_simulated(root / "h5", 2, seed=23, detector="square1k", fmt="h5")
    master = next((root / "h5").glob("*_master.h5"))
    with h5py.File(master) as src, h5py.File(root / "single.h5", "w") as dst:
        for key in src:  # external links copied in: one file a client can upload
            src.copy(key, dst, expand_external=True, expand_soft=True)
    return root


@pytest.fixture(scope="module")
def client(smoke_model_path, tmp_path_factory):
    settings = ServeSettings(model_path=str(smoke_model_path), max_upload_bytes=8_000_000,
                             data_dir=str(tmp_path_factory.mktemp("serve-data")))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live_server(smoke_model_path, tmp_path_factory):
    """The app under uvicorn on a free loopback port, for clients outside the process."""
    port = free_port()
    app = create_app(ServeSettings(model_path=str(smoke_model_path), max_upload_bytes=8_000_000,
                                   data_dir=str(tmp_path_factory.mktemp("live"))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    assert server.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty watch database: SQLite in a file, or a new database on the PostgreSQL
    server named by ``MXQC_TEST_POSTGRES`` (an admin URL; ``.ci/run`` starts one)."""
    if request.param == "sqlite":
        yield str(tmp_path / "watch.sqlite")
        return
    admin = os.environ.get("MXQC_TEST_POSTGRES")
    if not admin:
        pytest.skip("no PostgreSQL server: MXQC_TEST_POSTGRES is not set (.ci/run sets it)")
    from sqlalchemy import create_engine, make_url, text

    name = f"mxqc_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    engine.dispose()
