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
from numba.extending import intrinsic, overload

from .._config import JIT_OPTIONS, jit
from ._fpenv import fp_enter, fp_leave
from ._memory import copy_into
from .activations import IDENTITY, apply_inplace, backward_inplace
from .dense import dense_backward, dense_backward_sgd, dense_forward
from .losses import batch_scale, loss_dense
from .norm import (
    batch_norm_backward,
    batch_norm_eval,
    batch_norm_train,
    dropout_inplace,
    update_running,
)
from .optim import add_scaled, optimizer_step, plain_sgd_lr
from .plan import (
    ACT,
    DROP,
    DROP_COUNT,
    NORM,
    NORM_COUNT,
    STATS,
    beta,
    bias,
    gamma,
    has_norm,
    in_width,
    momentum_factor,
    out_width,
    output_region,
    region,
    rows,
    running_mean,
    running_var,
    weight,
    weight_range,
    work_layout,
    work_offsets,
)


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
    """A network's flat parameters (P,) and gradients (P,), its plan (:mod:`.plan`), the
    flat running statistics of its batch norms (S,) and the (L, 2) counts of training
    forwards of its batch-norm and dropout layers before the call."""

    params: np.ndarray
    grads: np.ndarray
    plan: np.ndarray
    stats: np.ndarray
    counts: np.ndarray


class OptimizerState(NamedTuple):
    """The update rule and its hyperparameters (a tuple of :mod:`.optim`), the (k, P) state
    rows it names and the optimizer's step count before the first batch of the call."""

    hyper: tuple
    state: np.ndarray
    step: int


class Workspace(NamedTuple):
    """Work arrays for batches of up to B rows: gathered inputs (B·I,) and targets (B·C,),
    every layer's work (:func:`.plan.work_layout`) and the gradients of every layer's
    output (:func:`.plan.work_offsets`)."""

    xbuf: np.ndarray
    tbuf: np.ndarray
    work: np.ndarray
    dwork: np.ndarray


def workspace(plan, batch_size, dtype, empty=np.empty):
    """A :class:`Workspace` for *plan* and batches of *batch_size* rows, allocated by
    *empty* (NumPy's, or a device's)."""
    return Workspace(empty(batch_size * int(in_width(plan)), dtype),
                     empty(batch_size * int(out_width(plan)), dtype),
                     empty(int(work_layout(plan, batch_size)[1]), dtype),
                     empty(int(work_offsets(plan, batch_size)[-1]), dtype))


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
def layer_forward(plan, m, h, net, step, work, layout, training):
    """Layer *m* on its input h (n, fan_in): f(BN(h @ W + b)) and dropout; returns its output.

    In training, batch norm uses the batch's statistics and (with *training* = 2)
    updates the running ones; dropout draws mask count + *step*. In evaluation
    (*training* = 0) batch norm uses the running statistics and dropout scales.
    """
    layer = plan[m]
    n = h.shape[0]
    a = region(plan, work, layout, m, ACT, n)
    W, b = weight(layer, net.params), bias(layer, net.params)
    # one call site: dense_forward is inlined (batch norm comes before the activation)
    dense_forward(h, W, b, IDENTITY if layer["norm"] else layer["act"], a)
    if layer["norm"]:
        st = region(plan, work, layout, m, STATS, 3)
        xhat = region(plan, work, layout, m, NORM, n)
        g, be = gamma(layer, net.params), beta(layer, net.params)
        rm, rv = running_mean(layer, net.stats), running_var(layer, net.stats)
        if training:
            batch_norm_train(a, g, be, layer["bn_eps"], st[0], st[1], st[2], xhat)
            if training == 2:
                factor = momentum_factor(layer, net.counts[m, NORM_COUNT] + step)
                update_running(st[0], st[1], n, rm, rv, factor, layer["bn_unbiased"])
        else:
            batch_norm_eval(a, g, be, rm, rv, layer["bn_eps"], st[2], xhat)
        apply_inplace(layer["act"], a)
    if not layer["drop"] or (not training and layer["drop_eval_scale"] == 1.0):
        return a
    d = region(plan, work, layout, m, DROP, n)
    copy_into(d, a)
    if training:
        dropout_inplace(d, layer["drop_seed"], net.counts[m, DROP_COUNT] + step,
                        layer["drop_threshold"], layer["drop_train_scale"])
    else:  # the textbook's dropout scales by 1 − p at test time
        flat = d.reshape(-1)
        scale = flat.dtype.type(layer["drop_eval_scale"])
        for i in range(flat.size):
            flat[i] *= scale
    return d


