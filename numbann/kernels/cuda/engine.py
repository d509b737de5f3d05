"""The training engine on the GPU: the twin of :mod:`numbann.kernels.engine`.

The same argument tuples as the CPU engine (:class:`~numbann.kernels.engine.Batches`,
``Network``, ``LossSpec``, ``OptimizerState``, ``Workspace``); the arrays
(data, permutation, flat parameters, gradients, optimizer state, work
buffers) are device arrays, the plan and the hyperparameter tuple stay on
the host, and ``losses``/``correct`` are host arrays that receive the
per-batch results.

A step is a fixed sequence of launches, L being the number of layers::

    gather the batch rows (by the device permutation, or in order)   1
    per layer: the product with bias and activation fused            L   (+1 for softmax)
    the loss and its gradient, each row's loss and hit               1
    per layer: dW, db and dX in one launch, f' applied as dA is read L   (+1 for softmax)
    the optimizer over the flat buffer                               1

— 7 for 784-50-10, 9 for 784-256-128-10. The sequence is built once per
call: every device view, and every launch typed in advance
(``Dispatcher.specialize``) with its launch configuration, so that a step
only passes the batch offset and the optimizer's per-step factors. Each
row's loss and hit go to device arrays that are copied back once per call;
the batch sums are taken there, in float64, as the CPU engine takes them.
Nothing waits for the GPU between steps. :func:`prepare` builds the
sequence without launching it, which compiles every kernel a run launches.

To stop *before* the update of a batch whose loss is not finite — as the CPU
engine does — without a synchronisation per step, a call keeps a device copy
of the parameters and optimizer state from its start; if a loss turns out
non-finite, it restores them and replays the batches before that one.
"""

from typing import NamedTuple

import numpy as np

from ..._cuda import cuda
from .. import plan as _plan
from ..losses import SCALE_CONSTANT, batch_scale
from . import dense as _dense
from ._launch import Launch, run
from .gather import batch_launch
from .losses import loss_launch
from .optim import update_launch

__all__ = ["train_steps", "evaluate_rows", "prepare"]


class _Step(NamedTuple):
    """The prepared launches of one step on n rows, in order, and the tails they take."""

    gather: Launch  # (the batch's first position in the row order,)
    forward: list
    loss: Launch  # (the offset of the batch's rows in the call's row arrays,)
    backward: list
    update: Launch  # the optimizer's per-step factors (None when not training)


class _Call:
    """One engine call's device views and launch sequences (one per batch size),
    built once per call.

    *order* is the device row order, or None for rows in order; *rows* and *hits*
    receive each row's loss and hit; without *opt* the sequences only evaluate.
    """

    def __init__(self, X, T, order, plan, params, grads, work, dwork, xbuf, tbuf, batch_size,
                 loss_code, scale, rows, hits, opt=None):
        self.X, self.T, self.order, self.plan = X, T, order, plan
        self.params, self.grads, self.opt = params, grads, opt
        self.loss_code, self.scale, self.rows, self.hits = loss_code, scale, rows, hits
        self.work, self.dwork, self.xbuf, self.tbuf = work, dwork, xbuf, tbuf
        self.offs = _plan.work_offsets(plan, batch_size)
        weight, bias = _plan.weight.py_func, _plan.bias.py_func
        self.W = [weight(layer, params) for layer in plan]
        self.b = [bias(layer, params) if layer["has_bias"] else None for layer in plan]
        if opt is not None:
            self.dW = [weight(layer, grads) for layer in plan]
            self.db = [bias(layer, grads) if layer["has_bias"] else None for layer in plan]
            self.update, self.per_step = update_launch(opt.hyper, params, grads, opt.state,
                                                       pretyped=True)
        self._steps = {}

    def step(self, n):
        """The launch sequence for a batch of n rows (built on first use)."""
        seq = self._steps.get(n)
        if seq is None:
            seq = self._steps[n] = self._build(n)
        return seq

    def _block(self, flat, m, n):
        width = int(self.plan[m]["fan_out"])
        lo = int(self.offs[m])
        return flat[lo:lo + n * width].reshape((n, width))

    def _build(self, n):
        plan, train = self.plan, self.opt is not None
        d_in, c = int(_plan.in_width(plan)), int(_plan.out_width(plan))
        xb = self.xbuf[:n * d_in].reshape((n, d_in))
        tb = self.tbuf[:n * c].reshape((n, c))
        A = [self._block(self.work, m, n) for m in range(plan.size)]
        dA = [self._block(self.dwork, m, n) for m in range(plan.size)] if train else A
        acts = [int(layer["act"]) for layer in plan]
        forward = []
        for m in range(plan.size):
            forward += _dense.forward_launches(xb if m == 0 else A[m - 1], self.W[m], self.b[m],
                                               acts[m], A[m], pretyped=True)
        scale = batch_scale(*self.scale, n, c)
        loss = loss_launch(self.loss_code, A[-1], tb, scale, dA[-1] if train else None, train,
                           self.rows, self.hits, pretyped=True)
        backward = []
        for m in range(plan.size - 1, -1, -1) if train else ():
            backward += _dense.backward_launches(
                xb if m == 0 else A[m - 1], self.W[m], A[m], dA[m], acts[m], dA[m], self.dW[m],
                self.db[m], dA[m - 1] if m > 0 else None, m > 0, False, pretyped=True)
        return _Step(batch_launch(self.X, self.T, self.order, xb, tb, pretyped=True), forward,
                     loss, backward, self.update if train else None)

    def run(self, n, lo, offset, step=None):
        """Launch one batch of n rows starting at position *lo* of the order, its rows'
        results at *offset*; train it as optimizer step *step* (from 1) if given."""
        seq = self.step(n)
        seq.gather(lo)
        run(seq.forward)
        seq.loss(offset)
        if step is not None:
            run(seq.backward)
            if seq.update is not None:
                seq.update(*self.per_step(step))


