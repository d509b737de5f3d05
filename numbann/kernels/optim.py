"""Optimizer update kernels (CPU), in place over flat 1-D arrays.

``p`` (parameters), ``g`` (their gradient) and the state arrays are 1-D,
C-contiguous, one float dtype, of equal length — usually the whole flat
parameter buffer of a model, so one call updates every parameter.
Hyperparameters arrive as Python floats and are rounded once to the array
dtype, so float32 updates run in float32 throughout.

The rules are torch.optim's (SGD, Adagrad, RMSprop, Adam), so a model
trained with the same hyperparameters follows the same trajectory. Below,
g is the gradient *after* weight decay: g ← g + weight_decay · p.

A rule and its hyperparameters travel as one named tuple type for every rule
(:class:`Hyper`, built by :func:`hyper`), so the training engine compiles once,
whatever rule a run uses; :func:`optimizer_step` branches on ``hyper.rule``,
and :func:`hyper` refuses an unknown rule.
"""

import functools
from typing import NamedTuple

import numpy as np

from .._config import jit
from ._fpenv import fp_enter, fp_leave

#: the update rules
SGD, ADAGRAD, RMSPROP, ADAM = 0, 1, 2, 3


class Hyper(NamedTuple):
    """An update rule and its hyperparameters, as every compiled path takes them: one type
    for all rules, so the training engine compiles once whichever rule a run uses.

    ``rule`` is :data:`SGD`, :data:`ADAGRAD`, :data:`RMSPROP` or :data:`ADAM`; fields a
    rule does not use are 0 / False. Build one with :func:`hyper`. The rows of a
    rule's (k, P) state are named in :data:`ROWS`.
    """

    rule: int
    lr: float
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool
    lr_decay: float
    eps: float
    alpha: float
    centered: bool
    beta1: float
    beta2: float
    amsgrad: bool


#: rule → the names of its state rows, in order (torch.optim's state names)
ROWS = {SGD: ("momentum_buffer",), ADAGRAD: ("sum",),
        RMSPROP: ("square_avg", "grad_avg", "momentum_buffer"),
        ADAM: ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}

#: the rules the CPU kernels run (the object layer and the CUDA twin check against it)
RULES = ROWS

#: rule → the fields it takes (all others stay 0 / False)
FIELDS = {SGD: ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
          ADAGRAD: ("lr", "lr_decay", "weight_decay", "eps"),
          RMSPROP: ("lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
          ADAM: ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad")}

_FLAGS = ("nesterov", "centered", "amsgrad")


def hyper(rule, **values):
    """A :class:`Hyper` for *rule* from exactly the fields the rule takes."""
    if rule not in FIELDS:
        raise ValueError(f"unknown update rule {rule!r}")
    names = FIELDS[rule]
    if len(values) != len(names) or not all(name in values for name in names):
        raise TypeError(f"rule {rule} takes {names}, got {sorted(values)}")
    values = tuple(values[name] for name in names)
    try:
        return _hyper(int(rule), values)
    except TypeError:  # a value that cannot be hashed (a 0-d array): build it uncached
        return _hyper.__wrapped__(int(rule), values)


@functools.lru_cache(maxsize=256)
def _hyper(rule, values):
    """The Hyper of *rule* with its FIELDS set to *values* (cached: the object API builds
    one per step, mostly with the same values)."""
    fields = {name: (False if name in _FLAGS else 0.0) for name in Hyper._fields[1:]}
    for name, value in zip(FIELDS[rule], values):
        fields[name] = bool(value) if name in _FLAGS else float(value)
    return Hyper(rule, **fields)


@jit
def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step):
    """SGD with optional momentum, dampening, Nesterov and L2 weight decay.

    Without momentum:  p ← p − lr · g.
    With momentum μ:   b ← g on the first step, else b ← μ·b + (1 − dampening)·g;
                       p ← p − lr · (g + μ·b if nesterov else b).
    The textbook's Momentum (v ← μv − lr·∇, p ← p + v) is the same rule with
    v = −lr·b; ``buf`` is unused (may be empty) when momentum == 0.
    """
    dt = p.dtype.type
    lr_, mu, damp, wd = dt(lr), dt(momentum), dt(1.0 - dampening), dt(weight_decay)
    if momentum == 0.0:
        for i in range(p.size):
            p[i] -= lr_ * (g[i] + wd * p[i])
        return
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        b = gi if first_step else mu * buf[i] + damp * gi
        buf[i] = b
        p[i] -= lr_ * (gi + mu * b if nesterov else b)


@jit
def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step):
    """AdaGrad (torch.optim.Adagrad; defaults lr=0.01, eps=1e-10).

    clr = lr / (1 + (step − 1) · lr_decay),  h ← h + g²,  p ← p − clr · g / (√h + eps).
    *step* counts from 1. The textbook's AdaGrad is this rule with eps = 1e-7.
    """
    dt = p.dtype.type
    clr = dt(lr / (1.0 + (step - 1) * lr_decay))
    wd, eps_ = dt(weight_decay), dt(eps)
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        h = state_sum[i] + gi * gi
        state_sum[i] = h
        p[i] -= clr * gi / (np.sqrt(h) + eps_)


