"""Loss kernels (CUDA): the twins of :mod:`numbann.kernels.losses`.

Same codes and math: logits/predictions Y (N, C), targets either labels
t (N,) (integer, validated in range by the caller) or a float matrix T (N, C)
of Y's dtype; the gradient dY (N, C) is written when ``need_grad``.

One block of ``CUDA_ROW_THREADS`` threads per row (one warp by default)
computes the row's loss and gradient with shared-memory reductions: for
softmax + cross-entropy the row maximum, Σ exp(y − max) (a stable
log-sum-exp) and, for target rows, Σ t — the softmax and the loss are fused,
the probabilities are never stored. Instead of returning the loss (which
would need a host synchronisation every step), a wrapper writes each row's
*unscaled* loss into ``rows[offset + i]`` on the device: the batch loss is
``scale · Σ rows`` (the CPU kernel's return value), summed when wanted
(:func:`loss_total`, synchronously; the training engine copies a call's
rows back once). With ``hits`` the same launch also records whether each
row is classified right, so a training step's loss and accuracy cost no
launch of their own. The row maximum propagates NaN, as the CPU's loss
does (:func:`._launch.nan_max`).
"""

import math

import numba
import numpy as np

from ..._cuda import cuda
from ..activations import RELU, SIGMOID
from ..losses import BCE_LOGITS, CE_DELTA, CROSS_ENTROPY, SOFTMAX_CE, SQUARED_ERROR
from . import activations as _act
from . import reduce as _reduce
from ._launch import (
    ROW_THREADS,
    Launch,
    array_types,
    block_max,
    block_sum,
    float_type,
    kernel_set,
    nan_max,
    optional,
    per_dtype,
    rows_grid,
    same_array,
)

__all__ = [
    "SOFTMAX_CE", "SQUARED_ERROR", "BCE_LOGITS", "CROSS_ENTROPY", "CE_DELTA",
    "loss_dense", "loss_labels", "loss_launch", "loss_total", "kernels", "signatures",
]


def _make_loss(dtype, labels):
    nb = float_type(dtype)
    dt = dtype.type
    zero, one, two, minus_inf, delta = dt(0), dt(1), dt(2), dt(-float("inf")), dt(CE_DELTA)
    act = _act.device_functions(dtype).forward
    hit = _reduce.row_hits(dtype).labels if labels else _reduce.row_hits(dtype).dense

    if labels:
        @cuda.jit(device=True)
        def target(T, i, j):
            return one if j == T[i] else zero
    else:
        @cuda.jit(device=True)
        def target(T, i, j):
            return T[i, j]

    @cuda.jit
    def loss_rows(code, Y, T, scale, dY, need_grad, rows, hits, count_hits, offset):
        """rows[offset + i] = row_loss(code, Y[i], T[i]); dY[i] = scale · ∂/∂Y[i] if
        need_grad; hits[offset + i] = 1 if row i is classified right, else 0, if count_hits."""
        buf = cuda.shared.array(ROW_THREADS, nb)
        t, nt = cuda.threadIdx.x, cuda.blockDim.x
        n, c = Y.shape
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            acc = zero
            if code == SOFTMAX_CE:
                m = minus_inf
                for j in range(t, c, nt):
                    m = nan_max(m, Y[i, j])
                m = block_max(buf, m)
                total = zero
                for j in range(t, c, nt):
                    total += math.exp(Y[i, j] - m)
                total = block_sum(buf, total)
                lse = m + math.log(total)
                tsum = zero
                for j in range(t, c, nt):
                    tj = target(T, i, j)
                    acc += tj * (lse - Y[i, j])
                    tsum += tj
                if need_grad:
                    tsum = one if labels else block_sum(buf, tsum)
                    inv_total = one / total
                    for j in range(t, c, nt):
                        p = math.exp(Y[i, j] - m) * inv_total
                        dY[i, j] = scale * (p * tsum - target(T, i, j))
            elif code == SQUARED_ERROR:
                for j in range(t, c, nt):
                    d = Y[i, j] - target(T, i, j)
                    acc += d * d
                    if need_grad:
                        dY[i, j] = two * scale * d
            elif code == BCE_LOGITS:
                for j in range(t, c, nt):
                    z = Y[i, j]
                    tj = target(T, i, j)
                    acc += act(RELU, z) - z * tj + math.log1p(math.exp(-abs(z)))
                    if need_grad:
                        dY[i, j] = scale * (act(SIGMOID, z) - tj)
            else:  # CROSS_ENTROPY
                for j in range(t, c, nt):
                    tj = target(T, i, j)
                    y = Y[i, j] + delta
                    acc -= tj * math.log(y)
                    if need_grad:
                        dY[i, j] = -scale * tj / y
            acc = block_sum(buf, acc)
            if t == 0:
                rows[offset + i] = acc
                if count_hits:
                    hits[offset + i] = hit(Y, T, i)

    return loss_rows


