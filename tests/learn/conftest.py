import pytest

from mxqc.dataset import split_dataset
from mxqc.simulate.export import write_simulated


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """48 simulated 64² PNG frames with labels, centres.csv and a split (seconds to make)."""
    root = tmp_path_factory.mktemp("tiny-dataset")
    write_simulated(root, 48, seed=5, detector="square256", fmt="png", size=64, resize="area",
                    rates={"ice_ring": 0.5, "artifact": 0.5})
    return split_dataset(root, seed=0)
