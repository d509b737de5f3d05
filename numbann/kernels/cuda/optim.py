"""Optimizer update kernels (CUDA): the twins of :mod:`numbann.kernels.optim`.

Same names, arguments and torch.optim rules, in place over flat 1-D device
arrays of one float dtype and equal length — the model's whole flat
parameter buffer, its gradient buffer and flat state — so one launch updates
every parameter. Each kernel is a grid-stride loop, one element per thread
per iteration, all in the array dtype.

The hyperparameters arrive as Python floats; the wrappers compute the
per-step factors (Adam's bias corrections, AdaGrad's decayed rate, 1 −
dampening …) on the host in float64 exactly as the CPU kernels do, then
round them once to the array dtype and pass them as typed scalars. State
arrays a rule does not use may be empty (or None).
"""

import math

import numba

from ..._cuda import cuda
from ..optim import AdaGradHyper, AdamHyper, RMSPropHyper, SGDHyper
from ._launch import THREADS, array_types, blocks_for, float_type, kernel_set, optional, per_dtype

__all__ = ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "add_scaled",
           "optimizer_step", "kernels", "signatures"]


@per_dtype
def kernels(dtype):
    """The optimizer kernels for float *dtype*."""

    @cuda.jit
    def sgd(p, g, buf, lr, mu, damp, wd, use_momentum, nesterov, first_step):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = g[i] + wd * p[i]
            if use_momentum:
                b = gi if first_step else mu * buf[i] + damp * gi
                buf[i] = b
                gi = gi + mu * b if nesterov else b
            p[i] -= lr * gi

    @cuda.jit
    def adagrad(p, g, state_sum, clr, wd, eps):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = g[i] + wd * p[i]
            h = state_sum[i] + gi * gi
            state_sum[i] = h
            p[i] -= clr * gi / (math.sqrt(h) + eps)

    @cuda.jit
    def rmsprop(p, g, square_avg, grad_avg, momentum_buf, lr, a, a1, eps, wd, mu, centered,
                use_momentum):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = g[i] + wd * p[i]
            s = a * square_avg[i] + a1 * gi * gi
            square_avg[i] = s
            if centered:
                ga = a * grad_avg[i] + a1 * gi
                grad_avg[i] = ga
                s = s - ga * ga
            upd = gi / (math.sqrt(s) + eps)
            if use_momentum:
                upd = mu * momentum_buf[i] + upd
                momentum_buf[i] = upd
            p[i] -= lr * upd

    @cuda.jit
    def adam(p, g, m, v, v_max, step_size, inv_sqrt_bc2, b1, b1c, b2, b2c, eps, wd, amsgrad):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = g[i] + wd * p[i]
            mi = b1 * m[i] + b1c * gi
            vi = b2 * v[i] + b2c * gi * gi
            m[i] = mi
            v[i] = vi
            if amsgrad:
                vi = max(v_max[i], vi)
                v_max[i] = vi
            p[i] -= step_size * mi / (math.sqrt(vi) * inv_sqrt_bc2 + eps)

    @cuda.jit
    def add_scaled(y, x, a):
        for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
            y[i] += a * x[i]

    return kernel_set(sgd=sgd, adagrad=adagrad, rmsprop=rmsprop, adam=adam,
                      add_scaled=add_scaled)


def signatures(dtype):
    """Kernel name → argument types, as the wrappers launch them (for the PTX test)."""
    v, _ = array_types(dtype)
    s, b = float_type(dtype), numba.boolean
    return {
        "sgd": (v, v, v, s, s, s, s, b, b, b),
        "adagrad": (v, v, v, s, s, s),
        "rmsprop": (v, v, v, v, v, s, s, s, s, s, s, b, b),
        "adam": (v, v, v, v, v, s, s, s, s, s, s, s, s, b),
        "add_scaled": (v, v, s),
    }


# --- host wrappers (launch only; no synchronisation) -------------------------------


def _launch(name, p, arrays, scalars, flags, stream):
    if p.size == 0:
        return
    dt = p.dtype.type
    kernel = getattr(kernels(p.dtype), name)
    kernel[blocks_for(p.size), THREADS, stream](
        p, *arrays, *(dt(x) for x in scalars), *(bool(f) for f in flags))


