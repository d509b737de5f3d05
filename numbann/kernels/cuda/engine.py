"""The training engine on the GPU: the twin of :mod:`numbann.kernels.engine`.

Same functions and arguments; the arrays (data, permutation, flat
parameters, gradients, optimizer state, work buffers) are device arrays,
the layout arrays (``w_off``, ``dims``, ``acts`` …) and ``hyper`` stay on
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

from ..engine import ADAGRAD, ADAM, RMSPROP, SGD, work_offsets
from ..losses import batch_scale
from . import dense as _dense
from . import gather as _gather
from . import losses as _losses
from . import optim as _optim
from . import reduce as _reduce

__all__ = ["train_steps", "evaluate_rows", "optimizer_step", "forward_rows", "work_offsets"]


def optimizer_step(code, hyper, params, grads, state, step, stream=0):
    """One update launch over the flat buffers; *state* is (k, P) on the device."""
    if code == SGD:
        _optim.sgd_step(params, grads, state[0], hyper[0], hyper[1], hyper[2], hyper[4] != 0.0,
                        hyper[3], step == 1, stream)
    elif code == ADAGRAD:
        _optim.adagrad_step(params, grads, state[0], hyper[0], hyper[1], hyper[2], hyper[3], step,
                            stream)
    elif code == RMSPROP:
        _optim.rmsprop_step(params, grads, state[0], state[1], state[2], hyper[0], hyper[1],
                            hyper[2], hyper[3], hyper[4], hyper[5] != 0.0, stream)
    elif code == ADAM:
        _optim.adam_step(params, grads, state[0], state[1], state[2], hyper[0], hyper[1],
                         hyper[2], hyper[3], hyper[4], step, hyper[5] != 0.0, stream)
    else:
        raise ValueError(f"unknown optimizer code {code}")


class _Layers:
    """Per-layer views of the flat device buffers (made once per call)."""

    def __init__(self, params, grads, w_off, b_off, has_bias, dims, work, dwork, batch_size):
        self.n_layers = len(dims) - 1
        offs = work_offsets(np.asarray(dims, np.int64), batch_size)
        self.W, self.b, self.dW, self.db, self.A, self.dA = [], [], [], [], [], []
        for m in range(self.n_layers):
            fan_in, fan_out = int(dims[m]), int(dims[m + 1])
            w = slice(int(w_off[m]), int(w_off[m]) + fan_in * fan_out)
            b = slice(int(b_off[m]), int(b_off[m]) + fan_out if has_bias[m] else int(b_off[m]))
            self.W.append(params[w].reshape((fan_in, fan_out)))
            self.dW.append(grads[w].reshape((fan_in, fan_out)))
            self.b.append(params[b] if has_bias[m] else None)
            self.db.append(grads[b] if has_bias[m] else None)
            rows = slice(int(offs[m]), int(offs[m + 1]))
            self.A.append(work[rows].reshape((batch_size, fan_out)))
            self.dA.append(dwork[rows].reshape((batch_size, fan_out)))


def forward_rows(X, layers, acts, n):
    """Forward n rows of X through every layer; returns the output view."""
    h = X
    for m in range(layers.n_layers):
        _dense.dense_forward(h, layers.W[m], layers.b[m], int(acts[m]), layers.A[m][:n])
        h = layers.A[m][:n]
    return h


def train_steps(X, T, order, contiguous, batch_size, first_batch, last_batch,
                params, grads, w_off, b_off, has_bias, dims, acts,
                loss_code, scale_kind, scale_value, l2_lambda,
                opt_code, hyper, state, step,
                xbuf, tbuf, work, dwork, losses, correct):
    """Train on batches first_batch … last_batch − 1 (see the CPU engine's
    ``train_steps`` for the meaning of every argument); returns the number of
    batches completed, stopping before the update of a batch with a non-finite loss.
    """
    from ..._cuda import cuda

    if l2_lambda != 0.0:
        raise ValueError("the GPU engine has no L2 penalty (weight_decay_lambda); use the "
                         "optimizer's weight_decay, or the step-by-step object path")
    count = last_batch - first_batch
    if count <= 0:
        return 0
    snapshot = (_copy(params), _copy(state))
    slots = cuda.device_array(count, params.dtype)
    hits = cuda.device_array(count, np.int64)
    layers = _Layers(params, grads, w_off, b_off, has_bias, dims, work, dwork, batch_size)
    d_in, c = int(dims[0]), int(dims[-1])
    rows = cuda.device_array(batch_size, params.dtype)
    xb = xbuf[:batch_size * d_in].reshape((batch_size, d_in))
    tb = tbuf[:batch_size * c].reshape((batch_size, c))
    sizes = []

    def run(k, slot):
        lo = k * batch_size
        n = min(batch_size, order.size - lo)
        if contiguous:
            start = int(order[lo]) if isinstance(order, np.ndarray) else lo
            Xb, Tb = X[start:start + n], T[start:start + n]
        else:
            Xb, Tb = xb[:n], tb[:n]
            _gather.gather_batch(X, T, order_dev[lo:lo + n], Xb, Tb)
        out = forward_rows(Xb, layers, acts, n)
        scale = batch_scale(scale_kind, scale_value, n, c)
        last = layers.n_layers - 1
        _losses.loss_dense(loss_code, out, Tb, scale, layers.dA[last][:n], True, rows[:n])
        if slot is not None:
            _reduce.sum_blocks(rows[:n], slots, slot)
            _reduce.count_correct(out, Tb, hits, slot)
        for m in range(last, -1, -1):
            h_in = Xb if m == 0 else layers.A[m - 1][:n]
            d_prev = layers.dA[m - 1][:n] if m > 0 else None
            _dense.dense_backward(h_in, layers.W[m], layers.A[m][:n], layers.dA[m][:n],
                                  int(acts[m]), layers.dA[m][:n], layers.dW[m], layers.db[m],
                                  d_prev, m > 0, False)
        optimizer_step(opt_code, hyper, params, grads, state, step + k - first_batch + 1)
        return n

    order_dev = order if contiguous else _device(order)
    for k in range(first_batch, last_batch):
        sizes.append(run(k, k - first_batch))
    sums = slots.copy_to_host().astype(np.float64)
    found = hits.copy_to_host()
    done = count
    for j in range(count):
        n = sizes[j]
        value = sums[j] * batch_scale(scale_kind, scale_value, n, c)
        losses[first_batch + j] = value
        correct[first_batch + j] = found[j]
        if not np.isfinite(value):
            done = j
            break
    if done < count:  # go back to the start and redo the finite batches only
        params.copy_to_device(snapshot[0])
        state.copy_to_device(snapshot[1])
        for k in range(first_batch, first_batch + done):
            run(k, None)
    return done


def evaluate_rows(X, T, batch_size, params, w_off, b_off, has_bias, dims, acts, loss_code,
                  work):
    """(Σ_i row_loss over all rows, number of correct rows) for device X and T, in
    batches of *batch_size* rows through the device work array *work*."""
    from ..._cuda import cuda

    n_total = X.shape[0]
    layers = _Layers(params, params, w_off, b_off, has_bias, dims, work, work, batch_size)
    n_batches = -(-n_total // batch_size)
    slots = cuda.device_array(n_batches, params.dtype)
    hits = cuda.device_array(n_batches, np.int64)
    rows = cuda.device_array(batch_size, params.dtype)
    for k in range(n_batches):
        lo = k * batch_size
        hi = min(n_total, lo + batch_size)
        out = forward_rows(X[lo:hi], layers, acts, hi - lo)
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
