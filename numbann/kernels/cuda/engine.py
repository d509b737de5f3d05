"""The training engine on the GPU: the twin of :mod:`numbann.kernels.engine`.

The same argument tuples as the CPU engine (:class:`~numbann.kernels.engine.Batches`,
``Network``, ``LossSpec``, ``OptimizerState``, ``Workspace``); the arrays
(data, permutation, flat parameters, gradients, running statistics, optimizer
state, work buffers) are device arrays, the plan, the layers' counts and the
hyperparameter tuple stay on the host, and ``losses``/``correct`` are host
arrays that receive the per-batch results.

A step is a fixed sequence of launches, L being the number of layers::

    gather the batch rows (by the device permutation, or in order)   1
    per layer: the product with bias and activation fused            L   (+1 for softmax)
      with batch norm: the product, then μ, σ², X̂, γX̂ + β, f,        +1
      the running statistics and dropout in one launch
      dropout without batch norm                                     +1
    the loss and its gradient, each row's loss and hit               1
    per layer: dW, db and dX in one launch, f' applied as dA is read L   (+1 for softmax)
      with batch norm: the mask, f' and the batch-norm backward      +1
      dropout without batch norm: the mask                          +1
    the optimizer over the flat buffer                               1

— 7 for 784-50-10, 9 for 784-256-128-10, 13 for 784-256-128-10 with a batch
norm after each hidden product (with or without dropout after the
activation). Each layer runs as on the CPU engine (``layer_forward`` /
``layer_backward``): in training, batch norm uses the batch's statistics and
updates the running ones in the model's flat ``stats`` buffer, with the
weight ``momentum_factor(layer, counts[m, NORM_COUNT] + j)`` for the call's
j-th batch, and dropout draws mask ``counts[m, DROP_COUNT] + j``; in
evaluation batch norm uses the running statistics and dropout scales (or is
the identity).

The sequence is built once per call: every device view, and every launch
typed in advance (``Dispatcher.specialize``) with its launch configuration,
so that a step only passes the batch offset, the batch's draw and running
weight, and the optimizer's per-step factors. Each row's loss and hit go to
device arrays that are copied back once per call; the batch sums are taken
there, in float64, as the CPU engine takes them. Nothing waits for the GPU
between steps. :func:`prepare` builds the sequences without launching them,
which compiles every kernel a run launches.

To stop *before* the update of a batch whose loss is not finite — as the CPU
engine does — without a synchronisation per step, a call keeps a device copy
of the parameters, the optimizer state and the running statistics from its
start; if a loss turns out non-finite, it restores them and replays the
batches before that one, so none of that batch's updates (its running
statistics included) remains.
"""

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from ..._cuda import cuda
from .. import plan as _plan
from ..activations import IDENTITY, SOFTMAX
from ..losses import SCALE_CONSTANT, batch_scale
from ..plan import ACT, DROP, DROP_COUNT, NORM, NORM_COUNT, STATS
from . import activations as _act
from . import dense as _dense
from . import norm as _norm
from ._launch import Launch
from .gather import batch_launch
from .losses import loss_launch
from .optim import update_launch

__all__ = ["train_steps", "evaluate_rows", "prepare"]


class _Step(NamedTuple):
    """The prepared launches of one step on n rows, in order, and the tails they take.

    *forward* and *backward* hold (launch, tail) pairs: ``tail(j)`` gives the launch's
    arguments for the call's j-th batch (None: it takes none)."""

    gather: Launch  # (the batch's first position in the row order,)
    forward: list
    loss: Launch  # (the offset of the batch's rows in the call's row arrays,)
    backward: list
    update: Launch  # the optimizer's per-step factors (None when not training)


def _untailed(launches):
    return [(launch, None) for launch in launches]


def _run(entries, j):
    for launch, tail in entries:
        if tail is None:
            launch()
        else:
            launch(*tail(j))


