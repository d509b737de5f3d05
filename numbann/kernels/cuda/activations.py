"""Activation kernels (CUDA): the twins of :mod:`numbann.kernels.activations`.

Same codes, names, arguments and math, on C-contiguous device arrays of
shape (N, C), float32 or float64; plus ``stream`` (default: the default
stream). Elementwise activations run as one grid-stride 1-D kernel over the
flattened array; softmax (forward and backward) runs one block of
``CUDA_ROW_THREADS`` threads per row, with shared-memory reductions for the
row maximum and sums. Nothing is synchronised: the wrappers only launch.
``forward_launches``/``backward_launches`` return those launches prepared
(:class:`._launch.Launch`), for the training engine to run step after step.
"""

import math

import numba
import numpy as np

from ..._cuda import cuda
from ..activations import CODES, IDENTITY, NAMES, RELU, SIGMOID, SOFTMAX, STEP, TANH
from ._launch import (
    ROW_THREADS,
    THREADS,
    Launch,
    array_types,
    block_max,
    block_sum,
    blocks_for,
    flat,
    float_type,
    kernel_set,
    nan_max,
    per_dtype,
    rows_grid,
    run,
    same_array,
)

__all__ = [
    "CODES", "NAMES", "IDENTITY", "SIGMOID", "TANH", "RELU", "STEP", "SOFTMAX",
    "apply_inplace", "backward_inplace", "activation_forward", "activation_backward",
    "softmax_inplace", "softmax_rows", "forward_launches", "backward_launches",
    "device_functions", "kernels", "signatures",
]


@per_dtype
def device_functions(dtype):
    """Device functions ``forward(act, x)`` → f(x) and ``backward(act, y, dy)`` → dy·f'
    (from the output y = f(x)) for the elementwise codes (not softmax), in *dtype*.

    NaN in gives NaN out wherever the CPU kernels give it: f(NaN) = NaN for every
    code; f' from a NaN output is NaN for sigmoid and tanh, 0 for ReLU and step (as on
    the CPU).
    """
    dt = dtype.type
    zero, one = dt(0), dt(1)

    @cuda.jit(device=True)
    def forward(act, x):
        if act == SIGMOID:  # exp only of −|x| ≤ 0: no overflow
            e = math.exp(-abs(x))
            r = one / (one + e)
            return r if x >= zero else e * r
        if act == TANH:
            return math.tanh(x)
        if act == RELU:  # as the CPU kernel: NaN stays NaN (a float max, fmaxf, gives 0)
            return zero if x <= zero else x
        if act == STEP:
            return zero if x <= zero else (one if x > zero else x)
        return x

    @cuda.jit(device=True)
    def backward(act, y, dy):
        if act == SIGMOID:
            return dy * (y * (one - y))
        if act == TANH:
            return dy * (one - y * y)
        if act == RELU:
            return dy if y > zero else zero
        if act == STEP:
            return zero
        return dy

    return kernel_set(forward=forward, backward=backward)


