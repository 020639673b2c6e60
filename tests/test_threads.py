"""Worker set-up: freed frame-sized memory is reused, not mapped and zero-filled afresh."""

import platform
import subprocess
import sys
import textwrap

import pytest

FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "kept":
        from mxqc.threads import prepare_worker
        prepare_worker(1)
    np.ones(10_000_000)  # 80 MB, a 6M frame's float64 temporary, made and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        np.ones(10_000_000)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_worker_reuses_freed_frame_sized_memory_instead_of_faulting_it_in_again():
    faults = {how: int(subprocess.run([sys.executable, "-c", FAULTS, how], check=True,
                                      capture_output=True, text=True).stdout)
              for how in ("default", "kept")}
    huge_pages = 80_000_000 // 2**21  # the fewest faults that fill one array (2 MB pages)
    assert faults["default"] >= 5 * huge_pages  # each array mapped and zero-filled anew
    assert faults["kept"] < huge_pages  # not even one array's worth
