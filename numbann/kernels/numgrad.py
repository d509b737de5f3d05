"""Central-difference numerical gradients (CPU).

``numerical_gradient_inplace`` is the textbook's loop for a compiled scalar
function. ``network_numerical_gradient`` is the same definition,
(L(w + h) − L(w − h)) / 2h for every parameter w of a dense network, in
float64, but computed without redoing what a perturbation cannot change:

* a perturbation of W_l[a, k] (or b_l[k]) changes only column k of layer l's
  pre-activation, and only in the rows i where the input A_{l−1}[i, a] ≠ 0;
* with an elementwise activation, only A_l[i, k] changes, so the next
  pre-activation changes by a rank-1 term δ · W_{l+1}[k, :];
* the loss is a sum of per-row terms, so unchanged rows cancel exactly in
  the difference and are skipped.

Parameters are shared between Numba's threads (a team, :mod:`._threads`) in
chunks that each worker takes as it finishes the last, each worker with its
own row scratch. Batch norm couples the rows of a batch, so networks with batch
norm or dropout go through :func:`coupled_numerical_gradient`, which
recomputes every row but still only from the perturbed column on.
"""

import numba
import numpy as np

from .._config import jit
from ._fpenv import fp_enter, fp_leave
from ._memory import copy_into
from ._threads import atomic_add, atomic_load, run_team
from .activations import SOFTMAX, activate, apply_inplace, softmax_inplace
from .losses import row_loss
from .norm import batch_norm_eval, batch_norm_train, dropout_inplace
from .plan import (
    DROP_COUNT,
    beta,
    bias,
    gamma,
    max_width,
    running_mean,
    running_var,
    weight,
)


@jit
def numerical_gradient_inplace(f, x, h, grad):
    """grad[i] = (f(x + h eᵢ) − f(x − h eᵢ)) / 2h for every element of x.

    *f* is a compiled function of x returning a scalar; x is perturbed in
    place and each element restored to its exact original value.
    """
    csr = fp_enter()
    xf = x.reshape(-1)
    gf = grad.reshape(-1)
    for i in range(xf.size):
        orig = xf[i]
        xf[i] = orig + h
        fp = f(x)
        xf[i] = orig - h
        fm = f(x)
        xf[i] = orig
        gf[i] = (fp - fm) / (2 * h)
    fp_leave(csr)


@jit
def _act_row(act, row):
    """row ← f(row) in place for one row (1-D) and an activation code, one value at a time
    (:func:`.activations.activate`; softmax over the row)."""
    if act == SOFTMAX:
        softmax_inplace(row.reshape((1, row.size)))
        return
    for j in range(row.size):
        row[j] = activate(act, row[j], 1.0)


@jit
def _forward_row_from(layer, a, params, plan, out, tmp):
    """Forward one row *a* (the output of layer *layer*) through layers layer+1 ….

    Returns the output row, a view of *out* or *tmp* (used in turn).
    """
    cur = a
    for m in range(layer + 1, plan.size):
        W = weight(plan[m], params)
        b = bias(plan[m], params)
        fan_in, fan_out = W.shape
        dst = out[:fan_out] if m % 2 == 0 else tmp[:fan_out]
        for j in range(fan_out):
            dst[j] = b[j] if b.size else 0.0
        for q in range(fan_in):
            aq = cur[q]
            if aq != 0.0:
                for j in range(fan_out):
                    dst[j] += aq * W[q, j]
        _act_row(plan[m]["act"], dst)
        cur = dst
    return cur


