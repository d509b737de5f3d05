"""Activation kernels (CPU), forward and backward, on C-contiguous arrays.

An activation is named by an integer code (``IDENTITY`` … ``SOFTMAX``) so
that the dense and engine kernels can fuse it into their loops. Every
backward kernel needs only the forward *output* ``Y`` (not the input), so a
layer keeps one array per activation.

Shapes: every kernel takes 2-D C-contiguous ``(N, C)`` arrays of one shape
(elementwise activations see them flattened; softmax works on the rows) —
reshape other shapes to ``(1, -1)``. float32 and float64, never mixed;
outputs are passed in.
"""

import numpy as np

from .._config import jit

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
STEP = 4
SOFTMAX = 5

#: name → code, the names the object layer and the command line use
CODES = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "step": STEP,
    "softmax": SOFTMAX,
}
NAMES = {code: name for name, code in CODES.items()}


@jit
def sigmoid_scalar(x, one):
    """σ(x) = 1 / (1 + exp(−x)) without overflow: exp is only taken of −|x| ≤ 0.

    For x ≥ 0: 1 / (1 + e), for x < 0: e / (1 + e), with e = exp(−|x|).
    *one* is 1 in the dtype of x (keeps float32 code free of float64).
    """
    e = np.exp(-np.abs(x))
    r = one / (one + e)
    return r if x >= 0 else e * r


@jit
def apply_inplace(act, Y):
    """Y ← f(Y) in place for an elementwise activation code, or row-wise softmax."""
    if act == SOFTMAX:
        softmax_rows(Y, Y)
        return
    y = Y.reshape(-1)
    zero = y.dtype.type(0)
    one = y.dtype.type(1)
    if act == SIGMOID:
        for i in range(y.size):
            y[i] = sigmoid_scalar(y[i], one)
    elif act == TANH:
        for i in range(y.size):
            y[i] = np.tanh(y[i])
    elif act == RELU:
        for i in range(y.size):
            y[i] = max(y[i], zero)
    elif act == STEP:
        for i in range(y.size):
            y[i] = one if y[i] > zero else zero


@jit
def activation_forward(act, X, Y):
    """Y = f(X) for activation code *act*; X and Y have the same shape (may alias)."""
    if Y.ctypes.data != X.ctypes.data:
        Y.reshape(-1)[:] = X.reshape(-1)
    apply_inplace(act, Y)


@jit
def activation_backward(act, Y, dY, dX):
    """dX = dY ⊙ f'(X), written with the forward output Y = f(X).

    identity: dY;  sigmoid: dY·Y(1−Y);  tanh: dY(1−Y²);
    ReLU: dY·[Y > 0] (the derivative at 0 is 0);  step: 0;
    softmax (row-wise): dX = Y ⊙ (dY − Σ_j dY_j Y_j).
    dX may alias dY.
    """
    if act == SOFTMAX:
        softmax_backward_rows(Y, dY, dX)
        return
    y = Y.reshape(-1)
    dy = dY.reshape(-1)
    dx = dX.reshape(-1)
    zero = y.dtype.type(0)
    one = y.dtype.type(1)
    if act == IDENTITY:
        if dx.ctypes.data != dy.ctypes.data:
            dx[:] = dy
    elif act == SIGMOID:
        for i in range(y.size):
            dx[i] = dy[i] * y[i] * (one - y[i])
    elif act == TANH:
        for i in range(y.size):
            dx[i] = dy[i] * (one - y[i] * y[i])
    elif act == RELU:
        for i in range(y.size):
            dx[i] = dy[i] if y[i] > zero else zero
    else:  # STEP: zero gradient almost everywhere
        dx[:] = zero


@jit
def softmax_rows(X, Y):
    """Y[i] = exp(X[i] − max X[i]) / Σ_j exp(X[i, j] − max X[i]) for each row i of (N, C).

    Subtracting the row maximum keeps exp in range; X and Y may alias.
    """
    n, c = X.shape
    for i in range(n):
        m = X[i, 0]
        for j in range(1, c):
            m = max(m, X[i, j])
        s = X.dtype.type(0)
        for j in range(c):
            e = np.exp(X[i, j] - m)
            Y[i, j] = e
            s += e
        inv = X.dtype.type(1) / s
        for j in range(c):
            Y[i, j] *= inv


@jit
def softmax_backward_rows(Y, dY, dX):
    """dX[i] = Y[i] ⊙ (dY[i] − ⟨dY[i], Y[i]⟩) for rows of (N, C); dX may alias dY."""
    n, c = Y.shape
    for i in range(n):
        s = Y.dtype.type(0)
        for j in range(c):
            s += dY[i, j] * Y[i, j]
        for j in range(c):
            dX[i, j] = Y[i, j] * (dY[i, j] - s)
