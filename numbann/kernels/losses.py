"""Loss kernels (CPU): the value and, when ``need_grad``, the gradient.

Shapes: predictions/logits ``Y``/``Z`` (N, C); targets either integer class
labels ``t`` (N,) — validated in range by the caller, kernels do not check
bounds — or a float matrix ``T`` (N, C) (one-hot, probabilities, regression
targets) of the same dtype as ``Y``. The gradient ``dY``/``dZ`` (N, C) is
written only when ``need_grad`` is true (otherwise pass any writable array of
the dtype, e.g. an empty one).

Every loss is ``scale · Σ_i row_loss(Y[i], T[i])``; the per-row form is what
the compiled numerical gradient re-evaluates, and :func:`loss_dense` is the
batch form used by the training engine. The value is returned as a float,
with the sum over rows accumulated in float64 (a scalar, so the float32
array arithmetic stays float32).
"""

from typing import NamedTuple

import numpy as np

from .._config import jit
from ._fpenv import fp_enter, fp_leave
from ._math import exp
from .activations import sigmoid_scalar

#: Loss codes (dense targets), shared by the engine and the numerical gradient.
SOFTMAX_CE = 0  # softmax + cross-entropy from logits, scale 1/N
SQUARED_ERROR = 1  # Σ(y − t)², scale ½ (textbook SSE), 1/numel (MSE) or 1 (sum)
BCE_LOGITS = 2  # binary cross-entropy from logits, scale 1/numel
CROSS_ENTROPY = 3  # the textbook's −Σ t log(y + 1e-7) on probabilities, scale 1/N

#: the textbook's δ in −Σ t log(y + δ)
CE_DELTA = 1e-7


@jit
def row_loss(code, y, t, scale, dy, need_grad):
    """One row's unscaled loss for a loss *code*; dy ← scale · ∂row/∂y if need_grad.

    SOFTMAX_CE:    Σ_j t_j (lse(y) − y_j),     ∂ = softmax(y)·Σt − t
    SQUARED_ERROR: Σ_j (y_j − t_j)²,           ∂ = 2(y − t)
    BCE_LOGITS:    Σ_j max(y_j, 0) − y_j t_j + log(1 + exp(−|y_j|)),  ∂ = σ(y) − t
    CROSS_ENTROPY: −Σ_j t_j log(y_j + 1e-7),   ∂ = −t / (y + 1e-7)
    """
    dt = y.dtype.type
    zero, one, s = dt(0), dt(1), dt(scale)
    acc = zero
    if code == SOFTMAX_CE:
        # one pass for exp(y − max), Σt and Σ t·y; the value is lse·Σt − Σ t·y
        m = y[0]
        for j in range(1, y.size):
            m = max(m, y[j])
        total = zero
        tsum = zero
        ty = zero
        for j in range(y.size):
            e = exp(y[j] - m)
            if need_grad:
                dy[j] = e
            total += e
            tsum += t[j]
            ty += t[j] * y[j]
        acc = (m + np.log(total)) * tsum - ty
        if need_grad:
            inv_total = one / total
            for j in range(y.size):
                dy[j] = s * (dy[j] * inv_total * tsum - t[j])
    elif code == SQUARED_ERROR:
        for j in range(y.size):
            d = y[j] - t[j]
            acc += d * d
            if need_grad:
                dy[j] = dt(2) * s * d
    elif code == BCE_LOGITS:
        for j in range(y.size):
            z = y[j]
            acc += max(z, zero) - z * t[j] + np.log1p(exp(-np.abs(z)))
            if need_grad:
                dy[j] = s * (sigmoid_scalar(z, one) - t[j])
    else:  # CROSS_ENTROPY
        delta = dt(CE_DELTA)
        for j in range(y.size):
            acc -= t[j] * np.log(y[j] + delta)
            if need_grad:
                dy[j] = -s * t[j] / (y[j] + delta)
    return acc


#: how a loss's scale depends on the batch: value/n, value/(n·c) or value
SCALE_PER_ROW = 0
SCALE_PER_ELEMENT = 1
SCALE_CONSTANT = 2


class LossSpec(NamedTuple):
    """What the training engine minimises for a batch of n rows and c outputs:
    ``batch_scale(scale_kind, scale_value, n, c) · Σ_i row_loss(code, …) + ½·l2_lambda·Σ‖W‖²``."""

    code: int
    scale_kind: int
    scale_value: float
    l2_lambda: float


@jit
def batch_scale(kind, value, n, c):
    """The factor in front of Σ rows for a batch of n rows and c outputs."""
    if kind == SCALE_PER_ROW:
        return value / n
    if kind == SCALE_PER_ELEMENT:
        return value / (n * c)
    return value


@jit(inline=True)  # see _config.jit
def loss_dense(code, Y, T, scale, dY, need_grad):
    """L = scale · Σ_i row_loss(Y[i], T[i]) for Y, T (N, C); dY = ∂L/∂Y if need_grad."""
    csr = fp_enter()
    total = 0.0
    for i in range(Y.shape[0]):
        dy = dY[i] if need_grad else dY.reshape(-1)[:0]  # dY is unused then
        total += np.float64(row_loss(code, Y[i], T[i], scale, dy, need_grad))
    fp_leave(csr)
    return total * scale


@jit
def loss_labels(code, Y, t, scale, dY, need_grad):
    """:func:`loss_dense` with class labels t (N,) in place of one-hot rows.

    For the cross-entropies (SOFTMAX_CE, CROSS_ENTROPY): e.g. softmax + CE gives
    L = (1/N) Σ_i [log Σ_j exp(Y[i, j]) − Y[i, t_i]], dY = (softmax(Y) − onehot(t))/N.
    Each row goes through :func:`row_loss` with its one-hot row, so the result
    is bit for bit what the one-hot form gives.
    """
    csr = fp_enter()
    n, c = Y.shape
    onehot = np.zeros(c, Y.dtype)
    total = 0.0
    for i in range(n):
        onehot[t[i]] = 1
        dy = dY[i] if need_grad else dY.reshape(-1)[:0]  # dY is unused then
        total += np.float64(row_loss(code, Y[i], onehot, scale, dy, need_grad))
        onehot[t[i]] = 0
    fp_leave(csr)
    return total * scale