@jit(inline=True)  # see _config.jit
def _perturbed_row_loss(layer, k, i, dz, Zs, As, offs, params, plan, code, t_row, buf1, buf2,
                        buf3):
    """Row i's loss when layer *layer*'s pre-activation Z[i, k] moves by dz.

    Returns (changed, loss); changed is False when the layer's output row does
    not move at all (e.g. a ReLU that stays at 0), so the row can be skipped.
    """
    width = plan[layer]["fan_out"]
    start = offs[layer] + i * width
    if plan[layer]["act"] == SOFTMAX or layer == plan.size - 1:
        # the whole row of this layer may change: recompute it
        row = buf1[:width]
        copy_into(row, Zs[start:start + width])
        row[k] += dz
        _act_row(plan[layer]["act"], row)
        out = _forward_row_from(layer, row, params, plan, buf2, buf3)
    else:
        # only A[i, k] changes, so the next pre-activation moves by δ·W_{l+1}[k, :]
        delta = activate(plan[layer]["act"], Zs[start + k] + dz, 1.0) - As[start + k]
        if delta == 0.0:
            return False, 0.0
        nxt = layer + 1
        w_next = weight(plan[nxt], params)
        width2 = w_next.shape[1]
        start2 = offs[nxt] + i * width2
        row = buf1[:width2]
        for j in range(width2):
            row[j] = Zs[start2 + j] + delta * w_next[k, j]
        _act_row(plan[nxt]["act"], row)
        out = _forward_row_from(nxt, row, params, plan, buf2, buf3)
    return True, row_loss(code, out, t_row, 1.0, buf3[:0], False)


#: how many pieces the parameters are cut into; the workers take them one at a time
CHUNKS = 256


def network_numerical_gradient(X, T, params, plan, code, scale, h, grad):
    """Central-difference gradient of a dense network's loss for every parameter.

    X (N, I) and T (N, C) float64 (T dense: one-hot, probabilities or
    regression targets); params (P,) float64, the flat parameters laid out by
    *plan* (:mod:`.plan`). The loss is ``scale · Σ_i row_loss(code, A_L[i], T[i])``.
    Writes grad (P,) with grad[p] = (L(w_p + h) − L(w_p − h)) / 2h, the parameters
    shared between Numba's threads (:mod:`._threads`).
    """
    Zs, As, offs, base, jobs = _dense_setup(X, T, params, plan, code)
    run_team(_dense_chunks, numba.get_num_threads(),
             (X, T, Zs, As, offs, base, jobs, params, plan, code, scale, h, grad))


@jit
def _dense_setup(X, T, params, plan, code):
    """One forward pass keeping every layer's pre-activation Z and output A (layer m's
    rows at offs[m] + i·fan_out of the flat Zs and As), each row's loss, and every
    parameter as a job (layer, input column a or −1 for a bias, output k, flat index)."""
    csr = fp_enter()
    n = X.shape[0]
    n_layers = plan.size
    offs = np.zeros(n_layers + 1, np.int64)
    for m in range(n_layers):
        offs[m + 1] = offs[m] + n * plan[m]["fan_out"]
    Zs = np.empty(offs[n_layers])
    As = np.empty(offs[n_layers])
    for m in range(n_layers):
        width = plan[m]["fan_out"]
        Z = Zs[offs[m]:offs[m + 1]].reshape((n, width))
        h = X if m == 0 else As[offs[m - 1]:offs[m]].reshape((n, plan[m]["fan_in"]))
        # the loops and the one-value activations the perturbed rows are recomputed with,
        # so that a perturbation that changes nothing changes no bit
        _affine_rows(h, weight(plan[m], params), bias(plan[m], params), Z)
        copy_into(As[offs[m]:offs[m + 1]], Zs[offs[m]:offs[m + 1]])
        Am = As[offs[m]:offs[m + 1]].reshape((n, width))
        for i in range(n):
            _act_row(plan[m]["act"], Am[i])
    out = As[offs[n_layers - 1]:].reshape((n, plan[n_layers - 1]["fan_out"]))
    base = np.empty(n)
    for i in range(n):
        base[i] = row_loss(code, out[i], T[i], 1.0, base[:0], False)
    total = 0
    for m in range(n_layers):
        total += (plan[m]["fan_in"] + (1 if plan[m]["has_bias"] else 0)) * plan[m]["fan_out"]
    jobs = np.empty((total, 4), np.int64)
    q = 0
    for m in range(n_layers):
        fan_in, fan_out = plan[m]["fan_in"], plan[m]["fan_out"]
        for a in range(fan_in + (1 if plan[m]["has_bias"] else 0)):
            for k in range(fan_out):
                is_bias = a == fan_in
                jobs[q, 0], jobs[q, 1], jobs[q, 2] = m, -1 if is_bias else a, k
                jobs[q, 3] = (plan[m]["b_off"] + k if is_bias
                              else plan[m]["w_off"] + a * fan_out + k)
                q += 1
    fp_leave(csr)
    return Zs, As, offs, base, jobs


