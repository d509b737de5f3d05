"""Optimizer update kernels (CUDA): the twins of :mod:`numbann.kernels.optim`.

Same names, arguments and torch.optim rules, in place over flat 1-D device
arrays of one float dtype and equal length — the model's whole flat
parameter buffer, its gradient buffer and flat state — so one launch updates
every parameter. Each kernel is a grid-stride loop, one element per thread
per iteration, all in the array dtype.

The hyperparameters arrive as a tuple of :mod:`numbann.kernels.optim`
(which names the rule, as on the CPU) or, for the ``*_step`` wrappers, as
the CPU kernels' arguments; the factors (Adam's bias corrections,
AdaGrad's decayed rate, 1 − dampening …) are computed on the host in
float64 exactly as the CPU kernels do, then rounded once to the array dtype
and passed as typed scalars. State arrays a rule does not use may be empty
(or None). :func:`update_launch` prepares a rule's launch once, for the
training engine to run at every step with that step's factors.
"""

import math

import numba

from ..._cuda import cuda
from ..optim import ADAGRAD, ADAM, RMSPROP, SGD
from ..optim import hyper as make_hyper
from ._launch import (
    THREADS,
    Launch,
    array_types,
    blocks_for,
    flat,
    float_type,
    kernel_set,
    optional,
    per_dtype,
)

__all__ = ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "add_scaled",
           "optimizer_step", "update_launch", "RULES", "kernels", "signatures"]


@per_dtype
def kernels(dtype):
    """The optimizer kernels for float *dtype* (the factors that change from step to step
    come last)."""

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
    def adagrad(p, g, state_sum, wd, eps, clr):
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
    def adam(p, g, m, v, v_max, b1, b1c, b2, b2c, eps, wd, amsgrad, step_size, inv_sqrt_bc2):
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = g[i] + wd * p[i]
            mi = b1 * m[i] + b1c * gi
            vi = b2 * v[i] + b2c * gi * gi
            m[i] = mi
            v[i] = vi
            if amsgrad:  # the CPU's max(v̂, v), written out (a float max is fmaxf here)
                vm = v_max[i]
                vi = vi if vi > vm else vm
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
        "adam": (v, v, v, v, v, s, s, s, s, s, s, b, s, s),
        "add_scaled": (v, v, s),
    }


# --- the update rules: kernel, leading arguments, per-step factors --------------------
# Each takes a hyperparameter tuple, the flat buffers and the state rows, and returns
# (kernel name, leading arguments, per-step function) — the per-step function maps the
# step count (from 1) to the arguments that change; factors are computed in float64
# as the CPU kernels compute them, then rounded once to the array dtype.


def _state(a, p):
    return optional(a, p.dtype)[0]


def _sgd(h, p, g, state):
    dt = p.dtype.type
    return ("sgd", (p, g, _state(state[0], p), dt(h.lr), dt(h.momentum),
                    dt(1.0 - h.dampening), dt(h.weight_decay), h.momentum != 0.0,
                    bool(h.nesterov)),
            lambda step: (bool(step == 1),))


def _adagrad(h, p, g, state):
    dt = p.dtype.type
    return ("adagrad", (p, g, state[0], dt(h.weight_decay), dt(h.eps)),
            lambda step: (dt(h.lr / (1.0 + (step - 1) * h.lr_decay)),))


def _rmsprop(h, p, g, state):
    dt = p.dtype.type
    return ("rmsprop", (p, g, state[0], _state(state[1], p), _state(state[2], p), dt(h.lr),
                        dt(h.alpha), dt(1.0 - h.alpha), dt(h.eps), dt(h.weight_decay),
                        dt(h.momentum), bool(h.centered), h.momentum > 0.0),
            lambda step: ())


def _adam(h, p, g, state):
    dt = p.dtype.type
    return ("adam", (p, g, state[0], state[1], _state(state[2], p), dt(h.beta1),
                     dt(1.0 - h.beta1), dt(h.beta2), dt(1.0 - h.beta2), dt(h.eps),
                     dt(h.weight_decay), bool(h.amsgrad)),
            lambda step: (dt(h.lr / (1.0 - h.beta1**step)),
                          dt(1.0 / math.sqrt(1.0 - h.beta2**step))))


