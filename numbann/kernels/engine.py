"""The compiled training engine (CPU): whole epochs of mini-batch training in one call.

The engine's arguments are named tuples, each owned by one module:

* :class:`Batches` (here) — the epoch's data and row order;
* :class:`Network` (here) — the flat parameter and gradient buffers and the
  network's plan (:mod:`.plan`: where each layer's weight and bias lie, its
  widths and activation);
* :class:`~.losses.LossSpec` — the loss, its batch scaling and the L2 penalty;
* :class:`OptimizerState` (here) — a hyperparameter tuple of
  :mod:`.optim` (which also picks the update rule), the (k, P) state rows
  and the step count;
* :class:`Workspace` (here) — preallocated work arrays (:func:`workspace`).

Targets are a dense float matrix T (N, C) (labels arrive one-hot). One step
is: gather the batch rows → forward (GEMM + fused bias and activation per
layer) → loss and its gradient → backward (per layer: the activation
derivative, dW, db, dX) → optional L2 term λW → one optimizer update over the
whole flat buffer. Plain SGD (no momentum, no weight decay) is applied inside
the backward pass instead, W ← W − lr·XᵀdZ by one gemm, so the gradient
buffer is not written. Python is not involved between steps.
"""

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import jit
from ._memory import copy_into
from .dense import dense_backward, dense_backward_sgd, dense_forward
from .losses import batch_scale, loss_dense
from .optim import add_scaled, optimizer_step, plain_sgd_lr
from .plan import bias, in_width, out_width, rows, weight, work_offsets


class Batches(NamedTuple):
    """An epoch's mini-batches: batch k holds rows ``order[k·batch_size : (k+1)·batch_size]``
    of X (N, I) and T (N, C) (the last may be shorter); with *contiguous* (``order`` is
    0 … N−1) they are taken as slices, without a copy."""

    X: np.ndarray
    T: np.ndarray
    order: np.ndarray
    contiguous: bool
    batch_size: int


class Network(NamedTuple):
    """A network's flat parameters (P,), its flat gradients (P,) and its plan (:mod:`.plan`)."""

    params: np.ndarray
    grads: np.ndarray
    plan: np.ndarray


class OptimizerState(NamedTuple):
    """The update rule and its hyperparameters (a tuple of :mod:`.optim`), the (k, P) state
    rows it names and the optimizer's step count before the first batch of the call."""

    hyper: tuple
    state: np.ndarray
    step: int


class Workspace(NamedTuple):
    """Work arrays for batches of up to B rows: gathered inputs (B·I,) and targets (B·C,),
    every layer's output and its gradient, laid out by :func:`.plan.work_offsets`."""

    xbuf: np.ndarray
    tbuf: np.ndarray
    work: np.ndarray
    dwork: np.ndarray


def workspace(plan, batch_size, dtype, empty=np.empty):
    """A :class:`Workspace` for *plan* and batches of *batch_size* rows, allocated by
    *empty* (NumPy's, or a device's)."""
    size = int(work_offsets(plan, batch_size)[-1])
    return Workspace(empty(batch_size * int(in_width(plan)), dtype),
                     empty(batch_size * int(out_width(plan)), dtype),
                     empty(size, dtype), empty(size, dtype))


@intrinsic
def prefetch(typingctx, arr, index):
    """Hint the CPU to fetch the cache line of arr.reshape(-1)[index] (llvm.prefetch)."""
    if not isinstance(arr, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, types.intp), codegen


#: how many rows ahead the batch gather prefetches
PREFETCH_ROWS = 8