@jit
def _next_chunk(sync, total):
    """The rows lo … hi − 1 of the job table the calling worker takes next ((0, 0) when none
    is left or a worker has failed); sync[0] counts the chunks handed out."""
    n_chunks = min(total, CHUNKS)
    c = atomic_add(sync, 0, 1)
    if c >= n_chunks or atomic_load(sync, 1) != 0:
        return 0, 0
    return c * total // n_chunks, (c + 1) * total // n_chunks


@jit
def _dense_chunks(t, X, T, Zs, As, offs, base, jobs, params, plan, code, scale, h, grad,
                  sync):
    """Worker t: chunks of the jobs of :func:`_dense_setup` until none is left."""
    csr = fp_enter()
    n = X.shape[0]
    width = max_width(plan)
    buf1, buf2, buf3 = np.empty(width), np.empty(width), np.empty(width)
    pair = np.empty(2)  # the row's loss at w + h and at w − h
    lo, hi = _next_chunk(sync, jobs.shape[0])
    while hi > lo:
        for q in range(lo, hi):
            m, a, k, p = jobs[q, 0], jobs[q, 1], jobs[q, 2], jobs[q, 3]
            fan_in = plan[m]["fan_in"]
            diff = 0.0
            for i in range(n):
                # ∂Z[i, k]/∂w: the layer input A_{m−1}[i, a] for a weight, 1 for a bias
                x = 1.0
                if a >= 0:
                    x = X[i, a] if m == 0 else As[offs[m - 1] + i * fan_in + a]
                if x == 0.0:
                    continue  # this row does not see the parameter
                for s in range(2):  # w + h, then w − h (one call site: it is inlined)
                    ok, f = _perturbed_row_loss(m, k, i, h * x if s == 0 else -h * x, Zs, As,
                                                offs, params, plan, code, T[i], buf1, buf2, buf3)
                    pair[s] = f if ok else base[i]
                diff += pair[0] - pair[1]
            grad[p] = diff * scale / (2.0 * h)
        lo, hi = _next_chunk(sync, jobs.shape[0])
    fp_leave(csr)


# --- networks with batch norm or dropout: rows are coupled ------------------------------


@jit
def _tail(layer, Z, gamma, beta, stats, drop_count, training, xhat, st):
    """Turn layer *layer*'s pre-normalization values Z (n, w) into its output, in place:
    batch norm (the batch's statistics in training, the running ones otherwise; the
    running statistics are left alone), activation, dropout (the mask of *drop_count*)."""
    if layer["norm"]:
        if training:
            batch_norm_train(Z, gamma, beta, layer["bn_eps"], st[0], st[1], st[2], xhat)
        else:
            batch_norm_eval(Z, gamma, beta, running_mean(layer, stats), running_var(layer, stats),
                            layer["bn_eps"], st[2], xhat)
    apply_inplace(layer["act"], Z)
    if layer["drop"]:
        if training:
            dropout_inplace(Z, layer["drop_seed"], drop_count, layer["drop_threshold"],
                            layer["drop_train_scale"])
        else:
            dropout_inplace(Z, 0, 0, 0, layer["drop_eval_scale"])


