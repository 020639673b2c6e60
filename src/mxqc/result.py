"""One frame's result: the one type a scan returns, its journal and tables hold, the watch
database stores and the API returns.

``FrameResult`` is flat, one field per column of ``results.csv``; its fields (``COLUMNS``,
in order, added to and never renamed) are the schema of the CSV and Parquet tables and of
the JSON the journal, the database and ``/v1/frames/{id}`` hold. ``FrameView`` is the same
values grouped (probabilities, centre, spots, …): the shape of a frame in the API's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from mxqc.classes import CLASSES
from mxqc.witness import SPOT_COLUMNS, feature_columns

TIMINGS = ("t_read_ms", "t_normalise_ms", "t_centre_ms", "t_rings_ms", "t_witness_ms",
           "t_inference_ms", "t_heatmap_ms")
RING_KINDS = ("ice", "water", "low_resolution")
_SPOT_TYPES = {"n_spots": int, "resolution_a": float, "spot_i_sigma": float,
               "background_counts": float, "hot_pixels": int}
assert set(_SPOT_TYPES) == set(SPOT_COLUMNS)


class Heatmap(BaseModel):
    """Where one flagged class's heatmap overlay was written (relative to the scan folder)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    class_name: str = Field(alias="class")
    image: str


def _optional(kind: type, description: str) -> tuple[Any, Any]:
    return kind | None, Field(None, description=description)


def _fields() -> dict[str, tuple[Any, Any]]:
    """The columns in table order, with their types and what each holds."""
    fields = {
        "file": (str, Field(description="the frame's file")),
        "frame": (int, Field(description="index in its file; -1: the file itself failed")),
        "status": (Literal["ok", "error"], Field(description="'error': see error")),
        "error": (str, Field("", description="why it failed, or which part of its analysis "
                                             "failed")),
        **{f"p_{c}": _optional(float, f"probability of {c} (fused with the witnesses)")
           for c in CLASSES},
        **{c: _optional(int, f"1: {c} flagged") for c in CLASSES},
        "n_anomalies": _optional(int, "classes flagged"),
        "centre_x": _optional(float, "beam centre, detector column (px, pixel centres at .0)"),
        "centre_y": _optional(float, "beam centre, detector row (px)"),
        "centre_method": _optional(str, "how the centre was found: method/source"),
        "centre_uncertainty_px": _optional(float, "how far the centre may be off (px)"),
        "header_beam_x": _optional(float, "the header's beam centre, column (px)"),
        "header_beam_y": _optional(float, "the header's beam centre, row (px)"),
        "distance_mm": _optional(float, "sample-detector distance from the header"),
        "wavelength_a": _optional(float, "wavelength from the header (Å)"),
        **{f"rings_{k}_d_a": _optional(str, f"d-spacings of {k.replace('_', '-')} rings (Å, "
                                            "';'-separated)") for k in RING_KINDS},
        "rings": _optional(str, "the rings found, in words"),
        **{f"evidence_{c}": _optional(str, f"what the witnesses measured for {c}")
           for c in CLASSES},
        **{t: _optional(float, f"time spent: {t[2:-3]} (ms)") for t in TIMINGS},
        "thumbnail": _optional(str, "the frame's thumbnail (relative path)"),
        "heatmaps": (tuple[Heatmap, ...], Field((), description="heatmap overlays per class")),
        "model": _optional(str, "the model's name"),
        "model_version": _optional(str, "the mxqc version that trained it"),
        **{f"p_cnn_{c}": _optional(float, f"the network's own probability of {c}")
           for c in CLASSES},
        **{s: _optional(kind, f"spot finder: {s}") for s, kind in _SPOT_TYPES.items()},
        **{w: _optional(float, "witness feature (the fusion's input)")
           for w in feature_columns()},
        "warnings": _optional(str, "what the reader doubted in the file ('; '-separated)"),
        "centre_frames": _optional(int, "frames summed to find the centre (1: its own)"),
    }
    return fields


