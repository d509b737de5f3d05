"""Dense (fully connected) layer kernels (CPU).

Shapes: X (N, I), W (I, O) — the textbook's layout, Y = X @ W + b —,
b (O,), A and dA (N, O). All C-contiguous (views of a flat parameter buffer
are fine), one float dtype. The matrix products go to BLAS through np.dot;
bias and activation are fused into one pass over the product.
"""

import numpy as np

from .._config import jit
from .activations import activation_backward, apply_inplace


@jit
def add_bias_inplace(Z, b):
    """Z[i, j] += b[j] for Z (N, O), b (O,)."""
    n, o = Z.shape
    for i in range(n):
        for j in range(o):
            Z[i, j] += b[j]


@jit
def dense_forward(X, W, b, act, A):
    """A = f(X @ W + b) with activation code *act*; A (N, O) is written."""
    np.dot(X, W, A)
    add_bias_inplace(A, b)
    apply_inplace(act, A)


@jit
def column_sums(dZ, db):
    """db[j] = Σ_i dZ[i, j] for dZ (N, O)."""
    db[:] = 0
    n, o = dZ.shape
    for i in range(n):
        for j in range(o):
            db[j] += dZ[i, j]


@jit
def dense_backward(X, W, A, dA, act, dZ, dW, db, dX, need_dx):
    """Gradients of a dense layer A = f(X @ W + b) given dA = ∂L/∂A.

    dZ = dA ⊙ f'(·)  (N, O) — scratch, may be dA itself (then dA is overwritten),
    dW = Xᵀ @ dZ  (I, O),   db = Σ_rows dZ  (O,),   dX = dZ @ Wᵀ  (N, I).
    With ``need_dx=False`` (the first layer) dX is not computed and may be
    any array.
    """
    activation_backward(act, A, dA, dZ)
    np.dot(X.T, dZ, dW)
    column_sums(dZ, db)
    if need_dx:
        np.dot(dZ, W.T, dX)