def _state(a, p):
    return optional(a, p.dtype)[0]


def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step, stream=0):
    """SGD with optional momentum, dampening, Nesterov and L2 weight decay.

    Without momentum:  p ← p − lr · g.
    With momentum μ:   b ← g on the first step, else b ← μ·b + (1 − dampening)·g;
                       p ← p − lr · (g + μ·b if nesterov else b).
    ``buf`` is unused (may be empty) when momentum == 0.
    """
    _launch("sgd", p, (g, _state(buf, p)),
            (lr, momentum, 1.0 - dampening, weight_decay),
            (momentum != 0.0, nesterov, first_step), stream)


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, stream=0):
    """AdaGrad: clr = lr / (1 + (step − 1)·lr_decay), h ← h + g², p ← p − clr·g/(√h + eps).

    *step* counts from 1.
    """
    _launch("adagrad", p, (g, state_sum),
            (lr / (1.0 + (step - 1) * lr_decay), weight_decay, eps), (), stream)


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, stream=0):
    """RMSProp: s ← α·s + (1 − α)·g²; centered: a ← α·a + (1 − α)·g, d = √(s − a²) + eps,
    else d = √s + eps; with momentum μ > 0: b ← μ·b + g/d, p ← p − lr·b, else
    p ← p − lr·g/d. ``grad_avg``/``momentum_buf`` may be empty unless needed.
    """
    _launch("rmsprop", p, (g, square_avg, _state(grad_avg, p), _state(momentum_buf, p)),
            (lr, alpha, 1.0 - alpha, eps, weight_decay, momentum),
            (centered, momentum > 0.0), stream)


def adam_step(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, step, amsgrad, stream=0):
    """Adam with bias correction (t = *step* ≥ 1):

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  (amsgrad: v̂ ← max(v̂, v), used for v)
    p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps).
    The bias corrections are computed here on the host. ``v_max`` may be
    empty unless amsgrad.
    """
    _launch("adam", p, (g, m, v, _state(v_max, p)),
            (lr / (1.0 - beta1**step), 1.0 / math.sqrt(1.0 - beta2**step),
             beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps, weight_decay),
            (amsgrad,), stream)


def add_scaled(y, x, a, stream=0):
    """y ← y + a·x for device arrays of one shape (e.g. the L2 term λW of a gradient)."""
    if y.size == 0:
        return
    flat_y = y.reshape(y.size) if y.ndim != 1 else y
    flat_x = x.reshape(x.size) if x.ndim != 1 else x
    kernels(y.dtype).add_scaled[blocks_for(y.size), THREADS, stream](flat_y, flat_x,
                                                                     y.dtype.type(a))


# --- one update of a whole flat buffer, by the rule a hyperparameter tuple names ------------


def _sgd_update(h, p, g, state, step, stream):
    sgd_step(p, g, state[0], h.lr, h.momentum, h.dampening, h.nesterov, h.weight_decay,
             step == 1, stream)


def _adagrad_update(h, p, g, state, step, stream):
    adagrad_step(p, g, state[0], h.lr, h.lr_decay, h.weight_decay, h.eps, step, stream)


def _rmsprop_update(h, p, g, state, step, stream):
    rmsprop_step(p, g, state[0], state[1], state[2], h.lr, h.alpha, h.eps, h.weight_decay,
                 h.momentum, h.centered, stream)


def _adam_update(h, p, g, state, step, stream):
    adam_step(p, g, state[0], state[1], state[2], h.lr, h.beta1, h.beta2, h.eps,
              h.weight_decay, step, h.amsgrad, stream)


#: hyperparameter class → its update launch (the CUDA twin of the CPU table)
UPDATES = {SGDHyper: _sgd_update, AdaGradHyper: _adagrad_update,
           RMSPropHyper: _rmsprop_update, AdamHyper: _adam_update}


def optimizer_step(hyper, p, g, state, step, stream=0):
    """One update launch over the flat device buffer *p* by the rule *hyper* names;
    *state* is (k, P) on the device, rows ``hyper.ROWS``; *step* counts from 1."""
    update = UPDATES.get(type(hyper))
    if update is None:
        raise TypeError(f"no CUDA update for {type(hyper).__name__}")
    update(hyper, p, g, state, step, stream)
