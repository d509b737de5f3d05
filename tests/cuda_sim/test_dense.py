"""CUDA dense-layer kernels (tiled products) against the CPU kernels and the reference.

With NUMBANN_CUDA_TILE=4 the shapes below span several tiles in every
dimension and end in partial tiles.
"""

import numpy as np
import pytest
import reference as ref
from simutil import DTYPES, close, dev, empty, host

from numbann.kernels import activations as act
from numbann.kernels import dense as cpu
from numbann.kernels.cuda import dense as gpu

SHAPES = [(9, 7, 5), (1, 1, 1), (5, 13, 6), (4, 8, 4)]  # (N, I, O)
ACTS = list(act.CODES)


def _data(rng, dtype, n, i, o):
    X = rng.standard_normal((n, i)).astype(dtype)
    W = (rng.standard_normal((i, o)) / np.sqrt(i)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", ACTS)
def test_forward_matches_cpu(name, bias, dtype, rng):
    code = act.CODES[name]
    for n, i, o in SHAPES:
        X, W, b = _data(rng, dtype, n, i, o)
        if not bias:
            b = b[:0]
        A = np.empty((n, o), dtype)
        cpu.dense_forward(X, W, b, code, A)
        gA = empty((n, o), dtype)
        gpu.dense_forward(dev(X), dev(W), dev(b) if bias else None, code, gA)
        close(host(gA), A, dtype)
        close(host(gA), ref.dense_forward(X, W, b if bias else 0, name), dtype)


# (accumulate, bias, need_dx, dZ is dA)
CASES = [(False, True, True, False), (True, True, False, True),
         (True, False, True, False), (False, False, False, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_backward_matches_cpu(name, dtype, rng):
    code = act.CODES[name]
    n, i, o = 9, 7, 6
    for accumulate, bias, need_dx, alias in CASES:
        X, W, b = _data(rng, dtype, n, i, o)
        A = np.empty((n, o), dtype)
        cpu.dense_forward(X, W, b, code, A)
        dA = rng.standard_normal((n, o)).astype(dtype)
        dW0 = rng.standard_normal((i, o)).astype(dtype)
        db0 = rng.standard_normal(o).astype(dtype) if bias else np.empty(0, dtype)
        dZ, dW, db, dX = np.empty_like(dA), dW0.copy(), db0.copy(), np.empty_like(X)
        cpu.dense_backward(X, W, A, dA.copy(), code, dZ, dW, db, dX, need_dx, accumulate)

        g_dA = dev(dA)
        g_dZ = g_dA if alias else empty((n, o), dtype)
        # without accumulate the outputs start as NaN: they must be overwritten
        g_dW = dev(dW0) if accumulate else empty((i, o), dtype)
        g_db = (dev(db0) if accumulate else empty(o, dtype)) if bias else None
        sentinel = np.full((n, i), 7.0, dtype)
        g_dX = dev(sentinel)
        gpu.dense_backward(dev(X), dev(W), dev(A), g_dA, code, g_dZ, g_dW, g_db, g_dX,
                           need_dx, accumulate)
        case = (name, accumulate, bias, need_dx, alias)
        if code == act.SOFTMAX:  # a row reduction: dZ is written first
            np.testing.assert_allclose(host(g_dZ), dZ, rtol=2e-5, atol=2e-6, err_msg=str(case))
        else:  # f' is applied as the products read dA: dA is left as it was
            np.testing.assert_array_equal(host(g_dA), dA, err_msg=str(case))
        close(host(g_dW), dW, dtype, scale=10)
        if bias:
            close(host(g_db), db, dtype, scale=10)
        if need_dx:
            close(host(g_dX), dX, dtype)
        else:
            np.testing.assert_array_equal(host(g_dX), sentinel)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_matches_reference_gradients(dtype, rng):
    X, W, b = _data(rng, dtype, 6, 10, 7)
    dA = rng.standard_normal((6, 7)).astype(dtype)
    A = empty((6, 7), dtype)
    gpu.dense_forward(dev(X), dev(W), dev(b), act.TANH, A)
    dZ, dW, db, dX = (empty(s, dtype) for s in [(6, 7), (10, 7), (7,), (6, 10)])
    gpu.dense_backward(dev(X), dev(W), A, dev(dA), act.TANH, dZ, dW, db, dX, True, False)
    rdW, rdb, rdX = ref.dense_backward(X, W, b, "tanh", dA)
    scale = 1e3 if dtype == np.float32 else 10
    close(host(dW), rdW, dtype, scale)
    close(host(db), rdb, dtype, scale)
    close(host(dX), rdX, dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_every_transposition(trans_a, trans_b, dtype, rng):
    m, k, n = 7, 9, 5
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    for accumulate in (False, True):
        c = dev(c0)
        gpu.gemm(dev(a), dev(b), c, trans_a, trans_b, accumulate)
        close(host(c), expected + (c0 if accumulate else 0), dtype, scale=10)


def test_views_of_a_flat_device_buffer(rng):
    """W and b as slices + reshapes of one flat parameter buffer (the object layer's layout)."""
    dtype = np.float32
    X, W, b = _data(rng, dtype, 5, 6, 3)
    flat = np.concatenate([np.zeros(2, dtype), W.ravel(), b])
    g_flat = dev(flat)
    gW, gb = g_flat[2:20].reshape(6, 3), g_flat[20:23]
    grads = empty(flat.size, dtype, 0.0)
    gdW, gdb = grads[2:20].reshape(6, 3), grads[20:23]
    A = empty((5, 3), dtype)
    gpu.dense_forward(dev(X), gW, gb, act.RELU, A)
    close(host(A), ref.dense_forward(X, W, b, "relu"), dtype)
    dA = rng.standard_normal((5, 3)).astype(dtype)
    gpu.dense_backward(dev(X), gW, A, dev(dA), act.RELU, empty((5, 3), dtype), gdW, gdb,
                       empty((5, 6), dtype), False, True)
    rdW, rdb, _ = ref.dense_backward(X, W, b, "relu", dA)
    g = host(grads)
    close(g[2:20].reshape(6, 3), rdW, dtype, 10)
    close(g[20:23], rdb, dtype, 10)
    assert g[:2].tolist() == [0.0, 0.0]
