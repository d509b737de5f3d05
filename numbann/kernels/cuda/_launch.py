"""Launch helpers shared by the CUDA kernels: dtypes, grids, placeholders, prepared
launches, block reductions and NaN-propagating comparisons.

Kernels are built per float dtype by small factories (``kernels(dtype)`` in
each module), so that every constant in a float32 kernel is a float32
(``np.float32(1)`` held in the closure) and the PTX has no ``.f64``.
Dispatchers are lazy: a kernel compiles on its first launch for the argument
types it sees (C-contiguous device arrays, Python ints as int64, Python
bools, typed NumPy scalars). Each module's ``signatures(dtype)`` lists those
types for the PTX test.

Every launch is a :class:`Launch`. The wrappers build and run one at each
call; the training engine builds a step's launches once per call, typed in
advance (``Dispatcher.specialize``: compiled then, and launched afterwards
without type dispatch) with their launch configuration built once, and per
step passes only the arguments that change (a batch offset, an optimizer's
per-step factors).

No float ``max``/``min`` appears in a kernel: numba-cuda lowers them to
libdevice ``fmaxf``/``fminf`` (PTX ``max.f32``), which return the non-NaN
operand, so NaN would vanish on a GPU where the CPU kernels (and the
simulator, which runs Python's ``max``) keep it. Comparisons and selects
are written out instead (:func:`nan_max`; the activations and losses
mirror the CPU expressions), and the PTX test checks the PTX for them.
"""

import os
from functools import cache, lru_cache
from types import SimpleNamespace

import numba
import numpy as np

from ..._config import CUDA_MAX_BLOCKS, CUDA_ROW_THREADS, CUDA_THREADS, CUDA_TILE
from ..._cuda import SIMULATOR, cuda


def _check_config():
    for name, value in (("NUMBANN_CUDA_THREADS", CUDA_THREADS),
                        ("NUMBANN_CUDA_ROW_THREADS", CUDA_ROW_THREADS)):
        if value < 1 or value & (value - 1) or value > 1024:
            raise ValueError(f"{name}={value}: must be a power of two ≤ 1024")
    if CUDA_TILE < 1 or CUDA_TILE * CUDA_TILE > 1024:
        raise ValueError(f"NUMBANN_CUDA_TILE={CUDA_TILE}: need 1 ≤ tile and tile² ≤ 1024")
    if CUDA_MAX_BLOCKS < 1:
        raise ValueError(f"NUMBANN_CUDA_MAX_BLOCKS={CUDA_MAX_BLOCKS}: must be ≥ 1")


_check_config()


def _quiet_small_grids():
    """numba-cuda warns ("low occupancy") at every launch of fewer than 128
    blocks. numbann launches small grids on purpose — one block per loss or
    accuracy slot, one per row of a 100-row batch — so, unless the user set
    NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS, that heuristic is switched off."""
    if "NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS" in os.environ:
        return
    config = getattr(getattr(cuda, "core", None), "config", None)
    if config is not None and hasattr(config, "CUDA_LOW_OCCUPANCY_WARNINGS"):
        config.CUDA_LOW_OCCUPANCY_WARNINGS = 0


_quiet_small_grids()

THREADS = CUDA_THREADS
ROW_THREADS = CUDA_ROW_THREADS
TILE = CUDA_TILE
#: row length of a shared tile: one column of padding against bank conflicts
TILE_PAD = CUDA_TILE + 1
MAX_BLOCKS = CUDA_MAX_BLOCKS

_NUMBA_FLOATS = {np.dtype(np.float32): numba.float32, np.dtype(np.float64): numba.float64}


def float_type(dtype):
    """The Numba type of a float dtype; TypeError for anything but float32/float64."""
    dt = np.dtype(dtype)
    if dt not in _NUMBA_FLOATS:
        raise TypeError(f"CUDA kernels take float32 or float64 arrays, got {dt}")
    return _NUMBA_FLOATS[dt]


def array_types(dtype):
    """(1-D, 2-D) C-contiguous array types of *dtype*, for kernel signatures."""
    t = float_type(dtype)
    return t[::1], t[:, ::1]


