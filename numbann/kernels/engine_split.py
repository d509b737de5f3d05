"""The data-parallel training engine (CPU): every core works through the whole step.

:func:`train_steps_split` trains like :func:`.engine.train_steps` on the same
arguments, but each batch is split between a team of T threads (:mod:`._threads`):

1. each thread gathers its share of the rows, runs the forward pass, the loss
   and the backward pass on them with single-threaded BLAS (the caller holds
   SciPy's BLAS to one thread: :mod:`._blas_threads`), writing the gradient of
   its rows into its own flat buffer (thread 0: the model's);
2. after the threads meet, each sums the T gradient buffers over its slice of
   the flat parameter buffer, adds the L2 term λW to the weights in it and
   applies the optimizer's update to that slice.

With an L2 penalty each thread also adds ½λ‖W‖² over the weights of its slice to
its partial loss, before the update, as the serial engine adds the whole.

Two meetings per step, where a multi-threaded BLAS meets its threads in every
matrix product (five per step of a two-layer network), and the activations,
the loss and the optimizer update run on every core. The split is fixed by the
batch and thread counts, so results do not depend on timing; they differ from
the serial engine's by the order of the gradient sums (float rounding).

Networks whose rows are coupled (batch normalization, dropout's mask stream)
take the serial engine. A batch too small to share (fewer than :data:`MIN_ROWS`
rows per thread) runs on thread 0 alone, and its update on every thread: the
same arithmetic as the serial engine's, so the same bits. The runner takes this
engine for such batches only where the update is large and not plain SGD
(``numbann._runners.SPLIT_UPDATE_PARAMS``).
"""

from typing import NamedTuple

import numpy as np

from .._config import jit
from ._fpenv import fp_enter, fp_leave
from ._threads import meet, run_team
from .dense import dense_backward, dense_forward
from .engine import count_correct, evaluation_network, forward_eval, gather_rows, weight_squares
from .losses import batch_scale, loss_dense
from .optim import optimizer_step
from .plan import bias, in_width, out_width, rows, weight, weight_range, work_layout, work_offsets

#: the fewest rows a thread gets: below, a batch runs on one thread
MIN_ROWS = 16


class SplitWorkspace(NamedTuple):
    """Per-thread work arrays for shares of up to R rows: inputs (T, R·I), targets (T, R·C),
    layer work (T, W), output gradients (T, D), the threads' gradient buffers but the
    first's (T − 1, P), and (T,) partial losses and correct counts."""

    xbuf: np.ndarray
    tbuf: np.ndarray
    work: np.ndarray
    dwork: np.ndarray
    grads: np.ndarray
    loss: np.ndarray
    correct: np.ndarray


