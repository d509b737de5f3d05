"""Helpers for the CUDA kernel tests: transfers, dtypes, tolerances."""

import sys
from pathlib import Path

import numpy as np

from numbann._cuda import cuda

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for reference.py
from reference import loss_scale  # noqa: E402, F401  (re-exported for the CUDA tests)

DTYPES = [np.float32, np.float64]
# GPU float32 against the CPU float32 kernels: both round each operation to
# float32 but in different orders and with different exp/log, so allow a few ulp.
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def tol(dtype):
    return TOL[np.dtype(dtype).type]


def dev(a):
    """A C-contiguous device copy of *a*."""
    return cuda.to_device(np.ascontiguousarray(a))


def empty(shape, dtype, fill=np.nan):
    """A device array filled with *fill* (NaN by default: unwritten output shows)."""
    return cuda.to_device(np.full(shape, fill, dtype=dtype))


def host(d):
    return d.copy_to_host()


def close(actual, expected, dtype, scale=1.0):
    """assert_allclose with the dtype's tolerance (atol times *scale*)."""
    t = tol(dtype)
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["atol"] * scale)
