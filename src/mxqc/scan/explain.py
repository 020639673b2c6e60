"""Where in the image a CNN saw each anomaly: Grad-CAM (Selvaraju et al. 2017) on the last
residual stage, mapped back to the 512² normalised image.

This is the paper's stated future work ("automatic selection of diffraction image areas
affected by an anomaly").
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from mxqc.learn.model import CnnModel


def grad_cam(model: CnnModel, x: torch.Tensor, classes) -> np.ndarray:
    """(n, len(classes), s, s) float32 heatmaps in [0, 1] for inputs ``x`` (n, 1, s, s).

    Each map is ReLU(Σ_k α_k A_k) with α_k the spatial mean of d logit_c / d A_k over the
    activations A of ``layer4``, upsampled bilinearly to the input size and scaled to a
    maximum of 1 (all zero when nothing supports the class).
    """
    classes = list(classes)
    n, _, s, _ = x.shape
    if not classes or n == 0:
        return np.zeros((n, len(classes), s, s), np.float32)
    net = model.net.eval()
    store = {}
    hook = net.layer4.register_forward_hook(lambda m, i, out: store.setdefault("a", out))
    try:
        with torch.enable_grad():
            logits = net(x.float())
            acts = store["a"]
            maps = []
            for c in classes:
                (g,) = torch.autograd.grad(logits[:, c].sum(), acts, retain_graph=True)
                weights = g.mean(dim=(2, 3), keepdim=True)
                maps.append(torch.relu((weights * acts).sum(dim=1)))
    finally:
        hook.remove()
    cams = torch.stack(maps, dim=1).detach()  # (n, k, h, w)
    cams = torch.nn.functional.interpolate(cams, size=(s, s), mode="bilinear",
                                           align_corners=False)
    peak = cams.amax(dim=(2, 3), keepdim=True)
    cams = torch.where(peak > 0, cams / peak.clamp(min=1e-12), torch.zeros_like(cams))
    return cams.numpy().astype(np.float32)


def to_image(heatmap: np.ndarray, size: int) -> np.ndarray:
    """A Cartesian-view heatmap resampled to the ``size``² normalised image."""
    return cv2.resize(heatmap, (size, size), interpolation=cv2.INTER_LINEAR)
