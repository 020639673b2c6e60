"""The API's response models. A frame is ``mxqc.result.FrameView`` (its result, grouped)
with what the answer adds; the per-class rates are built from the one class list
(``mxqc.classes``), so the OpenAPI schema names every class."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, create_model

from mxqc.classes import CLASSES
from mxqc.result import FrameResult, FrameView

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


class Classification(FrameView):
    """One uploaded frame's result, with the URLs of its thumbnail and heatmaps."""

    id: str
    image_url: str | None
    heatmap_urls: dict[str, str | None]


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


class WatchedFrame(FrameView):
    """A frame the watcher recorded: its result and where it sits in the database."""

    id: int
    dataset_id: int
    file_id: int
    created: float | None


class WatchedFrameDetail(WatchedFrame):
    row: FrameResult = Field(description="every column of the frame's result")
