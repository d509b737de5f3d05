"""The textbook's functions (common/functions.py), NumPy in, NumPy out.

Each function validates and converts its input (lists, integers and float16
become float64/float32; non-contiguous arrays are copied), then runs the
compiled kernel. Results have the float dtype of the (converted) input.
Elementwise functions accept any shape; ``softmax`` and the losses treat a
1-D input as a batch of one row, as the textbook does.
"""

import numpy as np

from . import _validate as v
from .kernels import activations as _act
from .kernels import losses as _loss

__all__ = [
    "identity_function", "step_function", "sigmoid", "sigmoid_grad", "tanh", "relu",
    "relu_grad", "softmax", "sum_squared_error", "mean_squared_error", "cross_entropy_error",
    "softmax_cross_entropy", "binary_cross_entropy_with_logits",
]


def _elementwise(code, x):
    arr = v.as_float_array(x)
    out = np.empty_like(arr)
    if out.size:
        _act.activation_forward(code, arr.reshape(1, -1), out.reshape(1, -1))
    return out


def identity_function(x):
    """f(x) = x, elementwise: x of any shape → a converted copy of that shape."""
    return _elementwise(_act.IDENTITY, x)


def step_function(x):
    """f(x) = 1 if x > 0 else 0, elementwise (any shape → same shape).

    Returned as floats (the textbook returns ints; the values agree).
    """
    return _elementwise(_act.STEP, x)


def sigmoid(x):
    """σ(x) = 1 / (1 + exp(−x)), elementwise (any shape → same shape).

    Computed without overflow for any finite x (σ(−1000) = 0, no warning).
    """
    return _elementwise(_act.SIGMOID, x)


def tanh(x):
    """tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ), elementwise (any shape → same shape)."""
    return _elementwise(_act.TANH, x)


def relu(x):
    """ReLU(x) = max(x, 0), elementwise (any shape → same shape)."""
    return _elementwise(_act.RELU, x)


def _elementwise_grad(code, x):
    y = _elementwise(code, x)
    ones = np.ones_like(y)
    out = np.empty_like(y)
    if out.size:
        _act.activation_backward(code, y.reshape(1, -1), ones.reshape(1, -1), out.reshape(1, -1))
    return out


def sigmoid_grad(x):
    """σ'(x) = σ(x)(1 − σ(x)), elementwise, taking x (the textbook's signature).

    Any shape → same shape.
    """
    return _elementwise_grad(_act.SIGMOID, x)


def relu_grad(x):
    """ReLU'(x) = 1 if x > 0 else 0, elementwise (any shape → same shape).

    At x = 0 the derivative is taken as 0 (as PyTorch does); the textbook's
    ``relu_grad`` returns 1 there. Elsewhere they agree.
    """
    return _elementwise_grad(_act.RELU, x)


def softmax(x):
    """Row-wise softmax: y_ij = exp(x_ij − max_k x_ik) / Σ_j exp(x_ij − max_k x_ik).

    x (N, C) → y (N, C), each row summing to 1; a 1-D x (C,) is one row and
    gives (C,). Subtracting the row maximum keeps exp from overflowing.
    """
    arr, was_1d = v.as_batch(x)
    v.check_not_empty(arr)
    out = np.empty_like(arr)
    _act.softmax_rows(arr, out)
    return out.reshape(-1) if was_1d else out


def _prediction_and_target(y, t):
    """(y as (N, C), t as labels (N,) or a float (N, C) matrix, is_labels)."""
    yb, was_1d = v.as_batch(y, "y")
    v.check_not_empty(yb, "y")
    t_arr = np.asarray(t)
    if was_1d and t_arr.ndim == 1 and t_arr.size == yb.shape[1]:
        t_arr = t_arr.reshape(1, -1)  # a single one-hot / target row
    elif was_1d and t_arr.ndim == 0:
        t_arr = t_arr.reshape(1)  # a single label
    tb, is_labels = v.as_targets(t_arr, yb.shape[0], yb.shape[1], yb.dtype)
    return yb, tb, is_labels


def _no_grad(y):
    """A stand-in for the gradient output when only the value is wanted."""
    return np.empty((0, 0), y.dtype)


def _elementwise_loss(code, y, t, scale_of, y_name="y", t_name="t"):
    """scale_of(size) · Σ row_loss over all elements of same-shaped y and t."""
    yb = v.as_float_array(y, y_name)
    tb = v.as_float_array(t, t_name, yb.dtype)
    v.check_same_shape(yb, tb, y_name, t_name)
    v.check_not_empty(yb, y_name)
    y2, t2 = yb.reshape(1, -1), tb.reshape(1, -1)
    return _loss.loss_dense(code, y2, t2, scale_of(yb.size), _no_grad(y2), False)


def sum_squared_error(y, t):
    """E = ½ Σ (y − t)² over all elements (the textbook's; no batch mean).

    y and t of one shape (any); returns a float.
    """
    return _elementwise_loss(_loss.SQUARED_ERROR, y, t, lambda size: 0.5)


def mean_squared_error(y, t):
    """E = (1/n) Σ (y − t)², the mean over all n elements (torch's MSELoss).

    y and t of one shape (any); returns a float.
    """
    return _elementwise_loss(_loss.SQUARED_ERROR, y, t, lambda size: 1.0 / size)


def cross_entropy_error(y, t):
    """The textbook's E = −(1/N) Σ_i Σ_j t_ij log(y_ij + 1e-7) on probabilities y (N, C).

    *t* may be class labels (N,) or one-hot/probability rows (N, C); 1-D y is a
    batch of one. Returns a float.
    """
    yb, tb, is_labels = _prediction_and_target(y, t)
    scale = 1.0 / yb.shape[0]
    kernel = _loss.loss_labels if is_labels else _loss.loss_dense
    return kernel(_loss.CROSS_ENTROPY, yb, tb, scale, _no_grad(yb), False)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) from logits (N, C), by a stable log-sum-exp.

    E = (1/N) Σ_i [log Σ_j exp(z_ij) − z_i,t_i]; *labels* may be class indices
    (N,) or one-hot/probability rows (N, C) (then E = (1/N) Σ_ij t_ij (lse(z_i) − z_ij)).
    The textbook's softmax_loss. Returns a float.
    """
    zb, tb, is_labels = _prediction_and_target(logits, labels)
    kernel = _loss.loss_labels if is_labels else _loss.loss_dense
    return kernel(_loss.SOFTMAX_CE, zb, tb, 1.0 / zb.shape[0], _no_grad(zb), False)


def binary_cross_entropy_with_logits(logits, targets):
    """Mean over all elements of max(z, 0) − z·t + log(1 + exp(−|z|)) (= BCE of σ(z)).

    logits z and targets t ∈ [0, 1] of one shape (any); returns a float.
    """
    return _elementwise_loss(_loss.BCE_LOGITS, logits, targets, lambda size: 1.0 / size,
                             "logits", "targets")