@per_dtype
def kernels(dtype):
    """The activation kernels for float *dtype* (built once, compiled on first launch)."""
    nb = float_type(dtype)
    dt = dtype.type
    zero, one, minus_inf = dt(0), dt(1), dt(-np.inf)
    dev = device_functions(dtype)
    forward, backward = dev.forward, dev.backward

    @cuda.jit
    def act_forward(act, x, y):
        """y[i] = f(x[i]) over 1-D arrays (x may be y)."""
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            y[i] = forward(act, x[i])

    @cuda.jit
    def act_backward(act, y, dy, dx):
        """dx[i] = dy[i]·f'(·) from the output y (dx may be dy)."""
        for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
            dx[i] = backward(act, y[i], dy[i])

    @cuda.jit
    def softmax_rows(X, Y):
        """Y[i] = softmax(X[i]), one block per row (X may be Y: each thread
        reads and writes only its own columns)."""
        buf = cuda.shared.array(ROW_THREADS, nb)
        t, nt = cuda.threadIdx.x, cuda.blockDim.x
        n, c = X.shape
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            m = minus_inf
            for j in range(t, c, nt):
                m = nan_max(m, X[i, j])
            m = block_max(buf, m)
            s = zero
            for j in range(t, c, nt):
                e = math.exp(X[i, j] - m)
                Y[i, j] = e
                s += e
            inv = one / block_sum(buf, s)
            for j in range(t, c, nt):
                Y[i, j] *= inv

    @cuda.jit
    def softmax_backward(Y, dY, dX):
        """dX[i] = Y[i] ⊙ (dY[i] − Σ_j dY[i, j] Y[i, j]), one block per row (dX may be dY)."""
        buf = cuda.shared.array(ROW_THREADS, nb)
        t, nt = cuda.threadIdx.x, cuda.blockDim.x
        n, c = Y.shape
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            s = zero
            for j in range(t, c, nt):
                s += dY[i, j] * Y[i, j]
            s = block_sum(buf, s)
            for j in range(t, c, nt):
                dX[i, j] = Y[i, j] * (dY[i, j] - s)

    return kernel_set(act_forward=act_forward, act_backward=act_backward,
                      softmax_rows=softmax_rows, softmax_backward=softmax_backward)


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, m = array_types(dtype)
    i64 = numba.int64
    return {
        "act_forward": (i64, v, v),
        "act_backward": (i64, v, v, v),
        "softmax_rows": (m, m),
        "softmax_backward": (m, m, m),
    }


# --- host wrappers (launch only; no synchronisation) -------------------------------


def forward_launches(act, X, Y, stream=0, pretyped=False):
    """The launches of Y = f(X) (see :func:`activation_forward`): none, or one."""
    if X.size == 0 or (act == IDENTITY and same_array(X, Y)):
        return []
    k = kernels(X.dtype)
    if act == SOFTMAX:
        return [Launch(k.softmax_rows, rows_grid(X.shape[0]), ROW_THREADS, (X, Y), stream,
                       pretyped=pretyped)]
    return [Launch(k.act_forward, blocks_for(X.size), THREADS, (int(act), flat(X), flat(Y)),
                   stream, pretyped=pretyped)]


def backward_launches(act, Y, dY, dX, stream=0, pretyped=False):
    """The launches of dX = dY ⊙ f'(X) (see :func:`activation_backward`): none, or one."""
    if Y.size == 0 or (act == IDENTITY and same_array(dY, dX)):
        return []
    k = kernels(Y.dtype)
    if act == SOFTMAX:
        return [Launch(k.softmax_backward, rows_grid(Y.shape[0]), ROW_THREADS, (Y, dY, dX),
                       stream, pretyped=pretyped)]
    return [Launch(k.act_backward, blocks_for(Y.size), THREADS,
                   (int(act), flat(Y), flat(dY), flat(dX)), stream, pretyped=pretyped)]


def activation_forward(act, X, Y, stream=0):
    """Y = f(X) for activation code *act*; X and Y (N, C) may be the same array."""
    run(forward_launches(act, X, Y, stream))


def apply_inplace(act, Y, stream=0):
    """Y ← f(Y) in place (softmax: row-wise)."""
    activation_forward(act, Y, Y, stream)


def activation_backward(act, Y, dY, dX, stream=0):
    """dX = dY ⊙ f'(X) from the forward output Y = f(X); dX may be dY.

    identity: dY;  sigmoid: dY·Y(1−Y);  tanh: dY(1−Y²);  ReLU: dY·[Y > 0];
    step: 0;  softmax (row-wise): Y ⊙ (dY − Σ_j dY_j Y_j).
    """
    run(backward_launches(act, Y, dY, dX, stream))


def backward_inplace(act, Y, dY, stream=0):
    """dY ← dY ⊙ f'(X), written with the forward output Y = f(X)."""
    activation_backward(act, Y, dY, dY, stream)


def softmax_rows(X, Y, stream=0):
    """Y = row-wise softmax of X (N, C); X and Y may be the same array."""
    activation_forward(SOFTMAX, X, Y, stream)


def softmax_inplace(Y, stream=0):
    """Y[i] ← softmax(Y[i]) for each row of Y (N, C), max-subtracted."""
    activation_forward(SOFTMAX, Y, Y, stream)