def _layer_views(layer, params, grads, stats):
    """A layer's device views of the flat buffers (empty ones for what it lacks)."""
    p = _plan
    views = SimpleNamespace(W=p.weight.py_func(layer, params), b=p.bias.py_func(layer, params),
                            g=p.gamma.py_func(layer, params), be=p.beta.py_func(layer, params))
    if layer["norm"]:
        views.rm = p.running_mean.py_func(layer, stats)
        views.rv = p.running_var.py_func(layer, stats)
    if grads is not None:
        views.dW, views.db = p.weight.py_func(layer, grads), p.bias.py_func(layer, grads)
        views.dg, views.dbe = p.gamma.py_func(layer, grads), p.beta.py_func(layer, grads)
    return views


class _Call:
    """One engine call's device views and launch sequences (one per batch size),
    built once per call.

    *order* is the device row order, or None for rows in order; *rows* and *hits*
    receive each row's loss and hit; without *opt* the sequences evaluate (batch norm
    with the running statistics, dropout scaling or the identity).
    """

    def __init__(self, X, T, order, net, work, dwork, xbuf, tbuf, batch_size, loss_code, scale,
                 rows, hits, opt=None):
        self.X, self.T, self.order, self.plan = X, T, order, net.plan
        self.opt = opt
        self.loss_code, self.scale, self.rows, self.hits = loss_code, scale, rows, hits
        self.work, self.dwork, self.xbuf, self.tbuf = work, dwork, xbuf, tbuf
        self.dtype = np.dtype(net.params.dtype).type
        self.counts = np.asarray(net.counts)
        self.layout = _plan.work_layout(net.plan, batch_size)[0]
        self.offs = _plan.work_offsets(net.plan, batch_size)
        self.views = [_layer_views(layer, net.params, net.grads if opt is not None else None,
                                  net.stats)
                      for layer in net.plan]
        if opt is not None:
            self.update, self.per_step = update_launch(opt.hyper, net.params, net.grads,
                                                       opt.state, pretyped=True)
        self._steps = {}

    def step(self, n):
        """The launch sequence for a batch of n rows (built on first use)."""
        seq = self._steps.get(n)
        if seq is None:
            seq = self._steps[n] = self._build(n)
        return seq

    def _region(self, m, kind, n):
        return _plan.region.py_func(self.plan, self.work, self.layout, m, kind, n)

    def _drop_tail(self, m):
        """j → (the dropout draw of layer m for the call's j-th batch,)."""
        base = int(self.counts[m, DROP_COUNT])
        return lambda j: (base + j,)

    def _norm_tail(self, m):
        """j → (f, 1 − f, draw): the running-average weight and the dropout draw of layer m
        for the call's j-th batch, as the CPU engine computes them."""
        layer, dt = self.plan[m], self.dtype
        norms, draws = int(self.counts[m, NORM_COUNT]), int(self.counts[m, DROP_COUNT])

        def tail(j):
            f = _plan.momentum_factor.py_func(layer, norms + j)
            return dt(f), dt(1.0 - f), draws + j

        return tail

    def _build(self, n):
        plan, train = self.plan, self.opt is not None
        d_in, c = int(_plan.in_width(plan)), int(_plan.out_width(plan))
        xb = self.xbuf[:n * d_in].reshape((n, d_in))
        tb = self.tbuf[:n * c].reshape((n, c))
        forward, outs = [], []
        for m in range(plan.size):
            launches, out = self._forward(m, xb if m == 0 else outs[-1], n, train)
            forward += launches
            outs.append(out)
        scale = batch_scale(*self.scale, n, c)
        dA = [_plan.rows.py_func(plan, self.dwork, self.offs, m, n)
              for m in range(plan.size)] if train else None
        loss = loss_launch(self.loss_code, outs[-1], tb, scale, dA[-1] if train else None, train,
                           self.rows, self.hits, pretyped=True)
        backward = []
        for m in range(plan.size - 1, -1, -1) if train else ():
            backward += self._backward(m, xb if m == 0 else outs[m - 1], dA[m],
                                       dA[m - 1] if m > 0 else None, n)
        return _Step(batch_launch(self.X, self.T, self.order, xb, tb, pretyped=True), forward,
                     loss, backward, self.update if train else None)

    def _forward(self, m, h, n, train):
        """Layer m's forward launches on h (n, fan_in), and its output: f(BN(h @ W + b)),
        then dropout (see the CPU engine's ``layer_forward``)."""
        layer, v = self.plan[m], self.views[m]
        act = int(layer["act"])
        A = self._region(m, ACT, n)
        drop, eval_scale = bool(layer["drop"]), float(layer["drop_eval_scale"])
        D = self._region(m, DROP, n) if drop else None
        # dropout goes into the batch-norm launch, unless a softmax comes between them
        fused = drop and layer["norm"] and act != SOFTMAX
        launches = _untailed(_dense.forward_launches(h, v.W, v.b, IDENTITY if layer["norm"]
                                                     else act, A, pretyped=True))
        if layer["norm"]:
            st, xhat = self._region(m, STATS, 3), self._region(m, NORM, n)
            elementwise = IDENTITY if act == SOFTMAX else act
            if train:
                launches.append((_norm.train_launch(
                    A, v.g, v.be, layer["bn_eps"], st[0], st[1], st[2], xhat, elementwise,
                    (v.rm, v.rv, bool(layer["bn_unbiased"])),
                    (D, layer["drop_seed"], layer["drop_threshold"], layer["drop_train_scale"])
                    if fused else None, pretyped=True), self._norm_tail(m)))
            else:
                launches.append((_norm.apply_launch(
                    A, v.g, v.be, v.rm, v.rv, layer["bn_eps"], st[2], xhat, elementwise,
                    eval_scale if fused and eval_scale != 1.0 else None, D, pretyped=True),
                    None))
            if act == SOFTMAX:
                launches += _untailed(_act.forward_launches(SOFTMAX, A, A, pretyped=True))
        if not drop or (not train and eval_scale == 1.0):
            return launches, A
        if not fused and train:
            launches.append((_norm.dropout_launch(A, D, layer["drop_seed"],
                                                  layer["drop_threshold"],
                                                  layer["drop_train_scale"], pretyped=True),
                             self._drop_tail(m)))
        elif not fused:  # the textbook's dropout scales by 1 − p at test time
            launches.append((_norm.dropout_launch(A, D, 0, 0, eval_scale, pretyped=True),
                             lambda j: (0,)))
        return launches, D

    def _backward(self, m, h_in, dA, d_prev, n):
        """Layer m's backward launches: ∂L/∂(its output) dA (overwritten) through the
        dropout mask, f', batch norm and the product into the gradients and d_prev
        (see the CPU engine's ``layer_backward``)."""
        layer, v = self.plan[m], self.views[m]
        act = int(layer["act"])
        A = self._region(m, ACT, n)
        drop = ((layer["drop_seed"], layer["drop_threshold"], layer["drop_train_scale"])
                if layer["drop"] else None)
        fused = drop is not None and layer["norm"] and act != SOFTMAX
        launches = []
        if drop is not None and not fused:
            launches.append((_norm.dropout_launch(dA, dA, *drop, pretyped=True),
                             self._drop_tail(m)))
        dense_act = act
        if layer["norm"]:
            if act == SOFTMAX:
                launches += _untailed(_act.backward_launches(SOFTMAX, A, dA, dA, pretyped=True))
            st = self._region(m, STATS, 3)
            launches.append((_norm.backward_launch(
                dA, self._region(m, NORM, n), st[2], v.g, dA, v.dg, v.dbe, True, False,
                IDENTITY if act == SOFTMAX else act, A, drop if fused else None,
                pretyped=True), self._drop_tail(m)))
            dense_act = IDENTITY
        return launches + _untailed(_dense.backward_launches(
            h_in, v.W, A, dA, dense_act, dA, v.dW, v.db, d_prev, m > 0, False, pretyped=True))

    def run(self, n, lo, offset, j, step=None):
        """Launch the call's j-th batch, of n rows starting at position *lo* of the order,
        its rows' results at *offset*; train it as optimizer step *step* (from 1) if
        given."""
        seq = self.step(n)
        seq.gather(lo)
        _run(seq.forward, j)
        seq.loss(offset)
        if step is not None:
            _run(seq.backward, j)
            if seq.update is not None:
                seq.update(*self.per_step(step))


