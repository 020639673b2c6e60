"""Training speed of a ResNet as ``mxqc train`` runs it: images/s of a full step (forward,
BCE, backward, AdamW) in bf16 autocast, in channels-last memory format (as
``build_network`` makes it) and, for comparison, in the default contiguous format.

    python benchmarks/bench_train.py [--arch resnet18] [--sizes 128 256] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from mxqc.classes import N_CLASSES
from mxqc.learn.cnn import build_network


def images_per_second(arch: str, size: int, batch: int, steps: int, channels_last: bool,
                      device: torch.device) -> float:
    net = build_network(arch).to(device).train()
    if not channels_last:
        net = net.to(memory_format=torch.contiguous_format)
    x = torch.randn(batch, 1, size, size, device=device)
    y = torch.rand(batch, N_CLASSES, device=device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for step in range(steps + 1):  # the first step warms up oneDNN/cuDNN
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_fn(net(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss.item()  # waits for the device
    return batch * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"{args.arch}, batch {args.batch}, bf16, {device} ({torch.get_num_threads()} threads)")
    for size in args.sizes:
        for channels_last in (True, False):
            rate = images_per_second(args.arch, size, args.batch, args.steps, channels_last,
                                     device)
            layout = "channels-last" if channels_last else "contiguous"
            print(f"{size}²  {layout:13s}  {rate:6.1f} images/s")


if __name__ == "__main__":
    main()
