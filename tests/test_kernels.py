"""CPU kernels against the plain-NumPy reference and finite differences."""

import warnings

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from numbann.kernels import activations as A
from numbann.kernels import dense as D
from numbann.kernels import losses as L
from numbann.kernels import numgrad as G
from numbann.kernels import optim as O
from numbann.kernels.plan import make_plan

DTYPES = [np.float32, np.float64]
ACTS = ["identity", "sigmoid", "tanh", "relu", "step", "softmax"]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def tol(dtype):
    return TOL[np.dtype(dtype).type]


# --- activations ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_activation_forward_backward_match_reference(name, dtype, rng):
    x = (rng.standard_normal((7, 5)) * 3).astype(dtype)
    y = np.empty_like(x)
    A.activation_forward(A.CODES[name], x, y)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.activation(name, x), **tol(dtype))

    dy = rng.standard_normal(x.shape).astype(dtype)
    dx = np.empty_like(x)
    A.activation_backward(A.CODES[name], y, dy, dx)
    np.testing.assert_allclose(dx, ref.activation_grad(name, x, dy), **tol(dtype))


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "softmax"])
def test_activation_backward_matches_finite_differences(name, rng):
    x = rng.standard_normal((4, 6)) + 0.05  # keep ReLU inputs away from the kink
    x[np.abs(x) < 1e-3] = 0.1
    dy = rng.standard_normal(x.shape)
    y = np.empty_like(x)
    A.activation_forward(A.CODES[name], x, y)
    dx = np.empty_like(x)
    A.activation_backward(A.CODES[name], y, dy, dx)

    def f():
        out = np.empty_like(x)
        A.activation_forward(A.CODES[name], x, out)
        return np.sum(dy * out)

    np.testing.assert_allclose(dx, ref.finite_difference(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_finite_and_silent_for_extreme_inputs(dtype):
    x = np.array([[-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0]], dtype=dtype)
    y = np.empty_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.activation_forward(A.SIGMOID, x, y)
    assert np.all(np.isfinite(y))
    assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and y[0, 3] == 0.5
    assert 0 < y[0, 2] < 1e-12  # σ(−30) ≈ 9.4e−14: small but not flushed to 0
    np.testing.assert_allclose(y[0, 2], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-5)
    assert np.all(np.diff(y[0]) >= 0)


def test_relu_and_step_derivative_at_zero_is_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    y = np.empty_like(x)
    dx = np.empty_like(x)
    for code, expect in [(A.RELU, [0.0, 0.0, 1.0]), (A.STEP, [0.0, 0.0, 0.0])]:
        A.activation_forward(code, x, y)
        A.activation_backward(code, y, np.ones_like(x), dx)
        np.testing.assert_array_equal(dx[0], expect)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_subtracts_row_max(dtype):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    y = np.empty_like(x)
    A.softmax_rows(x, y)
    np.testing.assert_allclose(y[0], ref.activation("softmax", [0.0, 1.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 9), c=st.integers(1, 9), dtype=st.sampled_from(DTYPES),
    name=st.sampled_from(ACTS), scale=st.sampled_from([1e-3, 1.0, 50.0, 1e4]),
    seed=st.integers(0, 2**31 - 1),
)
def test_activations_property(n, c, dtype, name, scale, seed):
    x = (np.random.default_rng(seed).standard_normal((n, c)) * scale).astype(dtype)
    y = np.empty_like(x)
    A.activation_forward(A.CODES[name], x, y)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref.activation(name, x.astype(np.float64)), rtol=1e-5,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    if name in ("sigmoid", "softmax"):
        assert y.min() >= 0 and y.max() <= 1
    if name == "softmax":
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


def test_forward_and_backward_may_work_in_place(rng):
    x = rng.standard_normal((3, 4))
    expect = ref.activation("tanh", x)
    y = x.copy()
    A.activation_forward(A.TANH, y, y)
    np.testing.assert_allclose(y, expect)
    dy = rng.standard_normal(x.shape)
    g = dy.copy()
    A.activation_backward(A.TANH, y, g, g)
    np.testing.assert_allclose(g, ref.activation_grad("tanh", x, dy))


# --- dense --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_dense_forward_backward_match_reference(name, dtype, rng):
    n, i, o = 6, 5, 4
    x = rng.standard_normal((n, i)).astype(dtype)
    w = rng.standard_normal((i, o)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    a = np.empty((n, o), dtype)
    D.dense_forward(x, w, b, A.CODES[name], a)
    np.testing.assert_allclose(a, ref.dense_forward(x, w, b, name), **tol(dtype))

    da = rng.standard_normal((n, o)).astype(dtype)
    dz, dw, db, dx = np.empty_like(da), np.empty_like(w), np.empty_like(b), np.empty_like(x)
    D.dense_backward(x, w, a, da, A.CODES[name], dz, dw, db, dx, True, False)
    rdw, rdb, rdx = ref.dense_backward(x, w, b, name, da)
    t = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw, rdw, **t)
    np.testing.assert_allclose(db, rdb, **t)
    np.testing.assert_allclose(dx, rdx, **t)


def test_dense_backward_skips_dx_for_the_first_layer(rng):
    x, w, b = rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), rng.standard_normal(4)
    a = np.empty((3, 4))
    D.dense_forward(x, w, b, A.SIGMOID, a)
    da = rng.standard_normal((3, 4))
    dx = np.full_like(x, 7.0)
    dw, db, dz = np.empty_like(w), np.empty_like(b), np.empty_like(da)
    D.dense_backward(x, w, a, da, A.SIGMOID, dz, dw, db, dx, False, False)
    assert np.all(dx == 7.0)
    np.testing.assert_allclose(dw, ref.dense_backward(x, w, b, "sigmoid", da)[0])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax", "identity"])
def test_dense_backward_matches_finite_differences(name, rng):
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    da = rng.standard_normal((5, 4))

    def f():
        out = np.empty((5, 4))
        D.dense_forward(x, w, b, A.CODES[name], out)
        return np.sum(da * out)

    a = np.empty((5, 4))
    D.dense_forward(x, w, b, A.CODES[name], a)
    dz, dw, db, dx = np.empty_like(a), np.empty_like(w), np.empty_like(b), np.empty_like(x)
    D.dense_backward(x, w, a, da, A.CODES[name], dz, dw, db, dx, True, False)
    for param, grad in [(w, dw), (b, db), (x, dx)]:
        np.testing.assert_allclose(grad, ref.finite_difference(f, param), rtol=1e-6, atol=1e-8)


def test_dense_works_on_views_of_a_flat_buffer(rng):
    flat = rng.standard_normal(3 * 4 + 4)
    w, b = flat[:12].reshape(3, 4), flat[12:]
    x = rng.standard_normal((2, 3))
    a = np.empty((2, 4))
    D.dense_forward(x, w, b, A.IDENTITY, a)
    np.testing.assert_allclose(a, x @ w + b)
    grads = np.zeros_like(flat)
    dz = np.empty_like(a)
    D.dense_backward(x, w, a, np.ones_like(a), A.IDENTITY, dz, grads[:12].reshape(3, 4),
                     grads[12:], np.empty_like(x), False, False)
    np.testing.assert_allclose(grads[12:], [2.0] * 4)
    np.testing.assert_allclose(grads[:12].reshape(3, 4), x.T @ np.ones((2, 4)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_accumulates_and_handles_no_bias(dtype, rng):
    x = rng.standard_normal((4, 3)).astype(dtype)
    w = rng.standard_normal((3, 2)).astype(dtype)
    no_bias = np.empty(0, dtype)
    a = np.empty((4, 2), dtype)
    D.dense_forward(x, w, no_bias, A.IDENTITY, a)
    np.testing.assert_allclose(a, x.astype(float) @ w, **tol(dtype))
    da = rng.standard_normal((4, 2)).astype(dtype)
    dw = np.ones_like(w)
    dz, dx = np.empty_like(da), np.empty_like(x)
    D.dense_backward(x, w, a, da, A.IDENTITY, dz, dw, no_bias, dx, True, True)
    np.testing.assert_allclose(dw, 1 + x.astype(float).T @ da, rtol=1e-5)
    b, db = rng.standard_normal(2).astype(dtype), np.full(2, 5.0, dtype)
    D.dense_backward(x, w, a, da, A.IDENTITY, dz, dw, db, dx, True, True)
    np.testing.assert_allclose(db, 5 + da.sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dw, 1 + 2 * (x.astype(float).T @ da), rtol=1e-5)
    np.testing.assert_allclose(dx, da.astype(float) @ w.T, rtol=1e-5, atol=1e-6)
    assert b.shape == (2,)


# --- losses -----------------------------------------------------------------


def _loss_cases(rng, dtype, n=5, c=4):
    z = (rng.standard_normal((n, c)) * 2).astype(dtype)
    labels = rng.integers(0, c, n)
    probs = ref.activation("softmax", z).astype(dtype)
    soft = ref.activation("softmax", rng.standard_normal((n, c))).astype(dtype)
    reg = rng.standard_normal((n, c)).astype(dtype)
    bits = rng.uniform(0, 1, (n, c)).astype(dtype)
    return z, labels, probs, soft, reg, bits


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_match_reference(dtype, rng):
    z, labels, probs, soft, reg, bits = _loss_cases(rng, dtype)
    n, c = z.shape
    onehot = np.eye(c, dtype=dtype)[labels]
    t = tol(dtype)
    cases = [
        (L.SOFTMAX_CE, z, onehot, 1 / n, ref.softmax_cross_entropy(z, labels)),
        (L.SOFTMAX_CE, z, soft, 1 / n, ref.softmax_cross_entropy(z, soft)),
        (L.CROSS_ENTROPY, probs, onehot, 1 / n, ref.cross_entropy_error(probs, labels)),
        (L.CROSS_ENTROPY, probs, soft, 1 / n, ref.cross_entropy_error(probs, soft)),
        (L.SQUARED_ERROR, z, reg, 0.5, ref.squared_error(z, reg, 0.5)),
        (L.SQUARED_ERROR, z, reg, 1 / z.size, ref.squared_error(z, reg, 1 / z.size)),
        (L.BCE_LOGITS, z, bits, 1 / z.size, ref.bce_with_logits(z, bits)),
    ]
    for code, y, target, scale, (rloss, rgrad) in cases:
        assert ref.loss_scale(code, n, c, scale) == pytest.approx(scale)
        grad = np.empty_like(y)
        loss = L.loss_dense(code, y, target, scale, grad, True)
        assert loss == pytest.approx(rloss, rel=t["rtol"] * 10, abs=t["atol"] * 10)
        np.testing.assert_allclose(grad, rgrad, rtol=t["rtol"] * 10, atol=t["atol"] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_losses_equal_one_hot_losses_bit_for_bit(dtype, rng):
    z, labels, probs, *_ = _loss_cases(rng, dtype)
    n, c = z.shape
    onehot = np.eye(c, dtype=dtype)[labels]
    for code, y in [(L.SOFTMAX_CE, z), (L.CROSS_ENTROPY, probs)]:
        g1, g2 = np.empty_like(z), np.empty_like(z)
        l1 = L.loss_labels(code, y, labels, 1 / n, g1, True)
        l2 = L.loss_dense(code, y, onehot, 1 / n, g2, True)
        assert l1 == l2
        np.testing.assert_array_equal(g1, g2)
        assert l1 == pytest.approx(L.loss_labels(code, y, labels, 1 / n, g1[:, :0], False))


@pytest.mark.parametrize("code", [L.SOFTMAX_CE, L.SQUARED_ERROR, L.BCE_LOGITS, L.CROSS_ENTROPY])
def test_loss_gradients_match_finite_differences(code, rng):
    n, c = 4, 3
    y = rng.uniform(0.1, 0.9, (n, c)) if code == L.CROSS_ENTROPY else rng.standard_normal((n, c))
    t = ref.activation("softmax", rng.standard_normal((n, c)))
    scale = ref.loss_scale(code, n, c, 0.5)
    grad = np.empty_like(y)
    L.loss_dense(code, y, t, scale, grad, True)
    fd = ref.finite_difference(lambda: L.loss_dense(code, y, t, scale, y, False), y)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-5e3, 5e3, 0.0]], dtype=dtype)
    g = np.empty_like(z)
    loss = L.loss_labels(L.SOFTMAX_CE, z, np.array([2, 1]), 0.5, g, True)
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert loss == pytest.approx(1e4, rel=1e-6)  # row 0 pays 2e4, row 1 pays 0, mean 1e4


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    t = np.array([[1.0, 0.0, 1.0]], dtype=dtype)
    g = np.empty_like(z)
    loss = L.loss_dense(L.BCE_LOGITS, z, t, 1 / 3, g, True)
    assert loss == pytest.approx(np.log(2) / 3, rel=1e-6)
    np.testing.assert_allclose(g, [[0.0, 0.0, -0.5 / 3]], atol=1e-7)


# --- optimizers ---------------------------------------------------------------


def _run(kernel_step, ref_step, dtype, rng, steps=4, size=11, **hp):
    p = rng.standard_normal(size).astype(dtype)
    p_ref = p.astype(np.float64)
    state = {}
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(steps)]
    arrays = [np.zeros(size, dtype) for _ in range(3)]
    for t, g in enumerate(grads, start=1):
        kernel_step(p, g, arrays, t)
        p_ref = ref_step(p_ref, g.astype(np.float64), state, **hp)
    return p, p_ref


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hp", SGD_CASES)
def test_sgd_matches_torch_rule(hp, dtype, rng):
    full = dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0) | hp

    def step(p, g, s, t):
        O.sgd_step(p, g, s[0], full["lr"], full["momentum"], full["dampening"],
                   full["nesterov"], full["weight_decay"], t == 1)

    p, p_ref = _run(step, ref.sgd, dtype, rng, **hp)
    np.testing.assert_allclose(p, p_ref, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hp", [dict(), dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-7)])
def test_adagrad_matches_torch_rule(hp, dtype, rng):
    full = dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10) | hp

    def step(p, g, s, t):
        O.adagrad_step(p, g, s[0], full["lr"], full["lr_decay"], full["weight_decay"],
                       full["eps"], t)

    p, p_ref = _run(step, ref.adagrad, dtype, rng, **hp)
    np.testing.assert_allclose(p, p_ref, **tol(dtype))