def _check(loss):
    if loss.l2_lambda != 0.0:
        raise ValueError("the GPU engine has no L2 penalty (weight_decay_lambda); use the "
                         "optimizer's weight_decay, or the step-by-step object path")


def _training_call(batches, net, loss, opt, ws, n_batches):
    bs = batches.batch_size
    rows = cuda.device_array(n_batches * bs, net.params.dtype)
    hits = cuda.device_array(n_batches * bs, np.int32)
    order = None if batches.contiguous else _device(batches.order)
    return _Call(batches.X, batches.T, order, net, ws.work, ws.dwork, ws.xbuf, ws.tbuf, bs,
                 loss.code, (loss.scale_kind, loss.scale_value), rows, hits, opt)


def _evaluation_call(X, T, batch_size, net, loss_code, work, n_rows):
    dtype, plan = net.params.dtype, net.plan
    return _Call(X, T, None, net, work, None,
                 cuda.device_array(batch_size * int(_plan.in_width(plan)), dtype),
                 cuda.device_array(batch_size * int(_plan.out_width(plan)), dtype), batch_size,
                 loss_code, (SCALE_CONSTANT, 1.0), cuda.device_array(n_rows, dtype),
                 cuda.device_array(n_rows, np.int32))


def prepare(batches, net, loss, opt, ws, evaluation=False):
    """Compile every kernel that :func:`train_steps` (and, with *evaluation*,
    :func:`evaluate_rows`) launches for these arguments, without launching any: the
    launch sequences are built, which types and compiles each kernel. Changes no
    parameter and no state."""
    _check(loss)
    if batches.order.size:
        bs = batches.batch_size
        _training_call(batches, net, loss, opt, ws, 1).step(bs)
        if evaluation:  # batch norm and dropout launch other kernels in evaluation mode
            _evaluation_call(batches.X, batches.T, bs, net, loss.code, ws.work, bs).step(bs)


