"""One place for compile flags, dtypes and launch configuration.

Every compiled function in numbann is decorated through :func:`jit` (CPU) or
takes its launch shape from the CUDA constants below, so a change of policy
is a change here and nowhere else.
"""

import os

import numba
import numpy as np

#: LLVM fast-math flags used for every CPU kernel. Deliberately without
#: ``nnan`` and ``ninf``: those let LLVM assume NaN/inf never occur, which
#: would fold away the finiteness checks the trainer relies on. ``reassoc``
#: lets reductions vectorise; ``contract`` allows fused multiply-add.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: On-disk cache of compiled CPU kernels (next to the sources, or in
#: NUMBA_CACHE_DIR). Switch off with NUMBANN_JIT_CACHE=0.
CACHE = os.environ.get("NUMBANN_JIT_CACHE", "1") != "0"

#: Default training dtype; float64 is fully supported.
DEFAULT_DTYPE = np.dtype(np.float32)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


#: NumPy's error model: x / 0 gives inf/NaN instead of raising. Python's model
#: puts a zero test before every division, which stops LLVM from vectorising
#: any loop that divides (the sigmoid, softmax and every optimizer).
ERROR_MODEL = "numpy"


def jit(func=None, *, parallel=False):
    """``numba.njit`` with the project's flags (cache, fastmath, error model, parallel)."""
    options = dict(cache=CACHE, fastmath=set(FASTMATH), error_model=ERROR_MODEL,
                   parallel=parallel, nogil=True)
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


# --- CUDA launch configuration -------------------------------------------
# Chosen for Ampere (sm_80/86) and Hopper (sm_90): 256 threads per block keeps
# 8 warps per block and lets up to 8 blocks share an SM (2048 threads), and a
# 16x16 tile of float32 in shared memory per operand (2 KiB) leaves room for
# many resident blocks. Tests under the simulator patch these to tiny values
# so that tiny inputs still span several blocks and partial tiles.

#: threads per block for 1-D elementwise kernels
CUDA_THREADS = int(os.environ.get("NUMBANN_CUDA_THREADS", 256))
#: edge of the square shared-memory tile of the matrix-product kernels
CUDA_TILE = int(os.environ.get("NUMBANN_CUDA_TILE", 16))
#: threads per block for row-wise reductions (softmax, losses): one warp per row
CUDA_ROW_THREADS = int(os.environ.get("NUMBANN_CUDA_ROW_THREADS", 32))