#: update rule → how to launch it (the CUDA twin of the CPU kernel's branches)
RULES = {SGD: _sgd, ADAGRAD: _adagrad, RMSPROP: _rmsprop, ADAM: _adam}


def update_launch(hyper, p, g, state, stream=0, pretyped=False):
    """``(launch, per_step)``: the update launch over the flat device buffer *p* by the rule
    *hyper* names, run as ``launch(*per_step(step))`` (*step* counts from 1); *state* holds
    the rows ``ROWS[hyper.rule]`` (a (k, P) device array, or a sequence of 1-D arrays, unused
    ones empty or None). ``(None, None)`` for an empty buffer."""
    rule = RULES.get(hyper.rule)
    if rule is None:
        raise TypeError(f"no CUDA update for rule {hyper.rule!r}")
    if p.size == 0:
        return None, None
    name, args, per_step = rule(hyper, p, g, state)
    return Launch(getattr(kernels(p.dtype), name), blocks_for(p.size), THREADS, args, stream,
                  tail=per_step(1), pretyped=pretyped), per_step


def optimizer_step(hyper, p, g, state, step, lo=0, hi=-1, stream=0):
    """One update launch over the flat device buffer *p* by the rule *hyper* names;
    *state* is (k, P) on the device, rows ``ROWS[hyper.rule]``; *step* counts from 1;
    *lo*, *hi* are accepted for the CPU twin's sake and must cover the whole buffer."""
    if lo != 0 or hi not in (-1, p.size):
        raise ValueError("the GPU update runs over the whole buffer")
    launch, per_step = update_launch(hyper, p, g, state, stream)
    if launch is not None:
        launch(*per_step(step))


# --- the wrappers with the CPU kernels' arguments (launch only; no synchronisation) ----


def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step, stream=0):
    """SGD with optional momentum, dampening, Nesterov and L2 weight decay.

    Without momentum:  p ← p − lr · g.
    With momentum μ:   b ← g on the first step, else b ← μ·b + (1 − dampening)·g;
                       p ← p − lr · (g + μ·b if nesterov else b).
    ``buf`` is unused (may be empty) when momentum == 0.
    """
    optimizer_step(make_hyper(SGD, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov), p, g, (buf,),
                   1 if first_step else 2, stream=stream)


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, stream=0):
    """AdaGrad: clr = lr / (1 + (step − 1)·lr_decay), h ← h + g², p ← p − clr·g/(√h + eps).

    *step* counts from 1.
    """
    optimizer_step(make_hyper(ADAGRAD, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              eps=eps), p, g, (state_sum,), step, stream=stream)


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, stream=0):
    """RMSProp: s ← α·s + (1 − α)·g²; centered: a ← α·a + (1 − α)·g, d = √(s − a²) + eps,
    else d = √s + eps; with momentum μ > 0: b ← μ·b + g/d, p ← p − lr·b, else
    p ← p − lr·g/d. ``grad_avg``/``momentum_buf`` may be empty unless needed.
    """
    optimizer_step(make_hyper(RMSPROP, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered), p, g,
                   (square_avg, grad_avg, momentum_buf), 1, stream=stream)


def adam_step(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, step, amsgrad, stream=0):
    """Adam with bias correction (t = *step* ≥ 1):

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  (amsgrad: v̂ ← max(v̂, v), used for v)
    p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps).
    The bias corrections are computed here on the host. ``v_max`` may be
    empty unless amsgrad.
    """
    optimizer_step(make_hyper(ADAM, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                         weight_decay=weight_decay, amsgrad=amsgrad), p, g, (m, v, v_max),
                   step, stream=stream)


def add_scaled(y, x, a, stream=0):
    """y ← y + a·x for device arrays of one shape (e.g. the L2 term λW of a gradient)."""
    if y.size == 0:
        return
    Launch(kernels(y.dtype).add_scaled, blocks_for(y.size), THREADS,
           (flat(y), flat(x), y.dtype.type(a)), stream)()
