import os
from pathlib import Path

import pytest

REAL_FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "real-frames"
REAL_FRAMES = Path(os.environ.get("MXQC_REAL_FRAMES", REAL_FRAMES))


@pytest.fixture(scope="session")
def real_frames() -> Path:
    if not REAL_FRAMES.is_dir():
        pytest.skip(f"shared real frames not found at {REAL_FRAMES} (set MXQC_REAL_FRAMES); "
                    "they live beside the project checkout in CI, not in a user's clone")
    return REAL_FRAMES


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """48 simulated 64² PNG frames with labels, centres.csv and a split (seconds to make)."""
    from mxqc.dataset import split_dataset
    from mxqc.simulate.export import write_simulated

    root = tmp_path_factory.mktemp("tiny-dataset")
    write_simulated(root, 48, seed=5, detector="square256", fmt="png", size=64, resize="area",
                    rates={"ice_ring": 0.5, "artifact": 0.5})
    return split_dataset(root, seed=0)


@pytest.fixture(scope="session")
def smoke_model_path(tiny_dataset, tmp_path_factory) -> Path:
    """A barely trained ResNet-18 bundle: for testing the plumbing, not the predictions."""
    from mxqc.learn import TrainConfig, save_model, train_cnn

    model = train_cnn(tiny_dataset, TrainConfig(sizes=(32,), epochs=(1,), frozen_epochs=0,
                                                batch_size=8, lr=1e-3, threads=1))
    model.metadata["name"] = "smoke"
    return save_model(model, tmp_path_factory.mktemp("models") / "smoke.safetensors")