def train_steps(batches, first_batch, last_batch, net, loss, opt, ws, losses, correct):
    """Train on batches first_batch … last_batch − 1 (see the CPU engine's
    ``train_steps`` and its argument tuples): the arrays are device arrays, the plan,
    the counts and the hyperparameters stay on the host, and ``losses``/``correct``
    are host arrays that receive the per-batch results. Updates the running
    statistics in ``net.stats``. Returns the number of batches completed, stopping
    before the update of a batch with a non-finite loss (the caller adds it to the
    layers' counts). A call on no batch compiles, as on the CPU: it is :func:`prepare`.
    """
    count = last_batch - first_batch
    if count <= 0:
        prepare(batches, net, loss, opt, ws)
        return 0
    _check(loss)
    params, stats, bs, n_total = net.params, net.stats, batches.batch_size, batches.order.size
    snapshot = (_copy(params), _copy(opt.state), _copy(stats))
    call = _training_call(batches, net, loss, opt, ws, count)
    sizes = [min(bs, n_total - k * bs) for k in range(first_batch, last_batch)]
    for j, n in enumerate(sizes):
        call.run(n, (first_batch + j) * bs, j * bs, j, opt.step + j + 1)
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
        for arr, saved in zip((params, opt.state, stats), snapshot):
            arr.copy_to_device(saved)
        for j in range(done):
            call.run(sizes[j], (first_batch + j) * bs, j * bs, j, opt.step + j + 1)
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
    evaluation mode, in batches of *batch_size* rows through the device work array
    *work* (of :func:`numbann.kernels.plan.work_layout`'s size for that batch size)."""
    n_total = X.shape[0]
    if n_total == 0:
        return 0.0, 0
    call = _evaluation_call(X, T, batch_size, net, loss_code, work, n_total)
    for lo in range(0, n_total, batch_size):
        call.run(min(batch_size, n_total - lo), lo, lo, 0)
    row_loss, row_hit = _fetch(call, n_total, n_total, 1)
    return float(row_loss[0]), int(row_hit[0])


def _copy(arr):
    out = cuda.device_array(arr.shape, arr.dtype)
    out.copy_to_device(arr)
    return out


def _device(arr):
    return arr if hasattr(arr, "copy_to_host") else cuda.to_device(np.ascontiguousarray(arr))