@jit
def forward_rows(X, net, step, work, layout, training):
    """Forward X (n, I) through every layer (see :func:`layer_forward`); returns the output."""
    h = X
    for m in range(net.plan.size):
        h = layer_forward(net.plan, m, h, net, step, work, layout, training)
    return h


@jit
def layer_backward(plan, m, h_in, da, d_prev, net, step, work, layout, sgd_lr):
    """Back-propagate ∂L/∂(layer m's output) *da* (n, fan_out; overwritten): the dropout
    mask, the activation, batch norm and the product; writes the gradients of W, b, γ, β
    and, for m > 0, ∂L/∂(its input) into *d_prev*. With *sgd_lr* ≥ 0 (no batch norm),
    W ← W − lr·∂L/∂W in place of the gradient."""
    layer = plan[m]
    n = da.shape[0]
    params, grads = net.params, net.grads
    if layer["drop"]:
        dropout_inplace(da, layer["drop_seed"], net.counts[m, DROP_COUNT] + step,
                        layer["drop_threshold"], layer["drop_train_scale"])
    a = region(plan, work, layout, m, ACT, n)
    W = weight(layer, params)
    act = layer["act"]
    if layer["norm"]:
        backward_inplace(act, a, da)
        st = region(plan, work, layout, m, STATS, 3)
        batch_norm_backward(da, region(plan, work, layout, m, NORM, n), st[2],
                            gamma(layer, params), da, gamma(layer, grads), beta(layer, grads),
                            True, False, st[:2])
        act = IDENTITY
    if sgd_lr >= 0.0:
        dense_backward_sgd(h_in, W, bias(layer, params), a, da, act, da, d_prev, m > 0, sgd_lr)
    else:
        dense_backward(h_in, W, a, da, act, da, weight(layer, grads), bias(layer, grads),
                       d_prev, m > 0, False)


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
def weight_squares(plan, params, lo, hi):
    """Σ w² (float64) over the weights (not the biases) among elements lo … hi − 1 of the
    flat parameter buffer."""
    sq = 0.0
    for m in range(plan.size):
        w0, w1 = weight_range(plan[m], lo, hi)
        for i in range(w0, w1):
            sq += np.float64(params[i]) * params[i]
    return sq


@jit
def l2_penalty(plan, params, l2_lambda):
    """½λ Σ_l ‖W_l‖² over the weights (not the biases), summed in float64."""
    return 0.5 * l2_lambda * weight_squares(plan, params, 0, params.size)


@jit
def train_steps(batches, first_batch, last_batch, net, loss, opt, ws, losses, correct):
    """Train on batches first_batch … last_batch − 1 of one epoch (see :class:`Batches`).

    Writes each batch's loss to losses[k] and its number of correctly
    classified rows to correct[k], and updates the running statistics of the
    batch norms. Stops early, before updating, at a batch whose loss is not
    finite; returns the number of batches completed (each batch-norm and
    dropout layer has then run that many more times: the caller adds it to
    their counts).
    """
    X, T, order, bs = batches.X, batches.T, batches.order, batches.batch_size
    plan = net.plan
    n_total = order.size
    d_in, c = in_width(plan), out_width(plan)
    n_layers = plan.size
    offs = work_offsets(plan, bs)
    layout = work_layout(plan, bs)[0]
    hyper = opt.hyper
    # plain SGD updates the weights inside the backward pass (see dense_backward_sgd)
    sgd_lr = plain_sgd_lr(hyper)
    if loss.l2_lambda != 0.0 or has_norm(plan):
        sgd_lr = -1.0
    csr = fp_enter()  # subnormals flushed for the call (see _fpenv)
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
        out = forward_rows(Xb, net, done, ws.work, layout, 2)
        dout = rows(plan, ws.dwork, offs, n_layers - 1, n)
        scale = batch_scale(loss.scale_kind, loss.scale_value, n, c)
        value = loss_dense(loss.code, out, Tb, scale, dout, True)
        if loss.l2_lambda != 0.0:
            value += l2_penalty(plan, net.params, loss.l2_lambda)
        losses[k] = value
        correct[k] = count_correct(out, Tb)
        if not np.isfinite(value):
            fp_leave(csr)
            return done
        for m in range(n_layers - 1, -1, -1):
            h_in = Xb if m == 0 else output_region(plan, ws.work, layout, m - 1, n)
            d_prev = ws.dwork[:0].reshape((0, 0)) if m == 0 else rows(plan, ws.dwork, offs,
                                                                        m - 1, n)
            layer_backward(plan, m, h_in, rows(plan, ws.dwork, offs, m, n), d_prev, net, done,
                           ws.work, layout, sgd_lr)
            if loss.l2_lambda != 0.0:
                add_scaled(weight(plan[m], net.grads), weight(plan[m], net.params),
                           loss.l2_lambda)
        if sgd_lr < 0.0:
            optimizer_step(hyper, net.params, net.grads, opt.state, opt.step + done + 1, 0, -1)
        done += 1
    fp_leave(csr)
    return done


