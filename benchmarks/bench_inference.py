"""Inference speed of a CNN bundle: images/s at its input size, with and without the views.

    python benchmarks/bench_inference.py [--model FILE] [--device cpu|cuda] [--batch 256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mxqc.learn import load_model
from mxqc.learn.cnn import resolve_device


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--images", type=int, default=2048)
    args = parser.parse_args()
    device = resolve_device(args.device)
    model = load_model(args.model).to(device)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 512, 512), dtype=np.uint8)
    centres = np.full((args.images, 2), 256.0)
    x = model.inputs(images[:args.batch], centres[:args.batch])
    model.logits(x, batch_size=args.batch)  # warm-up (cuDNN autotune, allocator)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    for label, with_views in (("network only", False), ("views + network", True)):
        start = time.perf_counter()
        for i in range(0, args.images, args.batch):
            if with_views:
                x = model.inputs(images[i:i + args.batch], centres[i:i + args.batch])
            model.probabilities(x)  # copies to the host, so the GPU has finished
        seconds = time.perf_counter() - start
        print(f"{model.name} {model.input_size}² on {device} ({name}, "
              f"{torch.get_num_threads()} threads), {label}: "
              f"{args.images / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
