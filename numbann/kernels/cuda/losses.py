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
*unscaled* loss into ``rows`` (N,) on the device: the batch loss is
``scale · Σ rows`` (the CPU kernel's return value), summed on the device by
:func:`numbann.kernels.cuda.reduce.sum_blocks` and fetched when wanted
(:func:`loss_total` does both, synchronously).
"""

import math

import numba

from ..._cuda import cuda
from ..activations import SIGMOID
from ..losses import BCE_LOGITS, CE_DELTA, CROSS_ENTROPY, SOFTMAX_CE, SQUARED_ERROR
from . import activations as _act
from . import reduce as _reduce
from ._launch import (
    ROW_THREADS,
    array_types,
    block_max,
    block_sum,
    float_type,
    kernel_set,
    optional,
    per_dtype,
    rows_grid,
)

__all__ = [
    "SOFTMAX_CE", "SQUARED_ERROR", "BCE_LOGITS", "CROSS_ENTROPY", "CE_DELTA",
    "loss_dense", "loss_labels", "loss_total", "kernels", "signatures",
]


def _make_loss(dtype, labels):
    nb = float_type(dtype)
    dt = dtype.type
    zero, one, two, minus_inf, delta = dt(0), dt(1), dt(2), dt(-float("inf")), dt(CE_DELTA)
    sigmoid = _act.device_functions(dtype).forward

    if labels:
        @cuda.jit(device=True)
        def target(T, i, j):
            return one if j == T[i] else zero
    else:
        @cuda.jit(device=True)
        def target(T, i, j):
            return T[i, j]

    @cuda.jit
    def loss_rows(code, Y, T, scale, dY, need_grad, rows):
        """rows[i] = row_loss(code, Y[i], T[i]); dY[i] = scale · ∂/∂Y[i] if need_grad."""
        buf = cuda.shared.array(ROW_THREADS, nb)
        t, nt = cuda.threadIdx.x, cuda.blockDim.x
        n, c = Y.shape
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            acc = zero
            if code == SOFTMAX_CE:
                m = minus_inf
                for j in range(t, c, nt):
                    m = max(m, Y[i, j])
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
                    acc += max(z, zero) - z * tj + math.log1p(math.exp(-abs(z)))
                    if need_grad:
                        dY[i, j] = scale * (sigmoid(SIGMOID, z) - tj)
            else:  # CROSS_ENTROPY
                for j in range(t, c, nt):
                    tj = target(T, i, j)
                    y = Y[i, j] + delta
                    acc -= tj * math.log(y)
                    if need_grad:
                        dY[i, j] = -scale * tj / y
            acc = block_sum(buf, acc)
            if t == 0:
                rows[i] = acc

    return loss_rows


@per_dtype
def kernels(dtype):
    """The row-loss kernels for float *dtype*: target rows and class labels."""
    return kernel_set(loss_dense=_make_loss(dtype, False), loss_labels=_make_loss(dtype, True))


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    i64, b, s = numba.int64, numba.boolean, float_type(dtype)
    return {
        "loss_dense": (i64, m, m, s, m, b, v),
        "loss_labels": (i64, m, numba.int64[::1], s, m, b, v),
    }


# --- host wrappers (launch only; no synchronisation) -------------------------------


def _launch(name, code, Y, T, scale, dY, need_grad, rows, stream):
    n = Y.shape[0]
    if n == 0:
        return
    dY, used = optional(dY if need_grad else None, Y.dtype, 2)
    kernel = getattr(kernels(Y.dtype), name)
    kernel[rows_grid(n), ROW_THREADS, stream](
        int(code), Y, T, Y.dtype.type(scale), dY, used, rows)


def loss_dense(code, Y, T, scale, dY, need_grad, rows, stream=0):
    """rows[i] = unscaled loss of row i (see :func:`numbann.kernels.losses.row_loss`)
    for Y, T (N, C); dY = scale · ∂(Σ rows)/∂Y if need_grad. The loss is scale · Σ rows.

    dY may be Y (the logits are then overwritten by the gradient).
    """
    _launch("loss_dense", code, Y, T, scale, dY, need_grad, rows, stream)


def loss_labels(code, Y, t, scale, dY, need_grad, rows, stream=0):
    """:func:`loss_dense` with class labels t (N,) in place of one-hot rows.

    For softmax + cross-entropy: rows[i] = log Σ_j exp(Y[i, j]) − Y[i, t_i],
    dY = scale · (softmax(Y) − onehot(t)).
    """
    _launch("loss_labels", code, Y, t, scale, dY, need_grad, rows, stream)


def loss_total(rows, scale, stream=0):
    """scale · Σ rows as a Python float (synchronises: for evaluation and tests)."""
    return scale * _reduce.total(rows, stream)
