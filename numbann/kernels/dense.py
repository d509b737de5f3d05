"""Dense (fully connected) layer kernels (CPU).

Shapes: X (N, I), W (I, O) — the textbook's layout, Y = X @ W + b —,
b (O,) or empty (no bias), A and dA (N, O). All C-contiguous (views of a flat
parameter buffer are fine), one float dtype. The matrix products go to BLAS
(:func:`._blas.gemm`); bias and activation are fused into one pass over the
product.
"""

import numpy as np

from .._config import jit
from ._blas import gemm
from ._fpenv import fp_enter, fp_leave
from ._memory import copy_into
from .activations import backward_inplace, bias_act_inplace


@jit
def add_bias_inplace(Z, b):
    """Z[i, j] += b[j] for Z (N, O), b (O,)."""
    n, o = Z.shape
    for i in range(n):
        for j in range(o):
            Z[i, j] += b[j]


@jit(inline=True)  # see _config.jit
def dense_forward(X, W, b, act, A):
    """A = f(X @ W + b) with activation code *act*; A (N, O) is written.

    An empty *b* means no bias.
    """
    csr = fp_enter()
    dt = A.dtype.type
    gemm(X, W, A, dt(1), dt(0), False, False)
    bias_act_inplace(act, A, b, b.size > 0)
    fp_leave(csr)


@jit
def column_sums(dZ, db, accumulate):
    """db[j] (+)= Σ_i dZ[i, j] for dZ (N, O)."""
    if not accumulate:
        db[:] = 0
    n, o = dZ.shape
    for i in range(n):
        for j in range(o):
            db[j] += dZ[i, j]


@jit(inline=True)  # see _config.jit
def dense_backward(X, W, A, dA, act, dZ, dW, db, dX, need_dx, accumulate):
    """Gradients of a dense layer A = f(X @ W + b) given dA = ∂L/∂A.

    dZ = dA ⊙ f'(·)  (N, O) — scratch; may be dA itself (then dA is overwritten),
    dW = Xᵀ @ dZ  (I, O),   db = Σ_rows dZ  (O,),   dX = dZ @ Wᵀ  (N, I).
    With ``accumulate`` the parameter gradients are added to dW and db (as
    PyTorch's backward does) instead of overwriting them. With
    ``need_dx=False`` (the first layer) dX is not computed and may be any
    array; an empty db means the layer has no bias.
    """
    csr = fp_enter()
    if dZ.ctypes.data != dA.ctypes.data:
        copy_into(dZ, dA)
    backward_inplace(act, A, dZ)
    dt = dW.dtype.type
    gemm(X, dZ, dW, dt(1), dt(1) if accumulate else dt(0), True, False)
    if db.size:
        column_sums(dZ, db, accumulate)
    if need_dx:
        gemm(dZ, W, dX, dt(1), dt(0), False, True)
    fp_leave(csr)


@jit
def dense_backward_sgd(X, W, b, A, dA, act, dZ, dX, need_dx, lr):
    """:func:`dense_backward` fused with a plain SGD step (no momentum, no weight decay).

    dZ = dA ⊙ f'(·);  dX = dZ @ Wᵀ (with W as it was in the forward pass);
    then W ← W − lr · Xᵀ @ dZ (one gemm, α = −lr, β = 1) and b ← b − lr · Σ_rows dZ,
    without storing dW or db. The same update as dense_backward followed by
    sgd_step, to float rounding, with less memory traffic.
    """
    csr = fp_enter()
    if dZ.ctypes.data != dA.ctypes.data:
        copy_into(dZ, dA)
    backward_inplace(act, A, dZ)
    dt = W.dtype.type
    if need_dx:
        gemm(dZ, W, dX, dt(1), dt(0), False, True)
    gemm(X, dZ, W, dt(-lr), dt(1), True, False)
    if b.size:
        db = np.zeros(b.size, b.dtype)
        column_sums(dZ, db, True)
        lr_ = dt(lr)
        for j in range(b.size):
            b[j] -= lr_ * db[j]
    fp_leave(csr)