def per_dtype(factory):
    """Cache a ``factory(dtype)`` per float dtype (np.float32, 'float32' and
    np.dtype('float32') share one entry); TypeError for other dtypes."""
    cached = lru_cache(maxsize=None)(factory)

    def get(dtype):
        dt = np.dtype(dtype)
        float_type(dt)
        return cached(dt)

    get.__name__, get.__doc__ = factory.__name__, factory.__doc__
    return get


def kernel_set(**kernels):
    """The namespace a module's ``kernels(dtype)`` returns: name → dispatcher."""
    return SimpleNamespace(**kernels)


def blocks_for(n, threads=THREADS):
    """Blocks of a grid-stride launch over *n* items: enough for one item per
    thread, at most :data:`MAX_BLOCKS`, at least 1."""
    return max(1, min(-(-n // threads), MAX_BLOCKS))


def rows_grid(n):
    """Blocks of a row-wise launch (one block per row, grid-stride over rows)."""
    return max(1, min(n, MAX_BLOCKS))


def tile_grid(m, n):
    """(x, y) blocks covering an (m, n) output with TILE x TILE tiles."""
    return (max(1, -(-n // TILE)), max(1, -(-m // TILE)))


def address(a):
    """The data address of a device array (or NumPy array), to detect aliasing."""
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is None:  # the simulator's arrays wrap a NumPy array, ._ary
        iface = getattr(a, "_ary", a).__array_interface__
    return iface["data"][0]


def same_array(a, b):
    """True if *a* and *b* start at the same address (in-place call)."""
    return a is b or (a.size > 0 and address(a) == address(b))


@cache
def _placeholder(dtype, ndim):
    return cuda.device_array((1,) * ndim, dtype=dtype)


def optional(a, dtype, ndim=1):
    """``(array, used)`` for an optional kernel argument.

    Optional arrays (no bias, unused optimizer state, dY without need_grad)
    are None or empty by the CPU contract; a kernel never receives a
    zero-size array but a 1-element placeholder of the same dtype and ndim
    (so the specialisation is the same) and a flag saying it is unused.
    """
    if a is None or a.size == 0:
        return _placeholder(np.dtype(dtype), ndim), False
    return a, True


def flat(a):
    """A C-contiguous device array as 1-D (a view)."""
    return a if a.ndim == 1 else a.reshape(a.size)


class Launch:
    """One kernel launch, prepared: the kernel, its grid, block and stream, and its leading
    arguments; ``launch(*tail)`` runs it with *tail* appended (what changes between runs).

    With ``pretyped`` the kernel is specialised for the argument types (with *tail*
    standing for the types of the later tails) — compiled now, launched later
    without type dispatch — and its launch configuration is built once. (The
    simulator's kernels keep one configuration each, so there it is set at
    every launch.)
    """

    __slots__ = ("kernel", "grid", "block", "stream", "args", "_configured")

    def __init__(self, kernel, grid, block, args, stream=0, tail=(), pretyped=False):
        if pretyped:
            kernel = kernel.specialize(*args, *tail)
        self.kernel, self.grid, self.block, self.stream = kernel, grid, block, stream
        self.args = tuple(args)
        self._configured = kernel[grid, block, stream] if pretyped and not SIMULATOR else None

    def __call__(self, *tail):
        configured = self._configured or self.kernel[self.grid, self.block, self.stream]
        configured(*self.args, *tail)


def run(launches):
    """Run prepared launches in order (no tails)."""
    for launch in launches:
        launch()


@cuda.jit(device=True)
def nan_max(a, b):
    """max(a, b) that is NaN if either is (a compare and select: never ``max.f32``)."""
    return a if a > b or a != a else b


@cuda.jit(device=True)
def _tree(buf, v, take_max):
    t = cuda.threadIdx.x
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] = nan_max(buf[t], buf[t + s]) if take_max else buf[t] + buf[t + s]
        cuda.syncthreads()
        s //= 2
    r = buf[0]
    cuda.syncthreads()  # buf may be reused right after
    return r


@cuda.jit(device=True)
def block_sum(buf, v):
    """Σ of *v* over the threads of a block (blockDim.x a power of two ≤ len(buf)).

    A shared-memory tree; every thread of the block must call it, all get
    the result.
    """
    return _tree(buf, v, False)


@cuda.jit(device=True)
def block_max(buf, v):
    """max of *v* over the threads of a block, NaN if any is (:func:`nan_max`); see
    :func:`block_sum`."""
    return _tree(buf, v, True)