RMS_CASES = [dict(), dict(momentum=0.9), dict(centered=True, weight_decay=0.01),
             dict(lr=0.001, alpha=0.9, eps=1e-7, momentum=0.5, centered=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hp", RMS_CASES)
def test_rmsprop_matches_torch_rule(hp, dtype, rng):
    full = dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False) | hp

    def step(p, g, s, t):
        O.rmsprop_step(p, g, s[0], s[1], s[2], full["lr"], full["alpha"], full["eps"],
                       full["weight_decay"], full["momentum"], full["centered"])

    p, p_ref = _run(step, ref.rmsprop, dtype, rng, **hp)
    np.testing.assert_allclose(p, p_ref, **tol(dtype))


ADAM_CASES = [dict(), dict(weight_decay=0.1), dict(amsgrad=True),
              dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hp", ADAM_CASES)
def test_adam_matches_torch_rule(hp, dtype, rng):
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False) | hp

    def step(p, g, s, t):
        O.adam_step(p, g, s[0], s[1], s[2], full["lr"], full["betas"][0], full["betas"][1],
                    full["eps"], full["weight_decay"], t, full["amsgrad"])

    p, p_ref = _run(step, ref.adam, dtype, rng, steps=6, **hp)
    np.testing.assert_allclose(p, p_ref, **tol(dtype))


def test_adam_first_step_moves_each_weight_by_lr():
    # with bias correction the first Adam step is lr·g/(|g| + eps') = ±lr
    p = np.zeros(4)
    g = np.array([3.0, -0.5, 1e-3, -40.0])
    O.adam_step(p, g, np.zeros(4), np.zeros(4), np.zeros(0), 0.01, 0.9, 0.999, 1e-8, 0.0, 1,
                False)
    np.testing.assert_allclose(p, -0.01 * np.sign(g), rtol=1e-5)


# --- numerical gradient -------------------------------------------------------


def test_numerical_gradient_inplace_of_compiled_function():
    from numba import njit

    @njit
    def f(x):
        return np.sum(x**2) + x[0] * x[1]

    x = np.array([3.0, 4.0, -1.0])
    grad = np.empty_like(x)
    G.numerical_gradient_inplace(f, x, 1e-4, grad)
    np.testing.assert_allclose(grad, [2 * 3 + 4, 2 * 4 + 3, -2], rtol=1e-8)
    np.testing.assert_array_equal(x, [3.0, 4.0, -1.0])


def _network(rng, dims, acts, bias=True, zeros_in_x=False, n=6):
    ws, bs = [], []
    for i, o in zip(dims[:-1], dims[1:]):
        ws.append(rng.standard_normal((i, o)) * 0.7)
        bs.append(rng.standard_normal(o) * 0.3 if bias else None)
    x = rng.standard_normal((n, dims[0]))
    if zeros_in_x:
        x[rng.uniform(size=x.shape) < 0.6] = 0.0  # sparse inputs, like MNIST pixels
    flat, layers = [], []
    pos = 0
    for w, b, act in zip(ws, bs, acts):
        w_pos = pos
        flat.append(w.ravel())
        pos += w.size
        b_pos = None if b is None else pos
        if b is not None:
            flat.append(b)
            pos += b.size
        layers.append(dict(w_off=w_pos, b_off=b_pos, fan_in=w.shape[0], fan_out=w.shape[1],
                           act=A.CODES[act]))
    return x, ws, bs, np.concatenate(flat), make_plan(layers)


NET_CASES = [
    ([5, 4, 3], ["sigmoid", "identity"], L.SOFTMAX_CE, True, True),
    ([4, 6, 5, 3], ["relu", "tanh", "identity"], L.SOFTMAX_CE, True, False),
    ([3, 4, 2], ["tanh", "sigmoid"], L.SQUARED_ERROR, False, False),
    ([4, 3, 3], ["softmax", "softmax"], L.CROSS_ENTROPY, True, False),
    ([3, 5, 4], ["step", "identity"], L.BCE_LOGITS, True, False),
    ([6, 3], ["identity"], L.SOFTMAX_CE, True, True),
]


@pytest.mark.parametrize("dims,acts,code,bias,sparse", NET_CASES)
def test_network_numerical_gradient_matches_brute_force(dims, acts, code, bias, sparse, rng):
    x, ws, bs, flat, plan = _network(rng, dims, acts, bias, sparse)
    n, c = x.shape[0], dims[-1]
    if code == L.BCE_LOGITS or code == L.SQUARED_ERROR:
        t = rng.uniform(0, 1, (n, c))
    else:
        t = np.eye(c)[rng.integers(0, c, n)]
    scale = ref.loss_scale(code, n, c, 0.5)

    def loss():
        y = ref.mlp_forward(x, list(zip(ws, bs, acts)))
        return L.loss_dense(code, y, t, scale, y, False)

    expect = np.concatenate([
        np.concatenate([ref.finite_difference(loss, w, h=1e-4).ravel()]
                       + ([ref.finite_difference(loss, b, h=1e-4)] if b is not None else []))
        for w, b in zip(ws, bs)
    ])
    grad = np.full_like(flat, np.nan)
    G.network_numerical_gradient(x, t, flat, plan, code, scale, 1e-4, grad)
    np.testing.assert_allclose(grad, expect, rtol=1e-7, atol=1e-10)


# --- input checks -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [*DTYPES, np.float16, np.longdouble])
def test_first_nonfinite_finds_the_first_nan_or_inf(dtype):
    from numbann.kernels.checks import first_nonfinite

    x = np.zeros(20_000, dtype)
    x[[5, 77, 19_999]] = [np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).tiny]
    assert first_nonfinite(x) == -1
    for value in (np.nan, -np.nan, np.inf, -np.inf):
        y = x.copy()
        y[12_345] = value
        y[19_000] = np.nan
        assert first_nonfinite(y) == 12_345