@per_dtype
def kernels(dtype):
    """The row-loss kernels for float *dtype*: target rows and class labels."""
    return kernel_set(loss_dense=_make_loss(dtype, False), loss_labels=_make_loss(dtype, True))


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    i64, b, s = numba.int64, numba.boolean, float_type(dtype)
    hits = numba.int32[::1]
    return {
        "loss_dense": (i64, m, m, s, m, b, v, hits, b, i64),
        "loss_labels": (i64, m, numba.int64[::1], s, m, b, v, hits, b, i64),
    }


# --- host wrappers (launch only; no synchronisation) -------------------------------


def loss_launch(code, Y, T, scale, dY, need_grad, rows, hits=None, stream=0, pretyped=False):
    """The launch of :func:`loss_dense` (T (N, C)) or :func:`loss_labels` (T (N,)), or None
    for no rows; it takes the row offset as its tail: ``launch(offset)``. With *hits*
    (an int32 device array) it also writes hits[offset + i]: 1 if row i is classified
    right (argmax of Y[i] equals the label or the argmax of T[i]; for one output,
    Y > 0 against T > ½), else 0."""
    n = Y.shape[0]
    if n == 0:
        return None
    if hits is not None and need_grad and same_array(dY, Y):
        raise ValueError("hits are taken from the logits Y: the gradient dY cannot be Y then")
    dY, used = optional(dY if need_grad else None, Y.dtype, 2)
    hits, count_hits = optional(hits, np.int32)
    kernel = kernels(Y.dtype).loss_labels if T.ndim == 1 else kernels(Y.dtype).loss_dense
    return Launch(kernel, rows_grid(n), ROW_THREADS,
                  (int(code), Y, T, Y.dtype.type(scale), dY, used, rows, hits, count_hits),
                  stream, tail=(0,), pretyped=pretyped)


def _launch(code, Y, T, scale, dY, need_grad, rows, hits, offset, stream):
    launch = loss_launch(code, Y, T, scale, dY, need_grad, rows, hits, stream)
    if launch is not None:
        launch(int(offset))


def loss_dense(code, Y, T, scale, dY, need_grad, rows, stream=0, *, hits=None, offset=0):
    """rows[offset + i] = unscaled loss of row i (see
    :func:`numbann.kernels.losses.row_loss`) for Y, T (N, C); dY = scale · ∂(Σ rows)/∂Y
    if need_grad. The loss is scale · Σ rows. With *hits*, also each row's hit
    (see :func:`loss_launch`).

    dY may be Y (the logits are then overwritten by the gradient), but not with *hits*.
    """
    _launch(code, Y, T, scale, dY, need_grad, rows, hits, offset, stream)


def loss_labels(code, Y, t, scale, dY, need_grad, rows, stream=0, *, hits=None, offset=0):
    """:func:`loss_dense` with class labels t (N,) in place of one-hot rows.

    For softmax + cross-entropy: rows[i] = log Σ_j exp(Y[i, j]) − Y[i, t_i],
    dY = scale · (softmax(Y) − onehot(t)).
    """
    _launch(code, Y, t, scale, dY, need_grad, rows, hits, offset, stream)


def loss_total(rows, scale, stream=0):
    """scale · Σ rows as a Python float (synchronises: for evaluation and tests)."""
    return scale * _reduce.total(rows, stream)