@jit
def _affine_rows(H, W, b, Z):
    """Z = H @ W + b by loops (H (n, i), W (i, o)), skipping zero inputs."""
    n, o = Z.shape
    for r in range(n):
        for j in range(o):
            Z[r, j] = b[j] if b.size else 0.0
        for q in range(H.shape[1]):
            hq = H[r, q]
            if hq != 0.0:
                for j in range(o):
                    Z[r, j] += hq * W[q, j]


@jit
def _perturbed_loss(m, kind, a, k, dh, X, T, params, stats, plan, counts, training, code,
                    pre, outs, offs, bufs, st, vec):
    """Σ_i row_loss when parameter (kind, a, k) of layer *m* moves by dh: kind 0 W[a, k],
    1 b[k], 2 γ[k], 3 β[k]. *pre*/*outs* hold every layer's unperturbed values before
    batch norm and outputs; *bufs* is (3, n·maxw) scratch, *st* (3, maxw), *vec* (2, maxw)."""
    n = X.shape[0]
    layer = plan[m]
    w = layer["fan_out"]
    Z = bufs[0, :n * w].reshape((n, w))
    copy_into(Z, pre[offs[m]:offs[m + 1]])
    g = vec[0, :w]
    be = vec[1, :w]
    if layer["norm"] and layer["g_off"] >= 0:
        copy_into(g, gamma(layer, params))
        copy_into(be, beta(layer, params))
    else:
        g, be = g[:0], be[:0]
    if kind == 0:
        src = X if m == 0 else outs[offs[m - 1]:offs[m]].reshape((n, plan[m - 1]["fan_out"]))
        for r in range(n):
            Z[r, k] += dh * src[r, a]
    elif kind == 1:
        for r in range(n):
            Z[r, k] += dh
    elif kind == 2:
        g[k] += dh
    else:
        be[k] += dh
    xhat = bufs[2, :n * w].reshape((n, w))
    _tail(layer, Z, g, be, stats, counts[m, DROP_COUNT], training, xhat, st)
    cur = Z
    use = 1
    for q in range(m + 1, plan.size):
        nxt = plan[q]
        wq = nxt["fan_out"]
        H = bufs[use, :n * wq].reshape((n, wq))
        Wq = weight(nxt, params)
        if q == m + 1 and plan[m]["act"] != SOFTMAX:
            # only column k of layer m's output moved: a rank-1 change of this layer's input
            prev = outs[offs[m]:offs[m + 1]].reshape((n, w))
            copy_into(H, pre[offs[q]:offs[q + 1]])
            for r in range(n):
                delta = cur[r, k] - prev[r, k]
                if delta != 0.0:
                    for j in range(wq):
                        H[r, j] += delta * Wq[k, j]
        else:
            _affine_rows(cur, Wq, bias(nxt, params), H)
        xh = bufs[2, :n * wq].reshape((n, wq))
        _tail(nxt, H, gamma(nxt, params), beta(nxt, params), stats, counts[q, DROP_COUNT],
              training, xh, st)
        cur = H
        use = 1 - use
    total = 0.0
    for r in range(n):
        total += row_loss(code, cur[r], T[r], 1.0, cur[r, :0], False)
    return total


@jit
def _job(jobs, q, m, kind, a, k, p):
    jobs[q, 0], jobs[q, 1], jobs[q, 2], jobs[q, 3], jobs[q, 4] = m, kind, a, k, p


def coupled_numerical_gradient(X, T, params, stats, plan, counts, training, code, scale, h,
                               grad):
    """Central-difference gradient of a network with batch norm or dropout (any plan).

    As :func:`network_numerical_gradient`, but batch norm in training mode couples the
    rows of the batch, so every perturbation recomputes the loss of all rows: layer
    l's column k (from the saved unperturbed values), a rank-1 change of layer l + 1
    and the layers after it. *training* picks batch or running statistics; dropout
    uses each layer's current mask (counts[:, DROP_COUNT]); nothing is updated.
    """
    pre, outs, offs, jobs = _coupled_setup(X, params, stats, plan, counts, training)
    run_team(_coupled_chunks, numba.get_num_threads(),
             (X, T, params, stats, plan, counts, training, code, scale, h, grad, pre, outs,
              offs, jobs))


