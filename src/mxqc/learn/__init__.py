"""Learning: classical models on radial vectors and CNNs on images (paper §2.6).

The names below load their modules (and torch) on first use, so that importing a light
submodule (``mxqc.learn.presets``, ``mxqc.learn.card``) costs nothing.
"""

import importlib

_WHERE = {
    "ModelFileError": "bundle", "default_model_path": "bundle", "load_model": "bundle",
    "save_model": "bundle", "CLASSICAL_MODELS": "classical", "train_classical": "classical",
    "ARCHITECTURES": "cnn", "ClassicalModel": "model", "CnnModel": "model", "Model": "model",
    "TrainConfig": "train", "train_cnn": "train", "REPRESENTATIONS": "views",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'mxqc.learn' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mxqc.learn.{_WHERE[name]}"), name)
