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

Parameters are processed in parallel (prange) in chunks, each with its own
row scratch.
"""

import numba
import numpy as np

from .._config import jit
from ._memory import copy_into
from .activations import SOFTMAX, apply_inplace
from .dense import add_bias_inplace
from .losses import row_loss
from .plan import bias, max_width, weight


@jit
def numerical_gradient_inplace(f, x, h, grad):
    """grad[i] = (f(x + h eᵢ) − f(x − h eᵢ)) / 2h for every element of x.

    *f* is a compiled function of x returning a scalar; x is perturbed in
    place and each element restored to its exact original value.
    """
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
        apply_inplace(plan[m]["act"], dst.reshape((1, fan_out)))
        cur = dst
    return cur


@jit
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
        apply_inplace(plan[layer]["act"], row.reshape((1, width)))
        out = _forward_row_from(layer, row, params, plan, buf2, buf3)
    else:
        # only A[i, k] changes, so the next pre-activation moves by δ·W_{l+1}[k, :]
        one = buf1[:1]
        one[0] = Zs[start + k] + dz
        apply_inplace(plan[layer]["act"], one.reshape((1, 1)))
        delta = one[0] - As[start + k]
        if delta == 0.0:
            return False, 0.0
        nxt = layer + 1
        w_next = weight(plan[nxt], params)
        width2 = w_next.shape[1]
        start2 = offs[nxt] + i * width2
        row = buf1[:width2]
        for j in range(width2):
            row[j] = Zs[start2 + j] + delta * w_next[k, j]
        apply_inplace(plan[nxt]["act"], row.reshape((1, width2)))
        out = _forward_row_from(nxt, row, params, plan, buf2, buf3)
    return True, row_loss(code, out, t_row, 1.0, buf3[:0], False)


@jit(parallel=True)
def network_numerical_gradient(X, T, params, plan, code, scale, h, grad):
    """Central-difference gradient of a dense network's loss for every parameter.

    X (N, I) and T (N, C) float64 (T dense: one-hot, probabilities or
    regression targets); params (P,) float64, the flat parameters laid out by
    *plan* (:mod:`.plan`). The loss is ``scale · Σ_i row_loss(code, A_L[i], T[i])``.
    Writes grad (P,) with grad[p] = (L(w_p + h) − L(w_p − h)) / 2h.
    """
    n = X.shape[0]
    n_layers = plan.size
    # one forward pass, keeping every layer's pre-activation Z and output A:
    # layer m's rows live at offs[m] + i·fan_out in the flat Zs and As
    offs = np.zeros(n_layers + 1, np.int64)
    for m in range(n_layers):
        offs[m + 1] = offs[m] + n * plan[m]["fan_out"]
    Zs = np.empty(offs[n_layers])
    As = np.empty(offs[n_layers])
    for m in range(n_layers):
        width = plan[m]["fan_out"]
        Z = Zs[offs[m]:offs[m + 1]].reshape((n, width))
        if m == 0:
            np.dot(X, weight(plan[m], params), Z)
        else:
            np.dot(As[offs[m - 1]:offs[m]].reshape((n, plan[m]["fan_in"])),
                   weight(plan[m], params), Z)
        if plan[m]["has_bias"]:
            add_bias_inplace(Z, bias(plan[m], params))
        Am = As[offs[m]:offs[m + 1]].reshape((n, width))
        copy_into(Am, Z)
        apply_inplace(plan[m]["act"], Am)
    out = As[offs[n_layers - 1]:].reshape((n, plan[n_layers - 1]["fan_out"]))
    base = np.empty(n)
    for i in range(n):
        base[i] = row_loss(code, out[i], T[i], 1.0, base[:0], False)

    # every parameter as (layer, input column a or −1 for a bias, output k, flat index)
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

    width = max_width(plan)
    n_chunks = min(total, 256)  # prange splits these among the threads
    for c in numba.prange(n_chunks):
        buf1, buf2, buf3 = np.empty(width), np.empty(width), np.empty(width)
        for q in range(c * total // n_chunks, (c + 1) * total // n_chunks):
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
                ok_p, fp = _perturbed_row_loss(m, k, i, h * x, Zs, As, offs, params, plan, code,
                                               T[i], buf1, buf2, buf3)
                ok_m, fm = _perturbed_row_loss(m, k, i, -h * x, Zs, As, offs, params, plan, code,
                                               T[i], buf1, buf2, buf3)
                diff += (fp if ok_p else base[i]) - (fm if ok_m else base[i])
            grad[p] = diff * scale / (2.0 * h)