# --- gemm (BLAS and the small-product loops) -----------------------------------------


@pytest.fixture(scope="module")
def gemm_kernel():
    from numba import njit

    from numbann.kernels._blas import gemm

    @njit
    def run(A, B, C, alpha, beta, trans_a, trans_b):
        gemm(A, B, C, alpha, beta, trans_a, trans_b)

    return run


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k", [(1, 7), (2, 7), (3, 1), (9, 2), (9, 7), (1, 1)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_all_paths_match_numpy(gemm_kernel, dtype, m, k, trans_a, trans_b, rng):
    n = 5
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    A[A < -0.8] = 0  # zeros take the skipping branch of the small loops
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    ref64 = (A.T if trans_a else A).astype(float) @ (B.T if trans_b else B).astype(float)
    for alpha, beta in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)]:
        C = rng.standard_normal((m, n)).astype(dtype)
        C[0, 0] = np.nan if beta == 0 else C[0, 0]  # β = 0 must overwrite, even NaN
        expect = alpha * ref64 + (beta * C.astype(float) if beta else 0)
        gemm_kernel(A, B, C, dtype(alpha), dtype(beta), trans_a, trans_b)
        np.testing.assert_allclose(C, expect, **{"rtol": 1e-5, "atol": 1e-5}
                                   if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "step"])
