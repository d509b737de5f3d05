"""The training engine on the GPU: the twin of :mod:`numbann.kernels.engine`.

The same argument tuples as the CPU engine (:class:`~numbann.kernels.engine.Batches`,
``Network``, ``LossSpec``, ``OptimizerState``, ``Workspace``); the arrays
(data, permutation, flat parameters, gradients, optimizer state, work
buffers) are device arrays, the plan and the hyperparameter tuple stay on
the host, and ``losses``/``correct`` are host arrays that receive the
per-batch results. A step is a fixed sequence of launches (gather, one
product per layer with bias and activation fused, the fused loss, one or
two launches per layer backward, one optimizer launch over the flat
buffer); each batch's loss sum and correct count go to device slots that
are copied back once per call, so nothing waits for the GPU between steps.

To stop *before* the update of a batch whose loss is not finite — as the CPU
engine does — without a synchronisation per step, a call keeps a device copy
of the parameters and optimizer state from its start; if a loss turns out
non-finite, it restores them and replays the batches before that one.
"""

import numpy as np

from .. import plan as _plan
from ..losses import batch_scale
from . import dense as _dense
from . import gather as _gather
from . import losses as _losses
from . import reduce as _reduce
from .optim import optimizer_step

__all__ = ["train_steps", "evaluate_rows", "forward_rows"]


class _Layers:
    """Per-layer views of the flat device buffers (made once per call), by the plan."""

    def __init__(self, params, grads, plan, work, dwork, batch_size):
        self.n_layers = plan.size
        offs = _plan.work_offsets(plan, batch_size)
        weight, bias = _plan.weight.py_func, _plan.bias.py_func
        self.W = [weight(layer, params) for layer in plan]
        self.dW = [weight(layer, grads) for layer in plan]
        self.b = [bias(layer, params) if layer["has_bias"] else None for layer in plan]
        self.db = [bias(layer, grads) if layer["has_bias"] else None for layer in plan]
        self.acts = [int(layer["act"]) for layer in plan]
        self.A, self.dA = [], []
        for m, layer in enumerate(plan):
            rows = slice(int(offs[m]), int(offs[m + 1]))
            self.A.append(work[rows].reshape((batch_size, int(layer["fan_out"]))))
            self.dA.append(dwork[rows].reshape((batch_size, int(layer["fan_out"]))))


def forward_rows(X, layers, n):
    """Forward n rows of X through every layer of *layers* (:class:`_Layers`); returns the
    output view. (The CPU twin takes the flat arrays; here the views are made once per
    call.)"""
    h = X
    for m in range(layers.n_layers):
        _dense.dense_forward(h, layers.W[m], layers.b[m], layers.acts[m], layers.A[m][:n])
        h = layers.A[m][:n]
    return h


def train_steps(batches, first_batch, last_batch, net, loss, opt, ws, losses, correct):
    """Train on batches first_batch … last_batch − 1 (see the CPU engine's
    ``train_steps`` and its argument tuples): the arrays are device arrays, the plan
    and the hyperparameters stay on the host, and ``losses``/``correct`` are host
    arrays that receive the per-batch results. Returns the number of batches
    completed, stopping before the update of a batch with a non-finite loss.
    """
    from ..._cuda import cuda

    if loss.l2_lambda != 0.0:
        raise ValueError("the GPU engine has no L2 penalty (weight_decay_lambda); use the "
                         "optimizer's weight_decay, or the step-by-step object path")
    count = last_batch - first_batch
    if count <= 0:
        return 0
    X, T, order, bs = batches.X, batches.T, batches.order, batches.batch_size
    params, plan = net.params, net.plan
    snapshot = (_copy(params), _copy(opt.state))
    slots = cuda.device_array(count, params.dtype)
    hits = cuda.device_array(count, np.int64)
    layers = _Layers(params, net.grads, plan, ws.work, ws.dwork, bs)
    d_in, c = int(_plan.in_width(plan)), int(_plan.out_width(plan))
    rows = cuda.device_array(bs, params.dtype)
    xb = ws.xbuf[:bs * d_in].reshape((bs, d_in))
    tb = ws.tbuf[:bs * c].reshape((bs, c))
    sizes = []

    def run(k, slot):
        lo = k * bs
        n = min(bs, order.size - lo)
        if batches.contiguous:
            start = int(order[lo]) if isinstance(order, np.ndarray) else lo
            Xb, Tb = X[start:start + n], T[start:start + n]
        else:
            Xb, Tb = xb[:n], tb[:n]
            _gather.gather_batch(X, T, order_dev[lo:lo + n], Xb, Tb)
        out = forward_rows(Xb, layers, n)
        scale = batch_scale(loss.scale_kind, loss.scale_value, n, c)
        last = layers.n_layers - 1
        _losses.loss_dense(loss.code, out, Tb, scale, layers.dA[last][:n], True, rows[:n])
        if slot is not None:
            _reduce.sum_blocks(rows[:n], slots, slot)
            _reduce.count_correct(out, Tb, hits, slot)
        for m in range(last, -1, -1):
            h_in = Xb if m == 0 else layers.A[m - 1][:n]
            d_prev = layers.dA[m - 1][:n] if m > 0 else None
            _dense.dense_backward(h_in, layers.W[m], layers.A[m][:n], layers.dA[m][:n],
                                  layers.acts[m], layers.dA[m][:n], layers.dW[m], layers.db[m],
                                  d_prev, m > 0, False)
        optimizer_step(opt.hyper, params, net.grads, opt.state, opt.step + k - first_batch + 1)
        return n

    order_dev = order if batches.contiguous else _device(order)
    for k in range(first_batch, last_batch):
        sizes.append(run(k, k - first_batch))
    sums = slots.copy_to_host().astype(np.float64)
    found = hits.copy_to_host()
    done = count
    for j in range(count):
        value = sums[j] * batch_scale(loss.scale_kind, loss.scale_value, sizes[j], c)
        losses[first_batch + j] = value
        correct[first_batch + j] = found[j]
        if not np.isfinite(value):
            done = j
            break
    if done < count:  # go back to the start and redo the finite batches only
        params.copy_to_device(snapshot[0])
        opt.state.copy_to_device(snapshot[1])
        for k in range(first_batch, first_batch + done):
            run(k, None)
    return done


def evaluate_rows(X, T, batch_size, params, plan, loss_code, work):
    """(Σ_i row_loss over all rows, number of correct rows) for device X and T, in
    batches of *batch_size* rows through the device work array *work*."""
    from ..._cuda import cuda

    n_total = X.shape[0]
    layers = _Layers(params, params, plan, work, work, batch_size)
    n_batches = -(-n_total // batch_size)
    slots = cuda.device_array(n_batches, params.dtype)
    hits = cuda.device_array(n_batches, np.int64)
    rows = cuda.device_array(batch_size, params.dtype)
    for k in range(n_batches):
        lo = k * batch_size
        hi = min(n_total, lo + batch_size)
        out = forward_rows(X[lo:hi], layers, hi - lo)
        _losses.loss_dense(loss_code, out, T[lo:hi], 1.0, None, False, rows[:hi - lo])
        _reduce.sum_blocks(rows[:hi - lo], slots, k)
        _reduce.count_correct(out, T[lo:hi], hits, k)
    return _reduce.fetch_sum(slots), _reduce.fetch_sum(hits)


def _copy(arr):
    from ..._cuda import cuda

    out = cuda.device_array(arr.shape, arr.dtype)
    out.copy_to_device(arr)
    return out


def _device(arr):
    from ..._cuda import cuda

    return arr if hasattr(arr, "copy_to_host") else cuda.to_device(np.ascontiguousarray(arr))
