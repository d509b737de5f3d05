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
from ._fpenv import fp_enter, fp_leave
from ._math import exp, tanh
from ._memory import copy_into

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
STEP = 4
SOFTMAX = 5

#: name → code; numbann.layers.ACTIVATIONS maps the same names to the layer classes
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
    e = exp(-np.abs(x))
    r = one / (one + e)
    return r if x >= 0 else e * r


@jit
def activate(act, v, one):
    """f(v) for one value and an elementwise activation code (not softmax): the scalar
    twin of :func:`apply_into`'s loops, the same formulas (a test holds them equal, bit
    for bit), for code that works one value at a time (the numerical gradient's rows).
    *one* is 1 in the dtype of v."""
    zero = one - one
    if act == SIGMOID:
        return sigmoid_scalar(v, one)
    if act == TANH:
        return tanh(v)
    if act == RELU:  # NaN stays NaN (a comparison with NaN is false)
        return zero if v <= zero else v
    if act == STEP:
        return zero if v <= zero else (one if v > zero else v)
    return v


@jit
def bias_act_inplace(act, Y, b, has_bias):
    """Y[i, j] ← f(Y[i, j] + b[j]) in place for Y (N, C) and an activation code
    (softmax: row-wise, after the bias); without *has_bias*, b is ignored.

    One pass for bias and activation. The stored value is never just the loaded
    one written back, which keeps LLVM from turning ReLU into masked stores
    (vmaskmovps is microcoded and slow on AMD CPUs).
    """
    n, c = Y.shape
    zero = Y.dtype.type(0)
    one = Y.dtype.type(1)
    for i in range(n):
        y = Y[i]
        if act == SIGMOID:
            for j in range(c):
                y[j] = sigmoid_scalar(y[j] + (b[j] if has_bias else zero), one)
        elif act == TANH:
            for j in range(c):
                y[j] = tanh(y[j] + (b[j] if has_bias else zero))
        elif act == RELU:  # NaN stays NaN (a comparison with NaN is false)
            for j in range(c):
                v = y[j] + (b[j] if has_bias else zero)
                y[j] = zero if v <= zero else v
        elif act == STEP:
            for j in range(c):
                v = y[j] + (b[j] if has_bias else zero)
                y[j] = zero if v <= zero else (one if v > zero else v)
        elif has_bias:  # identity and softmax
            for j in range(c):
                y[j] += b[j]
    if act == SOFTMAX:
        softmax_inplace(Y)


@jit
def apply_inplace(act, Y):
    """Y ← f(Y) in place, for an activation code and Y (N, C) (softmax: row-wise).

    In-place kernels take one array, not an aliased pair: LLVM then knows
    nothing overlaps and vectorises the loop.
    """
    # no bias: an empty stand-in. An empty view of Y would alias Y and LLVM would keep
    # the loops scalar (6 ns an element for the sigmoid instead of 1), so a large Y gets
    # an array of its own; a few elements (the numerical gradient's rows) are not worth
    # the allocation
    none = np.empty(0, Y.dtype) if Y.size > 64 else Y.reshape(-1)[:0]
    bias_act_inplace(act, Y, none, False)


@jit
def apply_into(act, X, Y):
    """Y ← f(X) for distinct arrays X, Y (N, C) of one shape (softmax: row-wise).

    Out of place, every element of Y is stored from a value computed from X: an
    in-place ReLU without a bias stores only where the input is negative, which LLVM
    turns into masked stores (vmaskmovps, microcoded on AMD: 0.5 ns an element).
    """
    if act == SOFTMAX:
        copy_into(Y, X)
        softmax_inplace(Y)
        return
    n, c = Y.shape
    zero = Y.dtype.type(0)
    one = Y.dtype.type(1)
    for i in range(n):
        x, y = X[i], Y[i]
        if act == SIGMOID:
            for j in range(c):
                y[j] = sigmoid_scalar(x[j], one)
        elif act == TANH:
            for j in range(c):
                y[j] = tanh(x[j])
        elif act == RELU:  # NaN stays NaN (a comparison with NaN is false)
            for j in range(c):
                y[j] = zero if x[j] <= zero else x[j]
        elif act == STEP:
            for j in range(c):
                y[j] = zero if x[j] <= zero else (one if x[j] > zero else x[j])
        else:
            for j in range(c):
                y[j] = x[j]


@jit
def backward_inplace(act, Y, dY):
    """dY ← dY ⊙ f'(X), written with the forward output Y = f(X) (Y, dY distinct).

    identity: dY;  sigmoid: dY·Y(1−Y);  tanh: dY(1−Y²);
    ReLU: dY·[Y > 0] (the derivative at 0 is 0);  step: 0;
    softmax (row-wise): Y ⊙ (dY − Σ_j dY_j Y_j).
    """
    if act == SOFTMAX:
        n, c = Y.shape
        for i in range(n):
            s = Y.dtype.type(0)
            for j in range(c):
                s += dY[i, j] * Y[i, j]
            for j in range(c):
                dY[i, j] = Y[i, j] * (dY[i, j] - s)
        return
    y = Y.reshape(-1)
    dy = dY.reshape(-1)
    zero = y.dtype.type(0)
    one = y.dtype.type(1)
    if act == SIGMOID:
        for i in range(y.size):
            dy[i] *= y[i] * (one - y[i])
    elif act == TANH:
        for i in range(y.size):
            dy[i] *= one - y[i] * y[i]
    elif act == RELU:
        for i in range(y.size):
            dy[i] = dy[i] if y[i] > zero else zero
    elif act == STEP:  # zero gradient almost everywhere
        dy[:] = zero


@jit
def activation_forward(act, X, Y):
    """Y = f(X) for activation code *act*; X and Y (N, C) may be the same array."""
    csr = fp_enter()
    if Y.ctypes.data != X.ctypes.data:
        apply_into(act, X, Y)
    else:
        apply_inplace(act, Y)
    fp_leave(csr)


@jit
def activation_backward(act, Y, dY, dX):
    """dX = dY ⊙ f'(X) from the forward output Y = f(X) (see :func:`backward_inplace`).

    dX may be dY itself.
    """
    csr = fp_enter()
    if dX.ctypes.data != dY.ctypes.data:
        copy_into(dX, dY)
    backward_inplace(act, Y, dX)
    fp_leave(csr)


@jit
def softmax_inplace(Y):
    """Y[i] ← exp(Y[i] − max Y[i]) / Σ_j exp(Y[i, j] − max Y[i]) for each row of (N, C).

    Subtracting the row maximum keeps exp in range.
    """
    n, c = Y.shape
    for i in range(n):
        m = Y[i, 0]
        for j in range(1, c):
            m = max(m, Y[i, j])
        s = Y.dtype.type(0)
        for j in range(c):
            e = exp(Y[i, j] - m)
            Y[i, j] = e
            s += e
        inv = Y.dtype.type(1) / s
        for j in range(c):
            Y[i, j] *= inv


@jit
def softmax_rows(X, Y):
    """Y = row-wise softmax of X (N, C); X and Y may be the same array."""
    activation_forward(SOFTMAX, X, Y)
