"""Runs the CUDA kernel tests (tests/cuda_sim) under Numba's CUDA simulator.

NUMBA_ENABLE_CUDASIM and the NUMBANN_CUDA_* launch sizes are read at import,
so the simulator tests run in a pytest process of their own, with launch
sizes small enough that tiny inputs span several blocks, partial tiles and
grid-stride loops.
"""

import os
import re
import sys
from pathlib import Path

import pytest
from _background import background

from numbann._cuda import cuda

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.gpu_check import SIMULATOR_ENV  # noqa: E402  (the one place it is defined)


def _simulator_run(out_dir):
    return ([sys.executable, "-m", "pytest", "tests/cuda_sim", "-q", "-p", "no:cacheprovider"],
            {**os.environ, **SIMULATOR_ENV}, ROOT)


@pytest.mark.skipif(cuda is None, reason="Numba's CUDA target (numbann[cuda]) is not installed")
@background(_simulator_run)
def test_cuda_kernels_under_the_simulator(background_result):
    output = background_result.output
    assert background_result.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 100, output
    assert "skipped" not in output, output
