"""NaN and infinities through every CUDA kernel, against the CPU kernels and np.argmax.

Where the CPU kernels give NaN the GPU must too (and the other way round):
the trainer's divergence check and the accuracy count depend on it. The
simulator runs Python, whose ``max(nan, 0)`` is NaN, so it agrees with the
CPU even where a GPU's ``fmaxf`` would not; tests/test_cuda_ptx.py checks
the PTX for that. On a GPU these same tests check the hardware.
"""

import numpy as np
import pytest
from simutil import DTYPES, close, dev, empty, host

from numbann._cuda import cuda
from numbann.kernels import activations as act
from numbann.kernels import dense as cpu_dense
from numbann.kernels import engine as cpu_engine
from numbann.kernels import losses as cpu_losses
from numbann.kernels import optim as cpu_optim
from numbann.kernels.cuda import activations as gpu_act
from numbann.kernels.cuda import dense as gpu_dense
from numbann.kernels.cuda import losses as gpu_losses
from numbann.kernels.cuda import optim as gpu_optim
from numbann.kernels.cuda import reduce as gpu_reduce

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy scalars, simulator


def same(actual, expected, dtype):
    """NaN exactly where expected has NaN, ±inf where it has them, close elsewhere."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)])
    close(actual[finite], expected[finite], dtype)


def _special(dtype, rng, shape=(5, 7)):
    """Values with NaN, +inf and −inf in some rows (and a NaN-only row)."""
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 2] = np.nan
    x[1, 0] = np.inf
    x[2, 6] = -np.inf
    x[3, :] = np.nan
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(act.CODES))
def test_nan_and_inf_through_every_activation(name, dtype, rng):
    code = act.CODES[name]
    x = _special(dtype, rng)
    y = np.empty_like(x)
    act.activation_forward(code, x, y)
    gy = empty(x.shape, dtype)
    gpu_act.activation_forward(code, dev(x), gy)
    same(host(gy), y, dtype)
    assert np.isnan(host(gy)[3]).all()  # f(NaN) is NaN for every activation
    # backward from outputs holding NaN, and from a gradient holding NaN
    dy = rng.standard_normal(x.shape).astype(dtype)
    dy[4, 1] = np.nan
    dx = np.empty_like(x)
    act.activation_backward(code, y, dy, dx)
    gdx = empty(x.shape, dtype)
    gpu_act.activation_backward(code, dev(y), dev(dy), gdx)
    same(host(gdx), dx, dtype)


N, I, O = 6, 5, 7  # a dense layer: X (N, I), W (I, O)


def _layer(rng, dtype):
    return (rng.standard_normal((N, I)).astype(dtype), rng.standard_normal((I, O)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(act.CODES))
def test_nan_through_the_fused_epilogue_of_the_forward_product(name, dtype, rng):
    code = act.CODES[name]
    n, o = N, O
    X, W, b = _layer(rng, dtype)
    X[1, 3] = np.nan  # row 1 of the product is NaN
    b[4] = np.nan  # column 4 too
    A = np.empty((n, o), dtype)
    cpu_dense.dense_forward(X, W, b, code, A)
    gA = empty((n, o), dtype)
    gpu_dense.dense_forward(dev(X), dev(W), dev(b), code, gA)
    got = host(gA)
    same(got, A, dtype)
    assert np.isnan(got[1]).all() and np.isnan(got[:, 4]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(act.CODES))
def test_nan_through_the_fused_backward(name, dtype, rng):
    code = act.CODES[name]
    n, i, o = N, I, O
    X, W, b = _layer(rng, dtype)
    A = np.empty((n, o), dtype)
    cpu_dense.dense_forward(X, W, b, code, A)
    A[2, 3] = np.nan  # a NaN output: f' from it is NaN (sigmoid, tanh) or 0 (ReLU, step)
    dA = rng.standard_normal((n, o)).astype(dtype)
    dA[4, 0] = np.nan
    dZ, dW, db, dX = (np.empty(s, dtype) for s in [(n, o), (i, o), (o,), (n, i)])
    cpu_dense.dense_backward(X, W, A, dA.copy(), code, dZ, dW, db, dX, True, False)
    g = [empty(s, dtype) for s in [(n, o), (i, o), (o,), (n, i)]]
    gpu_dense.dense_backward(dev(X), dev(W), dev(A), dev(dA), code, *g, True, False)
    for got, want in zip(g[1:], (dW, db, dX)):
        same(host(got), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("code", [cpu_losses.SOFTMAX_CE, cpu_losses.SQUARED_ERROR,
                                  cpu_losses.BCE_LOGITS, cpu_losses.CROSS_ENTROPY])
def test_nan_and_inf_through_every_loss(code, dtype, rng):
    n, c = 5, 7
    Y = _special(dtype, rng, (n, c))
    if code == cpu_losses.CROSS_ENTROPY:
        Y = np.abs(Y)
    T = np.eye(c, dtype=dtype)[rng.integers(0, c, n)]
    dY = np.empty_like(Y)
    rows = [cpu_losses.row_loss(code, Y[i], T[i], 0.5, dY[i], True) for i in range(n)]
    g_rows, g_dY = empty(n, dtype), empty((n, c), dtype)
    gpu_losses.loss_dense(code, dev(Y), dev(T), 0.5, g_dY, True, g_rows)
    same(host(g_rows), np.array(rows, dtype), dtype)
    same(host(g_dY), dY, dtype)
    assert np.isnan(host(g_rows)[[0, 3]]).all()  # a NaN logit makes its row's loss NaN


@pytest.mark.parametrize("dtype", DTYPES)
def test_argmax_and_hits_count_nan_rows_as_np_argmax_does(dtype, rng):
    """np.argmax returns the first NaN of a row; the count must agree with it, with the
    CPU engine's count, in count_correct and in the loss kernel's hits."""
    n, c = 9, 5
    Y = rng.standard_normal((n, c)).astype(dtype)
    Y[0, 0] = np.nan  # NaN first
    Y[1, 3] = np.nan  # NaN after the maximum, or before it
    Y[2, [1, 4]] = np.nan
    Y[3, :] = np.nan
    Y[4, 2] = np.inf
    Y[5, :] = -np.inf  # all equal: the first
    t = Y.argmax(axis=1)  # every row a hit, by NumPy's rule
    t[6:] = (t[6:] + 1) % c  # these three not
    T = np.eye(c, dtype=dtype)[t]
    expected = int((Y.argmax(axis=1) == t).sum())
    assert expected == 6 == cpu_engine.count_correct(Y, T)
    for target in (dev(t), dev(T)):
        hits = cuda.to_device(np.zeros(3, np.int64))
        gpu_reduce.count_correct(dev(Y), target, hits, offset=0, blocks=3)
        assert gpu_reduce.fetch_sum(hits) == expected
        row_hits = cuda.to_device(np.full(n + 2, -1, np.int32))
        kind = gpu_losses.loss_labels if target.ndim == 1 else gpu_losses.loss_dense
        kind(cpu_losses.SOFTMAX_CE, dev(Y), target, 1.0, None, False, empty(n + 2, dtype),
             hits=row_hits, offset=2)
        got = host(row_hits)
        assert got[:2].tolist() == [-1, -1]
        np.testing.assert_array_equal(got[2:], (Y.argmax(axis=1) == t).astype(np.int32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_nan_gradient_through_adam_as_on_the_cpu(amsgrad, dtype, rng):
    p = rng.standard_normal(20).astype(dtype)
    g = rng.standard_normal(20).astype(dtype)
    g[[3, 11]] = np.nan
    state = [np.zeros(20, dtype) for _ in range(3)]
    state[2][5] = np.nan  # a NaN v̂: max(v̂, v) keeps v where v is larger, as on the CPU
    gp, gstate = dev(p), [dev(s) for s in state]
    cpu_optim.adam_step(p, g, *state, 1e-2, 0.9, 0.999, 1e-8, 0.0, 1, amsgrad)
    gpu_optim.adam_step(gp, dev(g), *gstate, 1e-2, 0.9, 0.999, 1e-8, 0.0, 1, amsgrad)
    same(host(gp), p, dtype)
    for s, gs in zip(state, gstate):
        same(host(gs), s, dtype)