def _check(loss, plan):
    if loss.l2_lambda != 0.0:
        raise ValueError("the GPU engine has no L2 penalty (weight_decay_lambda); use the "
                         "optimizer's weight_decay, or the step-by-step object path")
    _check_plan(plan)


def _check_plan(plan):
    if plan["norm"].any() or plan["drop"].any():
        raise ValueError("the GPU engine does not run batch norm or dropout layers yet")


def _training_call(batches, net, loss, opt, ws, n_batches):
    bs = batches.batch_size
    rows = cuda.device_array(n_batches * bs, net.params.dtype)
    hits = cuda.device_array(n_batches * bs, np.int32)
    order = None if batches.contiguous else _device(batches.order)
    return _Call(batches.X, batches.T, order, net.plan, net.params, net.grads, ws.work, ws.dwork,
                 ws.xbuf, ws.tbuf, bs, loss.code, (loss.scale_kind, loss.scale_value), rows,
                 hits, opt)


def prepare(batches, net, loss, opt, ws, evaluation=False):
    """Compile every kernel that :func:`train_steps` (and :func:`evaluate_rows`: the same
    kernels) launches for these arguments, without launching any: the step's launch
    sequence is built, which types and compiles each kernel. Changes no parameter and
    no state; *evaluation* is accepted for the CPU twin's sake (nothing more to do)."""
    _check(loss, net.plan)
    if batches.order.size:
        _training_call(batches, net, loss, opt, ws, 1).step(batches.batch_size)


def train_steps(batches, first_batch, last_batch, net, loss, opt, ws, losses, correct):
    """Train on batches first_batch … last_batch − 1 (see the CPU engine's
    ``train_steps`` and its argument tuples): the arrays are device arrays, the plan
    and the hyperparameters stay on the host, and ``losses``/``correct`` are host
    arrays that receive the per-batch results. Returns the number of batches
    completed, stopping before the update of a batch with a non-finite loss. A call
    on no batch compiles, as on the CPU: it is :func:`prepare`.
    """
    count = last_batch - first_batch
    if count <= 0:
        prepare(batches, net, loss, opt, ws)
        return 0
    _check(loss, net.plan)
    params, bs, n_total = net.params, batches.batch_size, batches.order.size
    snapshot = (_copy(params), _copy(opt.state))
    call = _training_call(batches, net, loss, opt, ws, count)
    sizes = [min(bs, n_total - k * bs) for k in range(first_batch, last_batch)]
    for j, n in enumerate(sizes):
        k = first_batch + j
        call.run(n, k * bs, j * bs, opt.step + j + 1)
    row_loss, row_hit = _fetch(call, sum(sizes), bs, count)
    c = int(_plan.out_width(net.plan))
    done = count
    for j, n in enumerate(sizes):
        value = row_loss[j] * batch_scale(loss.scale_kind, loss.scale_value, n, c)
        losses[first_batch + j] = value
        correct[first_batch + j] = row_hit[j]
        if not np.isfinite(value):
            done = j
            break
    if done < count:  # go back to the start and redo the finite batches only
        params.copy_to_device(snapshot[0])
        opt.state.copy_to_device(snapshot[1])
        for j in range(done):
            k = first_batch + j
            call.run(sizes[j], k * bs, j * bs, opt.step + j + 1)
    return done


def _fetch(call, n_rows, bs, parts):
    """Per-batch sums of the call's row losses (float64) and hits, batches of *bs* rows
    (the last may be shorter), from one copy of each array."""
    starts = np.arange(parts) * bs
    row_loss = call.rows.copy_to_host()[:n_rows].astype(np.float64)
    row_hit = call.hits.copy_to_host()[:n_rows].astype(np.int64)
    return np.add.reduceat(row_loss, starts), np.add.reduceat(row_hit, starts)


def evaluate_rows(X, T, batch_size, net, loss_code, work):
    """(Σ_i row_loss over all rows, number of correct rows) for device X and T, in
    batches of *batch_size* rows through the device work array *work*."""
    params, plan = net.params, net.plan
    _check_plan(plan)
    n_total = X.shape[0]
    if n_total == 0:
        return 0.0, 0
    dtype = params.dtype
    call = _Call(X, T, None, plan, params, None, work, None,
                 cuda.device_array(batch_size * int(_plan.in_width(plan)), dtype),
                 cuda.device_array(batch_size * int(_plan.out_width(plan)), dtype), batch_size,
                 loss_code, (SCALE_CONSTANT, 1.0), cuda.device_array(n_total, dtype),
                 cuda.device_array(n_total, np.int32))
    for lo in range(0, n_total, batch_size):
        call.run(min(batch_size, n_total - lo), lo, lo)
    row_loss, row_hit = _fetch(call, n_total, n_total, 1)
    return float(row_loss[0]), int(row_hit[0])


def _copy(arr):
    out = cuda.device_array(arr.shape, arr.dtype)
    out.copy_to_device(arr)
    return out


def _device(arr):
    return arr if hasattr(arr, "copy_to_host") else cuda.to_device(np.ascontiguousarray(arr))
