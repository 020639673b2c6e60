import os
from pathlib import Path

import pytest

REAL_FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "real-frames"
REAL_FRAMES = Path(os.environ.get("MXQC_REAL_FRAMES", REAL_FRAMES))


@pytest.fixture
def real_frames() -> Path:
    if not REAL_FRAMES.is_dir():
        pytest.skip(f"shared real frames not found at {REAL_FRAMES} (set MXQC_REAL_FRAMES); "
                    "they live beside the project checkout in CI, not in a user's clone")
    return REAL_FRAMES
