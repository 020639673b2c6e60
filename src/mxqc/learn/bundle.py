"""Model files: one ``.safetensors`` per CNN (configuration as JSON metadata), skops for
classical models. Loading never unpickles: safetensors holds only tensors, and skops loads
only the scikit-learn and numpy types it is told to trust.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mxqc.errors import MxqcError
from mxqc.learn.card import ModelCard, SchemaError, model_card

if TYPE_CHECKING:  # torch loads with the first model, not with this module
    from mxqc.learn.model import ClassicalModel, CnnModel, Model

METADATA_KEY = "mxqc"
DEFAULT_MODEL = "default.safetensors"
# skops refuses any type outside these prefixes: a model file is data, not code
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.sparse.")


class ModelFileError(MxqcError):
    """A model file is missing, of an unknown kind, or malformed."""


def save_model(model: Model, path, *, half: bool = False) -> Path:
    """Write ``model`` to ``path`` (``.safetensors`` for CNNs, ``.skops`` for classical)."""
    import torch

    from mxqc.learn.model import ClassicalModel, CnnModel

    path = Path(path)
    if isinstance(model, CnnModel):
        from safetensors.torch import save_file

        if path.suffix != ".safetensors":
            raise ValueError(f"{path}: a CNN is saved as .safetensors")
        model.metadata["weights_dtype"] = "float16" if half else "float32"
        metadata = json.dumps(model.metadata)
        dtype = torch.float16 if half else torch.float32
        state = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
                 for k, v in model.net.state_dict().items()}
        save_file(state, path, metadata={METADATA_KEY: metadata})
    elif isinstance(model, ClassicalModel):
        import skops.io as sio

        metadata = json.dumps(model.metadata)
        if path.suffix != ".skops":
            raise ValueError(f"{path}: a classical model is saved as .skops")
        sio.dump({"pipeline": model.pipeline, "metadata": metadata}, path)
    else:
        raise TypeError(f"cannot save {type(model).__name__}")
    return path


def default_model_path() -> Path:
    return Path(str(resources.files("mxqc.models") / DEFAULT_MODEL))


def load_model(path=None) -> Model:
    """Load a model file; with no path (or the name ``default``, as reports show it), the
    default model shipped with mxqc."""
    path = _model_path(path)
    return _load_classical(path) if path.suffix == ".skops" else _load_cnn(path)


def read_card(path=None) -> ModelCard:
    """A model file's card (its metadata, defaults filled) without building the model: a
    CNN's is read from the safetensors header alone, so torch is not loaded. Raises
    ModelFileError as ``load_model`` would for a missing or foreign file."""
    path = _model_path(path)
    if path.suffix == ".skops":
        return _load_classical(path).metadata
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as f:
            return model_card(json.loads((f.metadata() or {})[METADATA_KEY]))
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError, SchemaError) as exc:
        raise ModelFileError(f"{path}: not an mxqc CNN bundle ({exc})") from None


def _model_path(path) -> Path:
    """The model file ``path`` names (None or ``default``: the shipped one), checked to be
    a safetensors or skops file."""
    path = default_model_path() if path is None or str(path) == "default" else Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; {_what_would_be_right(path)}")
    if path.suffix == ".skops":
        return path
    with open(path, "rb") as f:
        head = f.read(8)
    # safetensors starts with its JSON header's length (little-endian u64)
    if path.suffix == ".safetensors" and 0 < int.from_bytes(head.ljust(8, b"\xff"),
                                                             "little") < 100_000_000:
        return path
    raise ModelFileError(f"{path}: not a model file (expected .safetensors or .skops; "
                         "pickled models such as .pt, .pth or .pkl are refused)")


def _what_would_be_right(path: Path) -> str:
    from mxqc.learn.classical import CLASSICAL_MODELS
    from mxqc.learn.cnn import ARCHITECTURES

    if str(path) in (*ARCHITECTURES, *CLASSICAL_MODELS):
        return (f"{path} is an architecture: `mxqc train DATASET --arch {path} --out "
                "FILE` makes a model file")
    return "give a .safetensors or .skops model file, or 'default' for the shipped model"


def _load_cnn(path: Path) -> CnnModel:
    import torch
    from safetensors import SafetensorError, safe_open

    from mxqc.learn.cnn import build_network
    from mxqc.learn.model import CnnModel
    from mxqc.learn.views import channels

    try:
        with safe_open(path, framework="pt") as f:
            metadata = json.loads((f.metadata() or {})[METADATA_KEY])
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise ModelFileError(f"{path}: not an mxqc CNN bundle ({exc})") from None
    try:
        metadata = model_card(metadata)
        net = build_network(metadata["model"], in_channels=channels(metadata["pooling"]))
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: not an mxqc CNN bundle ({exc})") from None
    # bundles from before the key existed: what the file holds
    metadata.setdefault("weights_dtype", "float16" if any(
        v.dtype == torch.float16 for v in state.values()) else "float32")
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v
                             for k, v in state.items()})
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not fit {metadata['model']} ({exc})") from None
    return CnnModel(net, metadata)


def _load_classical(path: Path) -> ClassicalModel:
    import skops.io as sio

    from mxqc.learn.model import ClassicalModel

    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ModelFileError(f"{path}: refusing to load types {refused[:5]}")
        content = sio.load(path, trusted=untrusted)
        metadata = json.loads(content["metadata"])
    except ModelFileError:
        raise
    except Exception as exc:  # skops raises many kinds on a corrupt zip
        raise ModelFileError(f"{path}: not an mxqc classical model ({exc})") from None
    return ClassicalModel(content["pipeline"], metadata)


def describe(model: Model) -> dict:
    """The metadata a person wants to see, without the training log."""
    return {k: v for k, v in model.metadata.items() if k != "log"} | {
        "thresholds": np.round(model.thresholds, 3).tolist()}