@jit
def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered):
    """RMSProp (torch.optim.RMSprop; defaults lr=0.01, alpha=0.99, eps=1e-8).

    s ← α·s + (1 − α)·g²;  centered: a ← α·a + (1 − α)·g, d = √(s − a²) + eps,
    else d = √s + eps;  with momentum μ > 0: b ← μ·b + g/d, p ← p − lr·b,
    else p ← p − lr·g/d. The textbook's RMSprop (decay_rate 0.99) is this rule
    with eps = 1e-7. ``grad_avg``/``momentum_buf`` are unused unless needed.
    """
    dt = p.dtype.type
    lr_, a, a1, eps_ = dt(lr), dt(alpha), dt(1.0 - alpha), dt(eps)
    wd, mu = dt(weight_decay), dt(momentum)
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        s = a * square_avg[i] + a1 * gi * gi
        square_avg[i] = s
        if centered:
            ga = a * grad_avg[i] + a1 * gi
            grad_avg[i] = ga
            s = s - ga * ga
        upd = gi / (np.sqrt(s) + eps_)
        if momentum > 0.0:
            upd = mu * momentum_buf[i] + upd
            momentum_buf[i] = upd
        p[i] -= lr_ * upd


@jit
def adam_step(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, step, amsgrad):
    """Adam with bias correction (torch.optim.Adam; lr=1e-3, betas=(0.9, 0.999), eps=1e-8).

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  (amsgrad: v̂ ← max(v̂, v), used for v)
    p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps),  t = *step* ≥ 1.
    The textbook's Adam adds eps = 1e-7 to √v before the bias correction
    (lr_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), p ← p − lr_t·m/(√v + eps)); the two agree
    up to that placement of eps. ``v_max`` is unused unless amsgrad.
    """
    dt = p.dtype.type
    step_size = dt(lr / (1.0 - beta1**step))
    inv_sqrt_bc2 = dt(1.0 / np.sqrt(1.0 - beta2**step))
    b1, b1c, b2, b2c = dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2)
    eps_, wd = dt(eps), dt(weight_decay)
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        mi = b1 * m[i] + b1c * gi
        vi = b2 * v[i] + b2c * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(v_max[i], vi)
            v_max[i] = vi
        p[i] -= step_size * mi / (np.sqrt(vi) * inv_sqrt_bc2 + eps_)


@jit
def add_scaled(y, x, a):
    """y ← y + a·x for arrays of one shape (e.g. the L2 term λW added to a gradient)."""
    csr = fp_enter()
    yf = y.reshape(-1)
    xf = x.reshape(-1)
    a_ = yf.dtype.type(a)
    for i in range(yf.size):
        yf[i] += a_ * xf[i]
    fp_leave(csr)


# --- one update of a flat buffer, by the rule a hyperparameter tuple names ------------------


@jit
def _part(row, lo, hi):
    """Elements lo … hi − 1 of a state row (an unused, empty row stays empty)."""
    return row[lo:hi] if row.size else row


@jit(inline=True)  # see _config.jit
def optimizer_step(hyper, p, g, state, step, lo, hi):
    """One update of the flat buffer *p* from *g* by the rule of *hyper* (a :class:`Hyper`);
    *state* is (k, P) with rows ``ROWS[hyper.rule]``; *step* counts from 1. With *lo*, *hi*
    only elements lo … hi − 1 (hi = −1: to the end) are updated, so that threads can
    share one update (pass 0, −1 for all)."""
    csr = fp_enter()
    if hi < 0:
        hi = p.size
    h = hyper
    p, g = p[lo:hi], g[lo:hi]
    if h.rule == SGD:
        sgd_step(p, g, _part(state[0], lo, hi), h.lr, h.momentum, h.dampening, h.nesterov,
                 h.weight_decay, step == 1)
    elif h.rule == ADAGRAD:
        adagrad_step(p, g, _part(state[0], lo, hi), h.lr, h.lr_decay, h.weight_decay, h.eps,
                     step)
    elif h.rule == RMSPROP:
        rmsprop_step(p, g, _part(state[0], lo, hi), _part(state[1], lo, hi),
                     _part(state[2], lo, hi), h.lr, h.alpha, h.eps, h.weight_decay, h.momentum,
                     h.centered)
    elif h.rule == ADAM:
        adam_step(p, g, _part(state[0], lo, hi), _part(state[1], lo, hi),
                  _part(state[2], lo, hi), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, step,
                  h.amsgrad)
    fp_leave(csr)


@jit
def plain_sgd_lr(hyper):
    """The learning rate if *hyper* is plain SGD (no momentum, no weight decay), else −1:
    such a step can be fused into the backward pass (W ← W − lr·XᵀdZ)."""
    if hyper.rule == SGD and hyper.momentum == 0.0 and hyper.weight_decay == 0.0:
        return hyper.lr
    return -1.0
