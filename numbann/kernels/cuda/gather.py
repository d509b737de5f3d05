"""Mini-batch gather on the device (CUDA).

The training set stays on the device for the whole fit; each step copies
the rows of a batch, picked by an index array — typically a slice
``perm[start:stop]`` of a device-resident permutation of the sample indices
— into C-contiguous batch buffers. Indices are validated by the caller
(kernels do not check bounds).

Threads run along the columns (coalesced reads and writes of a row),
blocks along the rows: a 2-D grid of (ceil(C / CUDA_THREADS), rows) blocks,
grid-stride over rows beyond ``CUDA_MAX_BLOCKS``.
"""

import numba
import numpy as np

from ..._cuda import cuda
from ._launch import MAX_BLOCKS, THREADS, Launch, array_types, kernel_set, optional, per_dtype

__all__ = ["gather_rows", "gather_batch", "batch_launch", "kernels", "signatures"]


@cuda.jit
def _gather_rows(src, idx, out):
    """out[i, :] = src[idx[i], :]."""
    n, c = out.shape
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if j < c:
        for i in range(cuda.blockIdx.y, n, cuda.gridDim.y):
            out[i, j] = src[idx[i], j]


@cuda.jit
def _gather_pair(X, T, idx, Xb, Tb, in_order, lo):
    """Xb[i, :] = X[r, :] and Tb[i, :] = T[r, :] in one launch, r = idx[lo + i] (or
    lo + i if in_order)."""
    n, cx = Xb.shape
    ct = Tb.shape[1]
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    for i in range(cuda.blockIdx.y, n, cuda.gridDim.y):
        r = lo + i if in_order else idx[lo + i]
        if j < cx:
            Xb[i, j] = X[r, j]
        if j < ct:
            Tb[i, j] = T[r, j]


@per_dtype
def kernels(dtype):
    """The gather kernels (any element types; specialised per launch)."""
    return kernel_set(gather_rows=_gather_rows, gather_pair=_gather_pair)


def signatures(dtype):
    """Kernel name → argument types for float *dtype* data with int64 indices and
    labels, as the wrappers launch them (for the PTX test)."""
    _, m = array_types(dtype)
    ix, labels = numba.int64[::1], numba.int64[:, ::1]
    return {
        "gather_rows": (m, ix, m),
        "gather_pair": (m, labels, ix, m, labels, numba.boolean, numba.int64),
    }


def _grid(n, c):
    return (max(1, -(-c // THREADS)), max(1, min(n, MAX_BLOCKS)))


def _as_2d(a):
    return a.reshape(a.shape[0], 1) if a.ndim == 1 else a


def gather_rows(src, idx, out, stream=0):
    """Launch: out[i] = src[idx[i]] for i < len(idx); src (M, C) or (M,), out
    (len(idx), C) or (len(idx),), any element type."""
    n = idx.shape[0]
    if n == 0 or out.size == 0:
        return
    out2 = _as_2d(out)
    Launch(_gather_rows, _grid(n, out2.shape[1]), THREADS, (_as_2d(src), idx, out2), stream)()


def batch_launch(X, T, order, Xb, Tb, stream=0, pretyped=False):
    """The launch of a batch gather into Xb, Tb (n rows), or None for n = 0; it takes the
    batch's first position in *order* as its tail: ``launch(lo)`` copies rows
    order[lo : lo + n] — or, with ``order=None``, rows lo … lo + n − 1. X (M, D), T (M, C)."""
    n = Xb.shape[0]
    if n == 0:
        return None
    idx = optional(None, np.int64)[0] if order is None else order
    return Launch(_gather_pair, _grid(n, max(Xb.shape[1], Tb.shape[1])), THREADS,
                  (X, T, idx, Xb, Tb, order is None), stream, tail=(0,), pretyped=pretyped)


def gather_batch(X, T, idx, Xb, Tb, stream=0):
    """Launch: Xb[i] = X[idx[i]] and Tb[i] = T[idx[i]] in one kernel.

    X (M, D) float; T (M,) integer labels or (M, C) target rows; Xb, Tb the
    batch buffers (len(idx), …). E.g. ``idx = perm[start:stop]``.
    """
    if idx.shape[0] == 0:
        return
    batch_launch(X, _as_2d(T), idx, Xb, _as_2d(Tb), stream)(0)
