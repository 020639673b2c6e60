"""The model card: what a model file says about itself (the JSON metadata of a safetensors
or skops file), with its schema version and every default filled in this one place.

Files written before a key existed are read as what they were made with: one pooling
channel ("area"), the paper's nearest-neighbour normalisation at 512², no thresholds
tuned for test-time views. A file written by a newer mxqc (a higher ``schema_version``)
is refused rather than misread.
"""

from __future__ import annotations

import copy
from typing import TypedDict

from mxqc.classes import CLASSES

SCHEMA_VERSION = 2  # 1: files without the key (before it existed)
TTA_VIEWS = (1, 4, 8)  # test-time views a Cartesian CNN can average (dihedral transforms)


class ModelCard(TypedDict, total=False):
    """The keys mxqc reads; training and tuning add records of their own (``log``,
    ``training_data``, ``test_metrics``, ``thresholds_tuning``, ``grid_search``, …)."""

    schema_version: int
    kind: str  # "cnn" or "classical"
    model: str  # the architecture: resnet18, …, svm, nb, knn, rf
    name: str  # the file's stem when saved by `mxqc train`
    representation: str  # cartesian, polar-min, polar-max or radial
    pooling: str  # CNN input channels: area, area+peak or area+symmetry
    input_size: int  # CNN input edge in pixels
    classes: list[str]
    normalisation: dict  # the options normalise_frame must get
    centre_method: str | None  # how the training centres were found
    thresholds: list[float]  # one view
    tta_thresholds: dict[str, list[float]]  # "4", "8" test-time views
    fusion: dict | None  # the fused verdict (mxqc.learn.fusion)
    config: dict  # the TrainConfig of a CNN
    weights_dtype: str  # float32 or float16
    mxqc_version: str


DEFAULTS: ModelCard = {
    "pooling": "area",
    "normalisation": {"size": 512, "resize": "nearest"},
    "classes": list(CLASSES),
    "centre_method": None,
    "thresholds": [0.5] * len(CLASSES),
    "tta_thresholds": {},
    "fusion": None,
    "config": {},
    "mxqc_version": "",
}


class SchemaError(ValueError):
    """A model card of a schema this mxqc does not know."""


def model_card(metadata: dict) -> ModelCard:
    """``metadata`` as a model card of this schema: defaults filled, the name defaulting
    to the architecture's. The dict returned is new; ``metadata`` is not changed."""
    version = int(metadata.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise SchemaError(f"model card schema {version} is newer than this mxqc reads "
                          f"({SCHEMA_VERSION}); update mxqc")
    card = copy.deepcopy(DEFAULTS) | dict(metadata)
    card.setdefault("name", card.get("model", "model"))
    card["schema_version"] = SCHEMA_VERSION
    return card


def thresholds_for(card: ModelCard, views: int = 1) -> list[float]:
    """The network's per-class thresholds for ``views`` test-time views: those tuned for
    them where the card has them, else the single-view ones."""
    tuned = card["tta_thresholds"].get(str(views))
    return tuned if views > 1 and tuned else card["thresholds"]


def verdict_thresholds(card: ModelCard, witnessed: bool, views: int = 1) -> list[float]:
    """The per-class thresholds a frame's verdict uses: the fusion's for a frame with
    witness features where the model has a fusion, the network's otherwise."""
    fusion = card["fusion"]
    return fusion["thresholds"] if fusion and witnessed else thresholds_for(card, views)


def check_views(card: ModelCard, views: int) -> int:
    """``views`` if the model can average that many test-time views (a Cartesian CNN: 1, 4
    or 8; any other model: 1), else ValueError."""
    if views not in TTA_VIEWS:
        raise ValueError(f"test-time views must be one of {TTA_VIEWS}, got {views}")
    if views > 1 and (card.get("kind") != "cnn" or card.get("representation") != "cartesian"):
        raise ValueError("test-time augmentation needs a Cartesian CNN, not a "
                         f"{card.get('representation')} {card.get('kind')} model")
    return views
