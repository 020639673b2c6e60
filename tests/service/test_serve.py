"""The HTTP API on loopback (in-process client), valid frames and bad uploads."""

import pytest
from fastapi.testclient import TestClient

from mxqc.classes import CLASSES
from mxqc.serve import ServeSettings, create_app


def _upload(client, path, name=None, **params):
    with open(path, "rb") as f:
        return client.post("/v1/classify", files={"file": (name or path.name, f)}, params=params)


@pytest.mark.parametrize("pattern", ["cbf/*.cbf", "smv/*.smv", "single.h5"])
def test_valid_frames_of_each_format(client, frames_dir, pattern):
    path = next(frames_dir.glob(pattern))
    answer = _upload(client, path)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert set(data["probabilities"]) == set(CLASSES)
    assert all(0 <= p <= 1 for p in data["probabilities"].values())
    assert data["model"] == "smoke"
    assert data["spots"]["n"] >= 0 and set(data["evidence"]) <= set(CLASSES)
    assert "spots" in data["evidence"]["strong_background"]  # the spot finder always says
    assert 0 < data["centre"]["x"] < 1024 and 0 < data["centre"]["y"] < 1024
    image = client.get(data["image_url"])
    assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"  # a JPEG
    assert image.headers["content-type"] == "image/jpeg"


def test_content_decides_not_the_name(client, frames_dir):
    path = next(frames_dir.glob("cbf/*.cbf"))
    assert _upload(client, path, name="innocent.png").status_code == 200
    answer = client.post("/v1/classify", files={"file": ("frame.cbf", b"hello, not a frame")})
    assert answer.status_code == 415
    assert "not a detector frame" in answer.json()["error"]


def test_bad_uploads_are_4xx_with_json_errors(client, frames_dir, tmp_path):
    empty = client.post("/v1/classify", files={"file": ("frame.cbf", b"")})
    assert empty.status_code == 400 and empty.json()["error"] == "empty upload"
    data = next(frames_dir.glob("cbf/*.cbf")).read_bytes()
    truncated = client.post("/v1/classify", files={"file": ("t.cbf", data[: len(data) // 3])})
    assert truncated.status_code == 422 and "cbf" in truncated.json()["error"].lower()
    big = client.post("/v1/classify", files={"file": ("big.cbf", b"\0" * 9_000_000)})
    assert big.status_code == 413
    missing = client.post("/v1/classify")
    assert missing.status_code == 422
    frame = client.post("/v1/classify", files={"file": ("f.cbf", data)}, params={"frame": 5})
    assert frame.status_code == 422 and "no frame 5" in frame.json()["error"]


def test_clients_cannot_name_server_paths(client):
    for url in ("/v1/images/..%2F..%2Fetc/passwd", "/v1/images/abc/..", "/v1/images/x/y.png"):
        assert client.get(url).status_code == 404


def test_health_metrics_and_openapi(client, frames_dir):
    _upload(client, next(frames_dir.glob("cbf/*.cbf")))
    assert client.get("/healthz").json()["status"] == "ok"
    metrics = client.get("/metrics").text
    assert "mxqc_frames_classified_total" in metrics and "mxqc_classify_seconds_bucket" in metrics
    assert "/v1/classify" in client.get("/openapi.json").json()["paths"]
    assert "drop" in client.get("/").text.lower()
    assert client.get("/v1/frames").status_code == 404  # no watch database


def test_api_key_is_required_when_set(smoke_model_path, frames_dir, tmp_path):
    settings = ServeSettings(model_path=str(smoke_model_path), api_key="s3cret",
                             data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as keyed:
        path = next(frames_dir.glob("cbf/*.cbf"))
        assert _upload(keyed, path).status_code == 401
        with open(path, "rb") as f:
            ok = keyed.post("/v1/classify", files={"file": (path.name, f)},
                            headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        assert keyed.get("/healthz").status_code == 200


@pytest.mark.parametrize("command", ["serve", "watch"])
def test_a_bad_model_file_is_one_line_and_exit_1_before_anything_starts(command, tmp_path):
    from typer.testing import CliRunner

    from mxqc.cli import app

    args = [command, *([str(tmp_path)] if command == "watch" else []),
            "--model", str(tmp_path / "missing.safetensors")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "no such model file" in result.output
    assert "Traceback" not in result.output


def test_the_openapi_schema_has_a_response_model_for_every_route(client):
    schema = client.get("/openapi.json").json()
    models = schema["components"]["schemas"]
    assert {"Classification", "DatasetSummary", "WatchedFrame", "Rates"} <= set(models)
    assert set(CLASSES) <= set(models["Rates"]["properties"])  # built from the class list
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            answer = spec["responses"]["200"]["content"]
            if path not in ("/", "/metrics") and "{name}" not in path:
                assert "$ref" in str(answer), (method, path)
