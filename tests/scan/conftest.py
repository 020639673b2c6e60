import shutil

import pytest

from mxqc.simulate.export import write_simulated


@pytest.fixture(scope="session")
def beamline_dir(tmp_path_factory):
    """A small 'beamline run': CBF and SMV frames, an HDF5 master with 4 frames, a truncated
    CBF and a garbage file."""
    root = tmp_path_factory.mktemp("beamline")
    write_simulated(root / "cbf", 3, seed=1, detector="square1k", fmt="cbf")
    write_simulated(root / "smv", 2, seed=2, detector="square1k", fmt="smv")
    write_simulated(root / "h5", 4, seed=3, detector="square1k", fmt="h5", frames_per_file=4)
    good = root / "cbf" / "sim_1_000000.cbf"
    data = good.read_bytes()
    (root / "cbf" / "truncated_000001.cbf").write_bytes(data[: len(data) // 2])
    (root / "garbage_000001.img").write_bytes(b"\x00garbage" * 100)
    shutil.copy(good, root / "copy_000001.cbf")
    return root