@jit
def _coupled_setup(X, params, stats, plan, counts, training):
    """Every layer's unperturbed values before batch norm (*pre*) and outputs (*outs*),
    layer m's rows at offs[m] + i·fan_out, and every parameter as a job (layer, kind,
    input column a, output k, flat index) for :func:`_perturbed_loss`."""
    csr = fp_enter()

    n = X.shape[0]
    n_layers = plan.size
    offs = np.zeros(n_layers + 1, np.int64)
    for m in range(n_layers):
        offs[m + 1] = offs[m] + n * plan[m]["fan_out"]
    width = max_width(plan)
    pre = np.empty(offs[n_layers])  # each layer's values before batch norm / activation
    outs = np.empty(offs[n_layers])  # each layer's output
    st0, xhat0 = np.empty((3, width)), np.empty(n * width)
    h_in = X
    for m in range(n_layers):
        w = plan[m]["fan_out"]
        Z = pre[offs[m]:offs[m + 1]].reshape((n, w))
        _affine_rows(h_in, weight(plan[m], params), bias(plan[m], params), Z)
        out = outs[offs[m]:offs[m + 1]].reshape((n, w))
        copy_into(out, Z)
        _tail(plan[m], out, gamma(plan[m], params), beta(plan[m], params), stats,
              counts[m, DROP_COUNT], training, xhat0[:n * w].reshape((n, w)), st0)
        h_in = out

    # every parameter as (layer, kind, input column a, output k, flat index)
    total = 0
    for m in range(n_layers):
        per_out = plan[m]["fan_in"] + (1 if plan[m]["has_bias"] else 0)
        if plan[m]["norm"] and plan[m]["g_off"] >= 0:
            per_out += 2
        total += per_out * plan[m]["fan_out"]
    jobs = np.empty((total, 5), np.int64)
    q = 0
    for m in range(n_layers):
        layer = plan[m]
        fan_in, fan_out = layer["fan_in"], layer["fan_out"]
        for a in range(fan_in):
            for k in range(fan_out):
                _job(jobs, q, m, 0, a, k, layer["w_off"] + a * fan_out + k)
                q += 1
        if layer["has_bias"]:
            for k in range(fan_out):
                _job(jobs, q, m, 1, 0, k, layer["b_off"] + k)
                q += 1
        if layer["norm"] and layer["g_off"] >= 0:
            for kind in (2, 3):
                for k in range(fan_out):
                    _job(jobs, q, m, kind, 0, k, layer["g_off"] + (kind - 2) * fan_out + k)
                    q += 1
    fp_leave(csr)
    return pre, outs, offs, jobs


@jit
def _coupled_chunks(t, X, T, params, stats, plan, counts, training, code, scale, h, grad, pre,
                    outs, offs, jobs, sync):
    """Worker t: chunks of the jobs of :func:`_coupled_setup` until none is left."""
    csr = fp_enter()
    n = X.shape[0]
    width = max_width(plan)
    bufs = np.empty((3, n * width))
    st = np.empty((3, width))
    vec = np.empty((2, width))
    lo, hi = _next_chunk(sync, jobs.shape[0])
    while hi > lo:
        for j in range(lo, hi):
            m, kind, a, k, p = jobs[j, 0], jobs[j, 1], jobs[j, 2], jobs[j, 3], jobs[j, 4]
            fp = _perturbed_loss(m, kind, a, k, h, X, T, params, stats, plan, counts, training,
                                 code, pre, outs, offs, bufs, st, vec)
            fm = _perturbed_loss(m, kind, a, k, -h, X, T, params, stats, plan, counts,
                                 training, code, pre, outs, offs, bufs, st, vec)
            grad[p] = (fp - fm) * scale / (2.0 * h)
        lo, hi = _next_chunk(sync, jobs.shape[0])
    fp_leave(csr)
