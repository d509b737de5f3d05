"""The compiled training engine (CPU): whole epochs of mini-batch training in one call.

A network here is a chain of dense layers described by flat arrays (see
:meth:`numbann.Sequential.network_plan`): layer l has W_l = params[w_off[l]:…]
of shape (dims[l], dims[l+1]), bias b_l = params[b_off[l]:…] if has_bias[l],
and activation code acts[l]; gradients live at the same offsets in
``grads``. Targets are a dense float matrix T (N, C) (labels arrive one-hot).

One step is: gather the batch rows → forward (GEMM + fused bias and
activation per layer) → loss and its gradient → backward (per layer: the
activation derivative, dW, db, dX) → optional L2 term λW → one optimizer
update over the whole flat buffer. Plain SGD (no momentum, no weight decay)
is applied inside the backward pass instead, W ← W − lr·XᵀdZ by one gemm,
so the gradient buffer is not written. Everything runs on preallocated work
arrays; Python is not involved between steps.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import jit
from ._memory import copy_into
from .dense import dense_backward, dense_backward_sgd, dense_forward
from .losses import batch_scale, loss_dense
from .optim import adagrad_step, adam_step, add_scaled, rmsprop_step, sgd_step

#: optimizer codes and the layout of their ``hyper`` (float64) arrays
SGD = 0  # lr, momentum, dampening, weight_decay, nesterov
ADAGRAD = 1  # lr, lr_decay, weight_decay, eps
RMSPROP = 2  # lr, alpha, eps, weight_decay, momentum, centered
ADAM = 3  # lr, beta1, beta2, eps, weight_decay, amsgrad


@jit
def optimizer_step(code, hyper, params, grads, state, step):
    """One update of the whole flat buffer; *state* is (k, P), rows as the optimizer
    class orders them; *step* counts from 1."""
    if code == SGD:
        sgd_step(params, grads, state[0], hyper[0], hyper[1], hyper[2], hyper[4] != 0.0,
                 hyper[3], step == 1)
    elif code == ADAGRAD:
        adagrad_step(params, grads, state[0], hyper[0], hyper[1], hyper[2], hyper[3], step)
    elif code == RMSPROP:
        rmsprop_step(params, grads, state[0], state[1], state[2], hyper[0], hyper[1], hyper[2],
                     hyper[3], hyper[4], hyper[5] != 0.0)
    else:
        adam_step(params, grads, state[0], state[1], state[2], hyper[0], hyper[1], hyper[2],
                  hyper[3], hyper[4], step, hyper[5] != 0.0)


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
def _weight(params, w_off, dims, layer):
    fan_in, fan_out = dims[layer], dims[layer + 1]
    return params[w_off[layer]:w_off[layer] + fan_in * fan_out].reshape((fan_in, fan_out))


@jit
def _bias(params, b_off, has_bias, dims, layer):
    if has_bias[layer]:
        return params[b_off[layer]:b_off[layer] + dims[layer + 1]]
    return params[:0]


@jit
def _rows(work, offs, dims, layer, n):
    """Layer *layer*'s (n, dims[layer+1]) slice of a flat work array."""
    return work[offs[layer]:offs[layer] + n * dims[layer + 1]].reshape((n, dims[layer + 1]))


@jit
def work_offsets(dims, batch_size):
    """Offsets of each layer's (batch_size, width) block in a flat work array; the
    last entry is the total size."""
    offs = np.zeros(dims.size, np.int64)
    for m in range(dims.size - 1):
        offs[m + 1] = offs[m] + batch_size * dims[m + 1]
    return offs


