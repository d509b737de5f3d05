"""Optimizer update kernels (CPU), in place over flat 1-D arrays.

``p`` (parameters), ``g`` (their gradient) and the state arrays are 1-D,
C-contiguous, one float dtype, of equal length — usually the whole flat
parameter buffer of a model, so one call updates every parameter.
Hyperparameters arrive as Python floats and are rounded once to the array
dtype, so float32 updates run in float32 throughout.

The rules are torch.optim's (SGD, Adagrad, RMSprop, Adam), so a model
trained with the same hyperparameters follows the same trajectory. Below,
g is the gradient *after* weight decay: g ← g + weight_decay · p.

Each rule's hyperparameters are a named tuple (:class:`SGDHyper` …), which
also names the rows of its (k, P) state array (``ROWS``). The training
engine takes one of them and :func:`optimizer_step` compiles the update of
that rule only; an unknown kind fails to compile instead of running another
rule.
"""

from typing import NamedTuple

import numpy as np
from numba.core.errors import TypingError
from numba.extending import overload

from .._config import JIT_OPTIONS, jit
from ._fpenv import fp_enter, fp_leave


class SGDHyper(NamedTuple):
    """torch.optim.SGD's hyperparameters; state row: the momentum buffer."""

    lr: float
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool

    ROWS = ("momentum_buffer",)


class AdaGradHyper(NamedTuple):
    """torch.optim.Adagrad's hyperparameters; state row: the sum of squares."""

    lr: float
    lr_decay: float
    weight_decay: float
    eps: float

    ROWS = ("sum",)


class RMSPropHyper(NamedTuple):
    """torch.optim.RMSprop's hyperparameters; state rows as ``ROWS``."""

    lr: float
    alpha: float
    eps: float
    weight_decay: float
    momentum: float
    centered: bool

    ROWS = ("square_avg", "grad_avg", "momentum_buffer")


class AdamHyper(NamedTuple):
    """torch.optim.Adam's hyperparameters; state rows as ``ROWS``."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    amsgrad: bool

    ROWS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


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


@jit
def _sgd_update(h, p, g, state, lo, hi, step):
    csr = fp_enter()
    sgd_step(p[lo:hi], g[lo:hi], _part(state[0], lo, hi), h.lr, h.momentum, h.dampening,
             h.nesterov, h.weight_decay, step == 1)
    fp_leave(csr)


@jit
def _adagrad_update(h, p, g, state, lo, hi, step):
    csr = fp_enter()
    adagrad_step(p[lo:hi], g[lo:hi], _part(state[0], lo, hi), h.lr, h.lr_decay,
                 h.weight_decay, h.eps, step)
    fp_leave(csr)


@jit
def _rmsprop_update(h, p, g, state, lo, hi, step):
    csr = fp_enter()
    rmsprop_step(p[lo:hi], g[lo:hi], _part(state[0], lo, hi), _part(state[1], lo, hi),
                 _part(state[2], lo, hi), h.lr, h.alpha, h.eps, h.weight_decay, h.momentum,
                 h.centered)
    fp_leave(csr)


@jit
def _adam_update(h, p, g, state, lo, hi, step):
    csr = fp_enter()
    adam_step(p[lo:hi], g[lo:hi], _part(state[0], lo, hi), _part(state[1], lo, hi),
              _part(state[2], lo, hi), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, step,
              h.amsgrad)
    fp_leave(csr)


#: hyperparameter class → its compiled update (the one table to extend for a new rule)
UPDATES = {SGDHyper: _sgd_update, AdaGradHyper: _adagrad_update,
           RMSPropHyper: _rmsprop_update, AdamHyper: _adam_update}


def optimizer_step(hyper, p, g, state, step, lo=0, hi=-1):
    """One update of the flat buffer *p* from *g* by the rule *hyper* names (a
    :class:`SGDHyper` …); *state* is (k, P) with rows ``hyper.ROWS``; *step* counts from 1.
    With *lo*, *hi* only elements lo … hi − 1 (hi = −1: to the end) are updated, so that
    threads can share one update."""
    update = UPDATES.get(type(hyper))
    if update is None:
        raise TypeError(f"no compiled update for {type(hyper).__name__}")
    update(hyper, p, g, state, lo, p.size if hi < 0 else hi, step)


@overload(optimizer_step, jit_options=JIT_OPTIONS)
def _optimizer_step_impl(hyper, p, g, state, step, lo=0, hi=-1):
    update = UPDATES.get(getattr(hyper, "instance_class", None))
    if update is None:
        raise TypingError(f"no compiled update for {hyper}")

    def impl(hyper, p, g, state, step, lo=0, hi=-1):
        update(hyper, p, g, state, lo, p.size if hi < 0 else hi, step)

    return impl


def plain_sgd_lr(hyper):
    """The learning rate if *hyper* is plain SGD (no momentum, no weight decay), else −1:
    such a step can be fused into the backward pass (W ← W − lr·XᵀdZ)."""
    if isinstance(hyper, SGDHyper) and hyper.momentum == 0.0 and hyper.weight_decay == 0.0:
        return hyper.lr
    return -1.0


@overload(plain_sgd_lr, jit_options=JIT_OPTIONS)
def _plain_sgd_lr_impl(hyper):
    if getattr(hyper, "instance_class", None) is SGDHyper:
        return lambda hyper: (hyper.lr if hyper.momentum == 0.0 and hyper.weight_decay == 0.0
                              else -1.0)
    return lambda hyper: -1.0
