"""Numerical differentiation, as the textbook's chapter 4 defines it.

``numerical_gradient(f, x)`` perturbs *x* in place, one element at a time,
and restores it — so ``f`` may ignore its argument and read *x* through a
network that shares its memory (``lambda W: net.loss(x, t)``), exactly as in
the textbook. If *f* is a Numba-compiled function of a float array, the loop
runs compiled (:func:`numbann.kernels.numgrad.numerical_gradient_inplace`).

For a whole model, :func:`model_numerical_gradient` gives every parameter's
numerical gradient (compiled, recomputing only what each perturbation
changes, for a chain of Linear(+activation) layers; that same loop on a
float64 copy otherwise), :func:`model_gradient` the backpropagated one and
:func:`gradient_check` compares the two.
"""

import copy
from collections import namedtuple

import numpy as np
from numba.core.registry import CPUDispatcher

from . import _fusion
from .autograd import no_grad
from .kernels.numgrad import (
    coupled_numerical_gradient,
    network_numerical_gradient,
    numerical_gradient_inplace,
)
from .kernels.plan import DROP_COUNT

__all__ = ["numerical_diff", "numerical_gradient", "gradient_descent", "model_numerical_gradient",
           "model_gradient", "gradient_check", "GradCheck"]


def numerical_diff(f, x, h=1e-4):
    """Central difference (f(x + h) − f(x − h)) / 2h of a scalar function at x.

    x is a number (or an array, differentiated elementwise); the result has
    the shape of f(x). The error is O(h²).
    """
    _check_h(h)
    return (f(x + h) - f(x - h)) / (2 * h)


def _check_h(h):
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a positive finite step, got {h}")


def _perturbable(x):
    """*x* as a float array that can be perturbed in place.

    Lists and tuples become a new float64 array; an ndarray must already be a
    writable float array, because the perturbation has to reach whoever
    shares its memory.
    """
    if not isinstance(x, np.ndarray):
        arr = np.array(x, dtype=np.float64)
        if arr.dtype.kind != "f":  # pragma: no cover - np.array(.., float64) ensures it
            raise TypeError("x must be numeric")
        return arr
    if x.dtype.kind != "f":
        raise TypeError(
            f"x must be a float array to be perturbed in place, got dtype {x.dtype}; "
            "pass x.astype(np.float64)"
        )
    if not x.flags.writeable:
        raise ValueError("x is read-only, but numerical_gradient perturbs it in place")
    return x


def numerical_gradient(f, x, h=1e-4):
    """∂f/∂x by central differences: grad[i] = (f(x + h eᵢ) − f(x − h eᵢ)) / 2h.

    *x* may have any shape; it is perturbed in place and every element is
    restored to its exact original value. Returns an array of x's shape and
    dtype. Lists are converted to float64 first.
    """
    _check_h(h)
    x = _perturbable(x)
    grad = np.zeros_like(x)
    if (isinstance(f, CPUDispatcher) and x.flags.c_contiguous
            and x.dtype in (np.float32, np.float64)):
        numerical_gradient_inplace(f, x, x.dtype.type(h), grad)
        return grad
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + h
        fxh1 = f(x)
        x[idx] = orig - h
        fxh2 = f(x)
        x[idx] = orig
        grad[idx] = (fxh1 - fxh2) / (2 * h)
    return grad


def gradient_descent(f, init_x, lr=0.01, step_num=100, *, return_history=False):
    """Minimise f by x ← x − lr · numerical_gradient(f, x), *step_num* times.

    Starts from a float64 copy of *init_x* (the textbook updates init_x in
    place; here the caller's array is left alone). Returns x, or
    ``(x, history)`` with the (step_num, …) positions before each step when
    *return_history* is true.
    """
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    if int(step_num) != step_num or step_num < 0:
        raise ValueError(f"step_num must be a non-negative integer, got {step_num}")
    x = np.array(init_x, dtype=np.float64)
    history = []
    for _ in range(int(step_num)):
        if return_history:
            history.append(x.copy())
        x -= lr * numerical_gradient(f, x)
    if return_history:
        return x, np.array(history).reshape((len(history),) + x.shape)
    return x


# --- whole models ---------------------------------------------------------------------