@jit
def forward_rows(X, params, w_off, b_off, has_bias, dims, acts, work, offs):
    """Forward X (n, dims[0]) through every layer; returns the output view of *work*."""
    n = X.shape[0]
    h = X
    for m in range(dims.size - 1):
        out = _rows(work, offs, dims, m, n)
        dense_forward(h, _weight(params, w_off, dims, m), _bias(params, b_off, has_bias, dims, m),
                      acts[m], out)
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
def train_steps(X, T, order, contiguous, batch_size, first_batch, last_batch,
                params, grads, w_off, b_off, has_bias, dims, acts,
                loss_code, scale_kind, scale_value, l2_lambda,
                opt_code, hyper, state, step,
                xbuf, tbuf, work, dwork, losses, correct):
    """Train on batches first_batch … last_batch − 1 of one epoch.

    Batch k holds the rows order[k·batch_size : (k+1)·batch_size] (the last one
    may be shorter); with *contiguous* the rows are taken as a slice, without a
    copy. Writes each batch's loss to losses[k] and its number of correctly
    classified rows to correct[k]. *step* is the optimizer step count before
    the first batch. Stops early, before updating, at a batch whose loss is
    not finite; returns the number of batches completed.
    """
    n_total = order.size
    d_in, c = dims[0], dims[dims.size - 1]
    n_layers = dims.size - 1
    offs = work_offsets(dims, batch_size)
    # plain SGD updates the weights inside the backward pass (see dense_backward_sgd)
    fused_sgd = opt_code == SGD and hyper[1] == 0.0 and hyper[3] == 0.0 and l2_lambda == 0.0
    done = 0
    for k in range(first_batch, last_batch):
        lo = k * batch_size
        n = min(batch_size, n_total - lo)
        if contiguous:
            start = order[lo]
            Xb = X[start:start + n]
            Tb = T[start:start + n]
        else:
            Xb = xbuf[:n * d_in].reshape((n, d_in))
            Tb = tbuf[:n * c].reshape((n, c))
            gather_rows(X, order, lo, Xb)
            gather_rows(T, order, lo, Tb)
        out = forward_rows(Xb, params, w_off, b_off, has_bias, dims, acts, work, offs)
        dout = _rows(dwork, offs, dims, n_layers - 1, n)
        scale = batch_scale(scale_kind, scale_value, n, c)
        loss = loss_dense(loss_code, out, Tb, scale, dout, True)
        if l2_lambda != 0.0:
            sq = 0.0
            for m in range(n_layers):
                w = _weight(params, w_off, dims, m).reshape(-1)
                for i in range(w.size):
                    sq += np.float64(w[i]) * w[i]
            loss += 0.5 * l2_lambda * sq
        losses[k] = loss
        correct[k] = count_correct(out, Tb)
        if not np.isfinite(loss):
            return done
        for m in range(n_layers - 1, -1, -1):
            h_in = Xb if m == 0 else _rows(work, offs, dims, m - 1, n)
            d_in_m = dwork[:0].reshape((0, 0)) if m == 0 else _rows(dwork, offs, dims, m - 1, n)
            da = _rows(dwork, offs, dims, m, n)
            W = _weight(params, w_off, dims, m)
            a = _rows(work, offs, dims, m, n)
            if fused_sgd:
                dense_backward_sgd(h_in, W, _bias(params, b_off, has_bias, dims, m), a, da,
                                   acts[m], da, d_in_m, m > 0, hyper[0])
                continue
            dw = _weight(grads, w_off, dims, m)
            dense_backward(h_in, W, a, da, acts[m], da, dw, _bias(grads, b_off, has_bias, dims, m),
                           d_in_m, m > 0, False)
            if l2_lambda != 0.0:
                add_scaled(dw, W, l2_lambda)
        if not fused_sgd:
            optimizer_step(opt_code, hyper, params, grads, state, step + done + 1)
        done += 1
    return done


@jit
def evaluate_rows(X, T, batch_size, params, w_off, b_off, has_bias, dims, acts, loss_code,
                  work):
    """(Σ_i row_loss over all rows, number of correct rows) for X (N, dims[0]) and T (N, C),
    run in batches of *batch_size* rows through *work* (a flat work array for that size)."""
    n_total = X.shape[0]
    offs = work_offsets(dims, batch_size)
    total = 0.0
    correct = 0
    for lo in range(0, n_total, batch_size):
        hi = min(n_total, lo + batch_size)
        out = forward_rows(X[lo:hi], params, w_off, b_off, has_bias, dims, acts, work, offs)
        total += loss_dense(loss_code, out, T[lo:hi], 1.0, out, False)
        correct += count_correct(out, T[lo:hi])
    return total, correct