class _Result(BaseModel):
    """Behaviour shared by every frame result; the fields come from ``_fields``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("heatmaps", mode="before", check_fields=False)
    @classmethod
    def _heatmaps(cls, value):
        return heatmap_list(value)

    @field_validator("error", mode="before", check_fields=False)
    @classmethod
    def _no_error(cls, value):
        return "" if value is None else value

    @classmethod
    def from_record(cls, record: Mapping) -> FrameResult:
        """A result from a stored record (a journal line, a table row, a database row);
        columns this version does not know are dropped, columns it added are empty."""
        return cls.model_validate({k: v for k, v in record.items() if k in COLUMNS})

    def record(self) -> dict:
        """The result as one row of the tables: column → value, heatmaps as a list of
        {"class", "image"}."""
        return self.model_dump(by_alias=True)

    def to_json(self) -> str:
        """The record as JSON (the journal's and the database's form; NaN as null)."""
        return self.model_dump_json(by_alias=True)

    def replace(self, **changes) -> FrameResult:
        """A copy with ``changes`` (validated)."""
        return type(self).model_validate(dict(self) | changes)

    def __getitem__(self, column: str):
        if column not in COLUMNS:
            raise KeyError(column)
        return getattr(self, column)

    def get(self, column: str, default=None):
        """A column's value by name (``default`` for an unknown column)."""
        return getattr(self, column) if column in COLUMNS else default

    @property
    def key(self) -> tuple[str, int]:
        return self.file, self.frame

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def labels(self) -> list[str]:
        """The classes flagged."""
        return [c for c in CLASSES if self[c]]

    @property
    def evidence(self) -> dict[str, str]:
        """What the witnesses measured, per class, where they measured something."""
        return {c: self[f"evidence_{c}"] for c in CLASSES if self[f"evidence_{c}"]}


FrameResult = create_model(
    "FrameResult", __base__=_Result, __module__=__name__,
    __doc__="One frame's result: one field per column of the results tables.", **_fields())
COLUMNS: tuple[str, ...] = tuple(FrameResult.model_fields)


def column_kinds() -> dict[str, type]:
    """Each column's value type (int, float, str or Heatmap for the heatmap list)."""
    kinds = {}
    for name, field in FrameResult.model_fields.items():
        args = getattr(field.annotation, "__args__", (field.annotation,))
        kinds[name] = (Heatmap if name == "heatmaps" else
                       str if name == "status" else next(a for a in args if a is not type(None)))
    return kinds


def heatmap_list(value) -> list[dict]:
    """Heatmaps as [{"class": …, "image": …}, …]; records journalled before heatmaps were a
    list held "class=image;…"."""
    if not value:
        return []
    if isinstance(value, str):
        return [{"class": k, "image": v} for k, v in
                (item.split("=", 1) for item in value.split(";") if "=" in item)]
    return [h.model_dump(by_alias=True) if isinstance(h, Heatmap) else dict(h) for h in value]


def error_result(path, index: int, message: str, timings: Mapping | None = None
                 ) -> FrameResult:
    """The result of a frame (``index`` ≥ 0) or file (−1) that could not be analysed."""
    return FrameResult(file=str(path), frame=index, status="error", error=message,
                       **(timings or {}))


class Centre(BaseModel):
    x: float | None
    y: float | None
    method: str | None
    uncertainty_px: float | None = None
    frames: int | None = None


class Spots(BaseModel):
    n: int | None
    resolution_a: float | None
    median_i_sigma: float | None
    background_counts_per_px: float | None
    hot_pixels: int | None = None


class FrameView(BaseModel):
    """A frame's result as the API gives it: the values of ``FrameResult``, grouped."""

    file: str
    frame: int
    status: str
    error: str
    model: str | None
    model_version: str | None
    probabilities: dict[str, float | None]
    cnn_probabilities: dict[str, float | None]
    labels: list[str]
    evidence: dict[str, str]
    spots: Spots
    centre: Centre
    rings: str | None
    ring_d_spacings_a: dict[str, str | None]
    warnings: str | None
    timings_ms: dict[str, float]


def frame_view(r: FrameResult) -> dict:
    """``FrameView``'s fields for ``r``, as a dict to which a response adds its own."""
    return {
        "file": r.file, "frame": r.frame, "status": r.status, "error": r.error,
        "model": r.model, "model_version": r.model_version,
        "probabilities": {c: r[f"p_{c}"] for c in CLASSES},
        "cnn_probabilities": {c: r[f"p_cnn_{c}"] for c in CLASSES},
        "labels": r.labels, "evidence": r.evidence,
        "spots": Spots(n=r.n_spots, resolution_a=r.resolution_a,
                       median_i_sigma=r.spot_i_sigma,
                       background_counts_per_px=r.background_counts,
                       hot_pixels=r.hot_pixels),
        "centre": Centre(x=r.centre_x, y=r.centre_y, method=r.centre_method,
                         uncertainty_px=r.centre_uncertainty_px, frames=r.centre_frames),
        "rings": r.rings,
        "ring_d_spacings_a": {k: r[f"rings_{k}_d_a"] for k in RING_KINDS},
        "warnings": r.warnings,
        "timings_ms": {t[2:-3]: round(r[t], 1) for t in TIMINGS if r[t] is not None},
    }