def split_workspace(plan, batch_size, threads, n_params, dtype):
    """A :class:`SplitWorkspace` for *threads* threads sharing batches of *batch_size*:
    room for a thread's share of a batch, or for a whole batch too small to share
    (fewer than threads · :data:`MIN_ROWS` rows, e.g. an epoch's last), which thread 0
    runs alone."""
    share = max(-(-batch_size // threads), min(batch_size, threads * MIN_ROWS - 1))
    return SplitWorkspace(np.empty((threads, share * int(in_width(plan))), dtype),
                          np.empty((threads, share * int(out_width(plan))), dtype),
                          np.empty((threads, int(work_offsets(plan, share)[-1])), dtype),
                          np.empty((threads, int(work_offsets(plan, share)[-1])), dtype),
                          np.empty((threads - 1, n_params), dtype),
                          np.zeros(threads), np.zeros(threads, np.int64))


@jit(inline=True)  # called from _split_worker alone
def _share(t, parts, n, X, T, order, contiguous, lo, scale, params, grads, others, plan, xbuf,
           tbuf, work, dwork, loss_code, part_loss, part_hits):
    """Thread t's part of a step (of *parts*): its share of the n rows of the batch that
    starts at position lo of the order, in its own work arrays and gradient buffer;
    writes its scaled loss sum and correct count to part_loss[t], part_hits[t]. A thread
    without a share (t ≥ parts) writes zeros there and leaves its gradient buffer, which
    :func:`_reduce_update` then skips."""
    if t >= parts:
        part_loss[t] = 0.0
        part_hits[t] = 0
        return
    r0, r1 = t * n // parts, (t + 1) * n // parts
    net_grads = grads if t == 0 else others[t - 1]
    xbuf, tbuf, work, dwork = xbuf[t], tbuf[t], work[t], dwork[t]
    n = r1 - r0
    d_in, c = in_width(plan), out_width(plan)
    if contiguous:
        start = order[lo] + r0
        Xb = X[start:start + n]
        Tb = T[start:start + n]
    else:
        Xb = xbuf[:n * d_in].reshape((n, d_in))
        Tb = tbuf[:n * c].reshape((n, c))
        gather_rows(X, order, lo + r0, Xb)
        gather_rows(T, order, lo + r0, Tb)
    cap = xbuf.size // d_in
    offs = work_offsets(plan, cap)
    n_layers = plan.size
    h = Xb
    for m in range(n_layers):  # independent rows: no batch norm, no dropout (see above)
        a = rows(plan, work, offs, m, n)
        dense_forward(h, weight(plan[m], params), bias(plan[m], params), plan[m]["act"], a)
        h = a
    value = loss_dense(loss_code, h, Tb, scale, rows(plan, dwork, offs, n_layers - 1, n), True)
    hits = count_correct(h, Tb)
    g = net_grads
    for m in range(n_layers - 1, -1, -1):
        layer = plan[m]
        h_in = Xb if m == 0 else rows(plan, work, offs, m - 1, n)
        d_prev = dwork[:0].reshape((0, 0)) if m == 0 else rows(plan, dwork, offs, m - 1, n)
        da = rows(plan, dwork, offs, m, n)
        dense_backward(h_in, weight(layer, params), rows(plan, work, offs, m, n), da,
                       layer["act"], da, weight(layer, g), bias(layer, g), d_prev, m > 0, False)
    part_loss[t] = value
    part_hits[t] = hits


@jit(inline=True)  # called from _split_worker alone
def _reduce_update(hyper, plan, params, grads, others, state, lo, hi, step, l2_lambda, parts):
    """Σ of the gradients of the *parts* threads that had rows over elements lo … hi − 1
    of the flat buffers, into the model's gradient, plus λW on the weights among them,
    then the optimizer's update of those elements."""
    for t in range(parts - 1):
        other = others[t]
        for i in range(lo, hi):
            grads[i] += other[i]
    if l2_lambda != 0.0:
        lam = grads.dtype.type(l2_lambda)
        for m in range(plan.size):
            w0, w1 = weight_range(plan[m], lo, hi)
            for i in range(w0, w1):
                grads[i] += lam * params[i]
    optimizer_step(hyper, params, grads, state, step, lo, hi)


def train_steps_split(batches, first_batch, last_batch, net, loss, opt, split, losses,
                      correct):
    """:func:`.engine.train_steps` with every batch split between the threads of *split*
    (see the module docstring); the caller holds BLAS to one thread. Returns the number
    of batches completed, stopping before the update of a batch whose loss is not finite.
    """
    args = (batches.X, batches.T, batches.order, batches.contiguous, batches.batch_size,
            first_batch, last_batch, net.params, net.grads, net.plan, loss.code,
            loss.scale_kind, loss.scale_value, loss.l2_lambda, opt.hyper, opt.state, opt.step,
            split.xbuf, split.tbuf, split.work, split.dwork, split.grads, split.loss,
            split.correct, losses, correct)
    return run_team(_split_worker, split.loss.size, args)


@jit
def _split_worker(t, X, T, order, contiguous, bs, first_batch, last_batch, params, grads,
                  plan, loss_code, scale_kind, scale_value, l2_lambda, hyper, state, step0,
                  xbuf, tbuf, work, dwork, others, part_loss, part_hits, losses, correct,
                  sync):
    """Worker t of the team (:mod:`._threads`) through batches first_batch … last_batch − 1:
    its share of each step, a meeting, the sum and update of its slice of the flat
    buffers, a meeting. Returns the batches completed (−1 if another worker failed)."""
    threads = part_loss.size
    n_total = order.size
    c = out_width(plan)
    p0, p1 = t * params.size // threads, (t + 1) * params.size // threads
    csr = fp_enter()
    done = 0
    for k in range(first_batch, last_batch):
        lo = k * bs
        n = min(bs, n_total - lo)
        scale = batch_scale(scale_kind, scale_value, n, c)
        parts = threads if n >= threads * MIN_ROWS else 1
        _share(t, parts, n, X, T, order, contiguous, lo, scale, params, grads, others, plan,
               xbuf, tbuf, work, dwork, loss_code, part_loss, part_hits)
        if l2_lambda != 0.0:  # this slice's part of ½λ‖W‖², before its update
            part_loss[t] += 0.5 * l2_lambda * weight_squares(plan, params, p0, p1)
        if not meet(sync, 2 * done + 1, threads):
            done = -1
            break
        value = 0.0
        hits = 0
        for i in range(threads):
            value += part_loss[i]
            hits += part_hits[i]
        if t == 0:
            losses[k] = value
            correct[k] = hits
        if not np.isfinite(value):  # every worker sees the same sum and stops here
            break
        _reduce_update(hyper, plan, params, grads, others, state, p0, p1, step0 + done + 1,
                       l2_lambda, parts)
        if not meet(sync, 2 * done + 2, threads):
            done = -1
            break
        done += 1
    fp_leave(csr)
    return done


@jit
def _forward_share(t, X, net, work, chunk, out, sync):
    """Worker t's share of the rows of X (of work.shape[0] shares) through the network, in
    evaluation mode (:func:`.engine.forward_eval`), *chunk* rows at a time (so that each
    layer's output is still in the core's cache when the next layer reads it), into the
    same rows of *out*."""
    parts = work.shape[0] if X.shape[0] >= work.shape[0] * MIN_ROWS else 1
    n = X.shape[0]
    r0, r1 = t * n // parts, (t + 1) * n // parts
    if r1 <= r0:
        return
    csr = fp_enter()
    layout = work_layout(net.plan, chunk)[0]
    for c0 in range(r0, r1, chunk):
        c1 = min(r1, c0 + chunk)
        y = forward_eval(X[c0:c1], net, work[t], layout)
        dst = out[c0:c1]
        for i in range(c1 - c0):
            for j in range(y.shape[1]):
                dst[i, j] = y[i, j]
    fp_leave(csr)


#: rows per forward call in :func:`predict_split`: a few hundred rows keep the widths
#: of these networks in a core's L2 cache between layers, and the matrix products long
PREDICT_CHUNK = 512


def predict_chunk(n_rows, threads, batch_size=None):
    """Rows per forward call when *threads* threads share *n_rows* rows: a thread's
    share, at most *batch_size* (default :data:`PREDICT_CHUNK`)."""
    limit = PREDICT_CHUNK if batch_size is None else batch_size
    return max(1, min(-(-n_rows // threads), limit))


def predict_split(X, net, work, chunk, out):
    """out (N, C) ← the network's output for X (N, I) in evaluation mode, its rows split
    between work.shape[0] threads, each forwarding its share *chunk* rows at a time
    through its work array (laid out by :func:`.plan.work_layout` for *chunk* rows); the
    caller holds BLAS to one thread."""
    run_team(_forward_share, work.shape[0], (X, evaluation_network(net), work, chunk, out))