def test_the_scalar_activation_is_the_array_kernel_bit_for_bit(name, dtype, rng):
    # activate (one value at a time: the numerical gradient's rows) and apply_into (the
    # vectorised loops) must not drift apart: every bit equal, signed zeros included
    tiny = np.finfo(dtype).tiny
    special = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, tiny / 4, -tiny / 4, 1e-30,
                        -88.7, 88.7, 750.0, -750.0], dtype)
    x = np.concatenate([special, (rng.standard_normal(500) * 6).astype(dtype)])
    vector = np.empty((1, x.size), dtype)
    A.apply_into(A.CODES[name], x.reshape(1, -1), vector)
    one = dtype(1)
    scalar = np.array([A.activate(A.CODES[name], v, one) for v in x], dtype)
    assert scalar.dtype == vector.dtype
    nan = np.isnan(vector[0])
    np.testing.assert_array_equal(np.isnan(scalar), nan)
    bits = np.int32 if dtype == np.float32 else np.int64
    np.testing.assert_array_equal(scalar[~nan].view(bits), vector[0][~nan].view(bits))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu", "step"])
def test_activations_propagate_nan_and_map_infinities(name, dtype):
    # 18 columns: more than a vector's width, so the SIMD loops see them too
    x = np.tile(np.array([[np.nan, -np.inf, np.inf, 0.0, -3.0, 3.0]], dtype), (2, 3))
    for how in ("in place", "out of place", "bias"):
        y = x.copy()
        if how == "in place":
            A.apply_inplace(A.CODES[name], y)
            expect = ref.activation(name, x.astype(float))
        elif how == "out of place":
            y = np.full_like(x, 7.0)
            A.activation_forward(A.CODES[name], x, y)
            expect = ref.activation(name, x.astype(float))
        else:
            bias = np.tile(np.array([0.0, 0.0, 0.0, 0.0, 1.0, -1.0], dtype), 3)
            A.bias_act_inplace(A.CODES[name], y, bias, True)
            expect = ref.activation(name, (x + bias).astype(float))
        expect[:, ::6] = np.nan  # NaN in, NaN out for every activation
        np.testing.assert_allclose(y, expect, rtol=1e-6, atol=1e-7, err_msg=how)