def model_numerical_gradient(model, x, t, loss_fn, h=1e-4):
    """Central-difference gradient (L(w + h) − L(w − h)) / 2h of ``loss_fn(model(x), t)``
    (plus the model's L2 penalty) for every parameter, evaluated in float64; returns
    {name: array of the parameter's shape and dtype}.

    For a chain of Linear → [BatchNorm] → activation → [Dropout] layers it runs
    compiled and in parallel, recomputing only what each perturbation changes
    (:mod:`numbann.kernels.numgrad`); otherwise it is :func:`numerical_gradient`
    over a float64 copy of the flat parameters. The model's mode counts: in
    training mode batch norm uses the batch's statistics and dropout the masks of
    the last training forward (of the first, if none ran yet) — so a backprop
    gradient computed just before is comparable; nothing (running statistics,
    mask counters) changes.
    """
    _check_h(h)
    x64, _ = model._input(x, host=True)
    x64 = np.ascontiguousarray(x64, dtype=np.float64)
    n, c = x64.shape[0], model.out_features
    targets = loss_fn.dense_targets(t, n, c, np.float64)
    plan = model.network_plan()
    params = model.backend.to_host(model.flat_parameters).astype(np.float64)
    grad = np.empty_like(params)
    if plan is not None and not (plan["norm"].any() or plan["drop"].any()):
        network_numerical_gradient(x64, targets, params, plan, loss_fn.code,
                                   loss_fn.scale(n, c), float(h), grad)
    elif plan is not None:
        stats = model.backend.to_host(model.flat_stats).astype(np.float64)
        counts = _fusion.counts(model._groups)
        # dropout: the masks of the last training forward (the one a backprop just ran)
        counts[:, DROP_COUNT] = np.maximum(counts[:, DROP_COUNT] - 1, 0)
        coupled_numerical_gradient(x64, targets, params, stats, plan, counts,
                                   bool(model.training), loss_fn.code, loss_fn.scale(n, c),
                                   float(h), grad)
    else:
        copy64 = copy.deepcopy(model).to("cpu").double()
        with no_grad():
            grad = numerical_gradient(
                lambda _: loss_fn.evaluate(copy64._forward(x64, False)[0], targets),
                copy64.flat_parameters, h)
    lam = model.weight_decay_lambda
    if lam:  # ∂(½λ‖W‖²)/∂W = λW, which central differences give exactly
        for layer in model.linears:
            w = slice(layer.weight._offset, layer.weight._offset + layer.weight.size)
            grad[w] += lam * params[w]
    return {name: grad[p._offset:p._offset + p.size].reshape(p.shape).astype(model.dtype)
            for name, p in model.named_parameters()}


def model_gradient(model, x, t, loss_fn):
    """{name: ∂L/∂p} by backprop for L = loss_fn(model(x), t) (gradients are reset first)."""
    model.zero_grad()
    loss_fn(model(x), t).backward()
    return {name: np.array(p.backend.to_host(p.grad)) for name, p in model.named_parameters()}


GradCheck = namedtuple("GradCheck", "max_abs rel mean_abs")
GradCheck.__doc__ = """Backprop vs numerical gradient of one parameter.

max_abs: max |backprop − numerical|; mean_abs: mean of it (the figure the
textbook's gradient_check.py prints); rel: ‖backprop − numerical‖ / max(‖backprop‖,
‖numerical‖, 1e-3 · the largest of those norms over the model's parameters) — the
floor keeps a gradient that is zero in theory (a bias right before a batch norm),
where only rounding is left, from reading as a relative error of 1.
"""


def gradient_check(model, x, t, loss_fn, h=1e-4):
    """Compare backprop with the numerical gradient for every parameter: {name: GradCheck}.

    Use a float64 model (``model.double()``) for a meaningful check; float32
    backprop differs from the float64 numerical gradient by float32 rounding.
    """
    backprop = model_gradient(model, x, t, loss_fn)  # first: its masks are the numeric's
    numeric = model_numerical_gradient(model, x, t, loss_fn, h)  # includes the L2 penalty
    pairs = {name: (backprop[name].astype(np.float64), num.astype(np.float64))
             for name, num in numeric.items()}
    floor = 1e-3 * max(max(np.linalg.norm(a), np.linalg.norm(b)) for a, b in pairs.values())
    report = {}
    for name, (a, b) in pairs.items():
        diff = np.abs(a - b)
        scale = max(np.linalg.norm(a), np.linalg.norm(b), floor, 1e-300)
        report[name] = GradCheck(float(diff.max()), float(np.linalg.norm(a - b) / scale),
                                 float(diff.mean()))
    return report
