"""Subnormals flushed inside numbann's compiled calls; the caller's MXCSR left as it was."""

import platform

import numba
import numpy as np
import pytest

import numbann as nb
from numbann.kernels import activations as A
from numbann.kernels import dense as D
from numbann.kernels import losses as L
from numbann.kernels import norm as N
from numbann.kernels import optim as O
from numbann.kernels._fpenv import FTZ_DAZ, fp_leave, fp_state

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the MXCSR is x86's; elsewhere numbann leaves the floating-point state alone")

ADAM_HYPER = O.hyper(O.ADAM, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                     amsgrad=False)
TINY = np.finfo(np.float32).tiny  # the smallest normal float32, 1.18e-38
#: a caller's MXCSR that is not the default: round toward zero (bits 13-14), all masked
CALLER = 0x1F80 | 0x6000


@pytest.fixture
def caller_state():
    """Run with an unusual MXCSR, and put the original back afterwards."""
    original = int(fp_state())
    fp_leave(CALLER)
    yield CALLER
    fp_leave(original)


def _unchanged(state):
    # the status flags (bits 0-5) record what happened; the control bits must be the caller's
    return (int(fp_state()) & ~0x3F) == (state & ~0x3F)


@numba.njit(parallel=True)
def _worker_states(out):
    for i in numba.prange(out.size):
        out[i] = fp_state()


def test_every_entry_point_restores_the_callers_state(caller_state, rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    b, y = np.zeros(2, np.float32), np.empty((4, 2), np.float32)
    calls = [
        lambda: D.dense_forward(x, w, b, A.SIGMOID, y),
        lambda: D.dense_backward(x, w, y, y.copy(), A.SIGMOID, y.copy(), w.copy(), b.copy(),
                                 x.copy(), True, False),
        lambda: A.activation_forward(A.TANH, y, y.copy()),
        lambda: A.activation_backward(A.TANH, y, y.copy(), y.copy()),
        lambda: L.loss_labels(L.SOFTMAX_CE, y, np.array([0, 1, 1, 0]), 0.25, y.copy(), True),
        lambda: O.add_scaled(w.copy(), w, 0.1),
        lambda: O.optimizer_step(ADAM_HYPER, b.copy(), b, np.zeros((3, 2), np.float32), 1, 0,
                                 -1),
        lambda: N.dropout_inplace(y.copy(), 1, 2, N.dropout_threshold(0.5), 2.0),
    ]
    for call in calls:
        call()
        assert _unchanged(caller_state), call
    model = nb.Sequential(nb.Linear(3, 4), nb.BatchNorm1d(4), nb.ReLU(), nb.Linear(4, 2))
    nb.fit(model, nb.CrossEntropyLoss(), nb.optim.Adam(model.parameters()), x, [0, 1, 1, 0],
           epochs=1, batch_size=2, verbose=0)
    assert _unchanged(caller_state)
    nb.evaluate(model, nb.CrossEntropyLoss(), x, [0, 1, 1, 0])
    assert _unchanged(caller_state)
    plain = nb.Sequential(nb.Linear(3, 4), nb.Tanh(), nb.Linear(4, 2)).double()
    for net in (plain, model.double()):
        net.numerical_gradient(x, [0, 1, 1, 0], nb.CrossEntropyLoss())  # parallel regions
        assert _unchanged(caller_state)


def test_numba_worker_threads_get_their_state_back():
    before = np.zeros(64, np.uint32)
    _worker_states(before)
    model = nb.Sequential(nb.Linear(6, 5), nb.Sigmoid(), nb.Linear(5, 3)).double()
    model.numerical_gradient(np.ones((4, 6)), [0, 1, 2, 0], nb.CrossEntropyLoss())
    after = np.zeros(64, np.uint32)
    _worker_states(after)
    control = np.uint32(0xFFC0)  # all but the status flags
    np.testing.assert_array_equal(after & control, before & control)
    assert not np.any(after & FTZ_DAZ)


def test_subnormal_optimizer_state_is_flushed_not_carried(rng):
    p = np.ones(4, np.float32)
    g = np.zeros(4, np.float32)
    state = np.zeros((3, 4), np.float32)
    state[0] = 3e-39  # Adam's first moment, decayed below the smallest normal float
    assert 0 < state[0, 0] < TINY
    # what plain float arithmetic gives: 0.9 · 3e-39, still a subnormal
    assert 0 < np.float32(0.9) * state[0, 0] < TINY
    O.optimizer_step(ADAM_HYPER, p, g, state, 5, 0, -1)
    np.testing.assert_array_equal(state[0], 0.0)
    np.testing.assert_array_equal(p, 1.0)


def test_training_leaves_no_subnormal_state():
    """Inputs with always-zero columns (MNIST's border) give zero gradients for their
    weights, whose Adam moments decay geometrically: 1,000 steps take 0.9ᵗ·m below 1e-38."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(1000, 8)).astype(np.float32)
    x[:, :3] = 0.0
    x[0, :3] = 1.0  # seen once, then never again
    t = rng.integers(0, 3, 1000)
    model = nb.Sequential(nb.Linear(8, 6), nb.ReLU(), nb.Linear(6, 3))
    opt = nb.optim.Adam(model.parameters())
    nb.fit(model, nb.CrossEntropyLoss(), opt, x, t, epochs=1, batch_size=1, shuffle=False,
           verbose=0)
    for name, row in opt.state.items():
        assert not np.any((row != 0) & (np.abs(row) < TINY)), name
    first = opt.state["exp_avg"][:model[0].weight.size].reshape(8, 6)
    np.testing.assert_array_equal(first[:3], 0.0)  # decayed and flushed, not subnormal
