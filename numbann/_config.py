"""One place for compile flags, dtypes and launch configuration.

Every compiled function in numbann is decorated through :func:`jit` (CPU) or
takes its launch shape from the CUDA constants below, so a change of policy
is a change here and nowhere else.
"""

import functools
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

#: Whether the compiled engine may split each batch between Numba's threads
#: (numbann.kernels.engine_split); NUMBANN_SPLIT=0 keeps it on one thread with a
#: multi-threaded BLAS.
SPLIT = os.environ.get("NUMBANN_SPLIT", "1") != "0"

#: Default training dtype; float64 is fully supported.
DEFAULT_DTYPE = np.dtype(np.float32)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


#: NumPy's error model: x / 0 gives inf/NaN instead of raising. Python's model
#: puts a zero test before every division, which stops LLVM from vectorising
#: any loop that divides (the sigmoid, softmax and every optimizer).
ERROR_MODEL = "numpy"


#: options of every compiled CPU function, also for ``@overload(jit_options=…)``
JIT_OPTIONS = dict(cache=CACHE, fastmath=set(FASTMATH), error_model=ERROR_MODEL, nogil=True)


def _unliteral_call_template(dispatcher, args, kws):
    """A compiled caller types a constant argument as a literal (``Literal[int](2)``), and
    Numba would compile the callee once per constant it is called with; numbann's
    functions branch on such values at run time, so they are compiled for the plain
    types (one specialisation per array layout and dtype, not per constant)."""
    args = tuple(numba.types.unliteral(a) for a in args)
    kws = {k: numba.types.unliteral(a) for k, a in kws.items()}
    return type(dispatcher).get_call_template(dispatcher, args, kws)


def jit(func=None, *, parallel=False, exact=False, inline=False):
    """``numba.njit`` with the project's flags (cache, fastmath, error model, parallel),
    compiled for plain argument types, never per literal constant.

    ``exact=True`` compiles without fastmath, for code whose meaning depends on
    IEEE rules that reassociation may fold away (e.g. x − x being NaN for inf).
    ``inline=True`` inlines the function's body into its compiled callers (Numba's
    ``inline="always"``): for a large function called from one place, it saves
    compiling it on its own and then optimising its whole call tree once more for
    the caller.
    """
    options = dict(JIT_OPTIONS, fastmath=set() if exact else set(FASTMATH), parallel=parallel)
    if inline:
        options["inline"] = "always"

    def make(f):
        dispatcher = numba.njit(**options)(f)
        dispatcher.get_call_template = functools.partial(_unliteral_call_template, dispatcher)
        return dispatcher

    return make if func is None else make(func)


# --- CUDA launch configuration -------------------------------------------
# Chosen for Ampere (sm_80/86) and Hopper (sm_90); see docs/gpu.md.
# - 256 threads per block for the 1-D (elementwise, optimizer, reduction)
#   kernels: 8 warps per block, 8 resident blocks fill an SM's 2048 threads
#   on both architectures, and a 256-wide tree reduction needs 1 KiB of
#   shared memory.
# - 16x16 tiles for the matrix products: 256 threads, one output element
#   each, and two (16, 17) shared tiles (2.1 KiB in float32, padded by one
#   column against bank conflicts on the transposed loads). The layer widths
#   these networks have (10 … a few hundred) leave too few 32- or 64-wide
#   tiles to fill 108 (A100) or 132 (H100) SMs, so bigger tiles would idle SMs.
# - 32 threads (one warp) per row for row-wise reductions (softmax, losses):
#   rows are 10 … a few hundred wide.
# - At most 1024 blocks for the grid-stride kernels: 8 resident blocks on
#   each of 108–132 SMs is 864–1056, so one wave covers the device.
# All must be powers of two (tree reductions). The simulator tests patch
# them to tiny values (e.g. 8/4/4/3) so tiny inputs span several blocks,
# partial tiles and grid-stride loops. Read at import.

#: threads per block for 1-D elementwise kernels (power of two)
CUDA_THREADS = int(os.environ.get("NUMBANN_CUDA_THREADS", 256))
#: edge of the square shared-memory tile of the matrix-product kernels (TILE² ≤ 1024)
CUDA_TILE = int(os.environ.get("NUMBANN_CUDA_TILE", 16))
#: threads per block for row-wise reductions (softmax, losses): one warp per row (power of two)
CUDA_ROW_THREADS = int(os.environ.get("NUMBANN_CUDA_ROW_THREADS", 32))
#: largest grid of the grid-stride kernels (elementwise, optimizers, row kernels, reductions)
CUDA_MAX_BLOCKS = int(os.environ.get("NUMBANN_CUDA_MAX_BLOCKS", 1024))
