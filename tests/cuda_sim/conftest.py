"""The CUDA kernel tests: under Numba's CUDA simulator, or on a real GPU.

Run by tests/test_cuda_sim.py in a subprocess with NUMBA_ENABLE_CUDASIM=1
and tiny launch sizes (NUMBANN_CUDA_THREADS=8, _TILE=4, _ROW_THREADS=4,
_MAX_BLOCKS=3), which both are read at import. The same files run
unchanged on a machine with a GPU (without the simulator variable); without
either, every test is skipped.
"""

import pytest
import simfixes

from numbann._cuda import SIMULATOR, cuda_status

if SIMULATOR:
    simfixes.patch()


def pytest_configure(config):
    # pytest resets the warning filters around each test: give it this one as its own
    action, message, category, module = simfixes.UINT64_WRAPPING
    config.addinivalue_line("filterwarnings",
                            f"{action}:{message}:{category.__name__}:{module}")


def pytest_collection_modifyitems(config, items):
    ok, reason = cuda_status()
    if not ok:
        skip = pytest.mark.skip(reason=f"needs NUMBA_ENABLE_CUDASIM=1 or a GPU: {reason}")
        for item in items:
            item.add_marker(skip)
