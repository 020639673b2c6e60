"""Trained models behind one interface: normalised images (+ centres) in, 7 scores out."""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.special import expit

from mxqc.classes import CLASSES
from mxqc.learn.cnn import as_input
from mxqc.learn.views import needs_centre, radial_vectors, view_batch


class Model:
    """Base: ``metadata`` (JSON-able dict) and per-class ``thresholds``.

    ``predict_proba(images, centres)`` takes (n, 512, 512) uint8 normalised images (RefleX
    polarity) and, for polar and radial models, (n, 2) beam centres in those images' pixels.
    """

    def __init__(self, metadata: dict):
        self.metadata = dict(metadata)
        self.thresholds = np.asarray(self.metadata.get("thresholds", [0.5] * len(CLASSES)),
                                     float)

    @property
    def name(self) -> str:
        return self.metadata.get("name", self.metadata.get("model", "model"))

    @property
    def representation(self) -> str:
        return self.metadata["representation"]

    @property
    def needs_centre(self) -> bool:
        return needs_centre(self.representation)

    @property
    def normalisation(self) -> dict:
        """The options ``normalise`` must get so that images match the training data."""
        return self.metadata.get("normalisation", {"size": 512, "resize": "nearest"})

    def set_thresholds(self, thresholds) -> None:
        self.thresholds = np.asarray(thresholds, float)
        self.metadata["thresholds"] = [float(t) for t in self.thresholds]

    def _check(self, images, centres):
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (n, H, W) uint8, got {images.dtype} {images.shape}")
        if self.needs_centre and centres is None:
            raise ValueError(f"a {self.representation} model needs beam centres")
        return images, (None if centres is None else np.asarray(centres, float).reshape(-1, 2))

    def predict_proba(self, images, centres=None) -> np.ndarray:
        raise NotImplementedError

    def predict(self, images, centres=None) -> np.ndarray:
        """(n, 7) 0/1 labels: scores above the stored per-class thresholds."""
        return (self.predict_proba(images, centres) > self.thresholds).astype(np.int8)


class CnnModel(Model):
    def __init__(self, net: torch.nn.Module, metadata: dict):
        super().__init__(metadata)
        self.net = net.eval()

    @property
    def input_size(self) -> int:
        return int(self.metadata["input_size"])

    @property
    def pooling(self) -> str:
        return self.metadata.get("pooling", "area")  # bundles from before pooling existed

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device) -> CnnModel:
        """Move the network (e.g. to ``"cuda"``); inputs then follow it."""
        self.net.to(device)
        return self

    def inputs(self, images, centres=None) -> torch.Tensor:
        images, centres = self._check(images, centres)
        return as_input(view_batch(images, self.representation, self.input_size,
                                   None if not self.needs_centre else centres, self.pooling),
                        self.device)

    @property
    def bf16(self) -> bool:
        """Infer in bfloat16 as the network was trained (its thresholds were tuned on bf16
        outputs) wherever the hardware does bf16 natively: CUDA GPUs, and CPUs with
        AVX-512 BF16 or AMX (about twice as fast as float32 there)."""
        if not self.metadata.get("config", {}).get("bf16", True):
            return False
        return self.device.type == "cuda" or _cpu_has_bf16()

    @torch.inference_mode()
    def logits(self, x: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
        self.net.eval()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = [self.net(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.empty(0, len(CLASSES), device=self.device)

    def probabilities(self, x: torch.Tensor) -> np.ndarray:
        """(n, 7) probabilities of prepared inputs (``inputs``), e.g. reused for heatmaps."""
        return torch.sigmoid(self.logits(x)).cpu().numpy().astype(float)

    def predict_proba(self, images, centres=None) -> np.ndarray:
        return self.probabilities(self.inputs(images, centres))


@functools.cache
def _cpu_has_bf16() -> bool:
    try:  # (no public API; emulated bf16 would be slower than float32)
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def classical_scores(pipeline, x) -> np.ndarray:
    """(n, 7) scores in [0, 1]: probabilities, or a linear SVM's margins through a logistic."""
    if hasattr(pipeline[-1].estimator, "predict_proba"):
        return np.asarray(pipeline.predict_proba(x), float)
    return expit(np.asarray(pipeline.decision_function(x), float))


class ClassicalModel(Model):
    def __init__(self, pipeline, metadata: dict):
        super().__init__(metadata)
        self.pipeline = pipeline

    def predict_proba(self, images, centres=None) -> np.ndarray:
        images, centres = self._check(images, centres)
        return classical_scores(self.pipeline, radial_vectors(images, centres))