class PlainNetwork(NamedTuple):
    """What the forward pass of a network without batch norm or dropout reads: the flat
    parameters and the plan. Its own type, so that compiled code given one compiles
    only :func:`forward_plain` (see :func:`forward_eval`)."""

    params: np.ndarray
    plan: np.ndarray


def evaluation_network(net):
    """*net* as the evaluation forward (:func:`forward_eval`) takes it: a
    :class:`PlainNetwork` when no layer has batch norm or dropout, else *net* itself."""
    if net.plan["norm"].any() or net.plan["drop"].any():
        return net
    return PlainNetwork(net.params, net.plan)


@jit
def forward_plain(X, params, plan, work, layout):
    """Forward X (n, I) through a plan without batch norm or dropout: f(h @ W + b) layer
    by layer, each output in its ACT region of *work*; returns the last."""
    h = X
    for m in range(plan.size):
        a = region(plan, work, layout, m, ACT, h.shape[0])
        dense_forward(h, weight(plan[m], params), bias(plan[m], params), plan[m]["act"], a)
        h = a
    return h


def forward_eval(X, net, work, layout):
    """The evaluation-mode forward of X through *net*: :func:`forward_plain` for a
    :class:`PlainNetwork`, :func:`forward_rows` for a :class:`Network` (chosen when the
    caller compiles, so only the one it needs is compiled)."""


@overload(forward_eval, jit_options=JIT_OPTIONS)
def _forward_eval_impl(X, net, work, layout):
    if getattr(net, "instance_class", None) is PlainNetwork:
        return lambda X, net, work, layout: forward_plain(X, net.params, net.plan, work,
                                                          layout)
    return lambda X, net, work, layout: forward_rows(X, net, 0, work, layout, 0)


def evaluate_rows(X, T, batch_size, net, loss_code, work):
    """(Σ_i row_loss over all rows, number of correct rows) for X (N, I) and T (N, C), in
    evaluation mode, run in batches of *batch_size* rows through *work* (a flat work
    array of :func:`.plan.work_layout`'s size for that batch size). A network without
    batch norm and dropout runs :func:`forward_plain`, which compiles in a fraction of
    the time of the general :func:`forward_rows`."""
    return _evaluate_rows(X, T, batch_size, evaluation_network(net), loss_code, work)


@jit
def _evaluate_rows(X, T, batch_size, net, loss_code, work):
    csr = fp_enter()
    layout = work_layout(net.plan, batch_size)[0]
    total = 0.0
    correct = 0
    for lo in range(0, X.shape[0], batch_size):
        hi = min(X.shape[0], lo + batch_size)
        out = forward_eval(X[lo:hi], net, work, layout)
        total += loss_dense(loss_code, out, T[lo:hi], 1.0, out, False)
        correct += count_correct(out, T[lo:hi])
    fp_leave(csr)
    return total, correct


def prepare(batches, net, loss, opt, ws, evaluation=False):
    """Compile (or load from the JIT cache) what a run on these arguments calls, without
    changing any parameter or state: :func:`train_steps` by a call on no batch and, with
    *evaluation*, :func:`evaluate_rows` by a call on no rows. The GPU twin compiles every
    kernel of the step's launch sequence."""
    train_steps(batches, 0, 0, net, loss, opt, ws, np.zeros(1), np.zeros(1, np.int64))
    if evaluation:
        evaluate_rows(batches.X[:0], batches.T[:0], 1, net, loss.code, ws.work)
