"""Schema-based fuzzing of the API (schemathesis) against a live server on loopback:
whatever the generated request, the answer is never a 5xx."""

import socket
import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings

from mxqc.serve import ServeSettings, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api_schema(smoke_model_path, tmp_path_factory):
    port = _free_port()
    app = create_app(ServeSettings(model_path=str(smoke_model_path), max_upload_bytes=2_000_000,
                                   data_dir=str(tmp_path_factory.mktemp("fuzz"))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    assert server.started, "server did not start"
    yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
    server.should_exit = True
    thread.join(timeout=30)


def test_no_request_makes_a_server_error(api_schema):
    # (schemathesis's own pytest plugin does not run under pytest 9: drive hypothesis here)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert any(op.path == "/v1/classify" for op in operations)
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case):
            response = case.call(timeout=60)
            assert response.status_code < 500, (case.method, case.path, response.status_code,
                                                 response.text[:300])
            if response.status_code >= 400 and case.path.startswith("/v1"):
                assert "error" in response.json()

        check()