@jit
def gather_rows(X, order, lo, out):
    """out[i] = X[order[lo + i]] for the rows of *out*, prefetching rows ahead.

    Rows of a shuffled data set are scattered in memory; a row's address is
    known in advance, so its cache lines are requested a few rows early and
    the copy does not wait for each one in turn.
    """
    n, d = out.shape
    flat = X.reshape(-1)
    line = max(1, 64 // X.itemsize)
    for i in range(n):
        ahead = lo + i + PREFETCH_ROWS
        if ahead < order.size:
            base = order[ahead] * d
            for q in range(0, d, line):
                prefetch(flat, base + q)
        copy_into(out[i], X[order[lo + i]])


@jit
def forward_rows(X, params, plan, work, offs):
    """Forward X (n, I) through every layer; returns the output view of *work*."""
    n = X.shape[0]
    h = X
    for m in range(plan.size):
        out = rows(plan, work, offs, m, n)
        dense_forward(h, weight(plan[m], params), bias(plan[m], params), plan[m]["act"], out)
        h = out
    return h


@jit
def count_correct(Y, T):
    """Rows whose argmax of Y equals the argmax of T (for one output: Y > 0 vs T > ½)."""
    n, c = Y.shape
    correct = 0
    for i in range(n):
        if c == 1:
            correct += (Y[i, 0] > 0) == (T[i, 0] > 0.5)
        else:
            correct += np.argmax(Y[i]) == np.argmax(T[i])
    return correct


@jit
def l2_penalty(plan, params, l2_lambda):
    """½λ Σ_l ‖W_l‖² over the weights (not the biases), summed in float64."""
    sq = 0.0
    for m in range(plan.size):
        w = weight(plan[m], params).reshape(-1)
        for i in range(w.size):
            sq += np.float64(w[i]) * w[i]
    return 0.5 * l2_lambda * sq


@jit
def train_steps(batches, first_batch, last_batch, net, loss, opt, ws, losses, correct):
    """Train on batches first_batch … last_batch − 1 of one epoch (see :class:`Batches`).

    Writes each batch's loss to losses[k] and its number of correctly
    classified rows to correct[k]. Stops early, before updating, at a batch
    whose loss is not finite; returns the number of batches completed.
    """
    X, T, order, bs = batches.X, batches.T, batches.order, batches.batch_size
    params, grads, plan = net.params, net.grads, net.plan
    n_total = order.size
    d_in, c = in_width(plan), out_width(plan)
    n_layers = plan.size
    offs = work_offsets(plan, bs)
    hyper = opt.hyper
    # plain SGD updates the weights inside the backward pass (see dense_backward_sgd)
    sgd_lr = plain_sgd_lr(hyper)
    fused_sgd = sgd_lr >= 0.0 and loss.l2_lambda == 0.0
    done = 0
    for k in range(first_batch, last_batch):
        lo = k * bs
        n = min(bs, n_total - lo)
        if batches.contiguous:
            start = order[lo]
            Xb = X[start:start + n]
            Tb = T[start:start + n]
        else:
            Xb = ws.xbuf[:n * d_in].reshape((n, d_in))
            Tb = ws.tbuf[:n * c].reshape((n, c))
            gather_rows(X, order, lo, Xb)
            gather_rows(T, order, lo, Tb)
        out = forward_rows(Xb, params, plan, ws.work, offs)
        dout = rows(plan, ws.dwork, offs, n_layers - 1, n)
        scale = batch_scale(loss.scale_kind, loss.scale_value, n, c)
        value = loss_dense(loss.code, out, Tb, scale, dout, True)
        if loss.l2_lambda != 0.0:
            value += l2_penalty(plan, params, loss.l2_lambda)
        losses[k] = value
        correct[k] = count_correct(out, Tb)
        if not np.isfinite(value):
            return done
        for m in range(n_layers - 1, -1, -1):
            layer = plan[m]
            h_in = Xb if m == 0 else rows(plan, ws.work, offs, m - 1, n)
            d_in_m = ws.dwork[:0].reshape((0, 0)) if m == 0 else rows(plan, ws.dwork, offs,
                                                                        m - 1, n)
            da = rows(plan, ws.dwork, offs, m, n)
            W = weight(layer, params)
            a = rows(plan, ws.work, offs, m, n)
            if fused_sgd:
                dense_backward_sgd(h_in, W, bias(layer, params), a, da, layer["act"], da, d_in_m,
                                   m > 0, sgd_lr)
                continue
            dw = weight(layer, grads)
            dense_backward(h_in, W, a, da, layer["act"], da, dw, bias(layer, grads), d_in_m,
                           m > 0, False)
            if loss.l2_lambda != 0.0:
                add_scaled(dw, W, loss.l2_lambda)
        if not fused_sgd:
            optimizer_step(hyper, params, grads, opt.state, opt.step + done + 1)
        done += 1
    return done


@jit
def evaluate_rows(X, T, batch_size, params, plan, loss_code, work):
    """(Σ_i row_loss over all rows, number of correct rows) for X (N, I) and T (N, C),
    run in batches of *batch_size* rows through *work* (a flat work array for that size)."""
    n_total = X.shape[0]
    offs = work_offsets(plan, batch_size)
    total = 0.0
    correct = 0
    for lo in range(0, n_total, batch_size):
        hi = min(n_total, lo + batch_size)
        out = forward_rows(X[lo:hi], params, plan, work, offs)
        total += loss_dense(loss_code, out, T[lo:hi], 1.0, out, False)
        correct += count_correct(out, T[lo:hi])
    return total, correct


def prepare(batches, net, loss, opt, ws, evaluation=False):
    """Compile (or load from the JIT cache) what a run on these arguments calls, without
    changing any parameter or state: :func:`train_steps` by a call on no batch and, with
    *evaluation*, :func:`evaluate_rows` by a call on no rows. The GPU twin compiles every
    kernel of the step's launch sequence."""
    train_steps(batches, 0, 0, net, loss, opt, ws, np.zeros(1), np.zeros(1, np.int64))
    if evaluation:
        evaluate_rows(batches.X[:0], batches.T[:0], 1, net.params, net.plan, loss.code, ws.work)
