"""Trained models behind one interface: normalised images (+ centres) in, 7 scores out."""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.special import expit

from mxqc.classes import CLASSES
from mxqc.learn.card import TTA_VIEWS, model_card
from mxqc.learn.card import check_views as check_card_views
from mxqc.learn.card import thresholds_for as card_thresholds
from mxqc.learn.cnn import as_input, dihedral
from mxqc.learn.thresholds import tune_thresholds as best_thresholds
from mxqc.learn.views import View, needs_centre, radial_vectors


class Model:
    """Base: ``metadata`` (JSON-able dict) and per-class ``thresholds``.

    ``predict_proba(images, centres, views=1)`` takes (n, 512, 512) uint8 normalised images
    (RefleX polarity) and, for polar and radial models, (n, 2) beam centres in those images'
    pixels; ``views`` test-time views are averaged per image (``check_views``).
    """

    def __init__(self, metadata: dict):
        self.metadata = model_card(metadata)

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def representation(self) -> str:
        return self.metadata["representation"]

    @property
    def needs_centre(self) -> bool:
        return needs_centre(self.representation)

    @property
    def normalisation(self) -> dict:
        """The options ``normalise`` must get so that images match the training data."""
        return self.metadata["normalisation"]

    @property
    def thresholds(self) -> np.ndarray:
        """Per-class decision thresholds for one view."""
        return self.thresholds_for(1)

    def thresholds_for(self, views: int = 1) -> np.ndarray:
        """Per-class decision thresholds for ``views`` test-time views: those tuned for them
        where the bundle has them, else the single-view ones."""
        return np.asarray(card_thresholds(self.metadata, views), float)

    def thresholds_tuned(self, views: int = 1) -> bool:
        """Whether the bundle has thresholds tuned for ``views`` test-time views."""
        return views == 1 or str(views) in self.metadata["tta_thresholds"]

    def check_views(self, views: int) -> int:
        """``views`` if this model can average that many test-time views, else ValueError
        (``card.check_views``: a Cartesian CNN takes 1, 4 or 8, any other model 1)."""
        return check_card_views(self.metadata, views)

    def set_thresholds(self, thresholds, *, views: int = 1) -> None:
        """Store thresholds for ``views`` test-time views."""
        values = [float(t) for t in thresholds]
        if views > 1:
            self.metadata["tta_thresholds"][str(views)] = values
        else:
            self.metadata["thresholds"] = values

    def _check(self, images, centres):
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (n, H, W) uint8, got {images.dtype} {images.shape}")
        if self.needs_centre and centres is None:
            raise ValueError(f"a {self.representation} model needs beam centres")
        return images, (None if centres is None else np.asarray(centres, float).reshape(-1, 2))

    def predict_proba(self, images, centres=None, *, views: int = 1) -> np.ndarray:
        raise NotImplementedError

    def tune_thresholds(self, images, truth, centres=None, *, beta: float = 1.0) -> None:
        """Tune and store per-class thresholds that maximise F-beta on labelled images."""
        self.set_thresholds(best_thresholds(truth, self.predict_proba(images, centres),
                                            beta=beta))

    def predict(self, images, centres=None, *, views: int = 1) -> np.ndarray:
        """(n, 7) 0/1 labels: scores above the stored per-class thresholds."""
        return (self.predict_proba(images, centres, views=views)
                > self.thresholds_for(views)).astype(np.int8)


class CnnModel(Model):
    def __init__(self, net: torch.nn.Module, metadata: dict):
        super().__init__(metadata)
        self.net = net.eval()

    @property
    def input_size(self) -> int:
        return int(self.metadata["input_size"])

    @property
    def pooling(self) -> str:
        return self.metadata["pooling"]

    @property
    def view(self) -> View:
        """What the network sees: representation, input size and pooling."""
        return View(self.representation, self.input_size, self.pooling)

    @property
    def needs_centre(self) -> bool:
        return self.view.needs_centre

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device) -> CnnModel:
        """Move the network (e.g. to ``"cuda"``); inputs then follow it."""
        self.net.to(device)
        return self

    def inputs(self, images, centres=None) -> torch.Tensor:
        images, centres = self._check(images, centres)
        return as_input(self.view.batch(images, centres if self.needs_centre else None),
                        self.device)

    @property
    def bf16(self) -> bool:
        """Infer in bfloat16 as the network was trained (its thresholds were tuned on bf16
        outputs) wherever the hardware does bf16 natively: CUDA GPUs, and CPUs with
        AVX-512 BF16 or AMX (about twice as fast as float32 there)."""
        if not self.metadata["config"].get("bf16", True):
            return False
        return native_bf16(self.device)

    @torch.inference_mode()
    def view_logits(self, x: torch.Tensor, views: int, *, batch_size: int = 64
                    ) -> torch.Tensor:
        """(n, views, 7) logits of prepared inputs under the first ``views`` dihedral
        transforms."""
        self.net.eval()
        out = []
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for i in range(0, len(x), batch_size):
                batch = x[i:i + batch_size]
                out.append(torch.stack([self.net(dihedral(batch, t)).float()
                                        for t in range(views)], dim=1))
        return torch.cat(out) if out else torch.empty(0, views, len(CLASSES),
                                                      device=self.device)

    def logits(self, x: torch.Tensor, *, views: int = 1, batch_size: int = 64) -> torch.Tensor:
        """(n, 7) logits of prepared inputs, averaged over ``views`` test-time views: the
        dihedral transforms, 1 (none), 4 (the quarter turns) or 8 (and their mirror images).
        The network saw all eight in training (Cartesian views only: a polar view is not
        symmetric under them). Costs ``views`` forward passes per image."""
        return self.view_logits(x, self.check_views(views), batch_size=batch_size).mean(dim=1)

    def tune_thresholds(self, images, truth, centres=None, *, beta: float = 1.0) -> None:
        """Tune and store thresholds for 1, 4 and 8 test-time views (one set of forward
        passes serves all three)."""
        views = TTA_VIEWS if self.representation == "cartesian" else (1,)
        per_view = torch.cat([
            self.view_logits(self.inputs(images[i:i + 256],
                                         None if centres is None else centres[i:i + 256]),
                             max(views)).cpu()
            for i in range(0, len(images), 256)])
        for n in views:
            self.set_thresholds(best_thresholds(
                truth, torch.sigmoid(per_view[:, :n].mean(dim=1)).numpy(), beta=beta), views=n)

    def probabilities(self, x: torch.Tensor, *, views: int = 1) -> np.ndarray:
        """(n, 7) probabilities of prepared inputs (``inputs``), e.g. reused for heatmaps."""
        return torch.sigmoid(self.logits(x, views=views)).cpu().numpy().astype(float)

    def predict_proba(self, images, centres=None, *, views: int = 1) -> np.ndarray:
        return self.probabilities(self.inputs(images, centres), views=views)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: CUDA GPUs, CPUs with AVX-512 BF16 or
    AMX. Elsewhere oneDNN emulates it, 3–4× slower than float32 (ResNet-18 training at 224²
    on an AVX-512 Xeon without BF16), so training and inference run float32 there."""
    return device.type == "cuda" or (device.type == "cpu" and _cpu_has_bf16())


@functools.cache
def _cpu_has_bf16() -> bool:
    try:  # (private API: oneDNN's own "bf16 supported" also says yes where it emulates)
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
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

    def predict_proba(self, images, centres=None, *, views: int = 1) -> np.ndarray:
        self.check_views(views)
        images, centres = self._check(images, centres)
        return classical_scores(self.pipeline, radial_vectors(images, centres))
