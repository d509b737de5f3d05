"""Numerical differentiation, as the textbook's chapter 4 defines it.

``numerical_gradient(f, x)`` perturbs *x* in place, one element at a time,
and restores it — so ``f`` may ignore its argument and read *x* through a
network that shares its memory (``lambda W: net.loss(x, t)``), exactly as in
the textbook. If *f* is a Numba-compiled function of a float array, the loop
runs compiled (:func:`numbann.kernels.numgrad.numerical_gradient_inplace`).
"""

import numpy as np
from numba.core.registry import CPUDispatcher

from .kernels.numgrad import numerical_gradient_inplace

__all__ = ["numerical_diff", "numerical_gradient", "gradient_descent"]


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
