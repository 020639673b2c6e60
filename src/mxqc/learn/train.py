"""Training the CNNs as the paper describes (§2.6.2), with the original's mistakes fixed.

Per input size (progressive resizing): a phase with the body frozen, then a phase with it
unfrozen under discriminative learning rates (each earlier layer group half the next);
cosine annealing with warm restarts whose cycle doubles; early stopping on validation loss
with the best checkpoint restored. The learning rate comes from an LR-range test unless
given. BCE loss with per-class positive weights against class imbalance; per-class
thresholds tuned on validation at the end.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

import mxqc
from mxqc.classes import CLASSES, UNKNOWN
from mxqc.dataset import Dataset, dataset_normalisation
from mxqc.errors import MxqcError
from mxqc.learn import store
from mxqc.learn.cnn import (
    as_input,
    build_network,
    dihedral,
    layer_groups,
    load_pretrained,
    resolve_device,
    set_body_frozen,
)
from mxqc.learn.evaluate import tune_model_thresholds
from mxqc.learn.model import CnnModel, native_bf16
from mxqc.learn.presets import DEFAULT_EPOCHS, PRESETS
from mxqc.learn.views import IMAGE_REPRESENTATIONS, channels, check_view

MAX_POS_WEIGHT = 20.0


class StartingModelError(MxqcError):
    """An --init model that cannot start this run (missing, classical, another network)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a CNN training run (stored in the model's metadata)."""

    arch: str = "resnet18"
    representation: str = "cartesian"
    pooling: str = "area"  # or a second channel: "area+peak", "area+symmetry" (views.py)
    sizes: tuple[int, ...] = (64, 128, 256)
    epochs: tuple[int, ...] = (8, 16, 8)  # most unfrozen epochs per size
    frozen_epochs: int = 1
    batch_size: int = 32
    lr: float | None = None  # None: LR-range test
    patience: int = 12
    dropout: float = 0.5
    weight_decay: float = 0.01
    pos_weight: bool = True
    threshold_beta: float = 1.0  # 1: thresholds maximise F1; 2: F2
    time_budget_s: float | None = None
    seed: int = 0
    threads: int | None = None
    bf16: bool = True  # where the device computes it natively (model.native_bf16)
    pretrained: str | None = None
    init: str | None = None  # an mxqc CNN model whose weights, head included, start the run
    centre_method: str | None = None
    device: str = "auto"  # "auto": CUDA when torch sees a GPU, else the CPU

    def __post_init__(self):
        if self.representation not in IMAGE_REPRESENTATIONS:
            raise ValueError(f"CNN representation must be one of {IMAGE_REPRESENTATIONS}")
        check_view(self.representation, self.pooling)
        if len(self.sizes) != len(self.epochs) or not self.sizes:
            raise ValueError("give one epoch count per size")
        if self.pretrained and self.init:
            raise ValueError("give ImageNet weights (pretrained) or a model to start from "
                             "(init), not both")




def train_config(preset: str | None = None, **given) -> TrainConfig:
    """A ``TrainConfig`` from a preset (``PRESETS``) with the settings ``given`` over it;
    a setting given as None is not given (0 and 0.0 are values). Sizes without epochs
    train ``DEFAULT_EPOCHS`` each."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    settings = dict(PRESETS[preset]) if preset else {}
    settings |= {k: v for k, v in given.items() if v is not None}
    if "sizes" in given and given["sizes"] is not None and given.get("epochs") is None:
        settings["epochs"] = (DEFAULT_EPOCHS,) * len(settings["sizes"])
    return TrainConfig(**settings)


@dataclass
class _Run:
    """Mutable state of one training run: the log and the clock."""

    config: TrainConfig
    progress: Callable[[dict], None] | None
    started: float = field(default_factory=time.perf_counter)
    log: list = field(default_factory=list)

    def emit(self, **event):
        event["elapsed_s"] = round(time.perf_counter() - self.started, 1)
        self.log.append(event)
        if self.progress:
            self.progress(event)


def _augment(x: torch.Tensor, use_dihedral: bool, gen: torch.Generator) -> torch.Tensor:
    """RandomLighting ±10 % (brightness and contrast) and, for Cartesian views, a random
    dihedral transform (the 8 rotations/flips of the square)."""
    n = len(x)
    # drawn on the CPU generator so that a run is the same on any device
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 0.2 - 0.1).to(x.device)
    brightness = (torch.rand(n, 1, 1, 1, generator=gen) * 0.2 - 0.1).to(x.device)
    x = (x - x.mean(dim=(1, 2, 3), keepdim=True)) * contrast + x.mean(
        dim=(1, 2, 3), keepdim=True) + brightness * (255 / 64)
    if use_dihedral:
        k = torch.randint(0, 8, (n,), generator=gen).to(x.device)
        out = x.clone()
        for t in range(8):
            sel = k == t
            if sel.any():
                out[sel] = dihedral(x[sel], t)
        x = out
    return x


def _batches(n: int, batch_size: int, gen: torch.Generator | None, device):
    """Index batches on ``device``, shuffled by the CPU generator ``gen`` (None: in order)."""
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    order = order.to(device)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    return config.bf16 and native_bf16(device)


def _autocast(config: TrainConfig, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=_uses_bf16(config, device))


class KnownLabelsLoss(nn.Module):
    """Binary cross-entropy with logits over the known labels only: an ``UNKNOWN`` entry
    (a partial label) adds nothing to the loss or its gradient. With every label known it
    is ``nn.BCEWithLogitsLoss(pos_weight=...)``."""

    def __init__(self, pos_weight: torch.Tensor):
        super().__init__()
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        known = target != UNKNOWN
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, target.clamp(min=0), pos_weight=self.pos_weight, reduction="none")
        return (loss * known).sum() / known.sum().clamp(min=1)


@torch.no_grad()
def _evaluate(net, x_val, y_val, loss_fn, config) -> tuple[float, np.ndarray]:
    net.eval()
    losses, scores = [], []
    for idx in _batches(len(x_val), 128, None, x_val.device):
        with _autocast(config, x_val.device):
            logits = net(as_input(x_val[idx])).float()
        losses.append(loss_fn(logits, y_val[idx]).item() * len(idx))
        scores.append(torch.sigmoid(logits).cpu().numpy())
    return float(np.sum(losses) / len(x_val)), np.concatenate(scores)


def lr_range_test(net, x, y, loss_fn, config, *, start=1e-6, end=1.0, steps=80) -> float:
    """Leslie Smith's LR-range test: raise the LR geometrically over ``steps`` batches and
    return a tenth of the LR with the lowest smoothed loss. The network is restored."""
    x = torch.as_tensor(x)
    y = torch.as_tensor(y, device=x.device)
    saved = copy.deepcopy(net.state_dict())
    gen = torch.Generator().manual_seed(config.seed + 99)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=start, weight_decay=config.weight_decay)
    factor = (end / start) ** (1 / steps)
    net.train()
    lrs, smooth, best, avg = [], [], math.inf, 0.0
    batches = []
    while len(batches) < steps:
        batches += _batches(len(x), config.batch_size, gen, x.device)
    for i, idx in enumerate(batches[:steps]):
        lr = start * factor**i
        for group in opt.param_groups:
            group["lr"] = lr
        with _autocast(config, x.device):
            loss = loss_fn(net(_augment(as_input(x[idx]), False, gen)).float(), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        avg = 0.9 * avg + 0.1 * loss.item()
        value = avg / (1 - 0.9 ** (i + 1))
        lrs.append(lr)
        smooth.append(value)
        best = min(best, value)
        if not math.isfinite(value) or value > 4 * best:
            break
    net.load_state_dict(saved)
    return float(lrs[int(np.argmin(smooth))] / 10)


def _phase(run: _Run, net, x_tr, y_tr, x_val, y_val, loss_fn, *, stage: str, lrs,
           epochs: int, deadline: float) -> None:
    """Train for up to ``epochs``; early-stop on validation loss; restore the best weights."""
    config = run.config
    groups = layer_groups(net)
    param_groups = [{"params": [p for p in g if p.requires_grad], "lr": lr}
                    for g, lr in zip(groups, lrs, strict=True)]
    param_groups = [g for g in param_groups if g["params"]]
    opt = torch.optim.AdamW(param_groups, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(x_tr) / config.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=steps_per_epoch,
                                                                 T_mult=2)
    # (frozen phases: only the head and the batch-norm layers have requires_grad)
    gen = torch.Generator().manual_seed(config.seed + len(run.log))
    use_dihedral = config.representation == "cartesian"
    best_loss, best_state, waited = math.inf, None, 0
    for epoch in range(epochs):
        net.train()
        t0, total = time.perf_counter(), 0.0
        for idx in _batches(len(x_tr), config.batch_size, gen, x_tr.device):
            x = _augment(as_input(x_tr[idx]), use_dihedral, gen)
            with _autocast(config, x_tr.device):
                loss = loss_fn(net(x).float(), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val_loss, scores = _evaluate(net, x_val, y_val, loss_fn, config)
        f1 = _macro_f1(y_val.cpu().numpy(), scores)
        improved = val_loss < best_loss - 1e-4
        if improved:
            best_loss, best_state, waited = val_loss, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
        seconds = time.perf_counter() - t0
        run.emit(event="epoch", stage=stage, epoch=epoch + 1, epochs=epochs,
                 train_loss=round(total / len(x_tr), 5), val_loss=round(val_loss, 5),
                 val_f1_macro=round(f1, 4), best=improved, epoch_s=round(seconds, 1),
                 lr=[g["initial_lr"] for g in opt.param_groups])
        if waited >= config.patience:
            run.emit(event="early_stop", stage=stage, epoch=epoch + 1)
            break
        if time.perf_counter() + seconds > deadline:
            run.emit(event="time_budget", stage=stage, epoch=epoch + 1)
            break
    if best_state is not None:
        net.load_state_dict(best_state)


def start_from_model(net, config: TrainConfig) -> CnnModel:
    """Copy the weights of the mxqc CNN model at ``config.init`` into ``net`` (fine-tuning
    the default model on one's own frames, or training a model on). Its architecture,
    representation and pooling must be the config's. Returns that model."""
    from mxqc.learn.bundle import load_model

    model = load_model(config.init)
    if not isinstance(model, CnnModel):
        raise StartingModelError(f"{config.init}: a classical model has no CNN weights to "
                                 "start from")
    meta = model.metadata
    wanted = {"model": config.arch, "representation": config.representation,
              "pooling": config.pooling}
    differ = {k: (meta.get(k, "area"), v) for k, v in wanted.items()
              if meta.get(k, "area") != v}
    if differ:
        raise StartingModelError(f"{config.init}: cannot start from it: " + ", ".join(
            f"its {k} is {have}, this run's {want}" for k, (have, want) in differ.items()))
    net.load_state_dict(model.net.state_dict())
    return model


def _macro_f1(y_true: np.ndarray, scores: np.ndarray) -> float:
    pred, t = (scores > 0.5) & (y_true != UNKNOWN), y_true > 0.5
    tp, fp, fn = (pred & t).sum(0), (pred & ~t).sum(0), (~pred & t).sum(0)
    return float(np.mean(np.where(tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1),
                                  1.0)))


def _summary(labels: np.ndarray) -> dict:
    summary = {"frames": len(labels), "positives": {
        c: int(v) for c, v in zip(CLASSES, (labels == 1).sum(0), strict=True)}}
    unknown = (labels == UNKNOWN).sum(0)
    if unknown.any():
        summary["unknown"] = {c: int(v) for c, v in zip(CLASSES, unknown, strict=True)}
    return summary


def train_cnn(dataset: Dataset, config: TrainConfig = TrainConfig(), *,
              progress: Callable[[dict], None] | None = None) -> CnnModel:
    """Train a CNN on ``dataset``'s train split (validation split for early stopping and
    thresholds). Returns a ``CnnModel`` whose metadata records config, data and log."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    device = resolve_device(config.device)
    run = _Run(config, progress)
    run.emit(event="device", device=str(device))
    y_tr = torch.as_tensor(store.split_table(dataset, "train").labels, dtype=torch.float32,
                           device=device)
    y_val = torch.as_tensor(store.split_table(dataset, "val").labels, dtype=torch.float32,
                            device=device)
    positives, negatives = (y_tr == 1).sum(0), (y_tr == 0).sum(0)
    weights = (negatives / positives.clamp(min=1)).clamp(1.0, MAX_POS_WEIGHT)
    if not config.pos_weight:
        weights = torch.ones_like(weights)
    loss_fn = KnownLabelsLoss(weights)
    net = build_network(config.arch, dropout=config.dropout,
                        in_channels=channels(config.pooling))
    if config.pretrained:
        load_pretrained(net, config.pretrained)
    starting_model = start_from_model(net, config) if config.init else None
    net.to(device)
    budget = config.time_budget_s or math.inf
    cost = np.array([e * s * s for e, s in zip(config.epochs, config.sizes, strict=True)], float)
    stage_ends = run.started + budget * np.cumsum(cost) / cost.sum()
    lr = config.lr
    for size, epochs, stage_end in zip(config.sizes, config.epochs, stage_ends, strict=True):
        # whole splits as uint8 on the device: batches are then slices, never copies
        x_tr, x_val = (torch.as_tensor(store.views(dataset, split, config.representation, size,
                                                   config.centre_method, config.pooling),
                                       device=device)
                       for split in ("train", "val"))
        set_body_frozen(net, True)
        if lr is None:
            lr = lr_range_test(net, x_tr, y_tr, loss_fn, config)
            run.emit(event="lr_range_test", lr=lr)
        if config.frozen_epochs:
            _phase(run, net, x_tr, y_tr, x_val, y_val, loss_fn, stage=f"{size}px frozen",
                   lrs=[lr / 4, lr / 2, lr], epochs=config.frozen_epochs, deadline=stage_end)
        set_body_frozen(net, False)
        head = lr / 2
        _phase(run, net, x_tr, y_tr, x_val, y_val, loss_fn, stage=f"{size}px",
               lrs=[head / 4, head / 2, head], epochs=epochs, deadline=stage_end)
    val_loss, _ = _evaluate(net, x_val, y_val, loss_fn, config)
    metadata = {
        "kind": "cnn", "model": config.arch, "representation": config.representation,
        "pooling": config.pooling, "input_size": config.sizes[-1], "classes": list(CLASSES),
        "config": asdict(config),
        "normalisation": dataset_normalisation(dataset),
        "centre_method": store.centre_method(dataset, config.centre_method),
        "lr": lr, "pos_weight": [round(float(w), 3) for w in weights],
        "training_data": {"dataset": str(dataset.root), "train": _summary(y_tr.cpu().numpy()),
                          "val": _summary(y_val.cpu().numpy())},
        "training_device": torch.cuda.get_device_name(device) if device.type == "cuda"
        else "cpu",
        "training_precision": "bf16" if _uses_bf16(config, device) else "float32",
        "mxqc_version": mxqc.__version__, "log": run.log,
    }
    if starting_model is not None:
        metadata["init"] = {"path": str(config.init), "name": starting_model.name,
                            "training_data": starting_model.metadata.get("training_data"),
                            "training_time_s": starting_model.metadata.get("training_time_s")}
    model = CnnModel(net, metadata)
    # on the validation split, through the model's own inference path (views, bf16 where
    # native, test-time views): the thresholds fit the outputs a user will get
    tune_model_thresholds(model, dataset, "val", beta=config.threshold_beta)
    run.emit(event="done", val_loss=round(val_loss, 5), thresholds=model.thresholds.tolist())
    model.metadata["training_time_s"] = round(time.perf_counter() - run.started, 1)
    return model.to("cpu")
