"""Where in the image a CNN saw each anomaly, mapped back to the normalised image: the
paper's stated future work ("automatic selection of diffraction image areas affected by an
anomaly").

- Ring classes (ice, background ring, loop scattering) are annuli about the beam, so they
  are explained by **annular occlusion**: each thin annulus in turn is replaced by the
  radial background (a running median of the azimuthal mean profile) and the drop of the
  class logit is painted on it. One batch of forward passes explains every ring class of a
  frame. Annuli 24 px of the 512² image wide (12 px at 256²) cost half the passes of
  half-width ones and put as much mass on the rings: with the 256² model, median 0.92
  (half width: 0.87) of the ice-ring map within ±6 px of the strong ice rings (chance
  0.47), and 0.78 (0.81) of the water-ring map on the water ring (chance 0.20); the 224²
  default model scores 0.83 and 0.75 and Grad-CAM 0.61 and 0.37 (averaging Grad-CAM
  azimuthally did not help with the 256² model) (``benchmarks/bench_heatmaps.py``).
- The other classes get Grad-CAM (Selvaraju et al. 2017) on ``layer2`` (stride 8: a
  16×16 map at 128², 32×32 at 256²). On simulated ice frames its hottest 5 % of pixels
  lie on the rings 2.7× (128² model) and 2.9× (256² model) as often as chance; ``layer3``,
  with or without the input gradient multiplied in (Guided Grad-CAM), did 1.1–2.3×: the
  input gradient of these networks sits on the Bragg spots, not on the anomaly.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import median_filter

from mxqc.classes import CLASSES
from mxqc.learn.model import CnnModel
from mxqc.scan.rings import RING_EVIDENCE

RING_CLASSES = frozenset(CLASSES.index(c) for c in RING_EVIDENCE)
# annulus width as a fraction of the input size (12 px at 256², 10.5 at 224²): the same width on the
# detector, and the same number of forward passes (~16), whatever the model's input size
ANNULUS_FRACTION = 6.0 / 128
BACKGROUND_ANNULI = 7  # running-median window of the radial background, in annuli


def heatmaps(model: CnnModel, x: torch.Tensor, centres, classes) -> np.ndarray:
    """(n, len(classes), s, s) heatmaps in [0, 1]: annular occlusion for ring classes,
    Grad-CAM for the others. ``centres`` are beam centres (x, y) in input pixels."""
    classes = list(classes)
    n, _, s, _ = x.shape
    out = np.zeros((n, len(classes), s, s), np.float32)
    rings = [k for k, c in enumerate(classes) if c in RING_CLASSES]
    others = [k for k, c in enumerate(classes) if c not in RING_CLASSES]
    if others and n:
        out[:, others] = grad_cam(model, x, [classes[k] for k in others])
    if rings:
        for i in range(n):
            out[i, rings] = annular_occlusion(model, x[i:i + 1], centres[i],
                                              [classes[k] for k in rings])
    return out


@torch.inference_mode()
def annular_occlusion(model: CnnModel, x: torch.Tensor, centre, classes) -> np.ndarray:
    """(len(classes), s, s) maps in [0, 1] for one input ``x`` (1, c, s, s): the drop of
    each class's logit when an annulus about ``centre`` is replaced by the radial
    background (in every channel), painted on that annulus."""
    image = x[0].float().cpu().numpy()
    s = image.shape[-1]
    yy, xx = np.mgrid[:s, :s]
    annulus = (np.hypot(xx - centre[0], yy - centre[1]) / (ANNULUS_FRACTION * s)).astype(int)
    counts = np.maximum(np.bincount(annulus.ravel()), 1)
    background = np.stack([
        median_filter(np.bincount(annulus.ravel(), channel.ravel()) / counts,
                      size=BACKGROUND_ANNULI, mode="nearest")[annulus] for channel in image])
    present = np.unique(annulus)
    batch = np.repeat(image[None], len(present), axis=0)
    for k, a in enumerate(present):
        inside = annulus == a
        batch[k][:, inside] = background[:, inside]
    inputs = torch.as_tensor(np.concatenate([image[None], batch]), device=x.device)
    # the model's own inference precision (bf16 where native: half the cost)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=model.bf16):
        logits = model.net.eval()(inputs)[:, classes].float()
    drops = (logits[:1] - logits[1:]).clamp(min=0).cpu().numpy()
    per_annulus = np.zeros((annulus.max() + 1, len(classes)), np.float32)
    per_annulus[present] = drops
    maps = np.moveaxis(per_annulus[annulus], -1, 0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, maps / np.maximum(peak, 1e-12), 0).astype(np.float32)


def grad_cam(model: CnnModel, x: torch.Tensor, classes) -> np.ndarray:
    """(n, len(classes), s, s) float32 heatmaps in [0, 1] for inputs ``x`` (n, c, s, s).

    For class c: ReLU(Σ_k α_k A_k) over the activations A of ``layer2`` with α_k the
    spatial mean of d logit_c / d A_k, upsampled bilinearly; each map scaled to a maximum
    of 1 (all zero when nothing supports c). In bf16 where the model infers in it (half
    the cost; the maps are unchanged to within 0.01 of ring mass).
    """
    classes = list(classes)
    n, _, s, _ = x.shape
    if not classes or n == 0:
        return np.zeros((n, len(classes), s, s), np.float32)
    net = model.net.eval()
    store = {}
    hook = net.layer2.register_forward_hook(lambda m, i, out: store.setdefault("a", out))
    maps = []
    try:
        with torch.enable_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16,
                                                 enabled=model.bf16):
            logits = net(x.detach().float()).float()
            acts = store["a"]
            for c in classes:
                (g_acts,) = torch.autograd.grad(logits[:, c].sum(), acts, retain_graph=True)
                cam = torch.relu((g_acts.float().mean(dim=(2, 3), keepdim=True)
                                  * acts.float()).sum(dim=1, keepdim=True))
                maps.append(F.interpolate(cam, size=(s, s), mode="bilinear",
                                          align_corners=False).squeeze(1))
    finally:
        hook.remove()
    heat = torch.stack(maps, dim=1).detach()
    peak = heat.amax(dim=(2, 3), keepdim=True)
    heat = torch.where(peak > 0, heat / peak.clamp(min=1e-12), torch.zeros_like(heat))
    return heat.cpu().numpy().astype(np.float32)


def to_image(heatmap: np.ndarray, size: int) -> np.ndarray:
    """A Cartesian-view heatmap resampled to the ``size``² normalised image."""
    return cv2.resize(heatmap, (size, size), interpolation=cv2.INTER_LINEAR)
