"""A few training steps composed from the CUDA wrappers against the same steps from the CPU kernels.

The device step is the one the object layer will run: parameters and
gradients in one flat device buffer each, per-layer W and b as views of
them; gather the batch by a device permutation, forward, loss, backward,
one optimizer launch; loss sums and accuracy counts stay in per-step
device slots until the end.
"""

import numpy as np
import pytest
from simutil import close, dev, empty, host, loss_scale

from numbann.kernels import activations as act
from numbann.kernels import dense as cpu_dense
from numbann.kernels import losses as cpu_losses
from numbann.kernels import optim as cpu_optim
from numbann.kernels.cuda import dense, gather, losses, optim, reduce

SIZES = (13, 7, 5)
M, BATCH = 20, 6  # batches of 6, 6, 6, 2
BATCHES = [(0, 6), (6, 12), (12, 18), (18, 20)]


def _layout(sizes):
    """[(W slice, W shape, b slice)] of the flat buffer: W_l (in, out) then b_l."""
    out, o = [], 0
    for i, j in zip(sizes[:-1], sizes[1:]):
        out.append((slice(o, o + i * j), (i, j), slice(o + i * j, o + i * j + j)))
        o += i * j + j
    return out, o


def _views(flat, layout):
    return [(flat[w].reshape(shape), flat[b]) for w, shape, b in layout]


CASES = {
    # hidden act, output act, loss, targets, optimizer
    "relu-ce-labels-sgd": (act.RELU, act.IDENTITY, cpu_losses.SOFTMAX_CE, "labels", "sgd"),
    "sigmoid-ce-labels-adam": (act.SIGMOID, act.IDENTITY, cpu_losses.SOFTMAX_CE, "labels", "adam"),
    "tanh-softmax-textbook-ce-onehot-rmsprop": (act.TANH, act.SOFTMAX, cpu_losses.CROSS_ENTROPY,
                                                "onehot", "rmsprop"),
    "sigmoid-mse-onehot-adagrad": (act.SIGMOID, act.SIGMOID, cpu_losses.SQUARED_ERROR, "onehot",
                                   "adagrad"),
}


def _step_optimizer(mod, kind, p, g, state, step):
    if kind == "sgd":
        mod.sgd_step(p, g, state[0], 0.1, 0.9, 0.0, True, 1e-4, step == 1)
    elif kind == "adam":
        mod.adam_step(p, g, state[0], state[1], state[2], 1e-2, 0.9, 0.999, 1e-8, 0.0, step, False)
    elif kind == "rmsprop":
        mod.rmsprop_step(p, g, state[0], state[1], state[2], 1e-2, 0.99, 1e-8, 0.0, 0.5, True)
    else:
        mod.adagrad_step(p, g, state[0], 0.1, 0.0, 0.0, 1e-10, step)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_training_steps_match_cpu(case, dtype, rng):
    hidden, out_act, code, targets, opt = CASES[case]
    layout, size = _layout(SIZES)
    X = rng.standard_normal((M, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], M)
    T = labels if targets == "labels" else np.eye(SIZES[-1], dtype=dtype)[labels]
    perm = rng.permutation(M)
    flat = np.zeros(size, dtype)
    for (W, b), (_, shape, _) in zip(_views(flat, layout), layout):
        W[...] = rng.standard_normal(shape) / np.sqrt(shape[0])
        b[...] = rng.standard_normal(b.shape) * 0.1
    acts = (hidden, out_act)

    # --- CPU --------------------------------------------------------------------
    p, g = flat.copy(), np.zeros(size, dtype)
    state = [np.zeros(size, dtype) for _ in range(3)]
    cpu_losses_per_step, cpu_hits = [], 0
    for step, (s, e) in enumerate(BATCHES, 1):
        n = e - s
        Xb, Tb = X[perm[s:e]], T[perm[s:e]]
        A = [Xb] + [np.empty((n, o), dtype) for o in SIZES[1:]]
        dA = [np.empty((n, o), dtype) for o in SIZES]
        for l, (W, b) in enumerate(_views(p, layout)):
            cpu_dense.dense_forward(A[l], W, b, acts[l], A[l + 1])
        scale = loss_scale(code, n, SIZES[-1], 0.5)
        loss_fn = cpu_losses.loss_labels if targets == "labels" else cpu_losses.loss_dense
        cpu_losses_per_step.append(loss_fn(code, A[-1], Tb, scale, dA[-1], True))
        cpu_hits += int((A[-1].argmax(axis=1) == labels[perm[s:e]]).sum())
        for l in reversed(range(len(layout))):
            W, b = _views(p, layout)[l]
            dW, db = _views(g, layout)[l]
            cpu_dense.dense_backward(A[l], W, A[l + 1], dA[l + 1], acts[l], dA[l + 1], dW, db,
                                     dA[l], l > 0, False)
        _step_optimizer(cpu_optim, opt, p, g, state, step)

    # --- GPU: same steps, device-resident ----------------------------------------
    gX, gT, gperm = dev(X), dev(T), dev(perm)
    gp, gg = dev(flat), empty(size, dtype, 0.0)
    gstate = [empty(size, dtype, 0.0) for _ in range(3)]
    params, grads = _views(gp, layout), _views(gg, layout)
    loss_slots = empty(len(BATCHES), dtype)
    hit_slots = dev(np.zeros(len(BATCHES), np.int64))
    for step, (s, e) in enumerate(BATCHES, 1):
        n = e - s
        Xb = empty((n, SIZES[0]), dtype)
        Tb = dev(np.empty((n,) + T.shape[1:], T.dtype))
        gather.gather_batch(gX, gT, gperm[s:e], Xb, Tb)
        A = [Xb] + [empty((n, o), dtype) for o in SIZES[1:]]
        dA = [empty((n, o), dtype) for o in SIZES]
        for l, (W, b) in enumerate(params):
            dense.dense_forward(A[l], W, b, acts[l], A[l + 1])
        rows = empty(n, dtype)
        scale = loss_scale(code, n, SIZES[-1], 0.5)
        loss_fn = losses.loss_labels if targets == "labels" else losses.loss_dense
        loss_fn(code, A[-1], Tb, scale, dA[-1], True, rows)
        reduce.sum_blocks(rows, loss_slots, step - 1)
        reduce.count_correct(A[-1], Tb, hit_slots, step - 1)
        for l in reversed(range(len(layout))):
            (W, b), (dW, db) = params[l], grads[l]
            dense.dense_backward(A[l], W, A[l + 1], dA[l + 1], acts[l], dA[l + 1], dW, db,
                                 dA[l], l > 0, False)
        _step_optimizer(optim, opt, gp, gg, gstate, step)

    scales = [loss_scale(code, e - s, SIZES[-1], 0.5) for s, e in BATCHES]
    close(host(loss_slots) * scales, cpu_losses_per_step, dtype, scale=10)
    assert reduce.fetch_sum(hit_slots) == cpu_hits
    close(host(gg), g, dtype, scale=10)
    close(host(gp), p, dtype, scale=10)
    assert not np.allclose(p, flat)  # the steps did move the parameters
