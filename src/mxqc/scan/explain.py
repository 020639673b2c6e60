"""Where in the image a CNN saw each anomaly: Grad-CAM (Selvaraju et al. 2017) sharpened by
the input gradient, mapped back to the normalised image.

At the default model's 128² input the last residual stage is only 4×4, too coarse to pick
out a ring, so the class activation map comes from ``layer3`` (8×8) and is multiplied by
the smoothed magnitude of d logit / d input (full resolution), as Guided Grad-CAM does.
This is the paper's stated future work ("automatic selection of diffraction image areas
affected by an anomaly").
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mxqc.learn.model import CnnModel

SMOOTHING_PX = 2.0  # Gaussian σ of the input-gradient magnitude, in input pixels


def grad_cam(model: CnnModel, x: torch.Tensor, classes) -> np.ndarray:
    """(n, len(classes), s, s) float32 heatmaps in [0, 1] for inputs ``x`` (n, 1, s, s).

    For class c: ReLU(Σ_k α_k A_k) over the activations A of ``layer3`` with α_k the
    spatial mean of d logit_c / d A_k, upsampled bilinearly, times the Gaussian-smoothed
    |d logit_c / d x|; each map scaled to a maximum of 1 (all zero when nothing supports c).
    """
    classes = list(classes)
    n, _, s, _ = x.shape
    if not classes or n == 0:
        return np.zeros((n, len(classes), s, s), np.float32)
    net = model.net.eval()
    store = {}
    hook = net.layer3.register_forward_hook(lambda m, i, out: store.setdefault("a", out))
    x = x.detach().float().requires_grad_(True)
    maps = []
    try:
        with torch.enable_grad():
            logits = net(x)
            acts = store["a"]
            for c in classes:
                g_acts, g_x = torch.autograd.grad(logits[:, c].sum(), (acts, x),
                                                  retain_graph=True)
                cam = torch.relu((g_acts.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1,
                                                                                  keepdim=True))
                cam = F.interpolate(cam, size=(s, s), mode="bilinear", align_corners=False)
                maps.append((cam * _smooth(g_x.abs())).squeeze(1))
    finally:
        hook.remove()
    heat = torch.stack(maps, dim=1).detach()
    peak = heat.amax(dim=(2, 3), keepdim=True)
    heat = torch.where(peak > 0, heat / peak.clamp(min=1e-12), torch.zeros_like(heat))
    return heat.cpu().numpy().astype(np.float32)


def _smooth(g: torch.Tensor) -> torch.Tensor:
    radius = int(3 * SMOOTHING_PX)
    t = torch.arange(-radius, radius + 1, dtype=g.dtype, device=g.device)
    kernel = torch.exp(-0.5 * (t / SMOOTHING_PX) ** 2)
    kernel = kernel / kernel.sum()
    g = F.conv2d(g, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(g, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def to_image(heatmap: np.ndarray, size: int) -> np.ndarray:
    """A Cartesian-view heatmap resampled to the ``size``² normalised image."""
    return cv2.resize(heatmap, (size, size), interpolation=cv2.INTER_LINEAR)
