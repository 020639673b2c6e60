"""The API's response models. The per-class maps and rates are built from the one class
list (``mxqc.classes``), so the OpenAPI schema names every class."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, create_model

from mxqc.classes import CLASSES

Rates = create_model(
    "Rates", __doc__="How many analysed frames, and the share flagged per class.",
    frames=(int, ...), **{c: (float, ...) for c in CLASSES})


class Health(BaseModel):
    status: str
    model: str | None


class ModelInfo(BaseModel):
    name: str
    version: str
    representation: str
    thresholds: list[float]
    classes: list[str]


class Centre(BaseModel):
    x: float | None
    y: float | None
    method: str | None
    uncertainty_px: float | None = None


class Spots(BaseModel):
    n: int | None
    resolution_a: float | None
    median_i_sigma: float | None
    background_counts_per_px: float | None


class Classification(BaseModel):
    """One uploaded frame's verdict: probabilities (fused), the network's own, the
    evidence per class, spots, centre, rings and the URLs of its image and heatmaps."""

    id: str
    model: str
    model_version: str
    probabilities: dict[str, float]
    labels: list[str]
    cnn_probabilities: dict[str, float]
    evidence: dict[str, str]
    spots: Spots
    centre: Centre
    rings: str | None
    ring_d_spacings_a: dict[str, str | None]
    image_url: str | None
    heatmap_urls: dict[str, str | None]
    timings_ms: dict[str, float]


class DatasetRow(Rates):
    id: int
    path: str
    files: int
    errors: int


class ClassInSweep(BaseModel):
    shows: bool
    p_sweep: float
    held: str
    flagged: int
    frames: str
    evidence: str


class Sweep(BaseModel):
    sweep: str
    frames: int
    first: int
    last: int
    classes: dict[str, ClassInSweep]


class Alert(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_name: str = Field(alias="class")
    rate: float | None
    message: str | None
    sweep: str | None = None
    created: float | None


class DatasetSummary(BaseModel):
    id: int
    path: str
    all: Rates
    recent: Rates
    sweeps: list[Sweep]
    alerts: list[Alert]


class WatchedFrame(BaseModel):
    id: int
    dataset_id: int
    file_id: int
    frame: int
    status: str
    error: str | None
    probabilities: dict[str, float | None]
    labels: list[str]
    centre: Centre
    rings: str | None
    model: str | None
    created: float | None
    file: str | None
    evidence: dict[str, str]


class WatchedFrameDetail(WatchedFrame):
    row: dict = Field(description="every column of the frame's scan row")
