"""Device reductions (CUDA): sums and accuracy counts that stay on the device.

Sums and correct-prediction counts go into slots of small device arrays
(one slot per call, or per block), so nothing waits for the GPU until
:func:`fetch_sum` copies the few values back and adds them up in float64 on
the host. Nothing uses atomics: every block writes its own slot, so results
are deterministic. (The training engine needs none of these launches: its
loss kernel records each row's loss and hit, see :mod:`.losses`; the
per-row test of a hit, :func:`row_hits`, is the one defined here.)

Each kernel is a grid-stride loop followed by a shared-memory tree
reduction over a block of ``CUDA_THREADS`` threads; block b writes
``out[offset + b]``. :func:`row_argmax` picks the first maximum of a row, or
its first NaN, as ``np.argmax`` does.
"""

import numba
import numpy as np

from ..._cuda import cuda
from ._launch import (
    THREADS,
    Launch,
    array_types,
    block_sum,
    blocks_for,
    flat,
    float_type,
    kernel_set,
    per_dtype,
)

__all__ = ["sum_blocks", "count_correct", "fetch_sum", "total", "row_argmax", "row_hits",
           "kernels", "signatures"]


@cuda.jit(device=True)
def row_argmax(Y, i, c):
    """Index of the first maximum of row i of Y (c ≥ 1 columns) — or of its first NaN —,
    like np.argmax."""
    best = Y[i, 0]
    if best != best:
        return 0
    arg = 0
    for j in range(1, c):
        v = Y[i, j]
        if v != v:
            return j
        if v > best:
            best = v
            arg = j
    return arg


@cuda.jit(device=True)
def _label(t, i, c):
    return t[i]


def _row_hit(truth, dtype):
    """A device function ``hit(Y, T, i)`` → 1 if row i of Y predicts the class truth(T, i, c)
    (argmax; for a single output Y > 0 against a label, or against T > ½), else 0."""
    zero, one = np.int32(0), np.int32(1)
    fzero, half = dtype.type(0), dtype.type(0.5)

    @cuda.jit(device=True)
    def hit(Y, T, i):
        c = Y.shape[1]
        if c == 1:
            predicted = one if Y[i, 0] > fzero else zero
            actual = truth(T, i, c) if T.ndim == 1 else (one if T[i, 0] > half else zero)
        else:
            predicted = row_argmax(Y, i, c)
            actual = truth(T, i, c)
        return one if predicted == actual else zero

    return hit


@per_dtype
def row_hits(dtype):
    """The ``hit(Y, T, i)`` device functions for float *dtype*: ``labels`` (T (N,) class
    labels) and ``dense`` (T (N, C) target rows, whose argmax is the class)."""
    return kernel_set(labels=_row_hit(_label, dtype), dense=_row_hit(row_argmax, dtype))


def _make_count(hit):
    zero = np.int32(0)

    @cuda.jit
    def count_correct(Y, T, out, offset):
        """out[offset + block] = #{rows i of this block's share with hit(Y, T, i)}."""
        buf = cuda.shared.array(THREADS, numba.int32)
        hits = zero
        for i in range(cuda.grid(1), Y.shape[0], cuda.gridsize(1)):
            hits += hit(Y, T, i)
        hits = block_sum(buf, hits)
        if cuda.threadIdx.x == 0:
            out[offset + cuda.blockIdx.x] = hits

    return count_correct


@per_dtype
def kernels(dtype):
    """The reduction kernels for float *dtype*."""
    nb = float_type(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def sum_blocks(x, out, offset):
        """out[offset + block] = Σ of this block's share of x (1-D)."""
        buf = cuda.shared.array(THREADS, nb)
        acc = zero
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            acc += x[i]
        acc = block_sum(buf, acc)
        if cuda.threadIdx.x == 0:
            out[offset + cuda.blockIdx.x] = acc

    hit = row_hits(dtype)
    return kernel_set(sum_blocks=sum_blocks, count_labels=_make_count(hit.labels),
                      count_onehot=_make_count(hit.dense))


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    i64, counts = numba.int64, numba.int64[::1]
    return {
        "sum_blocks": (v, v, i64),
        "count_labels": (m, numba.int64[::1], counts, i64),
        "count_onehot": (m, m, counts, i64),
    }


# --- host wrappers ----------------------------------------------------------------


def sum_blocks(x, out, offset=0, blocks=1, stream=0):
    """Launch: out[offset : offset + blocks] ← partial sums of x (any shape,
    C-contiguous), one per block; their total is Σ x. No synchronisation.

    With the default ``blocks=1`` a step's loss rows become one value in
    ``out[offset]``.
    """
    Launch(kernels(x.dtype).sum_blocks, blocks, THREADS, (flat(x), out, int(offset)), stream)()


def count_correct(Y, T, out, offset=0, blocks=1, stream=0):
    """Launch: out[offset : offset + blocks] ← partial counts of rows where
    argmax Y[i] equals the label T[i] (T 1-D) or argmax T[i] (T (N, C) one-hot
    rows). *out* is an integer device array. No synchronisation.
    """
    k = kernels(Y.dtype)
    kernel = k.count_labels if T.ndim == 1 else k.count_onehot
    if Y.shape[1] == 0:
        raise ValueError("count_correct needs at least one column")
    Launch(kernel, blocks, THREADS, (Y, T, out, int(offset)), stream)()


def fetch_sum(out, count=None, stream=0):
    """Copy out[:count] to the host and add it up (float64 for floats, int for
    integers). Synchronises on *stream*."""
    host = (out if count is None else out[:count]).copy_to_host(stream=stream)
    if stream != 0:
        stream.synchronize()
    if np.issubdtype(host.dtype, np.integer):
        return int(host.sum(dtype=np.int64))
    return float(host.sum(dtype=np.float64))


def total(x, stream=0):
    """Σ x as a Python float, reduced on the device (synchronises)."""
    blocks = blocks_for(x.size)
    out = cuda.device_array(blocks, dtype=x.dtype, stream=stream)
    sum_blocks(x, out, 0, blocks, stream)
    return fetch_sum(out, stream=stream)
